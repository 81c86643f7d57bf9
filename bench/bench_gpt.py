"""Training speed of the ``gpt`` model at the papers' setting, and the data sampler's share.

d = 8, one layer, one head, batch 16, sequence length 1024, AdamW, float32, one torch
thread. Prints steps/s of full training steps (sampling + forward + backward + update),
the sampling time and its share of a step, and the sampler against two straightforward
baselines measured in the same run: the authors' per-position loop of
``torch.multinomial`` (vectorised over the batch only) and a per-sample Python loop.
It also times the attention pattern written out explicitly (what a model with a
listener on ``hook_pattern`` runs) against the fused kernel used in training.

    python bench/bench_gpt.py [--steps 20] [--N 1024] [--repeats 3]
"""

import argparse
import random
import time

import torch
import torch.nn.functional as F

from walkformer.models.gpt import GPT, init_gpt
from walkformer.optim import Optimizer
from walkformer.tasks.binary import BinaryChain


def per_sample_loop(task: BinaryChain, n: int, rng: random.Random) -> torch.Tensor:
    """The most straightforward sampler: Python loops over samples and positions."""
    out = []
    for _ in range(n):
        s = [int(rng.random() < task.pi1)]
        for _ in range(task.N - 1):
            s.append(int(rng.random() < (task.p if s[-1] == 0 else 1 - task.q)))
        out.append(s)
    return torch.tensor(out)


def best_ms(fn, repeats: int, inner: int) -> float:
    best = float("inf")
    for _ in range(repeats):  # best of a few: the machine is shared
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner * 1e3)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--N", type=int, default=1024)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    g = torch.Generator().manual_seed(0)
    task = BinaryChain(0.5, 0.8, a.N)
    model = GPT(8, a.N, 1, 1, tie=True)
    init_gpt(model, "standard", 1.0, g)
    opt = Optimizer(model, "adamw", 2e-3, 10_000)
    t = [0]

    def step():
        x, y = task.sample_next_token(a.batch, g)  # (B, N), (B, N)
        F.binary_cross_entropy_with_logits(model(x), y.float()).backward()
        opt.step(t[0])
        t[0] += 1

    step()  # warm-up
    step_ms = best_ms(step, a.repeats, a.steps)
    sample_ms = best_ms(lambda: task.sample_next_token(a.batch, g), a.repeats, 20)
    loop_ms = best_ms(lambda: task.sample_states_loop(a.batch, g), 1, 2)
    rng = random.Random(0)
    py_ms = best_ms(lambda: per_sample_loop(task, a.batch, rng), 1, 1)

    x, _ = task.sample_next_token(a.batch, g)
    fused_ms = best_ms(lambda: model(x).sum().backward(), a.repeats, 3)
    with model.hooks({"blocks.0.attn.hook_pattern": lambda t: None}):
        explicit_ms = best_ms(lambda: model(x).sum().backward(), 1, 2)
    model.zero_grad()

    print(f"gpt d=8, 1 layer, batch {a.batch}, N = {a.N}, AdamW, float32, 1 thread (torch {torch.__version__})")
    print(f"  training step (sample + fwd + bwd + update): {step_ms:8.2f} ms  = {1e3 / step_ms:6.1f} steps/s"
          f"  (goal >= 20)")
    print(f"  sampling a batch (run-length sampler)      : {sample_ms:8.3f} ms  = {100 * sample_ms / step_ms:5.1f}% "
          f"of a step (goal < 10%)")
    print(f"  baseline: per-position multinomial loop   : {loop_ms:8.2f} ms  -> speed-up {loop_ms / sample_ms:7.1f}x")
    print(f"  baseline: per-sample Python loop          : {py_ms:8.2f} ms  -> speed-up {py_ms / sample_ms:7.1f}x")
    print(f"  fwd+bwd, fused causal attention           : {fused_ms:8.2f} ms")
    print(f"  fwd+bwd, explicit pattern (hook listener) : {explicit_ms:8.2f} ms  -> fused is "
          f"{explicit_ms / fused_ms:4.1f}x faster")
    print(f"  (bench wall time {time.perf_counter() - t_start:.1f} s)")


if __name__ == "__main__":
    main()
