"""Discovery and fault isolation of contributed ``bench_<area>.py`` modules."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from bench import plugins

MODULES = {
    "bench_good.py": "def run(quick):\n    return {'p50_us': 1.5, 'quick': quick}\n",
    "bench_raises.py": "def run(quick):\n    raise RuntimeError('store unreachable')\n",
    "bench_list.py": "def run(quick):\n    return [1, 2]\n",
    "bench_nan.py": "def run(quick):\n    return {'p50_us': float('nan')}\n",
    "bench_norun.py": "VALUE = 1\n",
    "bench_broken.py": "import module_that_does_not_exist_anywhere\n",
    "helper.py": "def run(quick):\n    return {}\n",
}


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    name = f"fake_bench_{uuid.uuid4().hex[:8]}"
    directory = tmp_path / name
    directory.mkdir()
    (directory / "__init__.py").write_text("")
    for filename, text in MODULES.items():
        (directory / filename).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name, directory


def test_discover_finds_only_bench_modules(package: tuple[str, Path]) -> None:
    _name, directory = package
    assert plugins.discover(directory) == ["broken", "good", "list", "nan", "norun", "raises"]


def test_a_good_module_result_is_kept(package: tuple[str, Path]) -> None:
    name, _ = package
    outcome = plugins.run_one("good", quick=True, package=name)
    assert outcome["status"] == "ok"
    assert outcome["result"] == {"p50_us": 1.5, "quick": True}


@pytest.mark.parametrize(
    ("area", "fragment"),
    [
        ("raises", "RuntimeError: store unreachable"),
        ("list", "expected a dict"),
        ("nan", "ValueError"),
        ("norun", "no callable `run(quick)`"),
        ("broken", "ModuleNotFoundError"),
    ],
)
def test_a_failing_module_is_recorded_not_raised(
    package: tuple[str, Path], area: str, fragment: str
) -> None:
    name, _ = package
    outcome = plugins.run_one(area, quick=False, package=name)
    assert outcome["status"] == "failed"
    assert fragment in outcome["error"]
    assert outcome["traceback_tail"]
