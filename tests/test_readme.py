"""The README is a contract (#21): every ```python block and every command line of its ```bash blocks runs, in
document order, in one scratch folder (as a reader following it would), and the outputs it shows are printed.

Markers (HTML comments, invisible on GitHub) before a code block say how the test treats it:

- ``<!-- readme-test: skip (why) -->``: the whole block is not run (a GPU, a download, hours); the reason is required.
- ``<!-- readme-test: skip-line "text" (why) -->``: its lines containing ``text`` are not run.
- ``<!-- readme-test: sizes --scenes 2 steps=2 -->``: run with smaller sizes: ``--flag N`` on command lines and
  ``name=N`` keyword arguments in Python take the marker's value (only where the README line states them).

A ```text block right after a code block is that block's output: each of its lines must be a line it printed.
Fixtures from ``../shared`` (a block or line naming one is skipped when ``../shared`` lacks it): ``photo.jpg`` and
``photos/`` the COCO photo in ``images/``; ``rgb.jpg``, ``depth.npz``, ``camera.json`` the SUN RGB-D frame
``real/sunrgbd_000017``, and ``boxes.json`` its annotated 2D boxes with their labels.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from spatial_agent.cli import main as agent_main
from spatialvlm_core.cli import main as core_main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHARED = ROOT.parent / "shared"
REAL_FRAME = SHARED / "real" / "sunrgbd_000017"
FIXTURES = ("photo.jpg", "photos/", "rgb.jpg", "depth.npz", "camera.json", "boxes.json")
_MARKER = re.compile(r"<!--\s*readme-test:\s*(.*?)\s*-->")
_SKIP_LINE = re.compile(r'skip-line\s+"([^"]+)"\s*\((.+)\)')


@dataclass
class Block:
    lang: str
    lineno: int  # README line of the opening fence
    code: str
    skip: str = ""  # reason the whole block is not run
    skip_lines: dict[str, str] = field(default_factory=dict)  # substring -> reason
    sizes: dict[str, str] = field(default_factory=dict)  # "--flag" or "name" -> value
    output: list[str] = field(default_factory=list)  # lines the README shows it printing


def parse_readme(text: str) -> list[Block]:
    """Code blocks with their markers and shown output, in document order."""
    lines = text.splitlines()
    blocks: list[Block] = []
    markers: list[str] = []
    last_end = -10  # line index of the previous block's closing fence
    i = 0
    while i < len(lines):
        m = _MARKER.search(lines[i])
        if m:
            markers.append(m.group(1))
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        body = "\n".join(lines[i + 1:j])
        right_after = blocks and all(not ln.strip() for ln in lines[last_end + 1:i])
        if fence.group(1) == "text" and right_after:
            blocks[-1].output = [ln.strip() for ln in body.splitlines() if ln.strip()]
        else:
            b = Block(fence.group(1), i + 1, body)
            for mk in markers:
                _apply_marker(b, mk)
            markers = []
            blocks.append(b)
        last_end = j
        i = j + 1
    return blocks


def _apply_marker(b: Block, marker: str) -> None:
    if marker.startswith("skip-line"):
        m = _SKIP_LINE.match(marker)
        if not m:
            raise ValueError(f"README marker {marker!r}: expected skip-line \"text\" (why)")
        b.skip_lines[m.group(1)] = m.group(2)
    elif marker.startswith("skip"):
        m = re.match(r"skip\s*\((.+)\)$", marker)
        if not m:
            raise ValueError(f"README marker {marker!r}: a skip needs its reason in parentheses")
        b.skip = m.group(1)
    elif marker.startswith("sizes"):
        toks = marker.split()[1:]
        i = 0
        while i < len(toks):
            if toks[i].startswith("--"):
                b.sizes[toks[i]] = toks[i + 1]
                i += 2
            else:
                name, _, value = toks[i].partition("=")
                b.sizes[name] = value
                i += 1
    else:
        raise ValueError(f"README marker {marker!r}: unknown (skip, skip-line, sizes)")


def command_lines(block: Block) -> list[str]:
    """The command lines of a shell block (comments and blank lines dropped, continuations joined)."""
    out: list[str] = []
    pending = ""
    for raw in block.code.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if line and not line.startswith("#"):
            out.append(line)
    return out


def resize_argv(argv: list[str], sizes: dict[str, str]) -> list[str]:
    out = list(argv)
    for i, tok in enumerate(out[:-1]):
        if tok in sizes:
            out[i + 1] = sizes[tok]
    return out


def resize_python(code: str, sizes: dict[str, str]) -> str:
    for name, value in sizes.items():
        if not name.startswith("--"):
            code = re.sub(rf"\b{re.escape(name)}=[^,)\s]+", f"{name}={value}", code)
    return code


def run_line(line: str, sizes: dict[str, str]) -> tuple[int, str]:
    """Run one README command line in-process; returns (exit code, stdout)."""
    argv = resize_argv(shlex.split(line, comments=True), sizes)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        if argv[0] == "spatialvlm":
            rc = core_main(argv[1:])
        elif argv[0] == "spatial-agent":
            rc = agent_main(argv[1:])
        elif argv[0].endswith("python") and argv[1] == "-m":
            rc = importlib.import_module(argv[2]).main(argv[3:]) or 0
        else:
            raise AssertionError(f"README line {line!r}: no runner for {argv[0]!r}; give it a skip marker")
    return int(rc), buf.getvalue()


def run_python(code: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, str(README), "exec"), {"__name__": "__main__"})  # noqa: S102 - the README's own code
    return buf.getvalue()


def make_fixtures(dst: Path) -> set[str]:
    """Copy the fixture files from ../shared into ``dst``; returns the names it could not provide."""
    photos = sorted((SHARED / "images").glob("*.jpg"))
    if photos:
        (dst / "photos").mkdir()
        shutil.copy(photos[0], dst / "photos" / photos[0].name)
        shutil.copy(photos[0], dst / "photo.jpg")
    if (REAL_FRAME / "truth.json").is_file():
        for name in ("rgb.jpg", "depth.npz", "camera.json"):
            shutil.copy(REAL_FRAME / name, dst / name)
        truth = json.loads((REAL_FRAME / "truth.json").read_text())
        boxes = [{"label": o["name"].replace("_", " "), "box": o["box2d"]} for o in truth["objects"]]
        (dst / "boxes.json").write_text(json.dumps({"boxes": boxes}))
    return {f for f in FIXTURES if not (dst / f).exists()}


def _needs(text: str, missing: set[str]) -> bool:
    """Does a README line or block use a fixture that is missing (as a whole word or quoted path)?"""
    return any(re.search(rf"(?<![\w/.]){re.escape(f)}", text) for f in missing)


def test_markers_parse_and_every_skip_says_why() -> None:
    blocks = parse_readme(README.read_text())
    runnable = [b for b in blocks if b.lang in ("python", "bash") and not b.skip]
    assert len(runnable) >= 5
    assert sum(len(command_lines(b)) for b in runnable if b.lang == "bash") >= 10
    assert any(b.output for b in runnable), "the README shows at least one block's output"
    for b in blocks:
        assert all(why.strip() for why in b.skip_lines.values())
    demo = parse_readme('<!-- readme-test: sizes --steps 2 steps=3 -->\n```bash\nspatialvlm train --steps 1000 '
                        '# c\n```\n\n```text\nok\n```\n<!-- readme-test: skip (GPU) -->\n```python\nx=1\n```\n')
    assert [b.lang for b in demo] == ["bash", "python"] and demo[0].output == ["ok"] and demo[1].skip == "GPU"
    assert resize_argv(shlex.split(command_lines(demo[0])[0], comments=True), demo[0].sizes)[-1] == "2"
    assert resize_python("train(steps=3600, warmup_steps=9)", {"steps": "3"}) == "train(steps=3, warmup_steps=9)"
    assert _needs("spatialvlm reconstruct rgb.jpg --out s.json", {"rgb.jpg"})
    assert not _needs("--intrinsics data/sim/scene_0000/camera.json", {"camera.json"})


@pytest.mark.slow
def test_the_readme_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = make_fixtures(tmp_path)
    failures: list[str] = []
    ran = 0
    for b in parse_readme(README.read_text()):
        if b.lang not in ("python", "bash") or b.skip:
            continue
        printed = ""
        if b.lang == "python":
            code = resize_python(b.code, b.sizes)
            if _needs(code, missing):
                continue
            try:
                printed = run_python(code)
                ran += 1
            except Exception as e:  # collect every broken block, not just the first
                failures.append(f"README.md:{b.lineno} python block: {type(e).__name__}: {e}")
                continue
        else:
            for line in command_lines(b):
                if any(s in line for s in b.skip_lines):
                    continue
                if _needs(line, missing):
                    continue
                try:
                    rc, out = run_line(line, b.sizes)
                except Exception as e:
                    failures.append(f"README.md:{b.lineno} {line!r}: {type(e).__name__}: {e}")
                    continue
                ran += 1
                printed += out
                if rc != 0:
                    failures.append(f"README.md:{b.lineno} {line!r}: exit {rc}")
        got = {ln.strip() for ln in printed.splitlines()}
        absent = [ln for ln in b.output if ln not in got]
        if absent:
            failures.append(f"README.md:{b.lineno} {b.lang} block did not print {absent} (printed: {printed!r})")
    assert ran >= 10
    assert not failures, "\n".join(failures)
    assert os.listdir(tmp_path)
