"""Hashed n-gram features, shared by training and inference so both see the same numbers.

Text is folded (see :mod:`ztgate.guard.fold`), then described by character 3-, 4- and
5-grams and word 1- and 2-grams, each hashed into ``2**bits`` buckets. Hashing is a
polynomial over code points computed with wrapping ``uint64`` arithmetic in numpy, so it is
stable across processes (unlike ``hash()``) and costs a handful of vector operations per
text instead of a Python loop per n-gram.

Long texts are scored in overlapping windows and the highest window wins: an instruction
planted in the middle of a long, benign e-mail must not be diluted by the rest of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

CHAR_NGRAMS = (3, 4, 5)
WINDOW = 320
STRIDE = 160

_P = np.uint64(0x100000001B3)  # odd multiplier of the polynomial hash
_P_INV = np.uint64(pow(int(_P), -1, 2**64))
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing constant
_SALT_WORD = np.uint64(0xA24BAED4963EE407)
_SALT_BIGRAM = np.uint64(0x9FB21C651E98DF25)

# Which code points count as word characters (letters, digits, underscore), as a lookup
# table; code points beyond it (CJK, emoji ...) all count as word characters.
_TABLE_SIZE = 0x3000
_IS_WORD = np.asarray(
    [chr(cp).isalnum() or chr(cp) == "_" for cp in range(_TABLE_SIZE)], dtype=np.bool_
)
WORD_TABLE = _IS_WORD.tobytes()  # the same table, one byte per code point, for _kernel


def _powers(n: int, base: np.uint64) -> npt.NDArray[np.uint64]:
    out = np.empty(n, dtype=np.uint64)
    out[0] = 1
    if n > 1:
        out[1:] = base
        np.cumprod(out, out=out)
    return out


class _PowerCache:
    """Powers of the hash base and of its inverse, grown on demand and never shrunk."""

    def __init__(self) -> None:
        self.forward = _powers(4096, _P)
        self.inverse = _powers(4096, _P_INV)

    def get(self, n: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
        forward, inverse = self.forward, self.inverse
        if forward.size < n:
            size = max(n, 2 * forward.size)
            forward, inverse = _powers(size, _P), _powers(size, _P_INV)
            self.forward, self.inverse = forward, inverse
        return forward[:n], inverse[:n]


_POWERS = _PowerCache()
_POW = _POWERS.forward[:8]


def _word_bounds(codes: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.int64], ...]:
    """Start and end offsets of every run of word characters, without a Python loop."""
    is_word = np.zeros(codes.size + 2, dtype=np.bool_)
    if int(codes.max()) < _TABLE_SIZE:
        is_word[1:-1] = _IS_WORD.take(codes.astype(np.intp))
    else:
        inner = codes < _TABLE_SIZE
        is_word[1:-1] = True
        is_word[1:-1][inner] = _IS_WORD.take(codes[inner].astype(np.intp))
    edges = np.flatnonzero(is_word[1:] != is_word[:-1])
    return edges[0::2].astype(np.int64), edges[1::2].astype(np.int64)


@dataclass(frozen=True, slots=True)
class Features:
    """Bucket indices of every n-gram occurrence in one folded text, by kind.

    ``char[i]`` holds the buckets of the character ``CHAR_NGRAMS[i]``-grams, the one at
    index ``j`` starting at offset ``j``; ``word_buckets``/``word_starts`` hold word 1- and
    2-grams with their start offsets.
    """

    char: tuple[npt.NDArray[np.int64], ...]
    word_buckets: npt.NDArray[np.int64]
    word_starts: npt.NDArray[np.int64]
    length: int

    @property
    def count(self) -> int:
        return sum(part.size for part in self.char) + int(self.word_buckets.size)

    def in_window(self, start: int, end: int) -> npt.NDArray[np.int64]:
        """Buckets of the n-grams starting in ``[start, end)``."""
        parts = [part[start:end] for part in self.char]
        mask = (self.word_starts >= start) & (self.word_starts < end)
        parts.append(self.word_buckets[mask])
        return np.concatenate(parts)


_EMPTY = np.zeros(0, dtype=np.int64)


def extract(folded: str, bits: int) -> Features:
    """Hash every n-gram of ``folded`` into ``2**bits`` buckets."""
    length = len(folded)
    shift = np.uint64(64 - bits)
    if length == 0:
        return Features((), _EMPTY, _EMPTY, 0)
    codes = np.frombuffer(folded.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    char: list[npt.NDArray[np.int64]] = []
    word_parts: list[npt.NDArray[np.uint64]] = []
    word_starts: list[npt.NDArray[np.int64]] = []
    with np.errstate(over="ignore"):
        rolling = codes
        for n in range(2, max(CHAR_NGRAMS) + 1):
            if length < n:
                break
            rolling = rolling[:-1] + codes[n - 1 :] * _POW[n - 1]
            if n in CHAR_NGRAMS:
                hashed = rolling + np.uint64(n)
                hashed *= _MIX
                hashed >>= shift
                char.append(hashed.view(np.int64))  # < 2**bits, so the view is exact
        starts, ends = _word_bounds(codes)
        if starts.size:
            forward, inverse = _POWERS.get(length + 1)
            prefix = np.zeros(length + 1, dtype=np.uint64)
            np.cumsum(codes * forward[:length], out=prefix[1:])
            words = (prefix[ends] - prefix[starts]) * inverse[starts]
            word_parts.append((words + _SALT_WORD + (ends - starts).astype(np.uint64)) * _MIX)
            word_starts.append(starts)
            if starts.size > 1:
                s2, e2 = starts[:-1], ends[1:]
                bigrams = (prefix[e2] - prefix[s2]) * inverse[s2]
                word_parts.append((bigrams + _SALT_BIGRAM + (e2 - s2).astype(np.uint64)) * _MIX)
                word_starts.append(s2)
    if word_parts:
        word_hashes = np.concatenate(word_parts)
        word_hashes >>= shift
        word_buckets = word_hashes.view(np.int64)
        positions = np.concatenate(word_starts)
    else:
        word_buckets, positions = _EMPTY, _EMPTY
    return Features(tuple(char), word_buckets, positions, length)


def window_starts(length: int) -> list[int]:
    """Start offsets of the scoring windows covering a text of ``length`` characters."""
    if length <= WINDOW:
        return [0]
    starts = list(range(0, length - WINDOW, STRIDE))
    starts.append(length - WINDOW)
    return starts


def window_rows(features: Features) -> list[tuple[npt.NDArray[np.int64], float]]:
    """Per window, the buckets it contains and its normalisation ``1/sqrt(count)``.

    Training builds its sparse matrix from exactly these rows, and inference sums the same
    weights, so the two cannot drift apart.
    """
    rows: list[tuple[npt.NDArray[np.int64], float]] = []
    for start in window_starts(features.length):
        chosen = features.in_window(start, start + WINDOW)
        if chosen.size:
            rows.append((chosen, 1.0 / float(np.sqrt(chosen.size))))
    return rows


def window_scores(
    features: Features, weights: npt.NDArray[np.float32], bias: float
) -> npt.NDArray[np.float64]:
    """The linear score (before the sigmoid) of every window, in O(n)."""
    length = features.length
    total_count = features.count
    if total_count == 0:
        return np.asarray([bias], dtype=np.float64)
    if length <= WINDOW:  # one window: a plain sum
        total = sum(float(weights.take(part).sum()) for part in features.char)
        total += float(weights.take(features.word_buckets).sum())
        return np.asarray([total / np.sqrt(total_count) + bias], dtype=np.float64)
    per_position = np.zeros(length, dtype=np.float64)
    counts = np.zeros(length, dtype=np.float64)
    for part in features.char:
        per_position[: part.size] += weights.take(part)
        counts[: part.size] += 1.0
    if features.word_buckets.size:
        per_position += np.bincount(
            features.word_starts, weights=weights.take(features.word_buckets), minlength=length
        )
        counts += np.bincount(features.word_starts, minlength=length)
    cum_w = np.concatenate([[0.0], np.cumsum(per_position)])
    cum_n = np.concatenate([[0.0], np.cumsum(counts)])
    starts = np.asarray(window_starts(length), dtype=np.int64)
    ends = np.minimum(starts + WINDOW, length)
    total = cum_w[ends] - cum_w[starts]
    n = cum_n[ends] - cum_n[starts]
    scores = total / np.sqrt(np.maximum(n, 1.0)) + bias
    return np.asarray(np.where(n > 0, scores, bias), dtype=np.float64)
