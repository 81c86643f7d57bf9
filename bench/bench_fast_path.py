"""Fast path vs the straightforward dense autograd implementation of eq. (2.1).

The paper's Fig. 4 configuration: K=6, N=97, M=1000, 1000 training and 1000 test
sequences, full-batch GD, evaluation (accuracy, attention, KL, ...) every step, one
torch thread, float64. Both paths run in this process, on the same data; the dense
one runs fewer steps (its cost per step is constant) and is reported per step.

    python bench/bench_fast_path.py [--steps 50] [--dense-steps 3] [--dtype float64]
"""

import argparse
import time

import torch

from walkformer.config import Config, apply_overrides, resolve
from walkformer.train import run

FIG4 = {"task.K": 6, "task.N": 97, "task.p": 0.5, "model.M": 1000, "train.eta": 1.0, "train.eps": 0.1,
        "train.n_train": 1000, "eval.n_test": 1000, "eval.every": 1}


def ms_per_step(over: dict, repeats: int) -> float:
    cfg = resolve(apply_overrides(Config(), FIG4 | over))
    best = float("inf")
    for _ in range(repeats):  # best of a few: the machine is shared
        best = min(best, run(cfg).summary["ms_per_step"])
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--dense-steps", type=int, default=3)
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    fast = ms_per_step({"train.steps": a.steps, "dtype": a.dtype}, a.repeats)
    dense = ms_per_step({"train.steps": a.dense_steps, "dtype": a.dtype, "train.path": "autograd"}, 1)
    fast_no_eval = ms_per_step({"train.steps": a.steps, "dtype": a.dtype, "eval.every": a.steps}, a.repeats)
    print(f"Fig. 4 config, {a.dtype}, 1 thread (torch {torch.__version__})")
    print(f"  fast path, eval every step : {fast:8.3f} ms/step")
    print(f"  fast path, eval at the end : {fast_no_eval:8.3f} ms/step")
    print(f"  dense autograd, eval every : {dense:8.3f} ms/step")
    print(f"  speed-up (fast vs dense)   : {dense / fast:8.1f}x")
    print(f"  (bench wall time {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
