"""Chat-format exports of a synthesised dataset (LLaVA / ShareGPT conversation JSON).

One record per image: its QA pairs become a multi-turn conversation, in dataset order. The ``<image>``
token opens the first human turn only (LLaVA's convention: one image per conversation).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spatialvlm_core.dataset.shards import atomic_write_text, read_rows

IMAGE_TOKEN = "<image>"


def to_llava_records(rows: Iterable[dict[str, Any]], max_turns: int | None = None) -> list[dict[str, Any]]:
    """Group QA rows by image into ``{"id", "image", "conversations"}`` records (first-seen image order).

    ``max_turns`` splits long conversations into several records (ids suffixed ``-1``, ``-2``...).
    """
    if max_turns is not None and max_turns < 1:
        raise ValueError(f"max_turns must be >= 1, got {max_turns}")
    groups: dict[str, list[dict[str, Any]]] = {}
    for i, row in enumerate(rows):
        for f in ("question", "answer", "image"):
            if not row.get(f):
                raise ValueError(f"row {i} (id={row.get('id')!r}) has no {f!r}")
        key = str(row.get("scene_id") or row.get("image_id") or row["image"])
        groups.setdefault(key, []).append(row)
    records: list[dict[str, Any]] = []
    for key, qas in groups.items():
        size = max_turns or len(qas)
        parts = [qas[i : i + size] for i in range(0, len(qas), size)]
        for p, part in enumerate(parts):
            conv: list[dict[str, str]] = []
            for t, qa in enumerate(part):
                q = f"{IMAGE_TOKEN}\n{qa['question']}" if t == 0 else str(qa["question"])
                conv += [{"from": "human", "value": q}, {"from": "gpt", "value": str(qa["answer"])}]
            rid = key if len(parts) == 1 else f"{key}-{p + 1}"
            records.append({"id": rid, "image": part[0]["image"], "conversations": conv})
    return records


def export_llava(
    dataset: str | os.PathLike[str], out: str | os.PathLike[str] | None = None, max_turns: int | None = None
) -> Path:
    """Write ``DATASET/llava.json`` (or ``out``) from the dataset's JSONL shards; returns the path."""
    root = Path(dataset)
    if not (root / "jsonl").is_dir():
        raise FileNotFoundError(f"{root} has no jsonl/ shards (is it a synthesised dataset?)")
    path = Path(out) if out is not None else root / "llava.json"
    records = to_llava_records(read_rows(root), max_turns=max_turns)
    atomic_write_text(path, json.dumps(records, ensure_ascii=False, indent=1) + "\n")
    return path
