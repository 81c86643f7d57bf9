"""Many ``gpt`` models (``models/gpt.py``) trained at once: every parameter gets a
leading model axis r = 1..R and the forward pass is functional.

Runs that share every shape (d, layers, heads, LayerNorm, N, batch, steps, optimiser,
evaluation settings, dtype) but differ in seed, p, q, init scheme and c, lr, momentum
or tying are one batched model. Model r computes what ``GPT`` computes for it:

    h_r = x_r·e_r + p_r                                       (R, B, N, d)
    y_r = h_r + W_O,r Σ_i att W_V,r h_i,   att = softmax(⟨W_Q h_n, W_K h_i⟩/√dh), causal
    z_r = y_r + W_out,r ReLU(W_in,r y_r)
    f_r = σ(⟨a_r, z_r⟩ + b_r),   a_r = e_r if tied else W_U,r

with batched matmuls over (R, B·N, d), one ``causal_attention`` (the single model's)
over (R·B, H, N, dh) (in layer 1, ``token_attention`` on each model's (2, N) tables, as
``GPT`` does). Tying is a per-model mask (W_U exists for every model; a tied
model never reads it, so it gets a zero gradient and no say in anything).

The loss is Σ_r L_r, so autograd gives each model exactly its own gradient, and
:class:`BatchedOptimizer` applies ``optim.Optimizer``'s update (torch's AdamW / SGD
formulas, written out) with a per-model lr and momentum, so a batch agrees with the runs
trained alone to round-off (tested to 1e-6 in float64). Hook points and attention
patterns stay on the single model: :meth:`BatchedGPT.single` rebuilds model r's ``GPT``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..optim import BETAS, DECAYED, WEIGHT_DECAY, one_cycle
from ..ops import token_attention
from ..ops.causal_attention import causal_attention
from .gpt import GPT


class BatchedGPT:
    """R models stacked from R freshly initialised :class:`GPT` of one shape.

    **Arguments:**
    - `models`: the single models (their parameters are copied, model axis first).
    - `device`: where the stacked parameters live.
    """

    def __init__(self, models: list[GPT], device: str | torch.device = "cpu"):
        m0 = models[0]
        self.R, self.d, self.N = len(models), m0.d, m0.N
        self.L, self.H = len(m0.blocks), m0.blocks[0].attn.H
        self.layernorm = not isinstance(m0.ln_final, torch.nn.Identity)
        dtype = m0.embed.W_E.dtype
        self.tie = torch.tensor([m.tie for m in models], device=device)  # (R,)
        names = [n for n, _ in m0.named_parameters() if n != "unembed.W_U"] + ["unembed.W_U"]
        self.params: dict[str, torch.Tensor] = {}
        for n in names:
            parts = [dict(m.named_parameters()).get(n, torch.zeros_like(m.embed.W_E)).detach() for m in models]
            self.params[n] = torch.stack(parts).to(device=device, dtype=dtype).requires_grad_(True)

    # ---- forward -------------------------------------------------------------------
    def _ln(self, h: torch.Tensor, name: str) -> torch.Tensor:
        if not self.layernorm:
            return h
        return F.layer_norm(h, h.shape[-1:]) * self.params[name][:, None, None, :]  # (R, B, n, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (R, B, n) of inputs x (R, B, n) in {0, 1}."""
        P, (R, B, n), d, H = self.params, x.shape, self.d, self.H
        dh = d // H
        h = x.to(P["embed.W_E"].dtype)[..., None] * P["embed.W_E"][:, None, None, :] \
            + P["pos_embed.W_pos"][:, None, :n, :]  # (R, B, n, d)
        tokens = token_attention.usable(h) and x.numel() > 0 and bool(x.min() >= 0) and bool(x.max() <= 1)
        for i in range(self.L):
            b = f"blocks.{i}."
            W = torch.cat([P[b + "attn.W_Q"], P[b + "attn.W_K"], P[b + "attn.W_V"]], 3)  # (R, H, d, 3dh)
            W = W.transpose(1, 2).reshape(R, d, 3 * H * dh)  # (R, d, H·3dh)
            if i == 0 and tokens:  # layer 1's input is one of two vectors per position: GPT's token attention
                W_E, W_pos = P["embed.W_E"][:, None, :], P["pos_embed.W_pos"][:, :n, :]  # (R, 1, d), (R, n, d)
                kd = None
                if self.layernorm:
                    tab = self._ln(torch.stack([0 * W_E + W_pos, 1 * W_E + W_pos], 1), b + "ln1.w")  # (R, 2, n, d)
                    T = torch.bmm(tab.reshape(R, 2 * n, d), W)  # (R, 2n, H·3dh)
                else:  # token 1's rows are token 0's plus e·W (as GPT builds them)
                    T0, Td = torch.bmm(0 * W_E + W_pos, W), torch.bmm(W_E, W)  # (R, n, H·3dh), (R, 1, H·3dh)
                    T = torch.stack([T0, T0 + Td], 1)  # (R, 2, n, H·3dh)
                    kd = Td.view(R, H, 3, dh)[:, :, 1]  # (R, H, dh): K^1 = K^0 + kd
                Q, K, V = T.view(R, 2, n, H, 3, dh).permute(4, 0, 3, 1, 2, 5).unbind(0)  # each (R, H, 2, n, dh)
                z = token_attention.token_attention(Q, K, V, x, kd).view(R * B, H, n, dh)  # (R·B, H, n, dh)
            else:
                a = self._ln(h, b + "ln1.w").reshape(R, B * n, d)
                qkv = torch.bmm(a, W).view(R * B, n, H, 3, dh)  # (R·B, n, H, 3, dh)
                q, k, v = (t.transpose(1, 2) for t in qkv.unbind(3))  # (R·B, H, n, dh); unbind: one stack back
                z = causal_attention(q, k, v)  # (R·B, H, n, dh)
            z = z.transpose(1, 2).reshape(R, B * n, H * dh)  # (R, B·n, H·dh)
            h = h + torch.bmm(z, P[b + "attn.W_O"].reshape(R, H * dh, d)).view(R, B, n, d)
            a = self._ln(h, b + "ln2.w").reshape(R, B * n, d)
            u = F.relu(torch.bmm(a, P[b + "mlp.W_in"]))  # (R, B·n, 4d)
            h = h + torch.bmm(u, P[b + "mlp.W_out"]).view(R, B, n, d)
        a_out = torch.where(self.tie[:, None], P["embed.W_E"], P["unembed.W_U"])  # (R, d)
        h = self._ln(h, "ln_final.w")
        return torch.einsum("rbnd,rd->rbn", h, a_out) + P["unembed.b_U"][:, None, None]  # (R, B, n)

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(R,) mean next-token BCE of each model on its own batch (x, y: (R, B, N))."""
        logits = self.forward(x)  # (R, B, N)
        return F.binary_cross_entropy_with_logits(logits, y.to(logits.dtype), reduction="none").mean((1, 2))

    # ---- views -------------------------------------------------------------------------
    def matrices(self) -> dict[str, torch.Tensor]:
        """``GPT.matrices`` of every model, stacked: W_V.i (R, H·dh, d), W_1.i (R, 4d, d), W_pos."""
        P, out = self.params, {}
        for i in range(self.L):
            WV = P[f"blocks.{i}.attn.W_V"].detach()  # (R, H, d, dh)
            out[f"W_V.{i}"] = WV.permute(0, 2, 1, 3).reshape(self.R, self.d, -1).transpose(1, 2)
            out[f"W_1.{i}"] = P[f"blocks.{i}.mlp.W_in"].detach().transpose(1, 2)
        out["W_pos"] = P["pos_embed.W_pos"].detach()
        return out

    def single(self, r: int) -> GPT:
        """Model r as a ``GPT`` on the CPU (hooks, ``run_with_cache``, saving)."""
        tie = bool(self.tie[r])
        P = self.params
        m = GPT(self.d, self.N, self.L, self.H, tie, self.layernorm).to(P["embed.W_E"].dtype)
        with torch.no_grad():
            for n, prm in m.named_parameters():
                prm.copy_(P[n][r].cpu())
        return m


class BatchedOptimizer:
    """``optim.Optimizer`` for every model at once: AdamW (β = BETAS, weight decay on the
    ``DECAYED`` matrices, ε = 1e-8), SGD with momentum or plain gd, one-cycle schedule,
    each model with its own lr and momentum. The formulas are torch's (``_single_tensor_adamw``,
    ``sgd``): AdamW θ ← θ(1 − η λ); m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
    θ ← θ − (η / (1 − β₁ᵗ)) m / (√v / √(1 − β₂ᵗ) + ε); SGD b ← g (first step) else μb + g,
    θ ← θ − η b. Only models in ``active`` move."""

    EPS = 1e-8

    def __init__(self, model: BatchedGPT, name: str, lrs: list[float], total: int, momenta: list[float]):
        if name not in ("gd", "sgd", "adamw"):
            raise ValueError(f"train.optimizer={name!r}: expected gd, sgd or adamw")
        self.model, self.name, self.lrs, self.total = model, name, lrs, total
        p0 = next(iter(model.params.values()))
        self.mu = torch.tensor(momenta, dtype=p0.dtype, device=p0.device)  # (R,)
        self.state: dict[str, dict] = {n: {} for n in model.params}
        self.t = 0

    def lr_at(self, step: int) -> list[float]:
        return list(self.lrs) if self.name == "gd" else [one_cycle(step, self.total, lr) for lr in self.lrs]

    @torch.no_grad()
    def step(self, step: int, active: torch.Tensor) -> None:
        """One update with the lr of ``step`` (gradients in ``.grad``), then zero them."""
        p0 = next(iter(self.model.params.values()))
        lr = torch.tensor(self.lr_at(step), dtype=p0.dtype, device=p0.device)  # (R,)
        self.t += 1
        for n, p in self.model.params.items():
            g, st = p.grad, self.state[n]
            shape = (-1,) + (1,) * (p.dim() - 1)
            eta = lr.view(shape)
            if self.name == "adamw":
                b1, b2 = BETAS
                wd = WEIGHT_DECAY if n.endswith(DECAYED) else 0.0
                if not st:
                    st["m"], st["v"] = torch.zeros_like(p), torch.zeros_like(p)
                new = p * (1 - eta * wd)
                st["m"].lerp_(g, 1 - b1)
                st["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = st["v"].sqrt() / math.sqrt(1 - b2 ** self.t) + self.EPS
                new = new - (eta / (1 - b1 ** self.t)) * st["m"] / denom
            elif self.name == "sgd":
                st["b"] = g.clone() if "b" not in st else st["b"] * self.mu.view(shape) + g
                new = p - eta * st["b"]
            else:
                new = p - eta * g
            p.copy_(torch.where(active.view(shape), new, p))
            p.grad = None
