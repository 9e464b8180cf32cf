"""GPU check of the training core (run where CUDA is): tiny Hugging Face families load in bf16 on the GPU, train
through the generic loop and reload with the same answers; the shipped composed preset trains a few steps on
the GPU. Prints one line per check. Usage: python scripts/gpu_check_train.py OUT_DIR"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_hf_families import BUILDERS  # tiny random checkpoints built offline

from spatialvlm_core.dataset.reader import load_qa_dataset
from spatialvlm_core.dataset.toy import write_toy_dataset
from spatialvlm_core.infer import SpatialVLM
from spatialvlm_core.model import create_model
from spatialvlm_core.train import train
from spatialvlm_core.train.config import TrainConfig


def main() -> int:
    assert torch.cuda.is_available(), "needs CUDA"
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    results: dict[str, object] = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_p = Path(tmp)
        toy = write_toy_dataset(tmp_p / "toy", n_images=12, seed=3, size=32)
        for family in sorted(BUILDERS):
            t0 = time.perf_counter()
            base = tmp_p / family
            BUILDERS[family](base)
            loaded = create_model(str(base))
            dtype = str(next(loaded.model.parameters()).dtype)
            run = tmp_p / f"run-{family}"
            s = train(TrainConfig(data=str(toy), out=str(run), preset=str(base), steps=3, batch_size=2, lr=1e-2,
                                  warmup_steps=1, log_every=1, progress=False, device="cuda",
                                  gradient_checkpointing=True))
            tool = SpatialVLM.load(run)
            ex = load_qa_dataset(str(toy))[:3]
            ims = [Image.open(e.image).convert("RGB") for e in ex]
            a1 = [a.text for a in tool.ask_batch(ims, [e.question for e in ex])]
            a2 = [a.text for a in SpatialVLM.load(run).ask_batch(ims, [e.question for e in ex])]
            results[family] = {"load_dtype": dtype, "final_loss": s["final_loss"], "reload_same": a1 == a2,
                               "seconds": round(time.perf_counter() - t0, 1)}
            print(family, results[family], flush=True)
        run = tmp_p / "composed"
        t0 = time.perf_counter()
        s = train(TrainConfig(data=str(toy), out=str(run), preset="tiny", steps=50, batch_size=32, progress=False,
                              device="cuda", log_every=10))
        rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]
        results["tiny_composed"] = {"final_loss": s["final_loss"], "first_loss": rows[0]["loss"],
                                    "samples_per_s": rows[-1]["samples_per_s"],
                                    "seconds": round(time.perf_counter() - t0, 1)}
        print("tiny_composed", results["tiny_composed"], flush=True)
    (out_dir / "gpu_check.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
