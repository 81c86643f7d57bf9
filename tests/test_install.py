"""Installation: torch as a range in the package (the CPU pin only in the Makefile),
pandas/pyarrow/ray as extras with a one-line error naming them, a wheel that installs and
trains with the core dependencies only, and the browser test's Chromium check (fail under
CI, skip elsewhere)."""

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


def test_the_wheel_installs_and_trains_without_the_extras(tmp_path):
    """A wheel of the package installs into a fresh virtual environment (no network: --no-deps)
    and `walkformer train` works there with the core dependencies only: the core packages come
    from this environment's site-packages (torch is not installed twice), while pandas, pyarrow
    and ray are hidden, as on a machine that lacks them; `walkformer sweep` then says what to install."""
    import json
    import site
    import subprocess
    import sysconfig

    import shutil

    source = tmp_path / "source"  # a copy: an in-tree build/ of earlier files cannot leak into the wheel
    shutil.copytree(ROOT / "src" / "walkformer", source / "src" / "walkformer",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(source)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("walkformer-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert {"walkformer/ops/shicao_kernel.c", "walkformer/ops/simd.h", "walkformer/runs/__init__.py",
            "walkformer/runs/sweep.py"} <= set(names)
    assert not any("walkformer/train.py" in n or "walkformer/rundir.py" in n for n in names)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    purelib = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    assert ours in site.getsitepackages() or Path(ours).is_dir()
    # the core dependencies from here (a path line: this environment's editable walkformer,
    # installed through a .pth file there, is not picked up), the extras hidden
    (Path(purelib) / "core_deps.pth").write_text(ours + "\n")
    (Path(purelib) / "no_extras.pth").write_text(
        "import sys; sys.modules.update({m: None for m in ('pandas', 'pyarrow', 'ray')})\n")
    inst = subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], capture_output=True,
                          text=True, timeout=300)
    assert inst.returncode == 0, inst.stderr[-2000:]
    where = subprocess.run([str(py), "-c", "import walkformer; print(walkformer.__file__)"], capture_output=True,
                           text=True, check=True).stdout
    assert where.startswith(purelib), where  # the wheel's copy, not the source tree
    cli = venv / "bin" / "walkformer"
    run = subprocess.run([str(cli), "train", "--out", str(tmp_path / "r"), "--quiet", "task.N=9", "model.M=16",
                          "train.steps=3"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "ok"
    sweep = subprocess.run([str(cli), "sweep", str(SPEC), "--out", str(tmp_path / "s")], capture_output=True,
                           text=True, timeout=300, cwd=tmp_path)
    assert sweep.returncode == 2 and len(sweep.stderr.strip().splitlines()) == 1 and "[sweep]" in sweep.stderr
