"""Reading a user's JSON file with errors that name the file (missing, or not JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json_file(path: str | Path, what: str) -> tuple[Path, Any]:
    """(the path, its parsed JSON); ``what`` names the file in the error ("boxes file", "intrinsics file")."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"{what} not found: {p}")
    try:
        return p, json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: not valid JSON ({e})") from e
