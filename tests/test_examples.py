"""The examples in examples/ run as written (each asserts what it shows)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.py")))
def test_example_runs(name, tmp_path):
    p = subprocess.run([sys.executable, str(EXAMPLES / name), str(tmp_path / "out")], capture_output=True,
                       text=True, cwd=tmp_path, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.strip()


def test_there_are_examples():
    assert {p.name for p in EXAMPLES.glob("*.py")} >= {"attention.py", "chain.py", "sweep.py"}
