"""Loading of the JSON known-answer vectors under ``tests/vectors/guard``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "guard"


def load(name: str) -> list[dict[str, Any]]:
    data = json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))
    vectors: list[dict[str, Any]] = data["vectors"]
    assert vectors, f"no vectors in {name}"
    return vectors
