"""Run many (config, run directory) jobs: batched, in parallel, resumably.

:func:`execute` is the one engine behind ``walkformer sweep`` and ``walkformer
reproduce``: it removes what dead processes left (``rundir.clean_staging``), sets aside
damaged run directories (``rundir.damage``: to ``.damaged/`` beside them, with the
reason) and redoes them, skips the whole ones, groups the rest into batches of
compatible runs (``multirun.plan``) and hands the batches to an executor:

- ``local``: a process pool on this machine (``workers`` processes, one torch thread
  each; ``workers=1`` runs in this process). The workers die with this process, SIGKILL
  included (:func:`_die_with_parent`), and an exception here (Ctrl-C) kills them;
- ``ray``: Ray tasks (``num_cpus=1`` each, and a quarter of a GPU where the cluster has
  GPUs and ``device`` is not ``cpu``). Without ``address`` a new local Ray instance
  with ``workers`` CPUs is started (never a cluster that happens to run here); with one
  (``HOST:PORT`` of the head, ``ray://HOST:10001`` or ``auto``) the driver joins that
  cluster, after ``check_ray_address`` made sure something answers there (one line in
  seconds, not a hang). Each task is a Ray generator (:func:`stream_batch`) that sends
  every finished run directory back as bytes the moment it is trained, and this process
  writes it at once, so the cluster needs no shared filesystem. Ray's usage statistics
  stay off unless the user's environment turns them on (docs/reliability.md).

Every run directory is staged and renamed into place (``rundir.Staging``) as soon as
``multirun.train_all`` returns it, on either executor: a run trained alone (the C path
on the CPU) is on disk the moment it ends (with Ray: the moment it reaches the driver),
a batched group (runs in lockstep) when the group ends. So a job killed at any moment
loses at most the runs in flight, leaves no half run, and a re-run redoes exactly the
missing ones.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from . import rundir
from ..config import Config
from .multirun import plan

EXECUTORS = ("local", "ray")


def done(path: Path) -> bool:
    """Whether ``path`` holds a whole run (``rundir.damage``)."""
    return rundir.damage(path) is None


def save_result(result, path: Path, figures: bool = False) -> None:
    """``training.save``, or for a run that raised before it had a model, its config and error."""
    from ..training import save

    if result.model is not None:
        save(result, path, figures=figures, dense_W=False)
        return
    with rundir.Staging(path) as tmp:
        rundir.write_json(tmp / "config.json", result.cfg.to_dict() | {
            "versions": rundir.versions(), "command": rundir.command_for(result.cfg, str(path))})
        rundir.write_json(tmp / "summary.json", result.summary)


def run_batch(cfgs: list[Config], paths: list[str], max_models: int = 64, device: str = "cpu") -> int:
    """Train ``cfgs`` (batched where faster) and write each run to its path as soon as it
    is trained; returns how many."""
    import torch

    from .multirun import train_all

    torch.set_num_threads(1)
    train_all(cfgs, keep_metrics=True, max_models=max_models, device=device,
              on_result=lambda i, r: save_result(r, Path(paths[i])))
    return len(cfgs)


def run_files(result) -> dict[str, bytes]:
    """The run directory of ``result`` as ``{file name: bytes}`` (what a Ray worker sends)."""
    with tempfile.TemporaryDirectory() as tmp:
        save_result(result, Path(tmp) / "run")
        return {f.name: f.read_bytes() for f in (Path(tmp) / "run").iterdir()}


def stream_batch(cfgs: list[Config], max_models: int = 64, device: str = "cpu"):
    """Train ``cfgs`` as :func:`run_batch` does and yield ``(i, run_files(result))`` of each
    run the moment it is trained: as a Ray generator task, each run reaches the driver
    while the rest of the batch trains. ``train_all`` calls back; it runs in a thread that
    hands its runs to this generator, which re-raises what the thread raised."""
    import queue
    import threading

    import torch

    from .multirun import train_all

    torch.set_num_threads(1)
    out: queue.Queue = queue.Queue()

    def train():
        try:
            train_all(cfgs, keep_metrics=True, max_models=max_models, device=device,
                      on_result=lambda i, r: out.put((i, run_files(r))))
            out.put(None)
        except BaseException as e:  # noqa: BLE001  (raised below, in the task)
            out.put(e)

    threading.Thread(target=train, daemon=True, name="train").start()
    while (item := out.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


def _install(files: dict[str, bytes], path: Path) -> None:
    with rundir.Staging(path) as tmp:
        for name, data in sorted(files.items(), key=lambda kv: kv[0] == "summary.json"):  # summary last
            if name != rundir.MANIFEST:  # Staging writes it from the bytes on this disk
                (tmp / name).write_bytes(data)


def clean_staging(dirs) -> list[Path]:
    """Remove the staging directories dead processes left beside ``dirs`` (``rundir.clean_staging``)."""
    return rundir.clean_staging({Path(p).parent for p in dirs})


def _die_with_parent(main: int) -> None:
    """Pool initializer: end this worker when ``main`` (the sweep) ends, SIGKILL
    included. Linux: the kernel sends SIGKILL when the parent dies (PR_SET_PDEATHSIG);
    everywhere: a thread checks the parent every half second."""
    import threading
    import time

    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    parent = os.getppid()

    def watch():
        while os.getppid() == parent and rundir.pid_alive(main):
            time.sleep(0.5)
        os._exit(1)

    if not rundir.pid_alive(main):  # died before the kernel was told
        os._exit(1)
    threading.Thread(target=watch, daemon=True, name="die-with-parent").start()


@dataclass
class Executed:
    """What :func:`execute` did: how many runs it trained, and the damaged run
    directories it set aside (path -> reason) and trained again."""
    ran: int
    repaired: dict = field(default_factory=dict)


def stale(cfg: Config, path: Path) -> str | None:
    """Why the whole run at ``path`` is not the run of ``cfg`` (its config.json resolves to
    another config: a preset changed since it ran), or None."""
    from ..config import flatten, from_dict

    try:
        had = from_dict(json.loads((path / "config.json").read_text()))
    except (OSError, ValueError, TypeError) as e:
        return f"config.json does not load ({type(e).__name__})"
    if had == cfg:
        return None
    old, new = flatten(had.to_dict()), flatten(cfg.to_dict())
    key = next(k for k in new if old.get(k) != new[k])
    return f"its config differs from the job's ({key}={old.get(key)!r}, the job has {new[key]!r})"


def triage(jobs) -> tuple[set[Path], dict[Path, str]]:
    """The paths of the (config, path) jobs that need training, and the damaged or stale
    ones among them, set aside (``rundir.set_aside``): path -> reason. Absent paths and
    empty directories are just missing; everything else that is not a whole run
    (``rundir.damage``), or is the run of another config (:func:`stale`), is set aside."""
    todo, repaired = set(), {}
    for cfg, p in jobs:
        p = Path(p)
        why = rundir.damage(p)
        if why is None:
            why = stale(cfg, p)
        if why is None:
            continue
        todo.add(p)
        if why != "missing" and not (p.is_dir() and not any(p.iterdir())):
            rundir.set_aside(p, why)
            repaired[p] = why
    return todo, repaired


def say_repaired(repaired: dict) -> None:
    """One stderr line (printed even when quiet: data was damaged): how many, where, and
    the reasons counted (the exact one of each run is in its ``reason.txt``)."""
    import re

    if not repaired:
        return
    kinds: dict[str, int] = {}
    for why in repaired.values():
        why = re.sub(r"\d+", "N", why)
        kinds[why] = kinds.get(why, 0) + 1
    where = sorted({str(p.parent / rundir.DAMAGED) for p in repaired})
    print(f"walkformer: repaired {len(repaired)} damaged run{'s' * (len(repaired) != 1)} (set aside to "
          f"{', '.join(where[:3])}{' ...' if len(where) > 3 else ''}; trained again): "
          + "; ".join(f"{n}x {why}" for why, n in sorted(kinds.items())), file=sys.stderr)


# Seconds per (step · sequence · token) measured from the runs of one `make reproduce`
# (summary.json "seconds", 2026-12-02, one thread per run): the Shi & Cao fast path
# 1.2-4 ns for most presets (up to 35 with the QA tasks' ReLU head), the gpt model
# 400-640 ns per layer. A gpt token-step therefore weighs GPT_WEIGHT per layer.
GPT_WEIGHT = 400


def cost(cfg: Config) -> int:
    """What one run costs, in Shi & Cao token-steps: steps × sequences per step × tokens
    per sequence, times ``GPT_WEIGHT`` × layers for the gpt model (fresh ``train.batch``
    sequences per step; the others train on ``train.n_train`` fixed ones). Positive."""
    t, tr = cfg.task, cfg.train
    if cfg.model.name == "gpt":
        return max(1, tr.steps * tr.batch * t.N * GPT_WEIGHT * max(1, cfg.model.layers))
    return max(1, tr.steps * tr.n_train * max(1, t.N - 1))


class Progress:
    """The bar of :func:`execute`: its total and updates are :func:`cost` units, so its
    estimate of the time left does not jump when cheap runs finish before dear ones; the
    runs are counted in its postfix: "reproduce:  45%|████▌     | [01:02<01:15, runs 812/2437]"."""

    def __init__(self, jobs: list[tuple[Config, Path]], todo: list[Path], desc: str, quiet: bool = False):
        from tqdm import tqdm

        self.weights = {p: cost(c) for c, p in jobs}
        left = set(todo)
        self.runs, self.done = len(self.weights), len(self.weights) - len(left)
        self.bar = tqdm(total=sum(self.weights.values()), initial=sum(w for p, w in self.weights.items()
                                                                       if p not in left),
                        desc=desc, disable=quiet, smoothing=0.1, dynamic_ncols=True,
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]",
                        postfix=self.counted())

    def counted(self) -> str:
        return f"runs {self.done}/{self.runs}"

    def advance(self, paths: list[Path]) -> None:
        """``paths`` (run directories of this execute) are trained."""
        self.done += len(paths)
        self.bar.set_postfix_str(self.counted(), refresh=False)
        self.bar.update(sum(self.weights[Path(p)] for p in paths))

    def close(self) -> None:
        self.bar.close()


def execute(jobs: list[tuple[Config, Path]], executor: str = "local", workers: int = 1, address: str | None = None,
            quiet: bool = False, max_models: int = 64, desc: str = "runs", device: str = "cpu") -> Executed:
    """Run every job whose directory is not a whole run; returns what it did. ``device``:
    cpu, cuda or auto (a GPU where the worker sees one)."""
    jobs = [(c, Path(p)) for c, p in jobs]
    clean_staging(p for _, p in jobs)
    need, repaired = triage(jobs)
    say_repaired(repaired)
    todo = [(c, p) for c, p in jobs if p in need]
    bar = Progress(jobs, [p for _, p in todo], desc, quiet)
    batches = [[todo[i] for i in idx] for idx in plan([c for c, _ in todo], max_models, min_chunks=workers)]
    try:
        if executor == "ray":
            _ray(batches, workers, address, max_models, bar, device)
        elif workers <= 1 or len(batches) <= 1:
            for b in batches:
                run_batch([c for c, _ in b], [str(p) for _, p in b], max_models, device)
                bar.advance([p for _, p in b])
        else:
            _pool(batches, workers, max_models, device, bar)
    finally:
        bar.close()
    return Executed(len(todo), repaired)


def _pool(batches, workers: int, max_models: int, device: str, bar) -> None:
    """The batches on a pool of ``workers`` processes that die with this one; an
    exception here (Ctrl-C included) kills them instead of waiting for their batches."""
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent, initargs=(os.getpid(),))
    try:
        futs = {pool.submit(run_batch, [c for c, _ in b], [str(p) for _, p in b], max_models, device): b
                for b in batches}
        for f in as_completed(futs):
            f.result()
            bar.advance([p for _, p in futs[f]])
    except BaseException:
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _ray(batches, workers: int, address: str | None, max_models: int, bar, device: str) -> None:
    """The batches as Ray generator tasks (:func:`stream_batch`): each run is written here
    as soon as it arrives, whichever task it comes from; a task Ray retries after losing
    its node sends nothing twice into a run directory."""
    import ray

    started = not ray.is_initialized()  # else the caller's Ray session, used as it is
    with RayEnv(address, active=started):
        if started:
            _ray_init(address, workers)
        try:
            # Ray hides GPUs from tasks that do not ask for one; four batches share a GPU
            gpu = 0.25 if device != "cpu" and ray.cluster_resources().get("GPU", 0) > 0 else 0
            task = ray.remote(num_cpus=1, num_gpus=gpu, num_returns="streaming")(stream_batch)
            streams = {task.remote([c for c, _ in b], max_models, device): b for b in batches}
            while streams:
                ready, _ = ray.wait(list(streams), num_returns=1)
                for gen in ready:
                    try:
                        ref = next(gen)
                    except StopIteration:  # the task ended and every run of it was read
                        del streams[gen]
                        continue
                    i, files = ray.get(ref)
                    path = streams[gen][i][1]
                    # A task Ray retries (its node died) trains its runs again; Ray drops what
                    # the first attempt sent, and a run already installed is never rewritten.
                    if not done(path):
                        _install(files, path)
                        bar.advance([path])
        finally:
            if started:
                ray.shutdown()


PROBE_S = 5  # seconds a Ray address has to accept a TCP connection
JOIN_S = 10  # seconds ray.init may then spend being let into the cluster
TOKEN_HELP = ("set RAY_AUTH_MODE=token and give this machine the cluster's token (RAY_AUTH_TOKEN, "
              "RAY_AUTH_TOKEN_PATH or a copy of the head's ~/.ray/auth_token)")


def _ray_target(address: str) -> tuple[str, int]:
    """The (host, port) Ray will connect to for ``address``: ``HOST:PORT`` the head's GCS
    (Ray replaces a loopback host by this machine's address, so that is what must answer),
    ``ray://HOST[:PORT]`` its Ray Client server (port 10001 by default), ``auto`` the
    cluster Ray itself picks (``RAY_ADDRESS``, else the last ``ray start`` here)."""
    from ..config import ConfigError

    try:
        from ray._private.services import canonicalize_bootstrap_address
    except ImportError:
        raise ConfigError("--executor=ray needs Ray: pip install 'ray[default]'") from None
    if address == "auto":
        try:
            return _ray_target(canonicalize_bootstrap_address("auto"))
        except ConfigError:
            raise
        except Exception as e:  # Ray: "Could not find any running Ray instance. ..."
            raise ConfigError(f"--address=auto: no Ray cluster found on this machine ({str(e).split('. ')[0]}); "
                              "start one with `ray start --head` or give its HOST:PORT") from None
    client = address.startswith("ray://")
    rest = address[len("ray://"):] if client else address
    host, colon, port = rest.rpartition(":")
    if client and not colon:
        host, port = rest, "10001"
    if not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--address={address!r} is not allowed: HOST:PORT of the Ray head (ray start --head "
                          "--port=PORT), ray://HOST:PORT of its Ray Client server (port 10001) or auto")
    if not client:
        host, _, port = canonicalize_bootstrap_address(rest).rpartition(":")
    return host.strip("[]"), int(port)


def check_ray_address(address: str | None, timeout: float = PROBE_S) -> None:
    """Fail in at most ``timeout`` seconds, with one line (``ConfigError``: exit 2), where
    nothing accepts a connection at the Ray cluster ``address`` (None: a local Ray, nothing
    to check). ``walkformer sweep`` calls it before it writes anything."""
    import socket

    from ..config import ConfigError

    if address is None:
        return
    host, port = _ray_target(address)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as e:
        why = f"no answer within {timeout:g} s" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        if f"{host}:{port}" != address.removeprefix("ray://"):
            why += f"; Ray connects there for {address}"
        what = ("a Ray head runs there (it serves Ray Client on port 10001)" if address.startswith("ray://")
                else f"`ray start --head --port={port}` runs on that machine")
        raise ConfigError(f"--address={address!r}: nothing answers at {host}:{port} ({why}); check that {what} "
                          "and that this machine can reach that port") from None


def _has_ray_token() -> bool:
    """Whether this machine holds a Ray authentication token where Ray looks for one."""
    import os

    env = os.environ
    path = env.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token"
    return bool(env.get("RAY_AUTH_TOKEN")) or Path(path).is_file()


class RayEnv:
    """Ray's environment while a sweep runs (a context manager; ``active=False``: the
    caller's own Ray session, left alone), each variable only where the user has not set
    it, and restored afterwards:

    - ``RAY_USAGE_STATS_ENABLED=0``: no usage statistics leave the machine;
    - joining a cluster, ``RAY_AUTH_MODE=token`` where this machine has a token: Ray turns
      token authentication on by itself for a new local instance and for ``auto`` but not
      for an explicit address, so without it joining a token cluster (``ray start --head``
      makes one wherever ``~/.ray/auth_token`` exists) fails; a token-mode driver also
      joins a cluster without authentication;
    - joining, one attempt of ``JOIN_S`` seconds to reach the cluster's GCS
      (``RAY_gcs_server_port_wait_time_s=1``, ``RAY_py_gcs_connect_timeout_s``), not
      Ray's 20 attempts of up to 30 s each."""

    def __init__(self, address: str | None, active: bool = True):
        env = {"RAY_USAGE_STATS_ENABLED": "0"} if active else {}
        if active and address is not None:
            env |= {"RAY_gcs_server_port_wait_time_s": "1", "RAY_py_gcs_connect_timeout_s": str(JOIN_S)}
            if _has_ray_token():
                env["RAY_AUTH_MODE"] = "token"
        self.env = env

    def __enter__(self):
        import os

        self.ours = {k: v for k, v in self.env.items() if k not in os.environ}
        os.environ.update(self.ours)
        if self.env:
            _ray_config()
        return self

    def __exit__(self, *exc):
        import os

        for k in self.ours:
            os.environ.pop(k, None)
        if self.env:
            _ray_config()


def _ray_config() -> None:
    """Make Ray's cached configuration (read from ``RAY_*`` when Ray is imported) see the
    environment as it is now, as Ray itself does when it turns token authentication on."""
    from ray._raylet import Config

    Config.initialize("")


def _ray_init(address: str | None, workers: int) -> None:
    """Start a local Ray (``address`` None) or join the cluster at ``address``; a cluster
    that does not let this driver in is one line (``ConfigError``) saying what to check."""
    import ray

    from ..config import ConfigError

    if address is None:  # "local": a new instance, even where `ray start` left a cluster's address in /tmp/ray
        ray.init(address="local", num_cpus=max(workers, 1), include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
        return
    check_ray_address(address)
    try:
        ray.init(address=address, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError) as e:
        cause = f"{e} {e.__cause__}"
        if "InvalidAuthToken" in cause or "Unauthenticated" in cause:
            raise ConfigError(f"--address={address!r}: the Ray cluster there refused this driver's "
                              f"authentication; {TOKEN_HELP}") from None
        raise ConfigError(f"--address={address!r}: something answers there but it let no Ray driver in within "
                          f"{JOIN_S} s ({str(e).splitlines()[0]}); check the address (the head prints it: "
                          "ray start --address='HOST:PORT') and that both ends run the same Ray version") from None
