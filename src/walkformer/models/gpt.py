"""The single-layer (or deeper) transformer of "Attention with Markov" §2, on binary inputs.

    x_n = x_n·e + p_n                                          embedding, learned positions
    y_n = x_n + W_O Σ_{i≤n} att_{n,i} W_V x_i,  att_{n,·} = softmax_i(⟨W_Q x_n, W_K x_i⟩/√d_head)
    z_n = y_n + W_2 ReLU(W_1 y_n),     W_1 ∈ R^{4d×d}, W_2 ∈ R^{d×4d}
    f_n = σ(⟨a, z_n⟩ + b) = P_θ(x_{n+1} = 1 | x_1..x_n),   a = e when tied
    L   = mean_n BCE(f_n, x_{n+1})

Optional pre-LayerNorm (before attention, before the MLP and before the head; no bias,
as in the authors' code) and several layers and heads. No biases other than b.

Names follow TransformerLens, so weights use the x @ W convention (paper matrix = W^T):

    embed.W_E          (d,)          e
    pos_embed.W_pos    (N, d)        p_1..p_N
    blocks.i.attn.W_Q, W_K, W_V   (H, d, d/H)      blocks.i.attn.W_O   (H, d/H, d)
    blocks.i.mlp.W_in  (d, 4d)  = W_1^T            blocks.i.mlp.W_out  (4d, d) = W_2^T
    blocks.i.ln1.w, ln2.w, ln_final.w  (d,)        (only with layernorm)
    unembed.W_U        (d,)          a (absent when tied: a is embed.W_E)
    unembed.b_U        ()            b

Hook points (identity modules; attach torch forward hooks, or use :meth:`run_with_cache`):

    hook_embed (B, N, d), hook_pos_embed (N, d)
    blocks.i.hook_resid_pre / hook_resid_mid / hook_resid_post   (B, N, d)
    blocks.i.attn.hook_q, hook_k, hook_v, hook_z     (B, N, H, d/H)
    blocks.i.attn.hook_attn_scores, hook_pattern     (B, H, N, N)  [query, key]
    blocks.i.hook_attn_out, hook_mlp_out             (B, N, d)
    blocks.i.mlp.hook_pre, hook_post                 (B, N, 4d)
    hook_logits                                      (B, N)

Speed: unless something listens on ``hook_attn_scores`` or ``hook_pattern``, attention
is ``ops/causal_attention.py`` (a C kernel that skips the masked upper triangle; torch's fused
``scaled_dot_product_attention`` off the CPU) and the N×N pattern is never materialised;
with a listener it is computed explicitly (same maths, round-off apart). In the first
block, whose input is one of two vectors per position (token 0 or 1), it is
``ops/token_attention.py``: queries, keys and values from (2, N) tables, the scores and their
exps shared by the batch (unless a hook listens on the embedding, the first block's input,
q, k, v or the pattern).
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ..ops import token_attention
from ..ops.causal_attention import causal_attention


class HookPoint(nn.Module):
    """Identity; a named place to attach a forward hook (TransformerLens style)."""

    def forward(self, x):
        return x

    def active(self) -> bool:
        return bool(self._forward_hooks)


class LayerNorm(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return F.layer_norm(x, x.shape[-1:], self.w)


class Attention(nn.Module):
    def __init__(self, d: int, H: int):
        super().__init__()
        if d % H:
            raise ValueError(f"d={d} is not divisible by heads={H}")
        dh = d // H
        self.H, self.dh = H, dh
        self.W_Q = nn.Parameter(torch.empty(H, d, dh))
        self.W_K = nn.Parameter(torch.empty(H, d, dh))
        self.W_V = nn.Parameter(torch.empty(H, d, dh))
        self.W_O = nn.Parameter(torch.empty(H, dh, d))
        for name in ("hook_q", "hook_k", "hook_v", "hook_z", "hook_attn_scores", "hook_pattern"):
            setattr(self, name, HookPoint())

    def forward(self, x, table=None):  # x: (B, N, d)
        """``table`` = (tokens (B, N), inputs (2, N, d), shift (d,) or None): at layer 1 the
        input x_{b,n} is inputs[tokens[b, n], n], and attention runs on query, key and value
        tables (``token_attention.py``) unless something listens on q, k, v or the pattern.
        With a shift (no LayerNorm: inputs[1] = inputs[0] + e), token 1's rows are token
        0's plus shift·W, which lets the kernel halve its scores and exps."""
        B, N, d = x.shape
        H, dh = self.H, self.dh
        # one matmul for q, k and v (fewer small ops: at small N a step is op-overhead bound)
        W = torch.cat([self.W_Q, self.W_K, self.W_V], 2).transpose(0, 1).reshape(d, 3 * H * dh)  # (d, H·3dh)
        hooked = any(h.active() for h in (self.hook_q, self.hook_k, self.hook_v, self.hook_attn_scores,
                                          self.hook_pattern))
        if table is not None and not hooked and token_attention.usable(x):
            tokens, inputs, shift = table
            if shift is None:
                T = inputs @ W  # (2, N, H·3dh)
            else:
                T0, Td = inputs[0] @ W, shift @ W  # (N, H·3dh), (H·3dh,)
                T = torch.stack([T0, T0 + Td])  # (2, N, H·3dh)
            Q, K, V = T.view(2, N, H, 3, dh).permute(3, 2, 0, 1, 4).unbind(0)  # each (H, 2, N, dh)
            kd = None if shift is None else Td.view(H, 3, dh)[:, 1]  # (H, dh): K^1 = K^0 + kd
            z = token_attention.token_attention(Q, K, V, tokens, kd)  # (B, H, N, dh)
            z = self.hook_z(z.transpose(1, 2))  # (B, N, H, dh)
            return z.reshape(B, N, H * dh) @ self.W_O.reshape(H * dh, d)  # (B, N, d)
        qkv = (x @ W).view(B, N, H, 3, dh)  # (B, N, H, 3, dh)
        q, k, v = qkv.unbind(3)  # (B, N, H, dh) each; unbind's backward is one stack (select's: 3 zero fills)
        q, k, v = self.hook_q(q), self.hook_k(k), self.hook_v(v)
        qh, kh, vh = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, N, dh)
        if self.hook_attn_scores.active() or self.hook_pattern.active():
            scores = qh @ kh.transpose(-1, -2) / math.sqrt(self.dh)  # (B, H, N, N)
            mask = torch.ones(N, N, dtype=torch.bool, device=x.device).triu(1)
            scores = self.hook_attn_scores(scores.masked_fill(mask, float("-inf")))
            pattern = self.hook_pattern(scores.softmax(-1))  # (B, H, N, N)
            z = pattern @ vh  # (B, H, N, dh)
        else:
            z = causal_attention(qh, kh, vh)  # (B, H, N, dh)
        z = self.hook_z(z.transpose(1, 2))  # (B, N, H, dh)
        return z.reshape(B, N, H * dh) @ self.W_O.reshape(H * dh, d)  # (B, N, d)


