"""Ray clusters (executors._ray): a Ray address where nothing answers is one line, exit 2,
nothing written; a real two-node cluster on loopback (a head and a second raylet, started
here with token authentication and stopped by pid) runs a sweep equal to the local one,
also when the second node is killed mid-sweep (its task, retried on the head, installs
nothing twice). The commands are those of docs/reliability.md."""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from walkformer.runs.executors import TOKEN_HELP, RayEnv
from walkformer.runs.sweep import load, sweep

BIN = Path(sys.executable).parent
SPEC = """
seeds = 2
[base]
"task.K" = 5
"task.N" = 12
"model.M" = 30
"train.steps" = {steps}
"train.n_train" = 60
"eval.n_test" = 60
"eval.every" = 5
"init.scheme" = "gaussian"
[grid]
"task.p" = [0.5, 1.0]
"init.sigma" = [0.0, 0.05]
"""
TIMING = ["seconds", "ms_per_step"]


def walkformer(*args, env=None, **kw):
    return subprocess.Popen([str(BIN / "walkformer"), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def finish(p: subprocess.Popen, timeout: float) -> tuple[str, str]:
    """Its stdout and stderr once it ends; killed (and the test failed) if it outlives ``timeout``."""
    try:
        return p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        pytest.fail(f"{p.args} still ran after {timeout} s")


def same_table(a: pd.DataFrame, b: pd.DataFrame):
    a, b = a.drop(columns=TIMING).sort_values("run_id"), b.drop(columns=TIMING).sort_values("run_id")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1"])
def test_an_address_where_nothing_answers_is_one_line_and_writes_nothing(tmp_path, address):
    pytest.importorskip("ray")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(steps=5))
    p = walkformer("sweep", str(spec), "--out", str(tmp_path / "out"), "--executor", "ray", "--address", address)
    out, err = finish(p, 120)  # it used to hang for minutes
    assert p.returncode == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"walkformer: error: --address={address!r}")
    assert "nothing answers at" in err and "Connection refused" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("user", [None, "1"])
def test_usage_statistics_stay_off_unless_the_user_turns_them_on(monkeypatch, user):
    pytest.importorskip("ray")
    for k in ("RAY_USAGE_STATS_ENABLED", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(k, raising=False)
    if user:
        monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", user)
    monkeypatch.setenv("HOME", "/nonexistent")  # no token here ...
    with RayEnv("127.0.0.1:6379"):
        assert os.environ["RAY_USAGE_STATS_ENABLED"] == (user or "0") and "RAY_AUTH_MODE" not in os.environ
    monkeypatch.setenv("RAY_AUTH_TOKEN", "0" * 64)  # ... and now one: joining turns token authentication on
    with RayEnv("127.0.0.1:6379"):
        assert os.environ["RAY_AUTH_MODE"] == "token" and os.environ["RAY_py_gcs_connect_timeout_s"] == "10"
    with RayEnv(None):  # a local Ray: Ray decides itself
        assert "RAY_AUTH_MODE" not in os.environ and os.environ["RAY_USAGE_STATS_ENABLED"] == (user or "0")
    assert os.environ.get("RAY_USAGE_STATS_ENABLED") == user and "RAY_AUTH_MODE" not in os.environ  # restored


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[int]:
    """``pid`` and every process below it (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def stop(proc: subprocess.Popen) -> None:
    """SIGKILL the ``ray start --block`` process ``proc`` and every process it started
    (Ray's workers leave its process group, so they are found by parent pid): stopped
    first, so that none starts another while they are collected."""
    seen: set[int] = set()
    for _ in range(3):
        for p in set(tree(proc.pid)) - seen:
            seen.add(p)
            try:
                os.kill(p, signal.SIGSTOP)
            except ProcessLookupError:
                pass
    for p in seen:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


class Cluster:
    """A head and a second node on loopback, each ``ray start --block`` with 1 CPU; logs
    in ``tmp``, Ray's own files in a short directory (its socket paths must stay short)."""

    def __init__(self, tmp: Path):
        self.port, self.tmp, self.short = free_port(), tmp, Path(tempfile.mkdtemp(prefix="wf-ray-"))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")} | {
            "RAY_AUTH_TOKEN": secrets.token_hex(32), "RAY_USAGE_STATS_ENABLED": "0"}
        self.nodes: list[subprocess.Popen] = []

    def start(self, *args, name: str):
        log = self.tmp / f"{name}.log"
        cmd = [str(BIN / "ray"), "start", *args, "--num-cpus=1", "--node-ip-address=127.0.0.1",
               f"--temp-dir={self.short / name}", "--block"]
        with log.open("w") as fh:
            node = subprocess.Popen(cmd, env=self.env | {"RAY_AUTH_MODE": "token"}, stdout=fh,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.nodes.append(node)
        deadline = time.time() + 120
        while "Ray runtime started" not in log.read_text():
            assert node.poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        return node

    def __enter__(self):
        try:
            self.start("--head", f"--port={self.port}", "--include-dashboard=false", name="head")
            self.worker = self.start(f"--address=127.0.0.1:{self.port}", name="worker")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc):
        for node in reversed(self.nodes):
            stop(node)
        shutil.rmtree(self.short, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="stops the cluster's processes through /proc")
def test_a_two_node_cluster_gives_the_local_table_also_when_a_node_dies(tmp_path):
    pytest.importorskip("ray")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.format(steps=100))  # runs long enough that the kill lands mid-sweep
    local = sweep(load(spec), tmp_path / "local", workers=1, quiet=True)
    with Cluster(tmp_path) as cluster:
        # no RAY_AUTH_MODE: walkformer turns token authentication on itself where it finds a token
        args = ["sweep", str(spec), "--executor", "ray", "--address", f"127.0.0.1:{cluster.port}",
                "--workers", "2", "--max-models", "4", "--quiet"]  # two tasks of four runs each
        p = walkformer(*args, "--out", str(tmp_path / "both"), env=cluster.env)
        _, err = finish(p, 300)
        assert p.returncode == 0, err[-3000:]
        same_table(local, pd.read_parquet(tmp_path / "both" / "results.parquet"))

        stranger = {k: v for k, v in cluster.env.items() if k != "RAY_AUTH_TOKEN"} | {"HOME": str(tmp_path)}
        p = walkformer(*args, "--out", str(tmp_path / "stranger"), env=stranger)  # no token: one line, exit 2
        _, err = finish(p, 120)
        assert p.returncode == 2 and err.splitlines()[-1].endswith(TOKEN_HELP) and "refused" in err

        p = walkformer(*args, "--out", str(tmp_path / "killed"), env=cluster.env)
        try:
            runs, deadline = tmp_path / "killed" / "runs", time.time() + 300
            while not list(runs.glob("[!.]*/summary.json")) and p.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            stop(cluster.worker)  # the second node dies mid-sweep, its task part-way
            saved = {q.parent.name: q.stat().st_mtime_ns for q in runs.glob("[!.]*/summary.json")}
            assert len(saved) < len(local), "the kill must land mid-sweep"
            _, err = finish(p, 300)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == 0, err[-3000:]
        same_table(local, pd.read_parquet(tmp_path / "killed" / "results.parquet"))
        assert sorted(q.name for q in runs.iterdir()) == sorted(local["run_id"])  # no staging left
        rewritten = [rid for rid, t in saved.items() if (runs / rid / "summary.json").stat().st_mtime_ns != t]
        assert not rewritten, f"runs saved before the kill were installed again: {rewritten}"
