"""Run lifecycle (issue 14): workers die with their sweep, one sweep per directory,
runs saved as they finish, damaged run directories set aside and trained again, only
dead processes' staging removed. docs/reliability.md says which test proves what."""

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from walkformer.runs import executors, multirun, rundir
from walkformer.cli import main
from walkformer.experiments import Experiment, run_all
from walkformer.runs.sweep import expand, load, run_id, sweep

LINUX = sys.platform.startswith("linux")
WALKFORMER = str(Path(sys.executable).with_name("walkformer"))
TIMING = ["seconds", "ms_per_step"]

# 12 runs of about a third of a second each (the C step): long enough for a kill to land part-way
LONG = """
seeds = 3
[base]
"task.K" = 5
"task.N" = 20
"model.M" = 40
"train.steps" = 3000
"train.n_train" = 1000
"eval.n_test" = 60
"eval.every" = 100
"init.scheme" = "gaussian"
[grid]
"task.p" = [0.5, 1.0]
"init.sigma" = [0.0, 0.01]
"""
# 8 short runs, two of which fail at step 0 (sigma = 3): a failed run is a whole run too
SHORT = """
seeds = 2
[base]
"task.K" = 5
"task.N" = 12
"model.M" = 30
"train.steps" = 20
"train.n_train" = 60
"eval.n_test" = 60
"eval.every" = 5
"init.scheme" = "gaussian"
[grid]
"task.p" = [{p}]
"init.sigma" = [0.0, 0.05, 3.0, 0.01]
"""


def spec_file(tmp_path, text, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def same_table(a: pd.DataFrame, b: pd.DataFrame):
    a, b = a.drop(columns=TIMING).sort_values("run_id"), b.drop(columns=TIMING).sort_values("run_id")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted sweep of LONG (one process, one worker)."""
    d = tmp_path_factory.mktemp("reference")
    return sweep(load(spec_file(d, LONG)), d / "out", workers=1, quiet=True)


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            out.append(int(stat.parent.name))
    return out


def start_sweep(spec: Path, out: Path, workers: int) -> subprocess.Popen:
    """The sweep with SIGINT at its default: a suite started in the background by a shell runs
    with SIGINT ignored, which the child would inherit (and then finish despite the signal)."""
    return subprocess.Popen([WALKFORMER, "sweep", str(spec), "--out", str(out), "--workers", str(workers), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for(cond, proc, what: str, limit: float = 120):
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError(f"the sweep ended (rc {proc.poll()}) or took too long before {what}")


def _stat(pid: int) -> str:
    """What /proc says of ``pid`` (for failure messages)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text()[:200] + " cmdline=" + Path(f"/proc/{pid}/cmdline").read_text()
    except OSError as e:
        return str(e)


def holders(path: Path) -> dict[int, str]:
    """The processes that have ``path`` open (Linux /proc), with what /proc says of them."""
    target, out = str(path.resolve()), {}
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        try:
            if os.readlink(fd) == target and rundir.pid_alive(int(fd.parts[2])):
                out[int(fd.parts[2])] = _stat(int(fd.parts[2]))
        except (OSError, ValueError):
            continue
    return out


def summaries(out: Path) -> list[Path]:
    return list((out / "runs").glob("[!.]*/summary.json"))


# ---- 1 and 3: workers die with the sweep; runs are saved as they finish ---------------------------
@pytest.mark.skipif(not LINUX, reason="finds the workers in /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killing_the_main_process_ends_its_workers_and_keeps_finished_runs(tmp_path, reference, sig):
    """Only the main pid is signalled (not the process group): the two pool workers must
    end within 10 s; the runs finished before the kill are on disk; the re-run gives
    one row per run and the uninterrupted sweep's numbers."""
    spec, out = spec_file(tmp_path, LONG), tmp_path / "out"
    proc = start_sweep(spec, out, workers=2)
    wait_for(lambda: len(children(proc.pid)) >= 2 and len(summaries(out)) >= 1, proc, "a run finished")
    workers = children(proc.pid)  # the two pool workers (and any helper process multiprocessing starts)
    os.kill(proc.pid, sig)
    rc = proc.wait()
    assert rc == (-signal.SIGKILL if sig == signal.SIGKILL else 130), proc.stderr.read()
    deadline = time.time() + 10
    while time.time() < deadline and any(rundir.pid_alive(w) for w in workers):
        time.sleep(0.05)
    alive = {w: _stat(w) for w in workers if rundir.pid_alive(w)}
    assert not alive, f"a worker outlived its sweep: {alive}"
    # every process of the sweep is gone, also any we did not see as a child: none holds its lock
    lockfile = out / rundir.LOCK
    while time.time() < deadline and holders(lockfile):
        time.sleep(0.05)
    assert not holders(lockfile), f"processes still hold the sweep's lock: {holders(lockfile)}"
    finished = {p.parent.name: p.stat().st_mtime_ns for p in summaries(out)}
    assert 1 <= len(finished) < 12, f"the kill must land part-way, after a run was saved: {len(finished)} saved"
    if sig == signal.SIGINT:
        return
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "2", "--quiet"]) == 0
    df = pd.read_parquet(out / "results.parquet")
    assert len(df) == 12 and df["run_id"].is_unique and (df["status"] == "ok").all()
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(df["run_id"])  # no staging left
    redone = [rid for rid, t in finished.items() if (out / "runs" / rid / "summary.json").stat().st_mtime_ns != t]
    assert not redone, f"runs finished before the kill were trained again: {redone}"
    same_table(df, reference)


