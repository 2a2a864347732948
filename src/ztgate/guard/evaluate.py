"""Detection metrics at a threshold: precision, recall and false-positive rate.

Shared by ``ztgate guard eval`` and the training script so that the numbers in
``docs/injection-eval.md`` and on an operator's terminal are computed the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ztgate.guard._datasets import Example


@dataclass(frozen=True, slots=True)
class Metrics:
    """Confusion counts and the rates derived from them (``None`` when undefined)."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def fpr(self) -> float | None:
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else None

    def to_dict(self) -> dict[str, float | int | None]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {
            "n": self.tp + self.fp + self.tn + self.fn,
            "positives": self.tp + self.fn,
            "negatives": self.fp + self.tn,
            "tp": self.tp,
            "fp": self.fp,
            "tn": self.tn,
            "fn": self.fn,
            "precision": r(self.precision),
            "recall": r(self.recall),
            "fpr": r(self.fpr),
        }


def metrics_at(labels: Sequence[int], scores: Sequence[float], threshold: float) -> Metrics:
    """Counts for "score >= threshold means injection"."""
    tp = fp = tn = fn = 0
    for label, score in zip(labels, scores, strict=True):
        flagged = score >= threshold
        if label == 1:
            tp, fn = (tp + 1, fn) if flagged else (tp, fn + 1)
        else:
            fp, tn = (fp + 1, tn) if flagged else (fp, tn + 1)
    return Metrics(tp, fp, tn, fn)


def evaluate(
    examples: Sequence[Example], scorer: Callable[[str], float], threshold: float
) -> Metrics:
    """Score every example and count outcomes at ``threshold``."""
    scores = [scorer(example.text) for example in examples]
    return metrics_at([example.label for example in examples], scores, threshold)
