"""Sweeps: spec checking, content-addressed resume after kill -9, Ray == local, the example."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from walkformer.cli import main
from walkformer.runs.sweep import expand, load, run_id, sweep
from walkformer.loop import run

SPEC = """
seeds = {seeds}
[base]
"task.K" = 5
"task.N" = 12
"model.M" = 30
"train.steps" = {steps}
"train.n_train" = {n}
"eval.n_test" = 60
"eval.every" = 5
"init.scheme" = "gaussian"
[grid]
"task.p" = [0.5, 1.0]
"init.sigma" = [0.0, 0.05, 3.0]
"""
TIMING = ["seconds", "ms_per_step"]


def write_spec(tmp_path, seeds=2, steps=10, n=60, name="spec.toml"):
    path = tmp_path / name
    path.write_text(SPEC.format(seeds=seeds, steps=steps, n=n))
    return path


def same_table(a: pd.DataFrame, b: pd.DataFrame):
    a, b = a.drop(columns=TIMING).sort_values("run_id"), b.drop(columns=TIMING).sort_values("run_id")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_sweep_table_matches_individual_runs(tmp_path):
    df = sweep(load(write_spec(tmp_path)), tmp_path / "out", workers=1, quiet=True)
    assert len(df) == 12 and df["run_id"].is_unique
    assert set(df["status"]) == {"ok", "failed"}  # σ = 3 diverges: recorded, the sweep goes on
    assert df.loc[df["init.sigma"] == 3.0, "error"].str.contains("step 0").all()
    back = pd.read_parquet(tmp_path / "out" / "results.parquet")
    same_table(df, back)
    cfgs = expand(load(write_spec(tmp_path)))
    for c in cfgs[:4] + cfgs[-2:]:
        row = df[df["run_id"] == run_id(c)].iloc[0]
        alone = run(c).summary
        assert row["status"] == alone["status"]
        assert row["test_accuracy"] == pytest.approx(alone["test_accuracy"], abs=1e-6)
        assert row["train_loss"] == pytest.approx(alone["train_loss"], abs=1e-6, nan_ok=True)
        rundir = tmp_path / "out" / "runs" / run_id(c)
        assert json.loads((rundir / "config.json").read_text())["seed"] == c.seed
        assert (rundir / "metrics.jsonl").exists()


def test_killed_sweep_resumes_without_loss_or_duplicates(tmp_path):
    spec = write_spec(tmp_path, seeds=3, steps=200, n=400)  # long enough runs that the kill lands part-way
    out = tmp_path / "out"
    cmd = [str(Path(sys.executable).with_name("walkformer")), "sweep", str(spec), "--out", str(out), "--workers", "1",
           "--max-models", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = out / "runs"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(runs.glob("[!.]*/summary.json"))) < 3 and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in runs.glob("[!.]*/summary.json")}
    assert 3 <= len(finished) < 18, "the kill must land part-way"
    assert not (out / "results.parquet").exists()
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 18 and df["run_id"].is_unique and (df["status"] != "missing").all()
    assert sorted(p.name for p in runs.iterdir()) == sorted(df["run_id"])  # no staging or half runs left
    for rid, mtime in finished.items():  # finished runs were not redone
        assert (runs / rid / "summary.json").stat().st_mtime_ns == mtime
    fresh = sweep(load(spec), tmp_path / "fresh", workers=2, quiet=True)
    same_table(df, fresh)  # identical numbers to an uninterrupted sweep (2 workers, other batches)


@pytest.mark.slow
def test_ray_executor_gives_the_local_table(tmp_path):
    pytest.importorskip("ray")
    spec = load(write_spec(tmp_path, seeds=2, steps=5))
    local = sweep(spec, tmp_path / "local", workers=1, quiet=True, max_models=4)
    remote = sweep(spec, tmp_path / "ray", executor="ray", workers=2, quiet=True, max_models=4)
    same_table(local, remote)
    assert sorted(p.name for p in (tmp_path / "ray" / "runs").iterdir()) == sorted(local["run_id"])



@pytest.mark.slow
def test_ray_saves_each_run_as_it_finishes_not_per_batch(tmp_path, monkeypatch):
    """Four Ray tasks of three one-at-a-time runs: in each worker a run starts training
    only once the run it trained before is on the driver's disk (it waits up to 30 s and
    logs whether it came), so runs reach the disk while their batch still trains (with a
    task's files sent when it ends, every such wait times out). The table equals the local one."""
    ray = pytest.importorskip("ray")
    from walkformer.runs import multirun

    monkeypatch.setattr(multirun, "alone_is_faster", lambda device: True)  # the same path as the workers'
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    spec = load(write_spec(tmp_path, seeds=2, steps=5))
    local = sweep(spec, tmp_path / "local", workers=1, quiet=True, max_models=3)
    runs, log = tmp_path / "ray" / "runs", tmp_path / "trained.log"

    def hook():  # in each Ray worker process, before it runs a task
        import time

        from walkformer.runs import executors, multirun

        real, before = multirun.run, []

        def run(c, **kw):
            deadline, came = time.time() + 30, True
            while before and not executors.done(runs / run_id(before[-1])):
                if time.time() > deadline:
                    came = False
                    break
                time.sleep(0.02)
            with open(log, "a") as fh:
                fh.write(f"{run_id(c)} {run_id(before[-1]) if before else '-'} {came}\n")
            before.append(c)
            return real(c, **kw)

        multirun.run, multirun.alone_is_faster = run, lambda device: True

    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"worker_process_setup_hook": hook})
    try:
        remote = sweep(spec, tmp_path / "ray", executor="ray", workers=2, quiet=True, max_models=3)
    finally:
        ray.shutdown()
    lines = [line.split() for line in log.read_text().splitlines()]
    assert sorted(rid for rid, _, _ in lines) == sorted(local["run_id"])  # each run trained once, alone
    waited = [(rid, prev, came) for rid, prev, came in lines if prev != "-"]
    assert len(waited) >= 8  # at least two runs after the first in each of the four tasks
    assert all(came == "True" for _, _, came in waited), f"runs that started before the previous one was saved: {waited}"
    same_table(local, remote)
    assert sorted(p.name for p in runs.iterdir()) == sorted(local["run_id"])