def test_each_run_is_on_disk_before_the_next_one_trains(tmp_path, monkeypatch):
    """One at a time (the C path): run i starts with runs 0..i-1 saved; batched groups
    (runs in lockstep): each group starts with the earlier groups saved."""
    cfgs = expand(load(spec_file(tmp_path, SHORT.format(p="0.5, 1.0"))))[:6]
    seen, real_run, real_group = [], multirun.run, multirun.train_group

    def saved():
        return sum(executors.done(tmp_path / f"r{i}") for i in range(len(cfgs)))

    monkeypatch.setattr(multirun, "run", lambda c, **kw: (seen.append(saved()), real_run(c, **kw))[1])
    monkeypatch.setattr(multirun, "train_group", lambda g, *a: (seen.append(saved()), real_group(g, *a))[1])
    monkeypatch.setattr(multirun, "alone_is_faster", lambda device: True)
    executors.run_batch(cfgs, [str(tmp_path / f"r{i}") for i in range(6)])
    assert seen == [0, 1, 2, 3, 4, 5]
    for i in range(6):
        rundir.set_aside(tmp_path / f"r{i}", "test")
    seen.clear()
    monkeypatch.setattr(multirun, "alone_is_faster", lambda device: False)
    executors.run_batch(cfgs, [str(tmp_path / f"r{i}") for i in range(6)], max_models=2)
    assert seen == [0, 2, 4]


