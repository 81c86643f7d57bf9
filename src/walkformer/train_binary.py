"""Training on binary Markov chains: the ``gpt`` model's pieces (sampled data) and the
``canonical`` model (exact population loss, from ``models/canonical.py``).

``gpt`` (trained by the one loop, ``loop.run`` with ``loop.GPTAdapter``, and batched by
``multirun_gpt.py``): every step draws ``train.batch`` fresh sequences of length N (online
data, as in the authors' code), minimises the mean next-token BCE over all positions and
updates with ``train.optimizer`` (see ``optim.py``). Metrics at step t are those of
θ^(t) (step 0 is the initialisation), on a fixed test set of ``eval.n_test`` sequences:

- ``test_loss``: mean over test positions of the *expected* BCE given the prefix,
  −[P(1|x_n) log f_n + (1 − P(1|x_n)) log(1 − f_n)]: the target is averaged out
  exactly (same expectation as the sampled BCE, less noise), so ``test_loss`` ≥ the
  mean Bayes loss of the same positions, and ``kl`` = their difference ≥ 0 exactly;
- ``unigram_loss``, ``bigram_loss``: the closed-form references H(π), H(x_{n+1}|x_n);
- ``p_hat``: mean predicted P(x_{n+1}=1 | x_n=0) (the truth is p; π_1 is the unigram
  trap), ``q_hat``: mean predicted P(x_{n+1}=0 | x_n=1);
- ``energy_W_V``, ``energy_W_1``, ``energy_W_pos`` (one per layer for the first two):
  σ₁²/Σσ², the share of the top singular value (1 = rank one);
- in the last line only: ``p_hat_by_position``, the
  predicted P(x_{n+1}=1 | x_n=0) at each position n, averaged over the test sequences
  with x_n = 0 (null where none).

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
from .models.gpt import GPT, energy_shares, init_gpt
from .tasks.binary import BinaryChain

EVAL_CHUNK = 16  # test sequences per forward pass (bounds the attention's memory)


def make_binary_task(cfg: Config) -> BinaryChain:
    return BinaryChain(cfg.task.p, cfg.task.q, cfg.task.N)


def build_gpt(cfg: Config, gen: torch.Generator) -> GPT:
    m = cfg.model
    model = GPT(m.d, cfg.task.N, m.layers, m.heads, m.tie, m.layernorm).double()
    init_gpt(model, cfg.init.scheme, cfg.init.c, gen)  # float64 draws: same init for both dtypes
    return model.to(torch.float64 if cfg.dtype == "float64" else torch.float32)


@torch.no_grad()
def evaluate_gpt(model: GPT, task: BinaryChain, x: torch.Tensor, full: bool) -> dict:
    """Metrics of ``model`` on test inputs x (n, N); see the module docstring."""
    f = torch.cat([torch.sigmoid(model(c).double()) for c in x.split(EVAL_CHUNK)])  # (n, N)
    mats = {k: M[None] for k, M in model.matrices().items()}
    return binary_metrics(f[None], x[None], [task], mats, full)[0]


@torch.no_grad()
def binary_metrics(f: torch.Tensor, x: torch.Tensor, tasks: list[BinaryChain], mats: dict, full: bool) -> list[dict]:
    """Metrics of R models at once (the single model is R = 1): predicted P(1 | prefix)
    f (R, n, N), their test inputs x (R, n, N), their chains, their ``GPT.matrices``
    stacked (R, ...)."""
    dev = f.device
    p = torch.tensor([t.p for t in tasks], dtype=torch.float64, device=dev)[:, None, None]  # (R, 1, 1)
    q = torch.tensor([t.q for t in tasks], dtype=torch.float64, device=dev)[:, None, None]
    f = f.clamp(1e-12, 1 - 1e-12)
    t = torch.where(x == 0, p, 1.0 - q)  # (R, n, N) Bayes predictor (``task.prob_one``)
    xent = -(t * f.log() + (1 - t) * (1 - f).log())  # (R, n, N)
    ent = -(t * t.clamp_min(1e-300).log() + (1 - t) * (1 - t).clamp_min(1e-300).log())
    zero = x == 0
    nz, no = zero.sum((1, 2)), (~zero).sum((1, 2))  # (R,)
    cols = {"test_loss": xent.mean((1, 2)), "kl": (xent - ent).mean((1, 2)),
            "p_hat": (f * zero).sum((1, 2)) / nz.clamp_min(1), "q_hat": 1 - (f * ~zero).sum((1, 2)) / no.clamp_min(1)}
    cols = {k: v.cpu().tolist() for k, v in cols.items()}
    nz, no = nz.tolist(), no.tolist()
    energy = {f"energy_{k}": energy_shares(M) for k, M in mats.items()}
    if full:
        cnt = zero.sum(1)  # (R, N)
        by_pos = ((f * zero).sum(1) / cnt.clamp_min(1)).cpu().tolist()  # (R, N)
        cnt = cnt.cpu().tolist()
    out = []
    for r in range(f.shape[0]):
        line = {"test_loss": cols["test_loss"][r], "kl": cols["kl"][r],
                "p_hat": cols["p_hat"][r] if nz[r] > 0 else None, "q_hat": cols["q_hat"][r] if no[r] > 0 else None}
        line |= {k: v[r] for k, v in energy.items()}
        if full:
            line["p_hat_by_position"] = [v if c > 0 else None for v, c in zip(by_pos[r], cnt[r])]
        out.append(line)
    return out


def nonfinite(step: int, loss: float, scale: str = "init.c or init.scheme", rate: str = "train.lr") -> str:
    """The message of a non-finite loss at θ^(step) (``failures.at_step`` gives its kind):
    at step 0 the initial point is to blame (its scale), later the step size."""
    if step == 0:
        return (f"step 0: train loss is {loss}: the loss or its gradient overflows at the initial parameters; "
                f"change {scale} ({rate} plays no part before the first step)")
    return f"step {step}: train loss is {loss}: the loss diverged (overflow in the parameters); lower {rate}"


def gpt_summary(task: BinaryChain, metrics: list, step: int, seconds: float, error: str | None) -> dict:
    """summary.json of a gpt run from its logged metrics (the last line is the final model)."""
    last = metrics[-1]
    summary = {"unigram_loss": task.unigram_loss, "bigram_loss": task.bigram_loss, "pi1": task.pi1,
               "p": task.p, "q": task.q}
    summary |= {k: last[k] for k in ("test_loss", "kl", "p_hat", "q_hat", "train_loss")}
    summary |= {k: v for k, v in last.items() if k.startswith("energy_")}
    summary |= {"steps": step, "seconds": seconds, "ms_per_step": 1e3 * seconds / max(step, 1),
                "status": "failed" if error else "ok",
                "failure": failures.at_step(step) if error else None, "error": error,
                "steps_to_bigram": steps_to_bigram([(m["step"], m["kl"]) for m in metrics]),
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
               "test_loss": last["loss"], "steps": last["step"], "seconds": seconds,
               "ms_per_step": 1e3 * seconds / max(last["step"], 1), "status": "failed" if error else "ok",
               "failure": failures.at_step(bad["step"]) if error else None, "error": error,
               "steps_to_bigram": steps_to_bigram([(m["step"], m["test_loss"] - task.bigram_loss) for m in metrics]),
               "bigram_tolerance": BIGRAM_TOL}
    return Result(cfg, summary, metrics, _Params(last), task, error)
