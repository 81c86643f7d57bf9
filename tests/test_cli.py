"""The command line: outputs, bad input, failed runs, reproductions and resume."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from walkformer.cli import main

SMALL = ["task.K=5", "task.N=12", "model.M=30", "train.steps=5", "train.n_train=100", "eval.n_test=100"]


def cli(*args):
    return main([str(a) for a in args])


def test_train_writes_a_complete_run_directory(tmp_path):
    out = tmp_path / "run"
    assert cli("train", "--out", out, "--quiet", *SMALL, "seed=3") == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("test_accuracy", "optimal_accuracy", "parent_attention", "value_cosine", "train_loss", "steps",
                "seconds", "ms_per_step"):
        assert key in summary
    assert summary["steps"] == 5 and summary["status"] == "ok"
    lines = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == list(range(6))
    config = json.loads((out / "config.json").read_text())
    assert config["seed"] == 3 and config["task"]["K"] == 5 and "torch" in config["versions"]
    assert "walkformer train" in config["command"] and "seed=3" in config["command"]
    params = load_file(str(out / "params.safetensors"))
    assert params["V"].shape == (5, 5) and params["W"].shape == (35, 35)
    assert (out / "run.png").stat().st_size > 10_000
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left


BAD = [
    (["task.p=1.5"], "task.p"), (["task.p=-0.1"], "task.p"), (["task.K=2"], "task.K"), (["task.N=1"], "task.N"),
    (["model.M=10", "task.N=20"], "model.M"), (["model.pos=onehot", "model.M=19", "task.N=20"], "model.M"),
    (["init.sigma=-1"], "init.sigma"), (["train.eta=0"], "train.eta"), (["train.eta=-1"], "train.eta"),
    (["train.eps=0"], "train.eps"), (["task.pp=0.3"], "task.p"), (["train.steps=ten"], "train.steps"),
    (["model.normalize=maybe"], "model.normalize"), (["dtype=float16"], "dtype"), (["model.pos=sine"], "sin"),
    (["task.N=30", "task.name=qa1"], "task.N"), (["novalue"], "key=value"), (["init.seed=-2"], "init.seed"),
    (["model.name=gpt", "task.name=binary", "init.seed=1"], "init.seed"),
]


@pytest.mark.parametrize("args,needle", BAD)
def test_bad_input_one_line_and_nothing_written(tmp_path, capsys, args, needle):
    out = tmp_path / "run"
    assert cli("train", "--out", out, *args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_unknown_key_suggests_the_nearest(tmp_path, capsys):
    assert cli("train", "--out", tmp_path / "r", "train.stpes=3") == 2
    assert "did you mean train.steps" in capsys.readouterr().err


def test_out_must_be_empty_and_creatable(tmp_path, capsys):
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("keep me")
    assert cli("train", "--out", full, *SMALL) == 2
    assert "--out" in capsys.readouterr().err and (full / "x").read_text() == "keep me"
    afile = tmp_path / "afile"
    afile.write_text("")
    assert cli("train", "--out", afile / "sub", *SMALL) == 2
    assert "--out" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("train", "--out", empty, "--quiet", *SMALL) == 0 and (empty / "summary.json").exists()


def test_non_finite_loss_stops_and_is_recorded(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli("train", "--out", out, "--quiet", *SMALL, "init.scheme=gaussian", "init.sigma=3", "seed=1")
    assert code == 1
    err = capsys.readouterr().err
    assert "step 0" in err and "eps" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["error"].startswith("step 0")


def test_reproduce_list_and_bad_name(capsys):
    assert cli("reproduce", "--list") == 0
    listed = capsys.readouterr().out
    for name in ("fig2", "fig4", "fig5", "fig6", "fig7", "fig8", "fig9", "fig10", "n-condition"):
        assert name in listed
    assert cli("reproduce", "fig44", "--out", "x") == 2
    assert "did you mean fig4" in capsys.readouterr().err


def test_reproduce_writes_claims_and_resumes(tmp_path):
    assert cli("reproduce", "fig4", "--out", tmp_path, "--seeds", 2, "--workers", 1, "--quiet") == 0
    claims = json.loads((tmp_path / "fig4" / "claims.json").read_text())
    assert {c["id"] for c in claims} >= {"optimal-accuracy", "parent-attention", "value-matrix"}
    for c in claims:
        assert set(c) >= {"id", "claim", "paper", "measured", "holds"} and (isinstance(c["holds"], bool) or c["holds"] is None)
        assert c["measured"].get("n_seeds", 2) == 2
    assert (tmp_path / "fig4" / "fig4.png").stat().st_size > 10_000
    done = tmp_path / "fig4" / "runs" / "p0.5" / "seed0" / "summary.json"
    before = done.stat().st_mtime_ns
    # an interrupted reproduction: one run's directory is missing
    import shutil

    shutil.rmtree(tmp_path / "fig4" / "runs" / "p0.5" / "seed1")
    assert cli("reproduce", "fig4", "--out", tmp_path, "--seeds", 2, "--workers", 1, "--quiet") == 0
    assert done.stat().st_mtime_ns == before  # finished runs are not redone
    assert (tmp_path / "fig4" / "runs" / "p0.5" / "seed1" / "summary.json").exists()


def test_console_script_exit_code(tmp_path):
    exe = Path(sys.executable).with_name("walkformer")
    r = subprocess.run([str(exe), "train", "--out", str(tmp_path / "r"), "task.p=7"], capture_output=True, text=True,
                       env=os.environ | {"PYTHONWARNINGS": "ignore"})
    assert r.returncode == 2 and r.stderr.strip() == "walkformer: error: task.p=7.0 is not allowed: a probability in [0, 1]"


@pytest.mark.parametrize("init", [[], ["init.scheme=gaussian", "init.sigma=0.01"],
                                  ["init.scheme=gaussian", "init.sigma=0.01", "init.seed=7"]])
def test_factored_params_rebuild_the_dense_w_exactly(tmp_path, init):
    """Reproductions and sweeps store W as W0 + W_R W_qᵀ (KB, not MB); load_params
    rebuilds the very W that ``walkformer train`` stores densely."""
    from walkformer.config import Config, apply_overrides, resolve
    from walkformer.runs.rundir import load_params
    from walkformer.loop import run
    from walkformer.training import save

    over = dict(o.split("=") for o in SMALL + init)
    res = run(resolve(apply_overrides(Config(), over), set(over)))
    save(res, tmp_path / "dense", figures=False)
    save(res, tmp_path / "factored", figures=False, dense_W=False)
    dense, factored = load_params(tmp_path / "dense"), load_params(tmp_path / "factored")
    assert "W" not in load_file(str(tmp_path / "factored" / "params.safetensors"))
    assert torch.equal(dense["W"], factored["W"]) and torch.equal(dense["V"], factored["V"])
    assert float(dense["W"].abs().max()) > 0


def test_batched_runs_save_factors_without_redrawing_w0(tmp_path, monkeypatch):
    """A run trained in a batch (``multirun.Trained``) saves W's factors from the batch's
    copy; load_params rebuilds the W of the same run trained alone (to the batch's round-off)."""
    from walkformer.config import Config, apply_overrides, resolve
    from walkformer.runs import multirun
    from walkformer.runs.multirun import train_all
    from walkformer.runs.rundir import load_params
    from walkformer.loop import run
    from walkformer.training import save

    monkeypatch.setattr(multirun, "alone_is_faster", lambda device: False)
    overs = [dict(o.split("=") for o in SMALL + ["init.scheme=gaussian", "init.sigma=0.01", f"seed={s}"])
             for s in (1, 2)]
    cfgs = [resolve(apply_overrides(Config(), o), set(o)) for o in overs]
    together = train_all(cfgs)
    assert together[0].model._model is None  # trained in a batch: no full model yet
    save(together[0], tmp_path / "batched", figures=False, dense_W=False)
    assert together[0].model._model is None  # ... and saving did not build one (no W0 draw)
    save(run(cfgs[0]), tmp_path / "alone", figures=False)
    b, a = load_params(tmp_path / "batched"), load_params(tmp_path / "alone")
    assert torch.allclose(b["W"], a["W"], rtol=0, atol=1e-10) and torch.allclose(b["V"], a["V"], rtol=0, atol=1e-10)
    assert float((b["W"] - a["W"]).abs().max()) < float(b["W"].abs().max()) * 1e-6
