"""Fuzz the injection kernel built with AddressSanitizer and UBSan (gcc, Linux).

The compiled scoring loop (``src/ztgate/guard/injection/_kernel.c``) reads strings of
every storage width and indexes a weight table with hashed values; this builds a
sanitised copy in a temporary directory, loads it beside the normal one, and feeds it
random texts, windows, strides and word tables (including ones shorter than the code
points they are asked about), plus arguments it must refuse. Any out-of-bounds access or
undefined behaviour aborts with the sanitizer's report. Run::

    python scripts/asan_kernel.py [ITERATIONS]

It re-executes itself with the sanitizer runtimes preloaded, which CPython needs.
"""

from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "ztgate" / "guard" / "injection"


def _build(directory: Path) -> Path:
    target = directory / "_kernel.so"
    include = sysconfig.get_paths()["include"]
    command = [
        "gcc", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
        "-fno-omit-frame-pointer", "-g", "-O1", "-shared", "-fPIC", f"-I{include}",
        str(SOURCE / "_kernel.c"), "-o", str(target),
    ]  # fmt: skip
    subprocess.run(command, check=True)  # noqa: S603 - fixed arguments, our own source
    return target


def _runtime(name: str) -> str:
    found = subprocess.run(  # noqa: S603 - fixed arguments
        ["gcc", f"-print-file-name={name}"],  # noqa: S607 - the PATH's gcc
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


def _fuzz(library: Path, iterations: int) -> int:
    import numpy as np

    sys.path.insert(0, str(SOURCE.parents[2]))
    from ztgate.guard.injection._features import WORD_TABLE

    spec = importlib.util.spec_from_file_location("_kernel", library)
    assert spec is not None
    assert spec.loader is not None
    kernel = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(kernel)
    rng = random.Random(5)  # noqa: S311 - reproducible fuzzing, not security
    weights = np.random.default_rng(1).normal(size=1 << 12).astype(np.float32)
    pool = "ab _.,\n\u00e9\u4e2d\U0001f600\u3000\u2fff\ud800"
    for _ in range(iterations):
        length = rng.choice([0, 1, 2, 3, 4, 5, 7, 319, 320, 321, 480, 641, 2000])
        text = "".join(rng.choice(pool) for _ in range(length))
        window, stride = rng.choice([1, 2, 3, 5, 320]), rng.choice([1, 2, 160, 400])
        table = WORD_TABLE if rng.random() < 0.8 else WORD_TABLE[: rng.randrange(0, 100)]
        kernel.best_window(text, weights, 12, 0.5, table, window, stride)
    refused = 0
    for bad in (
        ("x", weights, 13, 0.0, WORD_TABLE, 320, 160),
        ("x", weights[:10], 12, 0.0, WORD_TABLE, 320, 160),
        ("x", weights, 12, 0.0, WORD_TABLE, 0, 160),
        ("x", weights, 12, 0.0, WORD_TABLE, 320, -1),
    ):
        try:
            kernel.best_window(*bad)
        except ValueError:
            refused += 1
    if refused != 4:
        print(f"only {refused} of 4 bad argument sets were refused", file=sys.stderr)
        return 1
    print(f"{iterations} random calls and 4 refusals ran clean under ASan and UBSan")
    return 0


def main() -> int:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
    if os.environ.get("ZTGATE_ASAN_LIBRARY"):
        return _fuzz(Path(os.environ["ZTGATE_ASAN_LIBRARY"]), iterations)
    with tempfile.TemporaryDirectory(prefix="ztgate-asan-") as tmp:
        library = _build(Path(tmp))
        env = dict(
            os.environ,
            ZTGATE_ASAN_LIBRARY=str(library),
            LD_PRELOAD=f"{_runtime('libasan.so')}:{_runtime('libubsan.so')}",
            ASAN_OPTIONS="detect_leaks=0",  # CPython's own allocations are not ours
        )
        command = [sys.executable, __file__, str(iterations)]
        return subprocess.run(command, env=env, check=False).returncode  # noqa: S603


if __name__ == "__main__":
    sys.exit(main())
