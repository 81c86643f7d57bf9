"""The fast path with the C step, the same path in torch ops, and the dense autograd baseline.

The paper's Fig. 4 configuration: K=6, N=97, M=1000, 1000 training and 1000 test
sequences, full-batch GD, evaluation (accuracy, attention by position, KL, Fig. 13
statistics ...) every step, one torch thread. All paths run in this process, on the same
data: ``c`` (ops/shicao_kernel.c, the default), ``torch`` (WALKFORMER_OPS=-shicao_step: the
reference and fallback) and the dense autograd model (fewer steps; its cost per step is
constant). Per step = loop.run's ms_per_step, best of ``--repeats`` runs, the C and
torch runs taking turns (the machine is shared: the best run is the least disturbed).

Then where a C step's time goes: the parts of loop.run's loop timed one by one over the
same steps (median per part); the kernel alone on the training and on the test batch, on
4 + 4 sequences (what a call costs in Python, ctypes and tensor allocation) and its cost
per token position (2 × 1000 × 96 positions a step); evaluate's C call alone.

    python bench/bench_fast_path.py [--steps 100] [--dense-steps 2] [--repeats 10]
"""

import argparse
import statistics
import time

import torch

from walkformer import ops
from walkformer.config import Config, apply_overrides, resolve
from walkformer.metrics import evaluate
from walkformer.metrics.shicao import _pi_T, _truth
from walkformer.models import Batch, build_model
from walkformer.ops import shicao_kernel as sk
from walkformer.tasks import make_task
from walkformer.loop import run
from walkformer.training import datasets, generator

FIG4 = {"task.K": 6, "task.N": 97, "task.p": 0.5, "model.M": 1000, "train.eta": 1.0, "train.eps": 0.1,
        "train.n_train": 1000, "eval.n_test": 1000, "eval.every": 1}


def ms_per_step(over: dict, backend: str = "auto") -> float:
    cfg = resolve(apply_overrides(Config(), FIG4 | over))
    with ops.use("auto" if backend == "auto" else "-shicao_step"):
        return run(cfg).summary["ms_per_step"]


def parts(dtype: str, steps: int) -> dict:
    """Median µs of each part of a training step with evaluation (loop.run's loop, by hand)."""
    cfg = resolve(apply_overrides(Config(), FIG4 | {"dtype": dtype}))
    task = make_task(cfg)
    model = build_model(cfg, task, generator(cfg.seed, "init"))
    sample_train, test = datasets(cfg, task)
    b, eps, eta = sample_train(), cfg.train.eps, cfg.train.eta
    b4, p4 = (Batch(x.tokens[:4], x.y[:4], None, x.K, x.w.dtype) for x in (b, test))  # the fixed cost of a call
    names = ("scores ũ, c (C)", "kernel: train + test batch", "finite check", "evaluate (C metrics + lists)",
             "parameter update (C)", "whole step", "  kernel: train batch alone", "  kernel: test batch alone",
             "  kernel: 4 + 4 sequences", "  evaluate's C call alone")
    t = {k: [] for k in names}
    for _ in range(steps):
        t0 = time.perf_counter()
        model.scores()
        t1 = time.perf_counter()
        loss, grads, fw = model.grads_and_forward(b, eps, test)
        t2 = time.perf_counter()
        model.finite(loss, grads)
        t3 = time.perf_counter()
        evaluate(model, task, test, eps, fw=fw)
        t4 = time.perf_counter()
        sk.step(model, b, eps, None)
        t5 = time.perf_counter()
        sk.step(model, None, eps, test)
        t6 = time.perf_counter()
        sk.step(model, b4, eps, p4)
        t7 = time.perf_counter()
        sk.metrics(fw["f"], fw["h"], test.y, _truth(task, test)[0], eps, model.V, _pi_T(task, torch.float64)[0],
                   *model.scores())
        t8 = time.perf_counter()
        model.step(grads, eta)
        t9 = time.perf_counter()
        for k, v in zip(names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t9 - t8, (t4 - t0) + (t9 - t8), t5 - t4, t6 - t5,
                                t7 - t6, t8 - t7)):
            t[k].append(v * 1e6)
    return {k: statistics.median(v) for k, v in t.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--dense-steps", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    print(f"Fig. 4 config, 1 thread, torch {torch.__version__}, best of {a.repeats} runs of {a.steps} steps")
    if sk.library() is None:
        print("  (no C compiler: the c rows run the torch path)")
    # the C and torch runs take turns, so that both see the same spells of load; best of each
    cases = [(dtype, be, every) for dtype in ("float64", "float32") for every in (1, a.steps) for be in ("auto", "torch")]
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(a.repeats):
        for dtype, be, every in cases:
            ms = ms_per_step({"train.steps": a.steps, "dtype": dtype, "eval.every": every}, be)
            best[(dtype, be, every)] = min(best[(dtype, be, every)], ms)
    rows = {dtype: {(be, every): best[(d, be, every)] for d, be, every in cases if d == dtype}
            for dtype in ("float64", "float32")}
    dense = ms_per_step({"train.steps": a.dense_steps, "dtype": "float64", "train.path": "autograd"})
    for dtype, r in rows.items():
        for every, what in ((1, "eval every step"), (a.steps, "eval at the end")):
            c, tt = r[("auto", every)], r[("torch", every)]
            print(f"  {dtype}, {what:15s}: C {c:6.3f} ms/step   torch {tt:6.3f} ms/step   torch / C {tt / c:4.1f}x")
    c64 = rows["float64"][("auto", 1)]
    print(f"  float64, dense autograd, eval every step: {dense:8.1f} ms/step   dense / C {dense / c64:6.0f}x")
    B = 2 * FIG4["train.n_train"] * (FIG4["task.N"] - 1)
    for dtype in ("float64", "float32"):
        p = parts(dtype, a.steps)
        print(f"  {dtype} C step, median µs per part over {a.steps} steps:")
        for k, v in p.items():
            print(f"    {k:32s} {v:7.1f}")
        kernel = p["kernel: train + test batch"]
        print(f"    (kernel per token position: {1e3 * kernel / B:.2f} ns, all work included)")
    print(f"  (bench wall time {time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
