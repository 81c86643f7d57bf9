"""Batched training vs one run at a time: model-steps per second for many seeds of the
paper's Fig. 6 configuration (K=6, N=97, M=1000, 1000 training / 1000 test sequences,
σ = 0.01, x̃ normalised, η = 0.01, evaluation every 10 steps), float64, one torch thread
per process, all measured in this run on this machine.

- one at a time: ``train.run`` for the first ``--alone`` seeds (a subset: the cost per
  run does not depend on the seed), extrapolated per model-step;
- batched: the ``--seeds`` runs through ``multirun.train_all`` in this process
  (``--max-models`` per batch);
- workers: the same runs through ``executors.execute`` (local process pool, writing
  run directories) with 1 and 2 workers.

    python bench/bench_sweep.py [--seeds 256] [--steps 100] [--alone 8] [--max-models 64]
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch

from walkformer.config import Config, apply_overrides, resolve
from walkformer.experiments.beyond import RANDOM
from walkformer.executors import execute
from walkformer.multirun import train_all
from walkformer.train import run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=256)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--alone", type=int, default=8)
    ap.add_argument("--max-models", type=int, default=64)
    ap.add_argument("--workers", default="1,2")
    a = ap.parse_args()
    torch.set_num_threads(1)
    cfgs = [resolve(apply_overrides(Config(), RANDOM | {"task.p": 0.5, "train.steps": a.steps, "seed": s}))
            for s in range(a.seeds)]
    t0 = time.perf_counter()
    alone = [run(c) for c in cfgs[: a.alone]]
    t_alone = (time.perf_counter() - t0) / (a.alone * a.steps)  # s per model-step
    t0 = time.perf_counter()
    together = train_all(cfgs, max_models=a.max_models)
    t_batched = (time.perf_counter() - t0) / (a.seeds * a.steps)
    worst = max(abs(x.summary["train_loss"] - y.summary["train_loss"]) for x, y in zip(alone, together))
    print(f"Fig. 6 config, {a.seeds} seeds x {a.steps} steps, float64, torch {torch.__version__}")
    print(f"  one at a time ({a.alone} runs)   : {1 / t_alone:9.1f} model-steps/s")
    print(f"  batched, 1 process (<= {a.max_models}/batch): {1 / t_batched:9.1f} model-steps/s "
          f"-> {t_alone / t_batched:.2f}x   (max |loss difference| vs alone {worst:.1e})")
    for w in map(int, a.workers.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            jobs = [(c, Path(tmp) / f"r{i}") for i, c in enumerate(cfgs)]
            t0 = time.perf_counter()
            execute(jobs, workers=w, quiet=True, max_models=a.max_models)
            t = (time.perf_counter() - t0) / (a.seeds * a.steps)
        print(f"  sweep executor, {w} worker(s), with run dirs: {1 / t:9.1f} model-steps/s -> {t_alone / t:.2f}x")


if __name__ == "__main__":
    main()
