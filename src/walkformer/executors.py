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
  GPUs and ``device`` is not ``cpu``). Without ``address`` a local Ray instance
  with ``workers`` CPUs is started; with one (``ray://host:10001`` or ``auto``) the
  driver joins that cluster. Workers send the finished run directories back as bytes and
  this process writes them, so the cluster needs no shared filesystem.

Every run directory is staged and renamed into place (``rundir.Staging``) as soon as
``multirun.train_all`` returns it: a run trained alone (the C path on the CPU) is on
disk the moment it ends, a batched group (runs in lockstep) when the group ends. So a
job killed at any moment loses at most the runs in flight, leaves no half run, and a
re-run redoes exactly the missing ones.
"""

from __future__ import annotations

import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from . import rundir
from .config import Config
from .multirun import plan

EXECUTORS = ("local", "ray")


def done(path: Path) -> bool:
    """Whether ``path`` holds a whole run (``rundir.damage``)."""
    return rundir.damage(path) is None


def save_result(result, path: Path, figures: bool = False) -> None:
    """``train.save``, or for a run that raised before it had a model, its config and error."""
    from .train import save

    if result.model is not None:
        save(result, path, figures=figures, dense_W=False)
        return
    with rundir.Staging(path) as tmp:
        rundir.write_json(tmp / "config.json", result.cfg.to_dict() | {
            "versions": rundir.versions(), "command": rundir.command_for(result.cfg, str(path))})
        rundir.write_json(tmp / "summary.json", result.summary)


def run_batch(cfgs: list[Config], paths: list[str] | None, max_models: int = 64, device: str = "cpu"):
    """Train ``cfgs`` (batched where faster) and write each run to its path as soon as it
    is trained. With ``paths=None`` the run directories are returned as
    ``[{file name: bytes}]`` instead (Ray workers)."""
    import torch

    from .multirun import train_all

    torch.set_num_threads(1)
    if paths is not None:
        train_all(cfgs, keep_metrics=True, max_models=max_models, device=device,
                  on_result=lambda i, r: save_result(r, Path(paths[i])))
        return len(cfgs)
    results = train_all(cfgs, keep_metrics=True, max_models=max_models, device=device)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, r in enumerate(results):
            save_result(r, Path(tmp) / str(i))
            out.append({f.name: f.read_bytes() for f in (Path(tmp) / str(i)).iterdir()})
    return out


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


def triage(paths) -> tuple[set[Path], dict[Path, str]]:
    """The paths that need training, and the damaged ones among them, set aside
    (``rundir.set_aside``): path -> reason. Absent paths and empty directories are
    just missing; everything else that is not a whole run (``rundir.damage``) is damaged."""
    todo, repaired = set(), {}
    for p in map(Path, paths):
        why = rundir.damage(p)
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


def execute(jobs: list[tuple[Config, Path]], executor: str = "local", workers: int = 1, address: str | None = None,
            quiet: bool = False, max_models: int = 64, desc: str = "runs", device: str = "cpu") -> Executed:
    """Run every job whose directory is not a whole run; returns what it did. ``device``:
    cpu, cuda or auto (a GPU where the worker sees one)."""
    from tqdm import tqdm

    jobs = [(c, Path(p)) for c, p in jobs]
    clean_staging(p for _, p in jobs)
    need, repaired = triage(p for _, p in jobs)
    say_repaired(repaired)
    todo = [(c, p) for c, p in jobs if p in need]
    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=desc, unit="run", disable=quiet,
               smoothing=0.1, dynamic_ncols=True)
    batches = [[todo[i] for i in idx] for idx in plan([c for c, _ in todo], max_models, min_chunks=workers)]
    try:
        if executor == "ray":
            _ray(batches, workers, address, max_models, bar, device)
        elif workers <= 1 or len(batches) <= 1:
            for b in batches:
                bar.update(run_batch([c for c, _ in b], [str(p) for _, p in b], max_models, device))
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
        futs = [pool.submit(run_batch, [c for c, _ in b], [str(p) for _, p in b], max_models, device)
                for b in batches]
        for f in as_completed(futs):
            bar.update(f.result())
    except BaseException:
        for proc in list((getattr(pool, "_processes", None) or {}).values()):
            proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _ray(batches, workers: int, address: str | None, max_models: int, bar, device: str) -> None:
    import ray

    started = not ray.is_initialized()
    if started:
        kw = {"address": address} if address else {"num_cpus": max(workers, 1), "include_dashboard": False}
        ray.init(log_to_driver=False, configure_logging=False, **kw)
    try:
        # Ray hides GPUs from tasks that do not ask for one; four batches share a GPU
        gpu = 0.25 if device != "cpu" and ray.cluster_resources().get("GPU", 0) > 0 else 0
        task = ray.remote(num_cpus=1, num_gpus=gpu)(run_batch)
        pending = {task.remote([c for c, _ in b], None, max_models, device): b for b in batches}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                b = pending.pop(ref)
                for (c, p), files in zip(b, ray.get(ref)):
                    _install(files, p)
                bar.update(len(b))
    finally:
        if started:
            ray.shutdown()
