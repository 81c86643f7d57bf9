"""Installation: torch as a range in the package (the CPU pin only in the Makefile),
pandas/pyarrow/ray as extras with a one-line error naming them, and the browser test's
Chromium check (fail under CI, skip elsewhere)."""

import sys
import tomllib
from pathlib import Path

import pytest

from walkformer.cli import main

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "examples" / "sweep_p_sigma.toml"


def test_torch_is_a_range_and_the_extras_are_optional():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(deps["dependencies"])
    assert "torch>=" in core and "torch==" not in core
    assert not any(m in core for m in ("pandas", "pyarrow", "ray"))
    assert {"sweep", "ray", "test"} <= set(deps["optional-dependencies"])
    make = (ROOT / "Makefile").read_text()
    assert '"torch==2.13.0"' in make and "[test,sweep,ray]" in make


@pytest.mark.parametrize("missing,args,extra", [
    ("pandas", [], "sweep"), ("pyarrow", [], "sweep"), ("ray", ["--executor", "ray"], "ray")])
def test_sweep_without_an_extra_is_one_line(monkeypatch, capsys, tmp_path, missing, args, extra):
    monkeypatch.setitem(sys.modules, missing, None)  # import raises ImportError
    out = tmp_path / "sw"
    assert main(["sweep", str(SPEC), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"pip install 'walkformer[{extra}]'" in err and missing in err
    assert not out.exists()  # before any work


def test_chromium_absent_fails_under_ci_skips_elsewhere(tmp_path):
    from test_report import ensure_chromium

    absent = (tmp_path / "chromium", tmp_path / "chromedriver")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        ensure_chromium(env={"CI": "true"}, paths=absent)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        ensure_chromium(env={}, paths=absent)
    for p in absent:
        p.write_text("")
    assert ensure_chromium(env={"CI": "true"}, paths=absent) is None