class MLP(nn.Module):
    def __init__(self, d: int):
        super().__init__()
        self.W_in = nn.Parameter(torch.empty(d, 4 * d))
        self.W_out = nn.Parameter(torch.empty(4 * d, d))
        self.hook_pre, self.hook_post = HookPoint(), HookPoint()

    def forward(self, x):  # (B, N, d)
        h = self.hook_post(F.relu(self.hook_pre(x @ self.W_in)))  # (B, N, 4d)
        return h @ self.W_out  # (B, N, d)


class Block(nn.Module):
    def __init__(self, d: int, H: int, layernorm: bool):
        super().__init__()
        self.ln1 = LayerNorm(d) if layernorm else nn.Identity()
        self.ln2 = LayerNorm(d) if layernorm else nn.Identity()
        self.attn, self.mlp = Attention(d, H), MLP(d)
        for name in ("hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post"):
            setattr(self, name, HookPoint())

    def forward(self, x, table=None):  # (B, N, d); table: see Attention.forward
        x = self.hook_resid_pre(x)
        if table is not None and isinstance(self.ln1, LayerNorm):
            table = (table[0], self.ln1(table[1]), None)  # (2, N, d): LayerNorm acts per position
        x = self.hook_resid_mid(x + self.hook_attn_out(self.attn(self.ln1(x), table)))
        return self.hook_resid_post(x + self.hook_mlp_out(self.mlp(self.ln2(x))))