# ---- 2: one sweep (or reproduce) per directory ----------------------------------------------------
@pytest.mark.skipif(not LINUX, reason="fcntl.flock and /proc")
def test_a_second_sweep_on_the_same_directory_exits_2_naming_the_owner(tmp_path, reference, capsys):
    out = tmp_path / "out"
    first = start_sweep(spec_file(tmp_path, LONG), out, workers=1)
    lockfile = out / rundir.LOCK
    wait_for(lambda: lockfile.exists() and lockfile.read_text().strip(), first, "it took the lock")
    other = spec_file(tmp_path, SHORT.format(p="0.7"), "other.toml")  # other run ids: nothing of it may appear
    assert main(["sweep", str(other), "--out", str(out), "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"pid {first.pid} on {socket.gethostname()}" in err, err
    assert "walkformer sweep" in err and "Traceback" not in err
    assert first.wait() == 0, first.stderr.read()
    df = pd.read_parquet(out / "results.parquet")
    same_table(df, reference)
    assert sorted(p.name for p in (out / "runs").iterdir()) == sorted(df["run_id"])  # none of the other's runs
    assert lockfile.read_text() == ""  # released


def test_a_stale_lock_is_taken_over_and_another_hosts_lock_is_not(tmp_path, capsys):
    spec, out = spec_file(tmp_path, SHORT.format(p="0.5")), tmp_path / "out"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out.mkdir()
    (out / rundir.LOCK).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "command": "x"}))
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert f"took over the lock of pid {dead.pid}" in capsys.readouterr().err
    assert len(pd.read_parquet(out / "results.parquet")) == 8
    (out / rundir.LOCK).write_text(json.dumps({"pid": 1, "host": "elsewhere", "command": "walkformer sweep"}))
    before = sorted(p.name for p in out.rglob("*"))
    assert main(["sweep", str(spec), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pid 1 on elsewhere" in err and "remove" in err
    assert sorted(p.name for p in out.rglob("*")) == before


HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


@pytest.mark.skipif(not LINUX, reason="fcntl.flock")
def test_a_dead_owners_lock_held_by_its_ending_workers_is_waited_for(tmp_path, monkeypatch, capsys):
    """Right after a sweep is killed its workers (which share its lock) may need a moment to
    end: a lock whose named owner is dead is waited for (rundir.STRAGGLERS), then taken
    over; one that stays held longer is refused in one line that says who is gone."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / rundir.LOCK
    for linger, ok in ((0.5, True), (30.0, False)):
        path.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "command": "walkformer sweep"}))
        straggler = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(linger)], stdout=subprocess.PIPE,
                                     text=True)
        assert straggler.stdout.readline().strip() == "held"
        monkeypatch.setattr(rundir, "STRAGGLERS", 3.0)
        try:
            if ok:
                with rundir.lock(tmp_path):
                    assert straggler.poll() is not None  # it got the lock only once the straggler had ended
                assert f"took over the lock of pid {dead.pid}" in capsys.readouterr().err
            else:
                with pytest.raises(rundir.Busy, match="left behind"):
                    with rundir.lock(tmp_path):
                        pass
        finally:
            straggler.kill()
            straggler.wait()


def test_reproduce_takes_the_same_lock(tmp_path, capsys):
    with rundir.lock(tmp_path):
        assert main(["reproduce", "fig4", "--out", str(tmp_path), "--seeds", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"pid {os.getpid()}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [rundir.LOCK]  # nothing written


# ---- 4: damage is found, set aside, trained again and reported -----------------------------------
def cut(path: Path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip(path: Path):  # same size, one byte changed
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def no_status(path: Path):
    s = json.loads(path.read_text())
    del s["status"]
    path.write_text(json.dumps(s))


DAMAGE = {  # how -> (file, what it does, the reason recorded)
    "cut params": ("params.safetensors", cut, "params.safetensors has"),
    "deleted metrics": ("metrics.jsonl", Path.unlink, "metrics.jsonl is missing"),
    "flipped metrics": ("metrics.jsonl", flip, "metrics.jsonl does not match its recorded sha256"),
    "cut summary": ("summary.json", cut, "summary.json is not valid JSON"),
    "deleted summary": ("summary.json", Path.unlink, "no summary.json"),
    "summary without status": ("summary.json", no_status, "summary.json has no status"),
}


def test_each_damage_is_set_aside_retrained_and_reported(tmp_path, capsys):
    spec, out = spec_file(tmp_path, SHORT.format(p="0.5, 1.0")), tmp_path / "out"
    before = sweep(load(spec), out, workers=1, quiet=True)
    ok = before[before["status"] == "ok"]["run_id"].tolist()
    hit = dict(zip(DAMAGE, ok))
    for how, rid in hit.items():
        name, do, _ = DAMAGE[how]
        do(out / "runs" / rid / name)
    capsys.readouterr()
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    cap = capsys.readouterr()
    assert f"repaired {len(DAMAGE)} damaged runs" in cap.err and "Traceback" not in cap.err
    assert f"{len(DAMAGE)} trained again after damage" in cap.out
    df = pd.read_parquet(out / "results.parquet")
    assert sorted(df.loc[df["repaired"] > 0, "run_id"]) == sorted(hit.values())
    same_table(df.drop(columns="repaired"), before.drop(columns="repaired"))  # the same numbers again
    for how, rid in hit.items():
        aside = list((out / "runs" / ".damaged").glob(f"{rid}-*"))
        assert len(aside) == 1 and DAMAGE[how][2] in (aside[0] / "reason.txt").read_text(), how
        assert executors.done(out / "runs" / rid)
    assert main(["sweep", str(spec), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert "repaired" not in capsys.readouterr().err  # nothing left to repair


def test_runs_from_before_manifests_count_if_they_parse(tmp_path):
    spec, out = spec_file(tmp_path, SHORT.format(p="0.5")), tmp_path / "out"
    sweep(load(spec), out, workers=1, quiet=True)
    for m in (out / "runs").glob(f"*/{rundir.MANIFEST}"):
        m.unlink()
    runs = sorted((out / "runs").glob("[!.]*/summary.json"))
    mtimes = [p.stat().st_mtime_ns for p in runs]
    ok = [p.parent for p in runs if json.loads(p.read_text())["status"] == "ok"]
    cut(ok[0] / "params.safetensors")
    (ok[1] / "metrics.jsonl").write_text("{\"step\": 0, \"train_lo\n")
    ran = executors.execute([(c, out / "runs" / run_id(c)) for c in expand(load(spec))], quiet=True)
    assert ran.ran == 2 and ran.repaired == {ok[0]: "params.safetensors does not parse",
                                             ok[1]: "metrics.jsonl does not parse"}
    assert [p.stat().st_mtime_ns for p in runs if p.parent not in ok[:2]] == \
        [t for p, t in zip(runs, mtimes) if p.parent not in ok[:2]]  # the rest were not trained again


def test_reproduce_repairs_too(tmp_path, capsys):
    base = {"task.K": 5, "task.N": 12, "model.M": 30, "train.steps": 10, "train.n_train": 40, "eval.n_test": 40}
    exp = Experiment("tiny", "none", "a test", {"a": {"task.p": 0.5}}, lambda runs, d, e: [], seeds=2, base=base)
    run_all([exp], tmp_path, workers=1, quiet=True)
    seed1 = tmp_path / "tiny" / "runs" / "a" / "seed1"
    cut(seed1 / "params.safetensors")
    run_all([exp], tmp_path, workers=1, quiet=True)
    assert "repaired 1 damaged run " in capsys.readouterr().err
    assert executors.done(seed1) and len(list((seed1.parent / ".damaged").glob("seed1-*"))) == 1


def test_a_run_of_a_changed_preset_is_trained_again(tmp_path, capsys):
    """A finished run whose config.json is not the job's config (the preset changed since it
    ran) is set aside and trained again, not reused; an unchanged one is reused as it is."""
    base = {"task.K": 5, "task.N": 12, "model.M": 30, "train.steps": 4, "train.n_train": 40, "eval.n_test": 40}
    exp = Experiment("tiny", "none", "a test", {"a": {"task.p": 0.5}, "b": {"task.p": 0.7}}, lambda r, d, e: [],
                     seeds=1, base=base)
    run_all([exp], tmp_path, workers=1, quiet=True)
    a, b = (tmp_path / "tiny" / "runs" / v / "seed0" for v in "ab")
    before = (b / "summary.json").read_bytes()
    changed = dataclasses.replace(exp, variants={"a": {"task.p": 0.6}, "b": {"task.p": 0.7}})
    run_all([changed], tmp_path, workers=1, quiet=True)
    err = capsys.readouterr().err
    assert "repaired 1 damaged run " in err and "config differs" in err
    assert json.loads((a / "config.json").read_text())["task"]["p"] == 0.6
    assert (b / "summary.json").read_bytes() == before and not (b.parent / ".damaged").exists()
    assert len(list((a.parent / ".damaged").glob("seed0-*"))) == 1


# ---- stale staging: only a dead process's is removed ----------------------------------------------
def staged(parent: Path, name: str, pid: int, files=("config.json",)) -> Path:
    d = parent / f".{name}.tmp-{pid}"
    d.mkdir(parents=True)
    for f in files:
        (d / f).write_text("{}")
    return d


def test_staging_of_a_live_process_stays_a_dead_ones_goes(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    live = staged(tmp_path, "a", os.getpid())
    gone = staged(tmp_path, "b", dead.pid, ("config.json", "metrics.jsonl", ".summary.json.tmp-1"))
    foreign = staged(tmp_path, "c", dead.pid, ("notes.txt",))  # not ours: never touched
    tmpfile = tmp_path / f".results.parquet.tmp-{dead.pid}"
    tmpfile.write_text("")
    assert sorted(rundir.clean_staging([tmp_path])) == sorted([gone, tmpfile])
    assert live.exists() and foreign.exists() and not gone.exists() and not tmpfile.exists()


def test_train_removes_what_a_killed_train_left_beside_out(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = staged(tmp_path, "run1", dead.pid, ("config.json", "metrics.jsonl"))
    live = staged(tmp_path, "run2", os.getpid())
    args = ["task.K=4", "task.N=8", "model.M=20", "train.steps=2", "train.n_train=20", "eval.n_test=20"]
    assert main(["train", "--out", str(tmp_path / "run3"), "--quiet", *args]) == 0
    assert not left.exists() and live.exists() and executors.done(tmp_path / "run3")
