"""Batched gpt training vs one run at a time: model-steps per second for many seeds at
the binary presets' setting (d = 8, one layer, one head, tied, N = 64, batch 16, AdamW,
float32, 32 test sequences evaluated every 10 steps; ``experiments/markov.py``), one
torch thread, both measured in this run on this machine.

- one at a time: ``loop.run`` (the one loop, gpt adapter) for the first ``--alone``
  seeds, per model-step (the cost of a run does not depend on its seed);
- batched: all ``--seeds`` runs as one ``BatchedGPT`` (``multirun.train_all``), per
  model-step, and the largest difference of a final test loss from the run alone.

    python bench/bench_gpt_batched.py [--seeds 32] [--steps 100] [--alone 8] [--N 64]
"""

import argparse
import time

import torch

from walkformer.config import Config, apply_overrides, resolve
from walkformer.experiments.markov import BASE
from walkformer.runs.multirun import train_all
from walkformer.loop import run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=32)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--alone", type=int, default=8)
    ap.add_argument("--N", type=int, default=64)
    ap.add_argument("--dtype", default="float32")
    a = ap.parse_args()
    torch.set_num_threads(1)
    over = BASE | {"task.p": 0.5, "task.q": 0.8, "task.N": a.N, "train.steps": a.steps, "dtype": a.dtype}
    cfgs = [resolve(apply_overrides(Config(), over | {"seed": s}), set(over) | {"seed"}) for s in range(a.seeds)]
    run(cfgs[0])  # warm-up (first-call costs)
    t0 = time.perf_counter()
    alone = [run(c) for c in cfgs[: a.alone]]
    t_alone = (time.perf_counter() - t0) / (a.alone * a.steps)  # s per model-step
    t0 = time.perf_counter()
    together = train_all(cfgs, max_models=max(64, a.seeds))
    t_batched = (time.perf_counter() - t0) / (a.seeds * a.steps)
    worst = max(abs(x.summary["test_loss"] - y.summary["test_loss"]) for x, y in zip(alone, together))
    print(f"gpt d=8, 1 layer, tied, N = {a.N}, batch 16, AdamW, {a.dtype}, eval every 10 on 32 sequences, "
          f"{a.steps} steps, 1 thread (torch {torch.__version__})")
    print(f"  one at a time ({a.alone} runs)   : {1 / t_alone:9.1f} model-steps/s")
    print(f"  batched ({a.seeds} seeds, 1 process): {1 / t_batched:9.1f} model-steps/s -> {t_alone / t_batched:.2f}x"
          f"   (max |final test loss difference| vs alone {worst:.1e})")


if __name__ == "__main__":
    main()