class _Embed(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.W = nn.Parameter(torch.empty(*shape))


class GPT(nn.Module):
    """**Arguments:** `d` width, `N` context length, `layers`, `heads`, `tie` (a = e),
    `layernorm`. ``forward(x)`` takes x (B, n ≤ N) in {0, 1} and returns logits (B, n)."""

    def __init__(self, d: int, N: int, layers: int = 1, heads: int = 1, tie: bool = True, layernorm: bool = False):
        super().__init__()
        self.d, self.N, self.tie = d, N, tie
        self.embed = nn.Module()
        self.embed.W_E = nn.Parameter(torch.empty(d))
        self.pos_embed = nn.Module()
        self.pos_embed.W_pos = nn.Parameter(torch.empty(N, d))
        self.hook_embed, self.hook_pos_embed = HookPoint(), HookPoint()
        self.blocks = nn.ModuleList(Block(d, heads, layernorm) for _ in range(layers))
        self.ln_final = LayerNorm(d) if layernorm else nn.Identity()
        self.unembed = nn.Module()
        if not tie:
            self.unembed.W_U = nn.Parameter(torch.empty(d))
        self.unembed.b_U = nn.Parameter(torch.zeros(()))
        self.hook_logits = HookPoint()

    @property
    def W_U(self) -> torch.Tensor:
        return self.embed.W_E if self.tie else self.unembed.W_U

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[1]
        dt = self.embed.W_E.dtype
        h = self.hook_embed(x.to(dt)[..., None] * self.embed.W_E) + self.hook_pos_embed(self.pos_embed.W_pos[:n])
        table = self._token_table(x)
        for i, block in enumerate(self.blocks):  # (B, n, d)
            h = block(h, table if i == 0 else None)
        return self.hook_logits(self.ln_final(h) @ self.W_U + self.unembed.b_U)  # (B, n)

    def _token_table(self, x: torch.Tensor):
        """(x, (2, n, d) the two possible layer-1 inputs per position, e = their difference),
        for the first block's token attention; None where layer 1's input may differ from
        them (a hook that could edit the embedding or the residual stream listens, or x is
        not binary)."""
        b0 = self.blocks[0]
        if any(m._forward_hooks for m in (self.hook_embed, self.hook_pos_embed, b0.hook_resid_pre, b0.ln1)):
            return None
        if x.numel() == 0 or x.min() < 0 or x.max() > 1:
            return None
        n, W_E = x.shape[1], self.embed.W_E
        W_pos = self.pos_embed.W_pos[:n]  # (n, d)
        return x, torch.stack([0 * W_E + W_pos, 1 * W_E + W_pos]), W_E  # (2, n, d): x_n·e + p_n for x_n = 0, 1

    @contextmanager
    def hooks(self, names_to_fns: dict):
        """Attach forward hooks ``fn(tensor)`` by hook name for the duration of the block."""
        mods = dict(self.named_modules())
        handles = [mods[n].register_forward_hook(lambda m, i, o, f=f: f(o)) for n, f in names_to_fns.items()]
        try:
            yield
        finally:
            for hd in handles:
                hd.remove()

    def hook_names(self) -> list[str]:
        return [n for n, m in self.named_modules() if isinstance(m, HookPoint)]

    def run_with_cache(self, x: torch.Tensor, names: list[str] | None = None):
        """Logits and a dict hook name -> activation (all hook points unless ``names``)."""
        cache = {}
        names = self.hook_names() if names is None else names
        with self.hooks({n: (lambda t, n=n: cache.__setitem__(n, t.detach())) for n in names}):
            logits = self(x)
        return logits, cache

    def tensors(self) -> dict[str, torch.Tensor]:
        """Named parameters (TransformerLens names) for ``params.safetensors``."""
        return {k: v.detach() for k, v in self.named_parameters()}

    def matrices(self) -> dict[str, torch.Tensor]:
        """Weight matrices in the paper's orientation, per layer: W_V (d, d) stacked over
        heads, W_1 (4d, d) — for the rank-one statistics."""
        out = {}
        for i, b in enumerate(self.blocks):
            out[f"W_V.{i}"] = b.attn.W_V.detach().permute(1, 0, 2).reshape(self.d, -1).T  # (H·dh, d)
            out[f"W_1.{i}"] = b.mlp.W_in.detach().T  # (4d, d)
        out["W_pos"] = self.pos_embed.W_pos.detach()
        return out


def energy_share(M: torch.Tensor, k: int = 1) -> float:
    """Σ_{j≤k} σ_j² / Σ_j σ_j²: share of ‖M‖_F² in the top-k singular values (1 = rank one)."""
    return energy_shares(M[None], k)[0]


def energy_shares(M: torch.Tensor, k: int = 1) -> list[float]:
    """:func:`energy_share` of each matrix of a stack M (R, m, n); nan for a matrix with
    a non-finite entry (a diverged run)."""
    M = M.double().cpu()
    ok = torch.isfinite(M).flatten(1).all(1)  # (R,)
    s2 = torch.linalg.svdvals(torch.where(ok[:, None, None], M, 0.0)) ** 2  # (R, min(m, n))
    tot, top = s2.sum(1).tolist(), s2[:, :k].sum(1).tolist()
    return [a / b if b > 0 and good else float("nan") for a, b, good in zip(top, tot, ok.tolist())]


# ---- initialisations -------------------------------------------------------------------
def init_gpt(model: GPT, scheme: str, c: float, gen: torch.Generator) -> None:
    """In place. Every scheme starts from ``standard`` (GPT-2 / nanoGPT):

    - ``standard``: every weight N(0, 0.02²); W_O and W_out N(0, (0.02/√(2L))²); b = 0,
      LayerNorm gains 1.
    - ``anti-aligned`` (L2G's "our init", the authors' ``ashok``): W_in ≡ +c and
      W_out ≡ −c (every entry), so the MLP starts anti-aligned with the skip path.
    - ``rank-one`` (the authors' ``lowrank``, as fixed in the Markov repo): random signs
      α ∈ {±1}^d, e = |0.1 g|·α, p_n = −(e/2)·α for all n (so x_n = |0.1g|(x_n − ½)α),
      W_V = v αᵀ with v ~ N(0, 0.02²)^d, W_1 = w αᵀ and W_2 = α wᵀ with
      w_j = ±|0.1 g_j| (j ≤ 4d), b ~ N(0, 1); W_Q, W_K, W_O standard.
    """
    L = len(model.blocks)
    rn = lambda *shape, std=0.02: torch.randn(*shape, generator=gen, dtype=torch.float64) * std  # noqa: E731
    with torch.no_grad():
        for name, prm in model.named_parameters():
            if name.endswith((".W_O", ".W_out")):
                prm.copy_(rn(*prm.shape, std=0.02 / math.sqrt(2 * L)))
            elif name.endswith(".w"):
                prm.fill_(1.0)
            elif name == "unembed.b_U":
                prm.zero_()
            else:
                prm.copy_(rn(*prm.shape))
        if scheme == "anti-aligned":
            for b in model.blocks:
                b.mlp.W_in.fill_(c)
                b.mlp.W_out.fill_(-c)
        elif scheme == "rank-one":
            d = model.d
            alpha = torch.randint(0, 2, (d,), generator=gen).double() * 2 - 1  # (d,)
            e = abs(0.1 * float(torch.randn((), generator=gen, dtype=torch.float64)))
            model.embed.W_E.copy_(e * alpha)
            model.pos_embed.W_pos.copy_((-e / 2 * alpha).expand(model.N, d))
            for b in model.blocks:
                H, dh = b.attn.H, b.attn.dh
                v = rn(d)  # (d,)
                WV = torch.outer(v, alpha)  # (d, d) paper orientation: W_V x = v ⟨α, x⟩
                b.attn.W_V.copy_(WV.T.reshape(d, H, dh).permute(1, 0, 2))  # (H, d, dh)
                sign = torch.randint(0, 2, (4 * d,), generator=gen).double() * 2 - 1
                w = (0.1 * torch.randn(4 * d, generator=gen, dtype=torch.float64)).abs() * sign  # (4d,)
                b.mlp.W_in.copy_(torch.outer(w, alpha).T)  # W_1 = w αᵀ (4d, d) -> W_in (d, 4d)
                b.mlp.W_out.copy_(torch.outer(alpha, w).T)  # W_2 = α wᵀ (d, 4d) -> W_out (4d, d)
            model.unembed.b_U.copy_(torch.randn((), generator=gen, dtype=torch.float64))
        elif scheme != "standard":
            raise ValueError(f"init.scheme={scheme!r}: expected standard, anti-aligned or rank-one")