BAD = [
    ('[grid]\n"task.pp" = [0.1]', "did you mean task.p"),
    ('[base]\n"train.stpes" = 3\n[grid]\n"task.p" = [0.5]', "did you mean train.steps"),
    ('seeds = 2', "grid is empty"),
    ('[grid]', "grid is empty"),
    ('[grid]\n"task.p" = []', "non-empty list"),
    ('[grid]\n"task.p" = 0.5', "non-empty list"),
    ('[grid]\n"task.K" = ["six"]', "wrong type"),
    ('[grid]\n"task.K" = [6.5]', "task.K"),
    ('[grid]\n"model.pos" = [1]', "wrong type"),
    ('[grid]\n"task.p" = [0.5, 1.5]', "task.p=1.5"),
    ('[base]\n"model.pos" = "onehot"\n"model.M" = 50\n[grid]\n"task.N" = [20, 97]', "grid point task.N=97"),
    ('[base]\n"task.name" = "qa1"\n[grid]\n"task.N" = [30]', "fixes it to 17"),
    ('preset = "fig44"\n[grid]\n"task.p" = [0.5]', "preset='fig44'"),
    ('preset = "fig4"\nvariant = "p9"\n[grid]\n"task.p" = [0.5]', "variant='p9'"),
    ('seeds = 0\n[grid]\n"task.p" = [0.5]', "seeds=0"),
    ('[grid]\n"seed" = [1, 2]', "seeds"),
    ('grids = 1\n[grid]\n"task.p" = [0.5]', "unknown top-level key 'grids'"),
    ('[grid\n', "not valid TOML"),
]


@pytest.mark.parametrize("text,needle", BAD)
def test_bad_specs_fail_before_anything_runs(tmp_path, capsys, text, needle):
    spec = tmp_path / "bad.toml"
    spec.write_text(text + "\n")
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err, err
    assert not out.exists()


def test_bad_executor_and_missing_spec(tmp_path, capsys):
    spec = write_spec(tmp_path)
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--executor", "slurm"]) == 2
    assert "--executor='slurm'" in capsys.readouterr().err
    assert main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--device", "tpu"]) == 2
    assert "--device='tpu'" in capsys.readouterr().err
    (tmp_path / "afile").write_text("")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "afile")]) == 2
    assert "--out=" in capsys.readouterr().err
    assert main(["sweep", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_example_spec(tmp_path):
    """The example of docs/sweeps.md: 3 p × 3 σ × 3 seeds, run here with fewer sequences and steps."""
    spec = load(Path(__file__).parents[1] / "examples" / "sweep_p_sigma.toml")
    assert len(expand(spec)) == 27 and spec.base["task.N"] == 97
    spec.base |= {"train.steps": 3, "train.n_train": 40, "eval.n_test": 40, "model.M": 100}
    df = sweep(spec, tmp_path, workers=1, quiet=True)
    assert len(df) == 27 and set(df["init.sigma"]) == {0.0, 0.01, 0.1} and (df["status"] != "missing").all()


def test_run_ids_from_before_the_variant_keys_stay_valid():
    """Sweep directories written before issue 13's keys resume: a run that holds its family's
    value of every new key has the id the earlier version gave it (recorded at commit 4e8446c);
    a variant gets another id."""
    from walkformer.config import Config, apply_overrides, resolve
    from walkformer.runs.sweep import run_id

    def rid(**over):
        return run_id(resolve(apply_overrides(Config(), over), set(over)))

    assert rid() == "cb5e200aca79e42c"
    assert rid(**{"task.name": "binary", "model.name": "gpt", "task.N": 64}) == "78f32a31e7ebc154"
    assert rid(**{"model.attention": "split"}) != rid()
    assert rid(**{"model.name": "gpt", "task.name": "binary", "model.pos": "rope"}) != \
        rid(**{"model.name": "gpt", "task.name": "binary"})
