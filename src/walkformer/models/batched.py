"""Many Shi & Cao models trained at once: the fast path of ``shicao.py`` with a leading
model axis r = 1..R.

Runs that share every tensor shape (K, N, M, positions, head, training-set size, dtype)
but differ in seed, p, σ, η, ε ... are one batched model: V (R, K, K), per-model vectors
(R, ·), tokens (R, B, N-1). Model r computes what ``ShiCao`` computes for it,

    z_rbj = ũ_r[s_rbj] + c_rj,   exp(z_rbj) = E_tok[r, s_rbj] · E_pos[r, j]

with the same gradients (derivation in ``shicao.py``), in a few whole-batch operations
and no loop over models. Two rewrites make a step cheap:

- W's accumulated direction R_r = [Rk_r; P a_r] stays in the span of P (every gradient
  there is P (∂L/∂c ⊘ n)), so only a_r ∈ ℝ^N is kept and the position logits are
  c_r = c0_r + a_r Γ with the (N, N) matrix Γ = ‖x̃_N‖² PᵀP ⊘ n: one (R, N) × (N, N)
  product per step instead of two (M, N) products per model.
- The two passes over the tokens (C[r, b, k] = Σ_{j: s_rbj = k} E_pos[r, j], and the
  column sums Σ_b G[r, b, s_rbj] of the position gradient) run once for all models:
  a scatter and a gather over the (R, B, N-1) tokens, each sum in position order (for C)
  and in sequence order (for the columns), the same order for every token and every
  position, so Theorem 4.1's exact symmetry stays exact.
- *Shared data* (``Batches(..., shared=True)``: every model trains on the same
  sequences, e.g. one data seed and R initialisations, ``init.seed``): the two passes
  become products of the one (B·K, N-1) one-hot matrix X with (N-1, R) matrices,
  X Eᵀ and Xᵀ G (sparse, so the work per token is one R-vector add). These sums run in
  whatever order the sparse kernel picks, so equal sums are no longer guaranteed
  equal; the trainer uses them only when no model can sit at the symmetric point
  (random initialisation, σ > 0). The tests compare them with the exact passes.

Numbers agree with the single model to round-off (the tests ask 1e-6 in float64), not
bit for bit: the products above add in other orders than the single path.

A model whose separable softmax would underflow gets the direct (B, N) softmax for that
step (``ShiCao._direct``, here for the affected models only).
"""

from __future__ import annotations

import warnings

import torch

from .shicao import Batch, Geometry, ShiCao, sum_rows

_sum_rows = torch.func.vmap(sum_rows)  # (R, B, J) -> (R, J), same order for every column
CACHE_TOKENS = 1 << 17  # tokens per gather block in Batches.column_sums (~1 MB of float64)


def _csr(x: torch.Tensor) -> torch.Tensor:
    with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        return x.to_sparse_csr()


