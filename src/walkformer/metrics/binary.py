"""The binary Markov chain's metrics ("Attention with Markov", "Local to Global") for R
models at once (:func:`binary_metrics`; one model: R = 1), on a fixed test set of
``eval.n_test`` sequences of length N; f_n the predicted P(x_{n+1} = 1 | x_{1..n}):

- ``test_loss``: mean over test positions of the *expected* BCE given the prefix,
  −[P(1|x_n) log f_n + (1 − P(1|x_n)) log(1 − f_n)]: the target is averaged out
  exactly (same expectation as the sampled BCE, less noise), so ``test_loss`` ≥ the
  mean Bayes loss of the same positions, and ``kl`` = their difference ≥ 0 exactly;
- ``p_hat``: mean predicted P(x_{n+1}=1 | x_n=0) (the truth is p; π_1 is the unigram
  trap), ``q_hat``: mean predicted P(x_{n+1}=0 | x_n=1);
- ``energy_W_V``, ``energy_W_1``, ``energy_W_pos`` (one per layer for the first two):
  σ₁²/Σσ², the share of the top singular value (1 = rank one; ``models.gpt.energy_shares``);
- in the last line only: ``p_hat_by_position``, the predicted P(x_{n+1}=1 | x_n=0) at
  each position n, averaged over the test sequences with x_n = 0 (null where none).
"""

from __future__ import annotations

import torch

from ..models.gpt import GPT, energy_shares
from ..tasks.binary import BinaryChain

EVAL_CHUNK = 16  # test sequences per forward pass (bounds the attention's memory)


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
