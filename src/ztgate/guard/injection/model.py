"""The shipped injection classifier: a logistic regression over hashed n-grams.

The weights live in ``injection_model.npz`` next to this module (float16, a few hundred
kilobytes); scoring hashes every n-gram, gathers its weight and sums per window, so it
runs on any CPU, offline. The compiled loop in ``_kernel`` does that in a single pass
(a few microseconds per kilobyte); where it was not built, the numpy reference in
``_features`` computes the same windows (tens of microseconds per call). Both are kept
in agreement by property tests. ``scripts/train_injection_model.py`` rebuilds the file
reproducibly from the train splits.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ztgate.errors import ConfigError, Problem, SourceLocation
from ztgate.guard.injection._features import (
    STRIDE,
    WINDOW,
    WORD_TABLE,
    extract,
    window_scores,
    window_starts,
)

try:
    from ztgate.guard.injection import _kernel
except ImportError:  # built without a compiler: numpy scores the same windows
    _kernel = None  # type: ignore[assignment]

MODEL_FILE = "injection_model.npz"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class WindowScore:
    """The probability of the most suspicious window and where that window starts."""

    probability: float
    window_start: int
    window_end: int


@dataclass(frozen=True)
class InjectionModel:
    """Weights, bias, feature width and the decision threshold chosen on validation data."""

    weights: npt.NDArray[np.float32]
    bias: float
    bits: int
    threshold: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The compiled loop reads the weights as one contiguous float32 buffer.
        weights = np.ascontiguousarray(self.weights, dtype=np.float32)
        object.__setattr__(self, "weights", weights)

    def score(self, folded: str) -> WindowScore:
        """Score already-folded text; the highest-scoring window decides."""
        if _kernel is not None:
            logit, start = _kernel.best_window(
                folded, self.weights, self.bits, self.bias, WORD_TABLE, WINDOW, STRIDE
            )
        else:
            logit, start = self.score_reference(folded)
        probability = 1.0 / (1.0 + math.exp(-max(min(logit, 60.0), -60.0)))
        return WindowScore(probability, start, min(start + WINDOW, len(folded)))

    def score_reference(self, folded: str) -> tuple[float, int]:
        """The best window's logit and start, computed with numpy from the training
        features; the definition the compiled loop is tested against."""
        features = extract(folded, self.bits)
        raw = window_scores(features, self.weights, self.bias)
        best = int(np.argmax(raw))
        start = window_starts(features.length)[best] if features.length else 0
        return float(raw[best]), start

    def save(self, path: Path) -> None:
        """Write the compact file the package ships (float16 weights, compressed)."""
        np.savez_compressed(
            path,
            format_version=np.asarray(FORMAT_VERSION),
            weights=self.weights.astype(np.float16),
            bias=np.asarray(self.bias, dtype=np.float64),
            bits=np.asarray(self.bits),
            threshold=np.asarray(self.threshold, dtype=np.float64),
            metadata=np.asarray(json.dumps(self.metadata, sort_keys=True)),
        )


def load_model(path: Path) -> InjectionModel:
    """Load and check a model file; a damaged or foreign file is a :class:`ConfigError`."""

    def bad(message: str) -> ConfigError:
        return ConfigError([Problem(message, SourceLocation(str(path)))])

    try:
        with np.load(path, allow_pickle=False) as data:
            version = int(data["format_version"])
            weights = data["weights"].astype(np.float32)
            bias = float(data["bias"])
            bits = int(data["bits"])
            threshold = float(data["threshold"])
            metadata = json.loads(str(data["metadata"]))
    except (OSError, KeyError, ValueError) as error:
        raise bad(f"cannot read injection model: {error}") from None
    if version != FORMAT_VERSION:
        raise bad(f"unsupported injection model format `{version}`")
    if not 10 <= bits <= 24 or weights.shape != (1 << bits,):
        raise bad("injection model weights do not match their declared width")
    if not (np.all(np.isfinite(weights)) and math.isfinite(bias) and 0.0 < threshold < 1.0):
        raise bad("injection model holds non-finite weights or an invalid threshold")
    return InjectionModel(weights, bias, bits, threshold, metadata)


@functools.cache
def default_model() -> InjectionModel:
    """The model shipped inside the package, loaded once per process."""
    with resources.as_file(resources.files("ztgate.guard.injection") / MODEL_FILE) as path:
        return load_model(path)
