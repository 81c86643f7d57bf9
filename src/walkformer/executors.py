"""Run many (config, run directory) jobs: batched, in parallel, resumably.

:func:`execute` is the one engine behind ``walkformer sweep`` and ``walkformer
reproduce``: it skips jobs whose directory is finished, groups the rest into batches of
compatible runs (``multirun.plan``) and hands the batches to an executor:

- ``local``: a process pool on this machine (``workers`` processes, one torch thread
  each; ``workers=1`` runs in this process);
- ``ray``: Ray tasks (``num_cpus=1`` each, and a quarter of a GPU where the cluster has
  GPUs and ``device`` is not ``cpu``). Without ``address`` a local Ray instance
  with ``workers`` CPUs is started; with one (``ray://host:10001`` or ``auto``) the
  driver joins that cluster. Workers send the finished run directories back as bytes and
  this process writes them, so the cluster needs no shared filesystem.

Every run directory is staged and renamed into place (``rundir.Staging``), so a job
killed at any moment leaves either a whole run or nothing, and a re-run redoes exactly
the missing ones.
"""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from .config import Config
from .multirun import plan

EXECUTORS = ("local", "ray")


def done(path: Path) -> bool:
    return (Path(path) / "summary.json").exists()


def save_result(result, path: Path, figures: bool = False) -> None:
    """``train.save``, or for a run that raised before it had a model, its config and error."""
    from . import rundir
    from .train import save

    if result.model is not None:
        save(result, path, figures=figures, dense_W=False)
        return
    with rundir.Staging(path) as tmp:
        rundir.write_json(tmp / "config.json", result.cfg.to_dict() | {
            "versions": rundir.versions(), "command": rundir.command_for(result.cfg, str(path))})
        rundir.write_json(tmp / "summary.json", result.summary)


def run_batch(cfgs: list[Config], paths: list[str] | None, max_models: int = 64, device: str = "cpu"):
    """Train ``cfgs`` (batched) and write each run to its path. With ``paths=None`` the
    run directories are returned as ``[{file name: bytes}]`` instead (Ray workers)."""
    import torch

    from .multirun import train_all

    torch.set_num_threads(1)
    results = train_all(cfgs, keep_metrics=True, max_models=max_models, device=device)
    if paths is not None:
        for r, p in zip(results, paths):
            save_result(r, Path(p))
        return len(results)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, r in enumerate(results):
            save_result(r, Path(tmp) / str(i))
            out.append({f.name: f.read_bytes() for f in (Path(tmp) / str(i)).iterdir()})
    return out


def _install(files: dict[str, bytes], path: Path) -> None:
    from .rundir import Staging

    with Staging(path) as tmp:
        for name, data in sorted(files.items(), key=lambda kv: kv[0] == "summary.json"):  # summary last
            (tmp / name).write_bytes(data)


def clean_staging(dirs) -> None:
    """Remove staging directories a killed process left behind (``.NAME.tmp-PID``)."""
    for d in {Path(p).parent for p in dirs}:
        if d.is_dir():
            for junk in d.glob(".*.tmp-*"):
                shutil.rmtree(junk, ignore_errors=True) if junk.is_dir() else junk.unlink(missing_ok=True)


def execute(jobs: list[tuple[Config, Path]], executor: str = "local", workers: int = 1, address: str | None = None,
            quiet: bool = False, max_models: int = 64, desc: str = "runs", device: str = "cpu") -> int:
    """Run every job whose directory is not finished; returns how many ran. ``device``:
    cpu, cuda or auto (a GPU where the worker sees one)."""
    from tqdm import tqdm

    clean_staging(p for _, p in jobs)
    todo = [(c, Path(p)) for c, p in jobs if not done(p)]
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
            with ProcessPoolExecutor(max_workers=workers) as pool:
                futs = [pool.submit(run_batch, [c for c, _ in b], [str(p) for _, p in b], max_models, device)
                        for b in batches]
                for f in as_completed(futs):
                    bar.update(f.result())
    finally:
        bar.close()
    return len(todo)


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
