"""Fast path vs the straightforward dense autograd implementation of eq. (2.1).

The paper's Fig. 4 configuration: K=6, N=97, M=1000, 1000 training and 1000 test
sequences, full-batch GD, evaluation (accuracy, attention by position, KL, Fig. 13
statistics ...) every step, one torch thread. Both paths run in this process, on the
same data; the dense one runs fewer steps (its cost per step is constant) and is
reported per step.

Also printed, as a floor: the two passes over token positions that no exact step can
avoid (the scatter that builds C[k, b] = Σ_{j: s_bj = k} E_pos[j] and the gather + sum
behind ∂L/∂c and the attention by position), timed alone on the same 2 × 1000 × 96
tokens. What the fast path spends above the floor is per-operation overhead.

    python bench/bench_fast_path.py [--steps 50] [--dense-steps 2] [--repeats 3]
"""

import argparse
import time

import torch

from walkformer.config import Config, apply_overrides, resolve
from walkformer.models.shicao import _gathered
from walkformer.train import datasets, run, torch_dtype
from walkformer.tasks import make_task

FIG4 = {"task.K": 6, "task.N": 97, "task.p": 0.5, "model.M": 1000, "train.eta": 1.0, "train.eps": 0.1,
        "train.n_train": 1000, "eval.n_test": 1000, "eval.every": 1}


def ms_per_step(over: dict, repeats: int) -> float:
    cfg = resolve(apply_overrides(Config(), FIG4 | over))
    return min(run(cfg).summary["ms_per_step"] for _ in range(repeats))  # best of a few: the machine is shared


def floor_ms(dtype: str, repeats: int, n: int = 50) -> float:
    """One scatter and one gather + two column sums over training and test tokens together."""
    cfg = resolve(apply_overrides(Config(), FIG4 | {"dtype": dtype}))
    sample_train, test = datasets(cfg, make_task(cfg))
    both = sample_train().joined(test)
    B, dt = len(both), torch_dtype(cfg)
    Ep, G = torch.rand(cfg.task.N, dtype=dt), torch.rand(cfg.task.K, B, dtype=dt)  # (N,), (K, B)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            torch.zeros(B, cfg.task.K, dtype=dt).scatter_add_(1, both.tok16, Ep[:-1].expand(B, -1))  # (B, K)
            X = _gathered(G, both)  # (B, J16)
            X[: B // 2].sum(0), X[B // 2 :].sum(0)
        best = min(best, (time.perf_counter() - t0) / n * 1e3)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--dense-steps", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    print(f"Fig. 4 config, 1 thread, torch {torch.__version__}, best of {a.repeats}")
    rows = {}
    for dtype in ("float64", "float32"):
        rows[dtype] = (ms_per_step({"train.steps": a.steps, "dtype": dtype}, a.repeats),
                       ms_per_step({"train.steps": a.steps, "dtype": dtype, "eval.every": a.steps}, a.repeats),
                       floor_ms(dtype, a.repeats))
    dense = ms_per_step({"train.steps": a.dense_steps, "dtype": "float64", "train.path": "autograd"}, 1)
    for dtype, (fast, no_eval, floor) in rows.items():
        print(f"  {dtype}: fast path, eval every step : {fast:8.3f} ms/step")
        print(f"  {dtype}: fast path, eval at the end : {no_eval:8.3f} ms/step")
        print(f"  {dtype}: floor (token passes alone) : {floor:8.3f} ms/step  ({floor / fast:.0%} of the step)")
    print(f"  float64: dense autograd, eval every : {dense:8.1f} ms/step")
    print(f"  speed-up (fast vs dense, float64)   : {dense / rows['float64'][0]:8.1f}x")
    print(f"  (bench wall time {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
