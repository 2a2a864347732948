"""Train ztgate's prompt-injection model and write its evaluation report.

Reproducible: fixed seeds, deterministic data construction, a deterministic solver
(liblinear) and one BLAS/OpenMP thread, so running this again on the same data and the
same Python writes the same model byte for byte (``--check`` verifies it). Needs the
``train`` extra (scikit-learn, scipy)::

    pip install -e '.[train]'
    python scripts/train_injection_model.py --data ../shared/data/injection
    python scripts/train_injection_model.py --check   # does the shipped model reproduce?

It trains only on ``train`` splits, tunes C and the threshold on ``validation`` splits (and
on a held-out slice of the BIPIA/ASB train files, which have no validation split), and
only then scores the ``test`` splits for the report. Test data never influences a choice.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from ztgate.guard._datasets import (
    ASB_TEMPLATE,
    POSITIONS,
    Example,
    asb_attacks,
    asb_benign,
    bipia_attacks,
    bipia_contexts,
    indirect_suite,
    load_labelled_file,
    plant,
)
from ztgate.guard.evaluate import Metrics, metrics_at
from ztgate.guard.fold import fold
from ztgate.guard.injection._features import (
    WINDOW,
    Features,
    extract,
    window_rows,
    window_starts,
)
from ztgate.guard.injection.detector import injection_score, prepare
from ztgate.guard.injection.model import InjectionModel

SEED = 1122
BITS = 19
# Regularisation strengths tried (one value is what earlier grid searches on the
# validation sets settled on; add values to search again).
C_GRID = (16.0,)
MAX_VALIDATION_FPR = 0.02
MAX_THRESHOLD = 0.99  # below RULE_SCORE, so a rule hit always flags
BENIGN_CONTEXT_WEIGHT = 8.0
BENIGN_CROPS = 6
STDLIB_FILES = 500
STDLIB_CROPS = 3
STDLIB_WEIGHT = 2.0
ASB_VALIDATION_AGENT = "legal_consultant_agent"
REPO = Path(__file__).resolve().parents[1]
MODEL_PATH = REPO / "src" / "ztgate" / "guard" / "injection" / "injection_model.npz"
REPORT_PATH = REPO / "docs" / "injection-eval.md"

Row = tuple[npt.NDArray[np.int64], float]


@dataclass
class Rows:
    """Window rows with labels and sample weights, ready for a sparse matrix."""

    rows: list[Row]
    labels: list[int]
    weights: list[float]

    def add(self, rows: list[Row], label: int, weight: float) -> None:
        self.rows.extend(rows)
        self.labels.extend([label] * len(rows))
        self.weights.extend([weight] * len(rows))

    def extend(self, other: Rows) -> None:
        self.rows.extend(other.rows)
        self.labels.extend(other.labels)
        self.weights.extend(other.weights)


def text_rows(examples: Sequence[Example], weight: float) -> Rows:
    out = Rows([], [], [])
    for example in examples:
        out.add(window_rows(extract(prepare(example.text), BITS)), example.label, weight)
    return out


def planted_rows(
    contexts: list[str], attacks: list[str], rng: random.Random, per_attack: int, weight: float
) -> Rows:
    """Windows of attacks planted in contexts: positive where a window holds most of the
    attack, negative where it holds none of it, skipped when it holds only a sliver."""
    out = Rows([], [], [])
    for attack in attacks:
        folded_attack = fold(attack)
        out.add(window_rows(extract(folded_attack, BITS)), 1, weight)
        for position in POSITIONS:
            for context in rng.sample(contexts, min(per_attack, len(contexts))):
                folded = prepare(plant(context, attack, position, rng))
                at = folded.find(folded_attack)
                if at < 0:
                    continue
                features = extract(folded, BITS)
                span = (at, at + len(folded_attack))
                need = 0.6 * min(len(folded_attack), WINDOW)
                for start, row in zip(
                    window_starts(features.length), _all_window_rows(features), strict=True
                ):
                    if row is None:
                        continue
                    overlap = min(span[1], start + WINDOW) - max(span[0], start)
                    if overlap >= need:
                        out.add([row], 1, weight)
                    elif overlap <= 0:
                        out.add([row], 0, weight)
    return out


def _all_window_rows(features: Features) -> list[Row | None]:
    rows: list[Row | None] = []
    for start in window_starts(features.length):
        chosen = features.in_window(start, start + WINDOW)
        rows.append((chosen, 1.0 / float(np.sqrt(chosen.size))) if chosen.size else None)
    return rows


def stdlib_rows(rng: random.Random) -> Rows:
    """Benign windows of code and prose from the Python standard library.

    Tool outputs are mostly code, logs and documents, and the injection corpora hold only
    80 such benign contexts; the standard library (sources, docstrings and the sample
    e-mails of its test suite) is a large, clean sample of exactly that. Used for training
    only; nothing from it is stored.
    """
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(
        p for p in root.rglob("*.py") if "site-packages" not in p.parts and "test" not in p.parts
    )
    emails = sorted((root / "test" / "test_email" / "data").glob("msg_*.txt"))
    out = Rows([], [], [])
    for path in rng.sample(files, min(STDLIB_FILES, len(files))) + emails:
        try:
            folded = prepare(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        for _ in range(STDLIB_CROPS):
            start = rng.randrange(0, max(1, len(folded) - WINDOW))
            crop = folded[start : start + WINDOW]
            rows = window_rows(extract(crop, BITS))
            out.add(rows, 0, STDLIB_WEIGHT)
    return out


def fit(rows: Rows, c: float) -> tuple[npt.NDArray[np.float32], float]:
    indptr = np.zeros(len(rows.rows) + 1, dtype=np.int64)
    np.cumsum([r[0].size for r in rows.rows], out=indptr[1:])
    indices = np.concatenate([r[0] for r in rows.rows])
    data = np.concatenate([np.full(r[0].size, r[1], dtype=np.float64) for r in rows.rows])
    matrix = sparse.csr_matrix((data, indices, indptr), shape=(len(rows.rows), 1 << BITS))
    matrix.sum_duplicates()
    labels = np.asarray(rows.labels)
    weights = np.asarray(rows.weights, dtype=np.float64)
    # Balance the classes so the bias is not set by whichever class has more windows.
    for label in (0, 1):
        mask = labels == label
        weights[mask] *= len(labels) / (2.0 * weights[mask].sum() / weights[mask].mean())
    classifier = LogisticRegression(C=c, solver="liblinear", max_iter=2000, random_state=SEED)
    classifier.fit(matrix, labels, sample_weight=weights)
    return classifier.coef_[0].astype(np.float32), float(classifier.intercept_[0])


def choose_threshold(validation: dict[str, tuple[list[int], list[float]]]) -> float:
    """The lowest threshold (best recall) whose false-positive rate on all benign
    validation texts pooled together is at most :data:`MAX_VALIDATION_FPR`.

    Pooling is a deliberate choice: per-source constraints would let the hardest source
    (neuralchemy's adversarial-looking benign prompts) or a ten-example indirect set dictate
    a threshold that gives up most of the recall everywhere else. The report shows every
    source's false-positive rate separately, so the cost of this choice is visible.
    """
    labels = [label for ls, _ in validation.values() for label in ls]
    scores = [score for _, ss in validation.values() for score in ss]
    candidates = sorted({round(s, 4) for s in scores})
    for threshold in [t for t in candidates if 0.05 <= t <= MAX_THRESHOLD] + [MAX_THRESHOLD]:
        fpr = metrics_at(labels, scores, threshold).fpr
        if fpr is not None and fpr <= MAX_VALIDATION_FPR:
            return threshold
    return MAX_THRESHOLD


@dataclass
class Corpus:
    """Every train/validation/test set, built once."""

    train_direct: dict[str, list[Example]]
    validation_direct: dict[str, list[Example]]
    test_direct: dict[str, list[Example]]
    indirect_train: Rows
    validation_indirect: dict[str, list[Example]]
    test_indirect: dict[str, list[Example]]
    asb_benign: list[Example]


def build_corpus(root: Path) -> Corpus:
    rng = random.Random(SEED)  # noqa: S311 - reproducible data construction
    train_direct = {
        "s-labs": load_labelled_file(root / "s-labs" / "train.csv"),
        "neuralchemy": load_labelled_file(root / "neuralchemy" / "train.jsonl"),
    }
    validation_direct = {
        "s-labs": load_labelled_file(root / "s-labs" / "validation.csv"),
        "neuralchemy": load_labelled_file(root / "neuralchemy" / "validation.jsonl"),
    }
    test_direct = {
        "s-labs": load_labelled_file(root / "s-labs" / "test.csv"),
        "neuralchemy": load_labelled_file(root / "neuralchemy" / "test.jsonl"),
    }
    # BIPIA and ASB train files: 80% to train, 20% held out for threshold tuning.
    emails = bipia_contexts(root, "email", "train")
    code = bipia_contexts(root, "code", "train")
    text_attacks = [t for _, t in bipia_attacks(root, "text", "train")]
    code_attacks = [t for _, t in bipia_attacks(root, "code", "train")]
    asb = asb_attacks(root, "train")
    asb_fit = [(t, i) for agent, t, i in asb if agent != ASB_VALIDATION_AGENT]
    asb_val = [(t, i) for agent, t, i in asb if agent == ASB_VALIDATION_AGENT]

    def split(items: list[str]) -> tuple[list[str], list[str]]:
        return [x for i, x in enumerate(items) if i % 5], [
            x for i, x in enumerate(items) if not i % 5
        ]

    email_fit, email_val = split(emails)
    code_fit, code_val = split(code)
    text_fit, text_val = split(text_attacks)
    codeatk_fit, codeatk_val = split(code_attacks)
    asb_texts_fit = [i for _, i in asb_fit] + [
        ASB_TEMPLATE.format(instruction=i, tool=t) for t, i in asb_fit
    ]
    indirect = Rows([], [], [])
    indirect.extend(planted_rows(email_fit, text_fit, rng, 4, 2.0))
    indirect.extend(planted_rows(code_fit, codeatk_fit, rng, 4, 2.0))
    indirect.extend(planted_rows(email_fit + code_fit, asb_texts_fit, rng, 1, 1.0))
    # Benign contexts are few (40 e-mails, 40 code answers) but they are what tool outputs
    # look like, so their windows weigh heavily, and random crops add variety.
    for context in email_fit + code_fit:
        folded = prepare(context)
        indirect.add(window_rows(extract(folded, BITS)), 0, BENIGN_CONTEXT_WEIGHT)
        for _ in range(BENIGN_CROPS):
            start = rng.randrange(0, max(1, len(folded) - WINDOW // 2))
            crop = folded[start : start + rng.randrange(WINDOW // 3, WINDOW + 1)]
            indirect.add(window_rows(extract(crop, BITS)), 0, BENIGN_CONTEXT_WEIGHT)
    indirect.extend(stdlib_rows(rng))
    benign_asb = [Example(t, 0, "asb") for t in asb_benign(root)]
    from ztgate.guard._datasets import indirect_cases

    validation_indirect = {
        "bipia_email": indirect_cases(email_val, text_val, "bipia_email", seed=SEED)
        + [Example(c, 0, "bipia_email") for c in email_val],
        "bipia_code": indirect_cases(code_val, codeatk_val, "bipia_code", seed=SEED)
        + [Example(c, 0, "bipia_code") for c in code_val],
        "asb": indirect_cases(
            email_val + code_val,
            [i for _, i in asb_val]
            + [ASB_TEMPLATE.format(instruction=i, tool=t) for t, i in asb_val],
            "asb",
            seed=SEED,
            per_attack=1,
        )
        + [Example(c, 0, "asb") for c in email_val + code_val],
    }
    return Corpus(
        train_direct,
        validation_direct,
        test_direct,
        indirect,
        validation_indirect,
        indirect_suite(root, "test"),
        benign_asb,
    )


def train(
    corpus: Corpus, direct_sources: Sequence[str], use_indirect: bool, log: Callable[[str], None]
) -> tuple[InjectionModel, dict[str, object]]:
    rows = Rows([], [], [])
    for name in direct_sources:
        rows.extend(text_rows(corpus.train_direct[name], 1.0))
    if use_indirect:
        rows.extend(corpus.indirect_train)
        rows.extend(text_rows(corpus.asb_benign, 2.0))
    validation = {name: corpus.validation_direct[name] for name in direct_sources}
    if use_indirect:
        validation.update({f"indirect/{k}": v for k, v in corpus.validation_indirect.items()})
    best: tuple[float, float, InjectionModel, dict[str, object]] | None = None
    for c in C_GRID:
        started = time.monotonic()
        weights, bias = fit(rows, c)
        candidate = InjectionModel(weights, bias, BITS, 0.5)
        scored = {
            name: ([e.label for e in exs], [injection_score(e.text, candidate) for e in exs])
            for name, exs in validation.items()
        }
        threshold = choose_threshold(scored)
        worst_recall = min(
            metrics_at(labels, scores, threshold).recall or 0.0
            for labels, scores in scored.values()
        )
        log(
            f"  C={c}: threshold {threshold:.4f}, worst validation recall {worst_recall:.4f} "
            f"({time.monotonic() - started:.0f}s, {len(rows.rows)} rows)"
        )
        info: dict[str, object] = {
            "C": c,
            "threshold": threshold,
            "validation": {
                name: metrics_at(labels, scores, threshold).to_dict()
                for name, (labels, scores) in scored.items()
            },
        }
        if best is None or worst_recall > best[0]:
            best = (worst_recall, threshold, InjectionModel(weights, bias, BITS, threshold), info)
    assert best is not None
    return best[2], best[3]


def evaluate_sets(
    sets: dict[str, list[Example]], scorer: Callable[[str], float], threshold: float
) -> dict[str, Metrics]:
    out = {}
    for name, examples in sets.items():
        scores = [scorer(e.text) for e in examples]
        out[name] = metrics_at([e.label for e in examples], scores, threshold)
    return out


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _wilson(successes: int, n: int) -> str:
    """95% Wilson score interval, so small sets (50 benign contexts) read honestly."""
    if n == 0:
        return ""
    z = 1.959964
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return f" ({100 * max(0.0, centre - half):.1f}-{100 * min(1.0, centre + half):.1f})"


def _table(results: dict[str, Metrics]) -> list[str]:
    lines = [
        "| test set | n (inj / benign) | precision | recall (95% CI) | FPR (95% CI) "
        "| TP | FP | FN |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in results.items():
        recall = _pct(m.recall) + _wilson(m.tp, m.tp + m.fn)
        fpr = _pct(m.fpr) + _wilson(m.fp, m.fp + m.tn)
        lines.append(
            f"| {name} | {m.tp + m.fn} / {m.fp + m.tn} | {_pct(m.precision)} | {recall} "
            f"| {fpr} | {m.tp} | {m.fp} | {m.fn} |"
        )
    return lines


def operating_points(sets: dict[str, list[Example]], scorer: Callable[[str], float]) -> list[str]:
    """What the 95%-recall target would cost on each test set, and what recall the 2%-FPR
    target leaves, with the threshold moved freely (reported, never used to choose it).

    The false-positive side pools every distinct benign test text, the same pooling that
    chose the shipped threshold, so a row shows the price a deployment would pay on all
    benign traffic for that set's recall.
    """
    scored = {name: [(scorer(e.text), e.label, e.text) for e in xs] for name, xs in sets.items()}
    pooled = np.sort(
        np.array(list({t: s for v in scored.values() for s, label, t in v if label == 0}.values()))
    )

    def fpr(benign: npt.NDArray[np.float64], threshold: float) -> str:
        return _pct(float(np.mean(benign >= threshold))) if benign.size else "n/a"

    # The lowest threshold whose pooled FPR is <= 2%: just above the benign score that
    # would be one false positive too many.
    allowed = int(np.floor(MAX_VALIDATION_FPR * pooled.size))
    cut = float(np.nextafter(pooled[-allowed - 1], np.inf)) if pooled.size > allowed else 0.0
    lines = [
        "| test set | threshold for 95% recall | FPR there (own benign) "
        "| FPR there (all benign) | recall at <= 2% FPR (all benign) |",
        "|---|---|---|---|---|",
    ]
    for name, rows in scored.items():
        positives = np.sort(np.array([s for s, label, _ in rows if label == 1]))
        own = np.array([s for s, label, _ in rows if label == 0])
        if not positives.size:
            continue
        threshold = float(positives[int(np.floor(0.05 * positives.size))])
        recall = _pct(float(np.mean(positives >= cut)))
        lines.append(
            f"| {name} | {threshold:.4f} | {fpr(own, threshold)} | {fpr(pooled, threshold)} "
            f"| {recall} |"
        )
    return lines


def _by_position(
    sets: dict[str, list[Example]], scorer: Callable[[str], float], threshold: float
) -> list[str]:
    """Recall of the planted attacks by where they were planted."""
    lines = ["| test set | start | middle | end |", "|---|---|---|---|"]
    for name, examples in sets.items():
        cells = []
        for position in POSITIONS:
            planted = [e for e in examples if e.label == 1 and e.group == position]
            hits = sum(scorer(e.text) >= threshold for e in planted)
            cells.append(f"{_pct(hits / len(planted)) if planted else 'n/a'}")
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data" / "injection")
    parser.add_argument("--model", type=Path, default=MODEL_PATH)
    parser.add_argument("--report", type=Path, default=REPORT_PATH)
    parser.add_argument("--skip-cross", action="store_true", help="skip cross-dataset runs")
    parser.add_argument(
        "--check",
        action="store_true",
        help="train into a temporary file and exit 1 unless it equals --model byte for byte",
    )
    args = parser.parse_args(argv)
    # BLAS and OpenMP reductions sum in a thread-count-dependent order, and the rounding
    # differences move the chosen threshold: one thread makes the model a function of the
    # data alone, not of the machine's core count.
    with threadpool_limits(limits=1):
        if not args.check:
            return _train_and_report(args)
        with tempfile.TemporaryDirectory(prefix="ztgate-model-check-") as tmp:
            shipped = args.model
            args.model = Path(tmp) / "model.npz"
            args.report = Path(tmp) / "report.md"
            args.skip_cross = True
            _train_and_report(args)
            same = args.model.read_bytes() == shipped.read_bytes()
    print(f"{shipped}: {'reproduced' if same else 'NOT reproduced'} by this script")
    return 0 if same else 1


def _train_and_report(args: argparse.Namespace) -> int:
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    np.random.seed(SEED)
    log("building corpus")
    corpus = build_corpus(args.data)
    test_sets = {
        **corpus.test_direct,
        **{f"indirect/{k}": v for k, v in corpus.test_indirect.items()},
    }

    log("training the shipped model (all train splits + indirect train cases)")
    model, info = train(corpus, ["s-labs", "neuralchemy"], True, log)
    model = InjectionModel(
        model.weights.astype(np.float16).astype(np.float32),
        model.bias,
        model.bits,
        model.threshold,
        {
            "seed": SEED,
            "bits": BITS,
            "C": info["C"],
            "trained_on": "s-labs train, neuralchemy train, BIPIA/ASB train files (indirect)",
            "window": WINDOW,
        },
    )
    args.model.parent.mkdir(parents=True, exist_ok=True)
    model.save(args.model)
    size = args.model.stat().st_size
    log(f"saved {args.model} ({size} bytes)")
    full = evaluate_sets(test_sets, lambda t: injection_score(t, model), model.threshold)
    positions = _by_position(
        {f"indirect/{k}": v for k, v in corpus.test_indirect.items()},
        lambda t: injection_score(t, model),
        model.threshold,
    )
    operating = operating_points(test_sets, lambda t: injection_score(t, model))
    model_only_threshold = model.threshold
    model_only = evaluate_sets(
        test_sets, lambda t: model.score(prepare(t)).probability, model_only_threshold
    )

    cross: dict[str, dict[str, Metrics]] = {}
    if not args.skip_cross:
        for label, sources, indirect in (
            ("trained on s-labs only", ["s-labs"], False),
            ("trained on neuralchemy only", ["neuralchemy"], False),
            (
                "trained on s-labs + neuralchemy, no indirect cases",
                ["s-labs", "neuralchemy"],
                False,
            ),
        ):
            log(f"cross-dataset: {label}")
            other, _ = train(corpus, sources, indirect, log)
            cross[label] = evaluate_sets(
                test_sets, lambda t, m=other: injection_score(t, m), other.threshold
            )
            cross[label]["_threshold"] = Metrics(0, 0, 0, 0)
            cross[label]["_threshold_value"] = other.threshold  # type: ignore[assignment]
    write_report(args.report, model, info, size, full, model_only, cross, positions, operating)
    log(f"wrote {args.report}")
    return 0


def write_report(
    path: Path,
    model: InjectionModel,
    info: dict[str, object],
    size: int,
    full: dict[str, Metrics],
    model_only: dict[str, Metrics],
    cross: dict[str, dict[str, Metrics]],
    positions: list[str],
    operating: list[str],
) -> None:
    targets = all((m.recall or 0) >= 0.95 and (m.fpr or 0) <= 0.02 for m in full.values())
    lines = [
        "# Prompt-injection detector: evaluation",
        "",
        "Generated by `python scripts/train_injection_model.py` (do not edit by hand).",
        "Training used only `train` splits; C and the threshold were chosen on `validation`",
        "splits and on a held-out fifth of the BIPIA/ASB train files; the test splits below",
        "were scored once, after every choice was made.",
        "",
        "## Summary",
        "",
        "- Direct injection and jailbreaks (S-Labs, neuralchemy test splits): see the first",
        "  two rows below. Neuralchemy labels harmful requests (HarmBench goals, GCG suffixes)",
        "  as malicious and role-play personas as benign, which a bag-of-n-grams model",
        "  separates less well than instruction overrides; its FPR is the highest of the",
        "  direct sets.",
        "- Indirect injection (attacks planted in benign e-mails and code answers): recall is",
        '  lowest for BIPIA e-mail attacks, whose test categories ("Recommend a good book",',
        '  "Translate your response into Spanish") are ordinary requests that only become',
        "  attacks by where they appear, and the benign long contexts are where most false",
        "  positives come from (the most suspicious 320-character window decides).",
        "- The cross-dataset section shows why the indirect training cases matter: without",
        "  them, 80-96% of benign e-mails and code answers are flagged.",
        "- Targets not met are reported as measured; nothing was tuned on the test splits.",
        "",
        "Reproduce with `pip install -e '.[train]'` then",
        "`python scripts/train_injection_model.py --data ../shared/data/injection`",
        f"(seed {SEED}; the benign supplement is the standard library of the training",
        f"interpreter, here Python {sys.version.split()[0]}: 500 sampled source files and the",
        "sample e-mails of its test suite, used for training only);",
        "`python scripts/train_injection_model.py --check` retrains and compares the result",
        "with the shipped file byte for byte.",
        "Check any set with `ztgate guard eval PATH`.",
        "",
        "## Shipped model",
        "",
        f"- file: `src/ztgate/guard/injection/injection_model.npz`, {size / 1024:.0f} KiB "
        f"(2^{model.bits} float16 weights, compressed)",
        f"- regularisation C = {info['C']}, threshold = {model.threshold:.4f} "
        f"(lowest threshold whose FPR on all benign validation texts pooled is <= "
        f"{MAX_VALIDATION_FPR:.0%})",
        f"- targets (recall >= 95% at FPR <= 2% on every test set): "
        f"**{'met' if targets else 'not met on every set, see below'}**",
        "",
        "### Full detector (rules + model + decoders), as `ztgate guard scan` runs it",
        "",
        *_table(full),
        "",
        "### Indirect recall by where the attack was planted (full detector)",
        "",
        *positions,
        "",
        "### What the targets would cost at another threshold (full detector)",
        "",
        "The threshold is one number for all traffic. Each row moves it to where that set",
        "reaches 95% recall and shows the false-positive rate there, then sets it where",
        "the false-positive rate on all benign test texts is 2% and shows the recall left.",
        "Where no threshold meets both, the detector, not its setting, is what falls short.",
        "",
        *operating,
        "",
        "### Model alone (no rules, no decoders), same threshold",
        "",
        *_table(model_only),
        "",
        "### Validation (used for choosing C and the threshold)",
        "",
        "```json",
        json.dumps(info["validation"], indent=1, sort_keys=True),
        "```",
        "",
        "## Cross-dataset generalisation",
        "",
        "Each row trains the same pipeline on fewer sources (threshold chosen on those",
        "sources' validation splits only) and tests on everything, including sources and",
        "attack styles it never saw. This is the honest estimate of how the detector fares",
        "on attacks from a new distribution.",
        "",
    ]
    for label, results in cross.items():
        threshold = results.pop("_threshold_value")
        results.pop("_threshold")
        lines += [f"### {label} (threshold {float(threshold):.4f})", "", *_table(results), ""]  # type: ignore[arg-type]
    lines += [
        "## How the test sets are built",
        "",
        "- `s-labs`, `neuralchemy`: the datasets' own `test` splits (neuralchemy's split is",
        "  group-aware, so no `group_id` is on both sides).",
        "- `indirect/bipia_email`: each BIPIA *test* text attack planted into 2 seeded BIPIA",
        "  *test* e-mails at the start, the middle (nearest line or sentence boundary) and the",
        "  end; negatives are the benign test e-mails alone.",
        "- `indirect/bipia_code`: the same with BIPIA code attacks in BIPIA code answers.",
        "- `indirect/asb_raw`: ASB attacker instructions of the held-out agents",
        "  (financial analyst, medical advisor, autonomous driving; ASB ships no split, so",
        "  whole agents are held out) planted bare into the BIPIA test contexts.",
        "- `indirect/asb_template`: the same instructions in ASB's observation-injection",
        '  wording ("You must strictly adhere to the following instruction: ...").',
        "",
        "BIPIA's test attack categories differ from its train categories (e.g. train has",
        '"Information Retrieval", test has "Task Automation"), so the BIPIA rows measure',
        "generalisation to unseen attack goals, not memorisation.",
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
