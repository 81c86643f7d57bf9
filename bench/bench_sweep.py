"""Batched training vs one run at a time: model-steps per second for 256 runs of the
paper's Fig. 6 configuration (K=6, N=97, M=1000, 1000 training / 1000 test sequences,
σ = 0.01, x̃ normalised, η = 0.01, evaluation every 10 steps, 1000 steps), float64, one
torch thread per process, all measured in this run on this machine.

"256 seeds" is read two ways, and each is its own line:

- distinct data: ``seed`` = 0..255, every run its own training set, test set and
  initialisation. Batched with the exact token passes (a scatter and a gather over
  every model's tokens).
- shared data: ``seed`` = 0 and ``init.seed`` = 0..255, one data set and 256 random
  initialisations (what Fig. 6, a figure about random initialisation, varies). Batched
  with the shared-data products (``models/batched.py``).

Lines, each with its ratio to the one-at-a-time line of the same data reading:

- one at a time, torch ops: ``loop.run`` with the step in torch operations
  (``WALKFORMER_OPS=-shicao_step``: the straightforward baseline, 1x) for the first
  ``--alone`` runs of each reading (a run's cost does not depend on its seed), per
  model-step, set-up included;
- one at a time, C step: the same runs with the default C step (``ops/shicao_kernel``);
- batched: all runs as batched models in this process (``--max-models`` per batch; the
  torch operations of ``models/batched.py``), set-up included (drawing W0, 1006²
  normals, is ~35-60 ms per run in either path);
- ``train_all``: what reproductions and sweeps call; on a CPU with the C step it trains
  one run at a time (``multirun.alone_is_faster``);
- workers: the first ``--worker-seeds`` runs of each reading through
  ``executors.execute`` (local process pool, writing run directories) with 1 and 2
  worker processes; with 2 the ratio compares two cores with the one-at-a-time line's one.

Throughput is wall-clock; the CPU time of this process is printed beside it because
the machine may be shared (load average printed).

    python bench/bench_sweep.py [--seeds 256] [--steps 1000] [--alone 4] [--max-models 64]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from walkformer.config import Config, apply_overrides, resolve
from walkformer.runs.executors import execute
from walkformer.experiments.beyond import RANDOM
from walkformer.runs import multirun
from walkformer import ops
from walkformer.runs.multirun import train_all
from walkformer.loop import run


ALONE = multirun.alone_is_faster


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=256)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--alone", type=int, default=4)
    ap.add_argument("--max-models", type=int, default=64)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--worker-seeds", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(1)
    base = RANDOM | {"task.p": 0.5, "train.steps": a.steps}
    readings = {"distinct data (seed = 0..S-1)": [{"seed": s} for s in range(a.seeds)],
                "shared data (seed = 0, init.seed = 0..S-1)": [{"seed": 0, "init.seed": s} for s in range(a.seeds)]}
    print(f"Fig. 6 config, {a.seeds} runs x {a.steps} steps, float64, torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':52s} {'model-steps/s':>13s} {'ratio':>7s}   {'(CPU: /s':>8s} {'ratio)':>7s}")
    for name, overs in readings.items():
        cfgs = [resolve(apply_overrides(Config(), base | o), set(base | o)) for o in overs]
        with ops.use("-shicao_step"):
            alone, w1, c1 = timed(lambda: [run(c) for c in cfgs[: a.alone]])
        alone_c, w1c, c1c = timed(lambda: [run(c) for c in cfgs[: a.alone]])
        multirun.alone_is_faster = lambda device: False
        together, w2, c2 = timed(lambda: train_all(cfgs, max_models=a.max_models))
        multirun.alone_is_faster = ALONE
        picked, w3, c3 = timed(lambda: train_all(cfgs, max_models=a.max_models))
        n1, n2 = a.alone * a.steps, a.seeds * a.steps
        worst = max(abs(x.summary["train_loss"] - y.summary["train_loss"]) for x, y in zip(alone, together))
        print(f"{name}:")
        row = lambda label, n, w, c, extra="": print(  # noqa: E731
            f"  {label:50s} {n / w:13.1f} {(n / w) / (n1 / w1):6.2f}x   {n / c:8.1f} {(n / c) / (n1 / c1):6.2f}x{extra}")
        row(f"one at a time, torch ops (first {a.alone} runs)", n1, w1, c1)
        row(f"one at a time, C step (first {a.alone} runs)", n1, w1c, c1c)
        row(f"batched torch ops, 1 process (<= {a.max_models} per batch)", n2, w2, c2,
            f"   max |final loss - alone| {worst:.1e}")
        row(f"train_all ({'one at a time, C' if ALONE('cpu') else 'batched'}), 1 process", n2, w3, c3)
        base_rate = n1 / w1
        for w in map(int, filter(None, a.workers.split(","))):
            sub = cfgs[: a.worker_seeds]
            with tempfile.TemporaryDirectory() as tmp:
                jobs = [(c, Path(tmp) / f"r{i}") for i, c in enumerate(sub)]
                _, wt, _ = timed(lambda: execute(jobs, workers=w, quiet=True, max_models=a.max_models))
            rate = len(sub) * a.steps / wt
            print(f"  {'sweep executor, %d worker(s), %d runs, run dirs' % (w, len(sub)):50s} {rate:13.1f} "
                  f"{rate / base_rate:6.2f}x")
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
