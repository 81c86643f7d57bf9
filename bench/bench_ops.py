"""Each acceleration (``ops/__init__.py``) against the torch code it replaces, at the
workloads users run, one torch thread, all in this process.

- shicao_step: the paper's Fig. 4 configuration (K = 6, N = 97, M = 1000, 1000 training
  and 1000 test sequences, full-batch GD, evaluation every step, float64): ms per step
  of ``loop.run``, ``WALKFORMER_OPS=auto`` against ``-shicao_step`` (ShiCao's torch code).
- causal_attention: a ``gpt`` training step at the papers' setting (d = 8, one layer,
  one head, tied, N = 1024, batch 16, AdamW, float32) with the C kernel in every layer
  (``-token_attention``) against torch's SDPA (``reference``); and attention alone,
  forward + backward on (16, 1, 1024, 8).
- token_attention: the same step, ``auto`` (layer 1 on token tables) against
  ``-token_attention`` (layer 1 gathers q, k, v for ``causal_attention``); and alone.
- the batched gpt path (``multirun.train_all``: 32 seeds as one model at the binary
  presets' setting, N = 64, 50 steps), per model-step, ``auto`` / ``-token_attention`` /
  ``reference``.

The machine may be shared: every round measures every case once, in turn, so each case
sees the same spells of load; the table gives the median over rounds and the median of
the per-round ratios (reference / acceleration; > 1: the acceleration is faster).

    python bench/bench_ops.py [--rounds 7] [--N 1024]
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from walkformer import ops
from walkformer.config import Config, apply_overrides, resolve
from walkformer.experiments.markov import BASE
from walkformer.models.gpt import GPT, init_gpt
from walkformer.runs.multirun import train_all
from walkformer.ops.causal_attention import causal_attention
from walkformer.ops.token_attention import token_attention
from walkformer.optim import Optimizer
from walkformer.tasks.binary import BinaryChain
from walkformer.loop import run

FIG4 = {"task.K": 6, "task.N": 97, "task.p": 0.5, "model.M": 1000, "train.eta": 1.0, "train.eps": 0.1,
        "train.n_train": 1000, "eval.n_test": 1000, "eval.every": 1, "train.steps": 100}


def ms(fn, inner: int) -> float:
    t0 = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - t0) / inner * 1e3


def workloads(a) -> dict[str, dict[str, tuple[str, object]]]:
    """workload -> {case: (WALKFORMER_OPS, a function returning ms per step)}."""
    g = torch.Generator().manual_seed(0)
    fig4 = resolve(apply_overrides(Config(), FIG4))
    shicao = lambda: run(fig4).summary["ms_per_step"]  # noqa: E731

    task = BinaryChain(0.5, 0.8, a.N)
    model = GPT(8, a.N, 1, 1, tie=True)
    init_gpt(model, "standard", 1.0, g)
    opt = Optimizer(model, "adamw", 2e-3, 10_000)
    it = [0]

    def step():
        x, y = task.sample_next_token(16, g)  # (B, N) each
        F.binary_cross_entropy_with_logits(model(x), y.float()).backward()
        opt.step(it[0])
        it[0] += 1

    gpt = lambda: ms(step, 3)  # noqa: E731
    qkv = [torch.randn(16, 1, a.N, 8, generator=g).requires_grad_() for _ in range(3)]
    attn = lambda: ms(lambda: causal_attention(*qkv).sum().backward(), 2)  # noqa: E731
    x = task.sample_next_token(16, g)[0]  # (B, N)
    Q, K0, V, kd = (torch.randn(*s, generator=g) for s in [(1, 2, a.N, 8)] * 3 + [(1, 8)])
    K = torch.stack([K0[:, 0], K0[:, 0] + kd[:, None]], 1)  # as GPT builds them without LayerNorm
    QKV = [t.requires_grad_() for t in (Q, K, V)]
    pos = torch.arange(a.N)
    gathered = lambda T: T[:, x, pos].transpose(0, 1)  # noqa: E731  (H, 2, N, dh) -> (B, H, N, dh)
    tok = lambda: ms(lambda: token_attention(*QKV, x, kd).sum().backward(), 3)  # noqa: E731
    tok_ref = lambda: ms(lambda: causal_attention(*map(gathered, QKV)).sum().backward(), 3)  # noqa: E731

    over = BASE | {"task.p": 0.5, "task.q": 0.8, "train.steps": 50, "dtype": "float32"}
    cfgs = [resolve(apply_overrides(Config(), over | {"seed": s}), set(over) | {"seed"}) for s in range(32)]

    def batched():
        t0 = time.perf_counter()
        train_all(cfgs, max_models=64)
        return (time.perf_counter() - t0) / (32 * 50) * 1e3

    return {
        "Shi & Cao Fig. 4 step (shicao_step)": {"C": ("auto", shicao), "torch": ("-shicao_step", shicao)},
        f"gpt step N={a.N} B=16: causal_attention": {"C": ("-token_attention", gpt), "SDPA": ("reference", gpt)},
        f"gpt step N={a.N} B=16: token_attention": {"C": ("auto", gpt), "torch": ("-token_attention", gpt)},
        f"gpt step N={a.N} B=16: all (auto vs reference)": {"C": ("auto", gpt), "torch": ("reference", gpt)},
        "causal attention alone, fwd+bwd (16,1,N,8)": {"C": ("auto", attn), "SDPA": ("reference", attn)},
        "token attention alone, fwd+bwd": {"C": ("auto", tok), "gather+causal C": ("auto", tok_ref)},
        "batched gpt, 32 seeds N=64 (per model-step)": {"C": ("auto", batched), "-token": ("-token_attention", batched),
                                                        "torch": ("reference", batched)},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--N", type=int, default=1024)
    a = ap.parse_args()
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    work = workloads(a)
    for cases in work.values():  # warm-up: kernel builds, first calls
        for spec, fn in cases.values():
            with ops.use(spec):
                fn()
    t = {w: {c: [] for c in cases} for w, cases in work.items()}
    for _ in range(a.rounds):
        for w, cases in work.items():
            for c, (spec, fn) in cases.items():
                with ops.use(spec):
                    t[w][c].append(fn())
    print(f"each acceleration vs the torch code it replaces; {a.rounds} interleaved rounds, 1 thread, "
          f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"  {'workload':46s} {'case':>16s} {'median ms':>10s} {'ratio':>6s} {'(round ratios: min-max)':>24s}")
    for w, cases in t.items():
        first = next(iter(cases))
        for c, v in cases.items():
            r = [b / f for b, f in zip(v, cases[first])]
            ratio = "" if c == first else f"{statistics.median(r):6.2f} {min(r):10.2f}-{max(r):.2f}"
            print(f"  {w if c == first else '':46s} {c:>16s} {statistics.median(v):10.3f} {ratio}")
    print(f"  (bench wall time {time.perf_counter() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
