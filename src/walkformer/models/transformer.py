"""The reference transformer: both papers and the reviewers' variants as configurations
of one plain-torch model (autograd, no C).

Tokens s_1..s_T (T = N-1 for the chain/circle/QA tasks, T = N for the binary task).

Embedding of slot i, token part t_i (width D_t): one-hot e_{s_i} (D_t = K) | learned
E[s_i] (D_t = d) | scalar s_i·e (D_t = d, K = 2). layout=slot appends slot N with
t_N = 0 (N slots, the paper); layout=causal has the T token slots.
    concatenated positions (sin | onehot | none):  x̃_i = [t_i; p_i],  D = D_t + M
    added (learned W_pos | fixed sinusoidal):      x̃_i = t_i + p_i,   D = D_t
    rotary (rope):                                 x̃_i = t_i; queries and keys rotated
    (one module per scheme in walkformer/positions/: its kind, its table p_i or rotation)
Block l = 1..L, input h (h⁰ = x̃), u = LN(h) if layernorm else h; per head k:
    merged:  z_ij = u_jᵀ W_k u_i        split: z_ij = (u_i W_Q,k + b_Q)·(u_j W_K,k + b_K)
    times 1/√d_head if scale=sqrt (merged: d_head = D); with normalize (the paper §5,
    layer 1) u_i/‖u_i‖ in place of u_i; mask j ≤ i (the query slot N sees every slot);
    S_k = softmax_j(z);  y_k,i = Σ_j S_k,ij r_j,   r_j = token block of u_j (concatenated
    positions: the paper's V X, not V X̃) else u_j;
    a_i = Σ_k (y_k,i W_V,k + b_V) W_O,k (+ b_O);   h ← h + a if residual else a
    mlp=relu: h ← h + ReLU(LN(h) W_in + b_in) W_out + b_out   (hidden 4·D_t when the
              positions are concatenated, else 4·D)
Read-out at the prediction slot(s) (slot N | the last token | every token):
    head=linear:  the last layer has no W_V, W_O:  f = Σ_k V_k y_k (+ r_i if residual:
                  the token block of h there, zero in the slot layout) — eq. (2.1) for L = H = 1
    head=relu:    f = A ReLU(Σ_k V_k y_k + b) + b_A            (App. F.2)
    head=unembed: f = LN(h_i) W_U + b_U;  tie: W_U = W_Eᵀ (learned) or e (scalar)
Loss (one module per loss in walkformer/losses/), Σ_b w_b ℓ_b (w sums to 1): log-eps −log(f_y + ε) |
softmax-ce | squared ‖f − e_y‖² | bce (one logit, K = 2;
the binary task averages over its T positions).

(u, y, h as row vectors.) Names follow TransformerLens; blocks use its x @ W orientation,
the paper's own matrices keep the paper's (W: z_ij = u_jᵀ W u_i, V: f = V X S, A):
    embed.W_E (K, d) learned | (d,) scalar        pos_embed.W_pos (N, D_t)   (learned)
    blocks.l.attn.W (H, D, D) | W_Q, W_K (H, D, d_head), b_Q, b_K (H, d_head)
    blocks.l.attn.W_V (H, D_v, d_head), b_V (H, d_head), W_O (H, d_head, D), b_O (D,)
    blocks.l.mlp.W_in (D, hid), b_in, W_out (hid, D), b_out;   blocks.l.ln1.w, ln2.w, ln_final.w
    head.V (H, K|m, D_v), head.b (m,), head.A (K, m), head.b_A (K,)
    unembed.W_U (D, K) | (D,) for bce, unembed.b_U (K,) | ()
Hook points (identity modules, always on the one path): hook_embed (the stream),
blocks.l.attn.hook_attn_scores, hook_pattern (B, H, Nq, Nk), hook_z (y: (B, Nq, H, D_v),
the attended value input X S), blocks.l.hook_resid_post (the stream), hook_logits.

Speed: the stream is ``stream.Factorised`` for concatenated positions (no dense X̃; the
scores z come from the (C, C) matrix (E W_Q)(E W_K)ᵀ, C ≈ K + N, when d_head > C), and
the last layer computes only the prediction slots' queries. See docs/model-reference.md.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..config import ModelConfig
from ..keys import REGISTRY
from .gpt import HookPoint, LayerNorm
from .. import losses, positions
from .stream import Dense, Factorised

# The allowed values of each option: those of the model.* keys (declared once, in keys.py).
CHOICES = {k: REGISTRY[f"model.{k}"].choices for k in ("attention", "scale", "mlp", "embed", "pos", "layout", "head",
                                                      "loss")}


@dataclass
class TransformerSpec(ModelConfig):
    """The model section of a config (``config.ModelConfig``: every option above, with the
    same names and defaults) and what the task fixes: K states, N slots (slot layout: the
    task's N; causal: the positions available), a prediction at ``every`` token (the binary
    task), the dtype. Read-only by convention."""

    K: int = 0
    N: int = 0
    every: bool = False  # predict at every position (the binary task; causal layout)
    dtype: torch.dtype = torch.float64

    def __post_init__(self):
        if self.K < 1 or self.N < 1:
            raise ValueError(f"model: K={self.K} and N={self.N} must be given (K, N >= 1)")
        for key, allowed in CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"model.{key}={getattr(self, key)!r}: expected one of {', '.join(allowed)}")
        bad_loss = losses.check(self, self.K)  # losses/<loss>.py: e.g. bce needs K = 2 and head=unembed
        rules = [(bad_loss is not None, f"model.loss={self.loss}: {bad_loss[2] if bad_loss else ''}"),
                 (self.embed == "scalar" and self.K != 2, "embed=scalar needs K=2 (binary tokens)"),
                 (self.every and self.layout != "causal", "every (a prediction at every token) needs layout=causal"),
                 (self.normalize and (not self.concat or self.embed != "onehot"), "normalize needs onehot tokens and concatenated positions"),
                 (self.head == "linear" and self.residual and self.Dv != self.K, "head=linear with residual needs D_v = K")]
        for bad, why in rules:
            if bad:
                raise ValueError(f"model: {why}")

    scheme = property(lambda s: positions.scheme(s.pos))  # positions/<pos>.py
    concat = property(lambda s: s.scheme.KIND == "concatenated")
    Dt = property(lambda s: s.K if s.embed == "onehot" else s.d)  # token part
    Mp = property(lambda s: s.M if "model.M" in s.scheme.USES else 0)  # concatenated position part
    D = property(lambda s: s.Dt + s.Mp)
    Dv = property(lambda s: s.Dt if s.concat else s.D)  # value input: the token block
    dh = property(lambda s: s.d_head or max(1, s.D // s.heads))  # (floor: D = K + M may be odd)
    hidden = property(lambda s: 4 * (s.Dt if s.concat else s.D))
    factorised = property(lambda s: s.concat and not s.layernorm)


def _p(*shape, dtype):
    return nn.Parameter(torch.zeros(shape, dtype=dtype))


class Attention(nn.Module):
    def __init__(self, sp: TransformerSpec, writes: bool):
        super().__init__()
        H, D, dh, dt = sp.heads, sp.D, sp.dh, sp.dtype
        self.sp, self.writes, self.H, self.dh = sp, writes, H, dh  # H, dh: as gpt.Attention (init_gpt reads them)
        if sp.attention == "merged":
            self.W = _p(H, D, D, dtype=dt)
        else:
            self.W_Q, self.W_K = _p(H, D, dh, dtype=dt), _p(H, D, dh, dtype=dt)
        if writes:
            self.W_V, self.W_O = _p(H, sp.Dv, dh, dtype=dt), _p(H, dh, D, dtype=dt)
        if sp.bias and sp.attention == "split":
            self.b_Q, self.b_K = _p(H, dh, dtype=dt), _p(H, dh, dtype=dt)
        if sp.bias and writes:
            self.b_V, self.b_O = _p(H, dh, dtype=dt), _p(D, dtype=dt)
        self.hook_attn_scores, self.hook_pattern, self.hook_z = HookPoint(), HookPoint(), HookPoint()

    def scores(self, u, qi, S: int) -> torch.Tensor:
        """z (B, H, nq, S) scaled, before the mask; qi: query slots (None: all). The scale
        multiplies the queries (or their table), not the (B, H, nq, S) scores."""
        sp, H = self.sp, self.sp.heads
        merged = sp.attention == "merged"
        c = 1 / math.sqrt(sp.D if merged else sp.dh) if sp.scale == "sqrt" else None
        A = self.W.transpose(-1, -2) if merged else self.W_Q  # (H, D, n): q_i = u_i A
        bq, bk = (self.b_Q, self.b_K) if sp.bias and not merged else (None, None)
        n = A.shape[-1]
        if u.factorised and n > u.C:  # z = a_i (E A)(E B)ᵀ a_jᵀ: a (C, C) table per head, no (B, S, n) q or k
            rows = u.rows(qi)  # only the rows of E the queries are made of (2 of them at the paper's slot N)
            if merged:
                TA = (self.W @ u.E[rows].T).transpose(-1, -2)  # (H, C', D): rows of E Wᵀ
            else:
                TA = u.tables(self.W_Q, bq, rows)  # (H, C', n)
            TA = TA if c is None else TA * c
            TB = u.E.expand(H, -1, -1) if merged else u.tables(self.W_K, bk)  # (H, C, n)
            G = TA.new_zeros(H, u.C, u.C).index_copy(1, rows, TA @ TB.transpose(-1, -2))  # (H, C, C) [query, key]
            Qc = u.coords(G.transpose(0, 1).reshape(u.C, H * u.C), qi)  # (B, nq, H·C)
            return u.keyed(Qc.view(*Qc.shape[:2], H, u.C).transpose(1, 2))  # (B, H, nq, S)
        slots = torch.arange(S, device=A.device)
        rotary = sp.scheme.KIND == "rotary"
        if rotary and merged:  # z_ij = (R_j u_j)ᵀ W (R_i u_i)
            u = Dense(sp.scheme.rotate(u.dense(), slots))
        D = A.shape[1]
        q = u.read(A.transpose(0, 1).reshape(D, H * n), qi)  # (B, nq, H·n)
        q = q.view(*q.shape[:2], H, n).transpose(1, 2)  # (B, H, nq, n)
        if merged:
            k = u.dense()[:, None]  # (B, 1, S, D)
        else:
            k = u.read(self.W_K.transpose(0, 1).reshape(D, H * n)).view(-1, S, H, n).transpose(1, 2)  # (B, H, S, n)
        if bq is not None:
            q, k = q + bq[:, None], k + bk[:, None]
        q = q if c is None else q * c
        if rotary and not merged:
            q, k = sp.scheme.rotate(q, slots if qi is None else qi), sp.scheme.rotate(k, slots)
        return q @ k.transpose(-1, -2)  # (B, H, nq, S)

    def forward(self, u, qi, norm):
        """u: the stream after LN; qi: query slots (None: all); norm: (S,) slot norms or None.
        Returns the pattern (B, H, nq, S), y (B, H, nq, D_v) and the written term."""
        sp, S = self.sp, u.S
        z = self.scores(u, qi, S)  # (B, H, nq, S)
        qs = torch.arange(S, device=z.device) if qi is None else qi  # (nq,) query slots
        if norm is not None:
            z = z / (norm[qs][:, None] * norm[None, :])
        mask = torch.zeros(len(qs), S, dtype=z.dtype, device=z.device).masked_fill_(
            qs[:, None] < torch.arange(S, device=qs.device), float("-inf"))  # (nq, S): key j > query i
        z = self.hook_attn_scores(z + mask)
        pattern = self.hook_pattern(torch.softmax(z, -1))  # (B, H, nq, S)
        y = pattern @ u.token_block(sp.Dv)[:, None]  # (B, H, nq, D_v)
        y = self.hook_z(y.transpose(1, 2)).transpose(1, 2)
        if not self.writes:
            return pattern, y, None
        B, H, nq, Dv = y.shape
        basis = (self.W_V @ self.W_O).reshape(H * Dv, sp.D)  # (H·D_v, D): y_k ↦ W_V,kᵀ y_k through W_O,k
        const = (self.b_V[:, None] @ self.W_O)[:, 0].sum(0) + self.b_O if sp.bias else None  # (D,)
        return pattern, y, (y.transpose(1, 2).reshape(B, nq, H * Dv), basis, const)


class MLP(nn.Module):
    def __init__(self, sp: TransformerSpec):
        super().__init__()
        self.W_in, self.W_out = _p(sp.D, sp.hidden, dtype=sp.dtype), _p(sp.hidden, sp.D, dtype=sp.dtype)
        if sp.bias:
            self.b_in, self.b_out = _p(sp.hidden, dtype=sp.dtype), _p(sp.D, dtype=sp.dtype)
        self.bias = sp.bias

    def forward(self, u):  # -> the written term ReLU(u W_in + b_in) W_out + b_out
        pre = u.read(self.W_in, const=self.b_in if self.bias else None)  # (B, S, hid)
        return F.relu(pre), self.W_out, self.b_out if self.bias else None


class Block(nn.Module):
    def __init__(self, sp: TransformerSpec, last: bool):
        super().__init__()
        self.sp = sp
        writes = not (last and sp.head != "unembed")  # the paper's heads read the last layer's y
        has_mlp = sp.mlp == "relu" and writes
        if sp.layernorm:
            self.ln1 = LayerNorm(sp.D).to(sp.dtype)
            if has_mlp:
                self.ln2 = LayerNorm(sp.D).to(sp.dtype)
        self.attn = Attention(sp, writes)
        if has_mlp:
            self.mlp = MLP(sp)
        self.hook_resid_post = HookPoint()

    def forward(self, h, qi, norm):
        sp = self.sp
        ln = lambda ln, h: Dense(ln(h.dense())) if sp.layernorm else h  # noqa: E731
        pattern, y, term = self.attn(ln(getattr(self, "ln1", None), h), qi, norm)
        if term is None:  # the paper's last layer: the head reads y
            return h, pattern, y
        h = (h if qi is None else h.at(qi)).write(*term, sp.residual)
        if hasattr(self, "mlp"):
            h = h.write(*self.mlp(ln(getattr(self, "ln2", None), h)), residual=True)
        return self.hook_resid_post(h), pattern, y


class Transformer(nn.Module):
    """The model of the module docstring. ``forward(tokens (B, T) long)`` returns f at the
    prediction slot, (B, K) ((B,) for bce), or (B, T[, K]) when ``spec.every``."""

    def __init__(self, spec: TransformerSpec):
        super().__init__()
        sp, dt = spec, spec.dtype
        self.spec, self.d, self.N = sp, sp.D, sp.N  # d, N: what models.gpt.init_gpt reads
        if sp.embed != "onehot":
            self.embed = nn.Module()
            self.embed.W_E = _p(*((sp.K, sp.d) if sp.embed == "learned" else (sp.d,)), dtype=dt)
        if getattr(sp.scheme, "LEARNED", False):
            self.pos_embed = nn.Module()
            self.pos_embed.W_pos = _p(sp.N, sp.Dt, dtype=dt)
        table = getattr(sp.scheme, "table", None)  # fixed rows p_i: (N, M) concatenated, (N, D_t) added
        self.register_buffer("P", table(sp.N, sp.Mp if sp.concat else sp.Dt, dt) if table else
                             torch.zeros(sp.N, 0, dtype=dt), persistent=False)
        # ‖x̃_i‖ as models.shicao.Geometry: √(1 + M/2) token slots, √(M/2) the empty query slot
        norm = torch.full((sp.N,), math.sqrt(1 + sp.Mp / 2) if sp.Mp else 1.0, dtype=torch.float64)
        if sp.layout == "slot" and sp.Mp:
            norm[-1] = math.sqrt(sp.Mp / 2)
        self.register_buffer("norm", norm.to(dt), persistent=False)
        self.hook_embed = HookPoint()
        self.blocks = nn.ModuleList(Block(sp, l == sp.layers - 1) for l in range(sp.layers))
        if sp.head != "unembed":
            self.head = nn.Module()
            self.head.V = _p(sp.heads, sp.K if sp.head == "linear" else sp.m, sp.Dv, dtype=dt)
            if sp.head == "relu":
                self.head.A = _p(sp.K, sp.m, dtype=dt)
                if sp.bias:
                    self.head.b, self.head.b_A = _p(sp.m, dtype=dt), _p(sp.K, dtype=dt)
        else:
            if sp.layernorm:
                self.ln_final = LayerNorm(sp.D).to(dt)
            self.unembed = nn.Module()
            out = () if losses.one_logit(sp.loss) else (sp.K,)
            if not self.tied:
                self.unembed.W_U = _p(sp.D, *out, dtype=dt)
            if losses.one_logit(sp.loss) or sp.bias:
                self.unembed.b_U = _p(*out, dtype=dt)
        self.hook_logits = HookPoint()

    tied = property(lambda self: self.spec.tie and self.spec.embed != "onehot")

    # ---- the model -------------------------------------------------------------------------
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self._run(tokens, all_queries=False)[0]

    def forward_with_patterns(self, tokens: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(f, [pattern of each layer])`` of one forward pass: (B, H, S, S) per layer, the
        last layer's rows only at the prediction slot(s) ((B, H, 1, S) unless ``every``)."""
        return self._run(tokens, all_queries=False)

    def patterns(self, tokens: torch.Tensor) -> torch.Tensor:
        """Attention patterns of every layer, (L, B, H, S, S) [query, key]. The forward's last
        layer computes only the prediction rows: those rows are its numbers bit for bit,
        the others (same maths, another round-off) come from a pass with every query."""
        with torch.no_grad():
            full = self._run(tokens, all_queries=True)[1]
            f, mine = self._run(tokens, all_queries=False)
            pred = self._pred(full[-1].shape[-1])
            if pred is not None:
                full[-1][:, :, pred] = mine[-1]
            return torch.stack(full)

    def _pred(self, S: int):
        """The prediction slot(s): slot N (slot layout) or the last token; None: every slot."""
        return None if self.spec.every else torch.tensor([S - 1], device=self.norm.device)

    def _run(self, tokens, all_queries: bool):
        """(f, [pattern of each layer]); all_queries: every query row in the last layer too
        (then no read-out: f is None)."""
        sp = self.spec
        s = self._slots(tokens)  # (B, S)
        S = s.shape[1]
        pred = self._pred(S)
        h = self.hook_embed(self._embed(s))
        patterns = []
        for l, block in enumerate(self.blocks):
            qi = pred if l == sp.layers - 1 and not all_queries else None
            h, pattern, y = block(h, qi, self.norm[:S] if sp.normalize and l == 0 else None)
            patterns.append(pattern)
        if all_queries:
            return None, patterns
        if sp.head == "unembed":
            u = Dense(self.ln_final(h.dense())) if sp.layernorm else h
            f = u.read(self.W_U, const=getattr(self.unembed, "b_U", None))  # (B, nq, K) | (B, nq, 1)
        else:
            f = torch.einsum("bhqd,hkd->bqk", y, self.head.V)  # (B, nq, K|m): Σ_k V_k X S_k
            if sp.head == "relu":
                f = F.relu(f + self.head.b if sp.bias else f) @ self.head.A.T
                f = f + self.head.b_A if sp.bias else f
            elif sp.residual:  # + the token block of h at the prediction slot
                f = f + h.token_block(sp.Dv)[:, pred if pred is not None else slice(None)]
        f = f[..., 0] if losses.one_logit(sp.loss) else f  # one logit
        return self.hook_logits(f if sp.every else f[:, 0]), patterns

    @property
    def W_U(self) -> torch.Tensor:
        """(D, K) or (D, 1): the read-out, W_E's transpose (or e) padded by zeros when tied."""
        sp = self.spec
        if not self.tied:
            W = self.unembed.W_U
            return W[:, None] if W.dim() == 1 else W
        W = self.embed.W_E.T if sp.embed == "learned" else self.embed.W_E[:, None]  # (D_t, K) | (d, 1)
        return torch.cat([W, W.new_zeros(sp.Mp, W.shape[1])]) if sp.Mp else W

    def _slots(self, tokens):
        sp = self.spec
        B, T = tokens.shape
        if sp.layout == "slot":
            if T != sp.N - 1:
                raise ValueError(f"tokens have {T} positions: the slot layout takes N-1 = {sp.N - 1}")
            return torch.cat([tokens, tokens.new_full((B, 1), sp.K)], 1)  # slot N: the empty token K
        if T > sp.N:
            raise ValueError(f"tokens have {T} positions: at most N = {sp.N}")
        return tokens

    def _embed(self, s):
        """x̃ as a stream: the factorised one (token rows, position rows) or dense (B, S, D)."""
        sp, S = self.spec, s.shape[1]
        if sp.embed == "onehot":
            tok = torch.eye(sp.K, dtype=sp.dtype, device=s.device)  # (K, K)
        elif sp.embed == "learned":
            tok = self.embed.W_E  # (K, d)
        else:
            tok = torch.tensor([[0.0], [1.0]], dtype=sp.dtype, device=s.device) * self.embed.W_E  # (2, d): x·e
        tok = torch.cat([tok, tok.new_zeros(1, sp.Dt)])  # (K+1, D_t): row K, the empty query slot
        if sp.factorised:
            E = torch.cat([torch.cat([tok, tok.new_zeros(sp.K + 1, sp.Mp)], 1),
                           torch.cat([tok.new_zeros(S, sp.Dt), self.P[:S]], 1)])  # (K+1+S, D)
            return Factorised(E, s, tok.new_zeros(s.shape[0], S, 0), sp.K + 1)
        x = tok[s]  # (B, S, D_t)
        if sp.concat:
            return Dense(torch.cat([x, self.P[:S].expand(s.shape[0], S, sp.Mp)], -1))
        if hasattr(self, "pos_embed"):  # added, learned
            return Dense(x + self.pos_embed.W_pos[:S])
        return Dense(x + self.P[:S] if sp.scheme.KIND == "added" else x)  # added fixed | rotary

    # ---- loss and predictive distribution -------------------------------------------------
    def loss(self, f, y, w=None, eps: float = 0.1) -> torch.Tensor:
        """Σ_b w_b ℓ(f_b, y_b) (w defaults to 1/B); the binary task's ℓ averages its T positions."""
        w = torch.full((f.shape[0],), 1.0 / f.shape[0], dtype=f.dtype, device=f.device) if w is None else w.to(f.dtype)
        per = losses.loss(self.spec.loss).per_sample(f, y, eps)  # losses/<loss>.py
        return (w * (per.mean(-1) if per.dim() == 2 else per)).sum()

    def probs(self, f, eps: float = 0.1) -> torch.Tensor:
        """The predictive distribution (..., K) of the loss (losses/<loss>.py): (f⁺ + ε)/Σ for
        log-eps (as metrics.kl_log_eps) and squared, softmax, [1-σ, σ] for bce."""
        return losses.loss(self.spec.loss).probs(f, eps)

    # ---- parameters --------------------------------------------------------------------------
    def tensors(self) -> dict[str, torch.Tensor]:
        """Named parameters (the names of the module docstring) for params.safetensors."""
        return {k: v.detach() for k, v in self.named_parameters()}

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        mine = dict(self.named_parameters())
        if set(tensors) != set(mine):
            raise ValueError(f"parameter names differ: missing {sorted(set(mine) - set(tensors))}, "
                             f"unexpected {sorted(set(tensors) - set(mine))}")
        for k, p in mine.items():
            if tuple(tensors[k].shape) != tuple(p.shape):
                raise ValueError(f"parameter {k} has shape {tuple(tensors[k].shape)}, this model's is {tuple(p.shape)}")
        with torch.no_grad():
            for k, p in mine.items():
                p.copy_(tensors[k])


def spec_from_config(cfg, K: int, N: int) -> TransformerSpec:
    """The spec of a run: cfg.model's keys (``config.py``; ``walkformer keys`` describes them)."""
    return TransformerSpec(**dataclasses.asdict(cfg.model), K=K, N=N, every=cfg.task.name == "binary",
                           dtype=torch.float64 if cfg.dtype == "float64" else torch.float32)
