"""Training on binary Markov chains: the ``gpt`` model's pieces (sampled data) and the
``canonical`` model (exact population loss, from ``models/canonical.py``).

``gpt`` (trained by the one loop, ``loop.run`` with ``loop.GPTAdapter``, and batched by
``multirun_gpt.py``): every step draws ``train.batch`` fresh sequences of length N (online
data, as in the authors' code), minimises the mean next-token BCE over all positions and
updates with ``train.optimizer`` (see ``optim.py``). Metrics at step t are those of
θ^(t) (step 0 is the initialisation), ``metrics/binary.py``'s (test loss, KL to the
Bayes predictor, p̂, q̂, energy shares); the closed-form references here are
``unigram_loss`` and ``bigram_loss``, H(π) and H(x_{n+1}|x_n).

Determinism: seeded generators per stream (data, test, init), one torch thread.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from . import failures
from .config import Config
from .criteria import BIGRAM_TOL, steps_to_bigram
from .models.gpt import GPT, init_gpt
from .tasks.binary import BinaryChain

def make_binary_task(cfg: Config) -> BinaryChain:
    return BinaryChain(cfg.task.p, cfg.task.q, cfg.task.N)


def build_gpt(cfg: Config, gen: torch.Generator) -> GPT:
    m = cfg.model
    model = GPT(m.d, cfg.task.N, m.layers, m.heads, m.tie, m.layernorm).double()
    init_gpt(model, cfg.init.scheme, cfg.init.c, gen)  # float64 draws: same init for both dtypes
    return model.to(torch.float64 if cfg.dtype == "float64" else torch.float32)


def nonfinite(step: int, loss: float, scale: str = "init.c or init.scheme", rate: str = "train.lr") -> str:
    """The message of a non-finite loss at θ^(step) (``failures.at_step`` gives its kind):
    at step 0 the initial point is to blame (its scale), later the step size."""
    if step == 0:
        return (f"step 0: train loss is {loss}: the loss or its gradient overflows at the initial parameters; "
                f"change {scale} ({rate} plays no part before the first step)")
    return f"step {step}: train loss is {loss}: the loss diverged (overflow in the parameters); lower {rate}"


def gpt_summary(task: BinaryChain, metrics: list, step: int, seconds: float, error: str | None,
                failure: str | None = None) -> dict:
    """summary.json of a gpt run from its logged metrics (the last line is the final model)."""
    last = metrics[-1]
    summary = {"unigram_loss": task.unigram_loss, "bigram_loss": task.bigram_loss, "pi1": task.pi1,
               "p": task.p, "q": task.q}
    summary |= {k: last[k] for k in ("test_loss", "kl", "p_hat", "q_hat", "train_loss")}
    summary |= {k: v for k, v in last.items() if k.startswith("energy_")}
    summary |= failures.run_status(step, seconds, error, failure)
    summary |= {"steps_to_bigram": steps_to_bigram([(m["step"], m["kl"]) for m in metrics]),
                "bigram_tolerance": BIGRAM_TOL}
    return summary


# ---- the canonical three-parameter model ---------------------------------------------------
class _Params:
    """Holds (e, w, b) so ``save`` can write them as tensors."""

    def __init__(self, line: dict):
        self.values = {k: float(line[k]) for k in ("e", "w", "b")}

    def tensors(self) -> dict[str, torch.Tensor]:
        return {k: torch.tensor(v, dtype=torch.float64) for k, v in self.values.items()}


def run_canonical(cfg: Config, progress: bool = False, keep_metrics: bool = True):
    """Exact population training of (e, w, b) by ``models.canonical.train_canonical``."""
    from .models.canonical import initial_point, train_canonical
    from .training import PARAM_BOUND, Result, unbounded

    task = make_binary_task(cfg)
    e0, w0, b0 = initial_point(cfg.init.scheme, cfg.init.sigma, cfg.init.c, cfg.seed)
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):  # an overflowing run is found below and recorded, not warned about
        lines = train_canonical(cfg.task.p, cfg.task.q, e0, w0, b0, cfg.train.lr, cfg.train.steps,
                                optimizer=cfg.train.optimizer, momentum=cfg.train.momentum)
    seconds = time.perf_counter() - t0
    every = cfg.eval.every
    metrics = [{"step": ln["step"], "e": ln["e"], "w": ln["w"], "b": ln["b"], "train_loss": ln["loss"],
                "test_loss": ln["loss"], "energy": ln.get("energy")} for ln in lines if ln["step"] % every == 0 or ln is lines[-1]]
    last = lines[-1]
    bad = next((ln for ln in lines if not all(math.isfinite(ln[k]) and abs(ln[k]) <= PARAM_BOUND
                                              for k in ("e", "w", "b", "loss"))), None)
    error = None if bad is None else (
        nonfinite(bad["step"], bad["loss"], "init.sigma or init.c")
        if not all(math.isfinite(bad[k]) for k in ("e", "w", "b", "loss")) else
        unbounded(bad["step"], bad["loss"], max(abs(bad[k]) for k in "ewb"), "train.lr", "init.sigma or init.c"))
    summary = {"unigram_loss": task.unigram_loss, "bigram_loss": task.bigram_loss, "pi1": task.pi1,
               "p": task.p, "q": task.q, "e0": e0, "w0": w0, "b0": b0,
               "e": last["e"], "w": last["w"], "b": last["b"], "train_loss": last["loss"],
               "test_loss": last["loss"]}
    summary |= failures.run_status(last["step"], seconds, error, failures.at_step(bad["step"]) if error else None)
    summary |= {"steps_to_bigram": steps_to_bigram([(m["step"], m["test_loss"] - task.bigram_loss) for m in metrics]),
                "bigram_tolerance": BIGRAM_TOL}
    return Result(cfg, summary, metrics, _Params(last), task, error)