class Batches:
    """R batches of sequences, one per model: tokens (R, B, N-1), y (R, B), w (R, B).
    ``shared=True``: all R are ``batches[0]``
    (stored once, expanded), and the token passes use its one-hot matrix (see module doc)."""

    def __init__(self, batches: list[Batch], device: str | torch.device = "cpu", shared: bool = False):
        self.parts = batches  # kept on the CPU, for error messages
        R, (B, J), K = len(batches), batches[0].tokens.shape, batches[0].K
        self.K, self.shared = K, shared
        if shared:
            b = batches[0]
            assert all(x is b for x in batches), "shared batches must be one Batch"
            put = lambda t: t.to(device)[None].expand(R, *t.shape)  # noqa: E731
        else:
            put = lambda t: torch.stack(t).to(device)  # noqa: E731
            b = None
        parts = (lambda name: getattr(b, name)) if shared else (lambda name: [getattr(x, name) for x in batches])
        self.tokens = put(parts("tokens"))  # (R, B, J)
        self.y, self.w = put(parts("y")), put(parts("w"))  # (R, B)
        pad = (-J) % 16  # see sum_rows: a multiple of 16 columns, the pad columns gather junk that is dropped
        self.tok16 = torch.nn.functional.pad(self.tokens, (0, pad)) if pad and not shared else self.tokens  # (R, B, J16)
        if shared:
            X = torch.zeros(B, K, J, dtype=b.w.dtype, device=device)
            X.scatter_(1, self.tokens[0][:, None, :], 1.0)  # (B, K, J) one-hot
            self.X, self.XT = _csr(X.reshape(B * K, J)), _csr(X.reshape(B * K, J).T.contiguous())  # (BK, J), (J, BK)

    def __len__(self) -> int:
        return self.tokens.shape[1]

    def token_sums(self, E: torch.Tensor) -> torch.Tensor:
        """C[r, b, k] = Σ_{j: s_rbj = k} E[r, j] for E (R, J): (R, B, K), summed in position order."""
        R, B, J = self.tokens.shape
        if self.shared:
            return (self.X @ E.T.contiguous()).reshape(B, self.K, R).permute(2, 0, 1).contiguous()  # (R, B, K)
        C = torch.zeros(R, B, self.K, dtype=E.dtype, device=E.device)
        return C.scatter_add_(2, self.tokens, E[:, None, :].expand(R, B, J))  # (R, B, K)

    def column_sums(self, G: torch.Tensor) -> torch.Tensor:
        """Σ_b G[r, b, s_rbj] for every position j, (R, J), from G (R, B, K): a gather and
        a sum over sequences, in one order for every position (``shicao._column_sums``)."""
        R, B, J = self.tokens.shape
        if self.shared:
            return (self.XT @ G.permute(1, 2, 0).reshape(B * self.K, R)).T  # (R, J)
        out = torch.empty(R, self.tok16.shape[2], dtype=G.dtype, device=G.device)  # (R, J16)
        step = R if G.is_cuda else max(1, CACHE_TOKENS // (B * out.shape[1]))  # a few models at a time
        for s in range(0, R, step):  # the (r, B, J16) gathered block stays in cache: 3x faster here
            torch.sum(G[s : s + step].gather(2, self.tok16[s : s + step]), 1, out=out[s : s + step])
        return out[:, :J]  # (R, J)


def _rows(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """x[r, idx[r, b]] for a (R, K, ...) table and (R, B) indices -> (R, B, ...)."""
    R, K = x.shape[:2]
    flat = idx + K * torch.arange(R, device=idx.device)[:, None]  # (R, B)
    return x.reshape(R * K, *x.shape[2:])[flat]


def _index_add(shape, idx: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """out[r, idx[r, b]] += src[r, b] (in b order, as ``index_add_`` does for one model)."""
    R, K = shape[:2]
    flat = (idx + K * torch.arange(R, device=idx.device)[:, None]).reshape(-1)  # (R*B,)
    out = torch.zeros(R * K, *shape[2:], dtype=src.dtype, device=src.device)
    return out.index_add_(0, flat, src.reshape(-1, *shape[2:])).reshape(shape)


def load_state(m: ShiCao, V, A, W0q, c0, Rk, a) -> ShiCao:
    """Give a :class:`ShiCao` these parameters: W's direction as (Rk, a) with
    R = [Rk; P a], and the position logits of W0 as c0."""
    m.V, m.A, m.W0q, m.c0, m.Rk, m.a, m._cache = V, A, W0q, c0, Rk, a, None
    return m


class BatchedShiCao:
    """R models of one :class:`Geometry`.

    **Arguments:**
    - `geo`: the shared geometry (on the CPU).
    - `params`: R dicts V, A (relu head), W0q = W0 x̃_N (D,): the initial parameters
      (:func:`walkformer.models.init_params`, W0 reduced to what training needs).
    - `device`: where the batched tensors live.
    """

    def __init__(self, geo: Geometry, params: list[dict], device: str | torch.device = "cpu"):
        self.cpu_geo, K, dt = geo, geo.K, geo.dtype
        self.P, self.n = geo.P.to(device), geo.n.to(device)  # (M, N), (N,)
        self.gram = geo.gram.to(device)  # (N, N) Γ = ‖x̃_N‖² PᵀP ⊘ n: c = c0 + a Γ
        stack = lambda ts: torch.stack(ts).to(device)  # noqa: E731
        self.V = stack([p["V"].clone() for p in params])  # (R, K|m, K)
        self.A = stack([p["A"].clone() for p in params]) if "A" in params[0] else None  # (R, K, m)
        self.W0q = stack([p["W0q"] for p in params])  # (R, D)
        # position logits of W0, per model as ShiCao computes them (once)
        self.c0 = stack([(p["W0q"][K:] @ geo.P) / geo.n for p in params])  # (R, N)
        self.Rk = torch.zeros(len(params), K, dtype=dt, device=device)  # (R, K) token part of R
        self.a = torch.zeros(len(params), geo.N, dtype=dt, device=device)  # (R, N) R_pos = P a
        self.fallbacks = torch.zeros(len(params), dtype=torch.long)
        self.active = torch.ones(len(params), dtype=torch.bool, device=device)  # stopped models get no fallback

    def __len__(self) -> int:
        return self.V.shape[0]

    def single(self, r: int) -> ShiCao:
        """Model r as a plain CPU :class:`ShiCao` (W0 itself is not kept)."""
        m = object.__new__(ShiCao)
        m.geo, m.W0, m.fallbacks = self.cpu_geo, None, 0
        A = self.A[r].cpu() if self.A is not None else None
        return load_state(m, self.V[r].cpu(), A, self.W0q[r].cpu(), self.c0[r].cpu(), self.Rk[r].cpu(),
                          self.a[r].cpu())

    def scores(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(ũ, c) of every model: (R, K) token logits and (R, N) position logits."""
        g = self.cpu_geo
        ut = (self.W0q[:, : g.K] + g.qq * self.Rk) / self.n[0]  # (R, K)
        return ut, self.c0 + self.a @ self.gram  # (R, K), (R, N)

    def _attend(self, b: Batches):
        """The separable softmax of ``ShiCao._separable`` for all models (one shift per
        model: its largest token logit that occurs), and the direct softmax for the
        active models whose sums would underflow (``direct``: their indices, S, ...)."""
        ut, c = self.scores()
        Ep = torch.exp(c - c.max(1, keepdim=True).values)  # (R, N)
        C = b.token_sums(Ep[:, :-1])  # (R, B, K)
        m = torch.clamp(ut.max(1).values, min=0.0)  # (R,) over all tokens, as ShiCao; slot N has logit 0
        Et = torch.exp(ut - m[:, None])  # (R, K)
        num = C * Et[:, None, :]  # (R, B, K) = Z h
        sN = Ep[:, -1] * torch.exp(-m)  # (R,) unnormalised weight of slot N
        Z = num.sum(2) + sN[:, None]  # (R, B)
        att = {"h": num / Z[:, :, None], "S_N": sN[:, None] / Z, "Ep": Ep, "Et": Et, "Z": Z}
        bad = ~(Z > torch.finfo(Z.dtype).tiny / torch.finfo(Z.dtype).eps).all(1) & self.active  # (R,)
        idx = torch.nonzero(bad).flatten()
        if len(idx):  # ShiCao._direct, for those models only
            self.fallbacks[idx.cpu()] += 1
            tok = b.tokens[idx]  # (r, B, J)
            zt = torch.gather(ut[idx][:, None, :].expand(-1, len(b), -1), 2, tok)  # (r, B, J)
            z = torch.cat([zt + c[idx, None, :-1], c[idx, None, -1:].expand(-1, len(b), 1)], 2)  # (r, B, N)
            S = torch.softmax(z, dim=2)  # (r, B, N)
            att["h"][idx] = torch.zeros_like(att["h"][idx]).scatter_add_(2, tok, S[:, :, :-1])
            att["S_N"][idx] = S[:, :, -1]
            att["direct"] = (idx, tok, S)
        return att

    def _head(self, h):
        pre = h @ self.V.transpose(1, 2)  # (R, B, K|m)
        if self.A is None:
            return {"f": pre}
        return {"pre": pre, "f": torch.relu(pre) @ self.A.transpose(1, 2)}  # (R, B, K)

    def forward(self, b: Batches) -> dict[str, torch.Tensor]:
        """``ShiCao.forward`` of every model: h (R, B, K), f (R, B, K), mean attention (R, N)."""
        att = self._attend(b)
        G = att["Et"][:, None, :] / att["Z"][:, :, None]  # (R, B, K)
        attention = torch.cat([att["Ep"][:, :-1] * b.column_sums(G), att["S_N"].sum(1, keepdim=True)], 1) / len(b)
        if "direct" in att:
            idx, _, S = att["direct"]
            attention[idx] = S.mean(1)
        return {"h": att["h"], "f": self._head(att["h"])["f"], "attention": attention}

    def grads(self, b: Batches, eps: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``ShiCao.grads`` of every model (``eps`` (R,) the loss constants): losses (R,)
        and gradients {V, A?, Rk (R, K), a (R, N)}: ∇_W L_r = [Rk_r; P a_r] ⊗ x̃_N."""
        g = self.cpu_geo
        att = self._attend(b)
        h = att["h"]  # (R, B, K)
        out = {}
        if self.A is None:  # only f_y = V[y] · h is needed (the full f costs a (B, K) x (K, K) product)
            Vy = _rows(self.V, b.y)  # (R, B, K)
            fy = (h * Vy).sum(2)  # (R, B)
        else:
            hd = self._head(h)
            fy = hd["f"].gather(2, b.y[:, :, None])[:, :, 0]  # (R, B)
        zy = fy + eps[:, None]  # (R, B)
        loss = -(b.w * torch.log(zy)).sum(1)  # (R,)
        gz = -b.w / zy  # (R, B) dL/df_y
        if self.A is None:
            out["V"] = _index_add(self.V.shape, b.y, gz[:, :, None] * h)  # (R, K, K)
            dh = gz[:, :, None] * Vy  # (R, B, K)
            abar = gz * fy  # (R, B) Σ_j S_j a_j = h · dh, with a_j = dh[s_j] and a_N = 0
        else:
            pre = hd["pre"]
            out["A"] = _index_add(self.A.shape, b.y, gz[:, :, None] * torch.relu(pre))  # (R, K, m)
            dpre = gz[:, :, None] * _rows(self.A, b.y) * (pre > 0)  # (R, B, m)
            out["V"] = dpre.transpose(1, 2) @ h  # (R, m, K)
            dh = dpre @ self.V  # (R, B, K)
            abar = (h * dh).sum(2)  # (R, B)
        diff = dh - abar[:, :, None]  # (R, B, K)
        d_ut = (h * diff).transpose(1, 2).contiguous().sum(2)  # (R, K): each token's sum in one order
        G = att["Et"][:, None, :] * diff / att["Z"][:, :, None]  # (R, B, K)
        dc = torch.cat([att["Ep"][:, :-1] * b.column_sums(G), -(att["S_N"] * abar).sum(1, keepdim=True)], 1)  # (R, N)
        if "direct" in att:  # dz = S (a - ā)
            idx, tok, S = att["direct"]
            a = torch.cat([dh[idx].gather(2, tok), torch.zeros_like(S[:, :, -1:])], 2)  # (r, B, N)
            dc[idx] = _sum_rows(S * (a - abar[idx][:, :, None]))
        out["Rk"] = d_ut / g.n[0]  # (R, K) dL/du_tok
        out["a"] = dc / self.n  # (R, N) dL/du_pos = P a
        return loss, out

    def step(self, grads: dict[str, torch.Tensor], eta: torch.Tensor, active: torch.Tensor) -> None:
        """θ_r ← θ_r − η_r ∇θ_r for the active models; the others keep their parameters."""
        for name in ("V", "A", "Rk", "a"):
            p = getattr(self, name)
            if p is None:
                continue
            e = eta.reshape(-1, *[1] * (p.dim() - 1))
            keep = active.reshape(-1, *[1] * (p.dim() - 1))
            setattr(self, name, torch.where(keep, p - e * grads[name], p))
