"""Colour words in captions against the simulator's own colours.

Run: ``.venv/bin/python -m evals.color_captions [--scenes 60] [--seed 20000]``

Each sim scene (rooms in turn, held-out seeds) is reconstructed with the ground-truth detector and segmenter and
sensor depth, so the colour word comes from the rendered pixels exactly as in ``reconstruct``/``synth``. Per
object the word of its caption (``Object3D.attributes["color"]``, what ``naming`` puts into the caption) is
compared with the colour the simulator painted it (a paint name of ``spatialvlm_core.colors``). The sim's
"silver" counts as "gray" (``colors.SAID_AS``: the caption table has no silver: on a render it is a light gray).
Objects whose pixels give no colour a clear majority get no colour word; they are counted apart, never as agreeing.
"""

from __future__ import annotations

import argparse
import collections
from dataclasses import dataclass, field

from spatialvlm_core.colors import SAID_AS
from spatialvlm_core.reconstruct import reconstruct
from spatialvlm_core.sim import SimConfig, generate_scene
from spatialvlm_core.sim.config import ROOMS

HELD_OUT_SEED = 20000  # the relighting constants in naming were chosen on seeds 10000-10059
SAME_WORD: dict[str, str] = SAID_AS  # sim colour name -> the caption word that says it (silver -> gray)


@dataclass
class ColorTally:
    agree: int = 0
    disagree: int = 0
    no_word: int = 0
    confusions: collections.Counter[tuple[str, str, str]] = field(default_factory=collections.Counter)

    @property
    def objects(self) -> int:
        return self.agree + self.disagree + self.no_word

    @property
    def agreement(self) -> float:
        """Share of all objects whose caption's colour word is the sim's colour (no word: not agreeing)."""
        return self.agree / max(self.objects, 1)


def measure(scenes: int, seed: int = HELD_OUT_SEED) -> ColorTally:
    tally = ColorTally()
    rooms = sorted(ROOMS)
    for i in range(scenes):
        sim = generate_scene(seed=seed + i, config=SimConfig(room=rooms[i % len(rooms)]))
        truth = {o.id: o.attributes.get("color", "") for o in sim.scene.objects}
        scene = reconstruct(sim.frame(), detector="ground-truth", segmenter="ground-truth", depth="sensor")
        for o in scene.objects:
            want = truth.get(o.id, "")
            if not want:
                continue
            want = SAME_WORD.get(want, want)
            got = o.attributes.get("color", "")
            if not got:
                tally.no_word += 1
            elif got == want:
                tally.agree += 1
            else:
                tally.disagree += 1
                tally.confusions[(want, got, o.name)] += 1
    return tally


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=60)
    ap.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    args = ap.parse_args(argv)
    t = measure(args.scenes, args.seed)
    print(f"colour captions vs sim colours, {args.scenes} scenes, {t.objects} objects: "
          f"agree {t.agree} ({100 * t.agreement:.1f} %), disagree {t.disagree} "
          f"({100 * t.disagree / max(t.objects, 1):.1f} %), no colour word {t.no_word}")
    for (want, got, name), n in t.confusions.most_common(12):
        print(f"  {name}: sim {want} captioned {got}: {n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
