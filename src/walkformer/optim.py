"""Optimisers for the ``gpt`` model, selected by ``train.optimizer``.

- ``gd``: plain gradient descent θ ← θ − lr ∇L, constant lr.
- ``sgd``: SGD with momentum ``train.momentum`` (0.9 in the authors' full model), on
  the one-cycle schedule below.
- ``adamw``: the papers' setting: AdamW, β = (0.9, 0.95), weight decay 1e-3 on the
  weight matrices only (W_Q, W_K, W_V, W_O, W_in, W_out and an untied W_U; not on
  the embeddings, positions, LayerNorm gains or the bias b), one-cycle schedule.

The schedule is the authors' ``OneCycleLR(max_lr=lr, pct_start=0.02,
anneal_strategy="cos", div_factor=100, final_div_factor=0.05)``: cosine warm-up from
lr/100 to lr over the first 2% of the steps, then cosine decay to lr/100/0.05 = lr/5
(it ends at 4e-4 for lr = 2e-3, not near 0). :func:`one_cycle` is that formula,
written out so it also behaves for very short runs (tested against torch's).
"""

from __future__ import annotations

import math

import torch

BETAS = (0.9, 0.95)
WEIGHT_DECAY = 1e-3
WARMUP, DIV, FINAL_DIV = 0.02, 100.0, 0.05
DECAYED = (".W_Q", ".W_K", ".W_V", ".W_O", ".W_in", ".W_out", "unembed.W_U")


def one_cycle(step: int, total: int, lr: float) -> float:
    """Learning rate at ``step`` (0-based) of ``total`` steps, torch's OneCycleLR (cos)."""
    lo, hi, end = lr / DIV, lr, lr / DIV / FINAL_DIV
    peak = WARMUP * total - 1  # torch's phase boundary (a float)
    cos = lambda a, b, pct: b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1)  # noqa: E731
    if step <= peak:
        return cos(lo, hi, step / peak) if peak > 0 else hi
    span = (total - 1) - peak
    return cos(hi, end, min((step - peak) / span, 1.0)) if span > 0 else end


class Optimizer:
    """``opt.step(t)`` applies one update with the lr of step t (gradients already in .grad)."""

    def __init__(self, model: torch.nn.Module, name: str, lr: float, total: int, momentum: float = 0.9):
        named = list(model.named_parameters())
        self.name, self.lr, self.total = name, lr, total
        if name == "adamw":
            decay = [p for n, p in named if n.endswith(DECAYED)]
            rest = [p for n, p in named if not n.endswith(DECAYED)]
            groups = [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": rest, "weight_decay": 0.0}]
            self.opt = torch.optim.AdamW(groups, lr=lr, betas=BETAS, fused=True)  # fused: 4x less overhead
        elif name == "sgd":
            self.opt = torch.optim.SGD([p for _, p in named], lr=lr, momentum=momentum, fused=True)
        elif name == "gd":
            self.opt = torch.optim.SGD([p for _, p in named], lr=lr, fused=True)
        else:
            raise ValueError(f"train.optimizer={name!r}: expected gd, sgd or adamw")

    def lr_at(self, step: int) -> float:
        return self.lr if self.name == "gd" else one_cycle(step, self.total, self.lr)

    def step(self, t: int) -> None:
        lr = self.lr_at(t)
        for g in self.opt.param_groups:
            g["lr"] = lr
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
