"""Fine-tune the embedded planner: a LoRA adapter on SmolLM2-135M-Instruct that writes the compact plan form.

Three steps (``make planner`` runs all three, ``all``)::

    python -m spatial_agent.train_planner dump  --out out/planner           # corpus -> token ids
    python spatial_agent/train_planner.py train --data out/planner/train.jsonl --out DIR
    python -m spatial_agent.train_planner eval  --adapter DIR               # held-out -> DIR/eval.json

``dump`` needs the repository (corpus, compact form, tokenizer); ``train`` is self-contained: run as a script
it imports only torch, transformers and peft (no pydantic, no ``spatial_agent``), so it runs on a machine that
has the JSONL and the base weights only (``--base``: a directory of safetensors, or a ``.gguf`` file; the
``gguf`` package is then needed too). It uses CUDA in bf16 autocast when available, else the CPU. Seeded.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

from spatial_agent.corpus import corpus
from spatial_agent.planners import compact as C
from spatial_agent.planners.embedded import BASE_CACHE, load_base, prompt_text, target_ids

DEFAULT_OUT = Path(__file__).resolve().parent / "assets" / "planner"
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


# --------------------------------------------------------------------------- dump (needs the repository)
def dump(out: Path, n: int, seed: int) -> Path:
    _, tok = load_base()  # also writes the safetensors cache that ``train --base`` can read
    out.mkdir(parents=True, exist_ok=True)
    path = out / "train.jsonl"
    skipped = 0
    with path.open("w") as f:
        # The corpus builds at most a couple of thousand examples per seed: several seeds, ``per_seed`` each.
        per_seed = 1900
        examples = [ex for k in range(math.ceil(n / per_seed))
                    for ex in corpus("train", min(per_seed, n - k * per_seed), seed * 1000 + k)]
        for ex in examples:
            try:
                c = C.from_plan(ex.plan, ex.question)
            except C.CompactError:
                skipped += 1
                continue
            row = {"prompt_ids": tok(prompt_text(ex.question), add_special_tokens=False)["input_ids"],
                   "target_ids": target_ids(tok, c), "family": ex.family, "text": C.to_text(c)}
            f.write(json.dumps(row) + "\n")
    print(f"dump: {n - skipped} examples -> {path} ({skipped} not expressible); base weights in {BASE_CACHE}")
    return path


# --------------------------------------------------------------------------- train (self-contained)
def _load_base(base: str, dtype: Any) -> Any:
    from transformers import AutoConfig, AutoModelForCausalLM

    p = Path(base)
    if p.suffix == ".gguf":
        return AutoModelForCausalLM.from_pretrained(p.parent, gguf_file=p.name, dtype=dtype)
    import torch
    from safetensors.torch import load_model

    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(p), dtype=torch.float32)
    load_model(model, p / "model.safetensors")
    return model.to(dtype)


def train(data: Path, out: Path, base: str, epochs: float, batch: int, lr: float, rank: int, seed: int,
          device: str, max_len: int) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, get_peft_model

    rows = [json.loads(line) for line in data.open() if line.strip()]
    if not rows:
        raise ValueError(f"{data}: no examples")
    for i, r in enumerate(rows):
        if not r.get("prompt_ids") or not r.get("target_ids"):
            raise ValueError(f"{data}:{i + 1}: 'prompt_ids' and 'target_ids' must be non-empty lists")
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    random.seed(seed)
    torch.manual_seed(seed)
    model = _load_base(base, torch.float32).to(dev)
    model.config.use_cache = False
    cfg = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05, target_modules=TARGET_MODULES,
                     task_type="CAUSAL_LM")
    model = get_peft_model(model, cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    steps = max(1, math.ceil(epochs * len(rows) / batch))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, steps // 20)) * max(0.0, 1 - s / steps) + 1e-3)
    pad = 0
    order: list[int] = []
    t0, losses = time.time(), []
    model.train()
    for step in range(steps):
        if len(order) < batch:
            more = list(range(len(rows)))
            random.shuffle(more)
            order += more
        idx, order = order[:batch], order[batch:]
        seqs = [(rows[i]["prompt_ids"] + rows[i]["target_ids"])[:max_len] for i in idx]
        n_prompt = [len(rows[i]["prompt_ids"]) for i in idx]
        width = max(map(len, seqs))
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        labels = torch.full((len(seqs), width), -100, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for j, (s, npr) in enumerate(zip(seqs, n_prompt, strict=True)):
            ids[j, :len(s)] = torch.tensor(s)
            mask[j, :len(s)] = 1
            labels[j, npr:len(s)] = torch.tensor(s[npr:])  # loss on the plan only
        ids, labels, mask = ids.to(dev), labels.to(dev), mask.to(dev)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(float(loss))
        if step % 25 == 0 or step == steps - 1:
            print(f"step {step + 1}/{steps} loss {sum(losses[-25:]) / len(losses[-25:]):.4f} "
                  f"({time.time() - t0:.0f} s)", flush=True)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    _to_bf16(out / "adapter_model.safetensors")  # halves the shipped file; merged into fp32 weights at load
    info = {"examples": len(rows), "steps": steps, "batch": batch, "epochs": epochs, "lr": lr, "rank": rank,
            "seed": seed, "device": str(dev), "final_loss": sum(losses[-25:]) / len(losses[-25:]),
            "train_seconds": round(time.time() - t0, 1)}
    (out / "train.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info))
    return info


def _to_bf16(path: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    tensors = {k: v.to(torch.bfloat16).contiguous() for k, v in load_file(str(path)).items()}
    save_file(tensors, str(path))


# --------------------------------------------------------------------------- eval (needs the repository)
def evaluate(adapter: Path, n: int, seed: int) -> dict[str, Any]:
    from evals.planner import main as eval_main  # evals/ is a repo folder, not installed

    out = adapter / "eval.json"
    # The model alone and the default chain (rules, then the model where the rules refuse).
    eval_main(["--planner", "embedded", "--planner", "chain", "--n", str(n), "--seed", str(seed),
               "--json", str(out), "--show", "5"])
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="train_planner", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump", help="corpus train split -> JSONL of token ids")
    d.add_argument("--out", type=Path, default=Path("out/planner"))
    d.add_argument("--n", type=int, default=6000)
    d.add_argument("--seed", type=int, default=0)
    for name in ("train", "all"):
        t = sub.add_parser(name, help="LoRA fine-tune" if name == "train" else "dump, train, eval")
        t.add_argument("--data", type=Path, default=Path("out/planner/train.jsonl"))
        t.add_argument("--out", type=Path, default=DEFAULT_OUT)
        t.add_argument("--base", default=None, help="safetensors dir or .gguf file (default: the local cache)")
        t.add_argument("--epochs", type=float, default=2.0)
        t.add_argument("--batch", type=int, default=32)
        t.add_argument("--lr", type=float, default=1e-3)
        t.add_argument("--rank", type=int, default=8)
        t.add_argument("--seed", type=int, default=0)
        t.add_argument("--device", default="auto")
        t.add_argument("--max-len", type=int, default=96)
        t.add_argument("--n", type=int, default=6000, help="examples to dump (all)")
        t.add_argument("--eval-n", type=int, default=760, help="held-out questions to evaluate (all)")
    e = sub.add_parser("eval", help="held-out eval of an adapter -> <adapter>/eval.json")
    e.add_argument("--adapter", type=Path, default=DEFAULT_OUT)
    e.add_argument("--n", type=int, default=760)
    e.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.cmd == "dump":
        dump(a.out, a.n, a.seed)
    elif a.cmd == "eval":
        evaluate(a.adapter, a.n, a.seed)
    else:
        if a.cmd == "all":
            a.data = dump(a.data.parent, a.n, a.seed)
        base = a.base
        if base is None:
            base = str(BASE_CACHE)
        train(a.data, a.out, base, a.epochs, a.batch, a.lr, a.rank, a.seed, a.device, a.max_len)
        if a.cmd == "all":
            evaluate(a.out, a.eval_n, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
