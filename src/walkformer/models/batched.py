"""Many Shi & Cao models trained at once: the fast path of ``shicao.py`` with a leading
model axis r = 1..R.

Runs that share every tensor shape (K, N, M, positions, head, training-set size, dtype)
but differ in seed, p, σ, η, ε ... are one batched model: V (R, K, K), R-vectors
(R, D), tokens (R, B, N-1). Model r computes exactly what ``ShiCao`` computes for it:

    z_rj = ũ_r[s_rbj] + c_rj,   exp(z_rj) = E_tok[r, b, s_rbj] · E_pos[r, j]

and the same gradients (see the derivation in ``shicao.py``). Every reduction is done
in the order the single model uses, so the numbers are the same bit for bit on this
machine (the tests ask for 1e-6;
the products with P are the single path's matrix-vector products, one per model, and
sums over positions use ``sum_rows``, vmapped, so Theorem 4.1's exact symmetry stays exact).

What is per model (rows of one batch) and what is shared:

- shared: :class:`Geometry` (P, the query, the scales), shapes, ``steps``, ``every``;
- per model: parameters, data, η and ε (tensors of shape (R,)).

A model whose softmax would underflow in the separable form is computed by the single
``ShiCao`` for that step (its ``_direct`` fallback), so it too matches its solo run.
"""

from __future__ import annotations

import torch

import copy

from .shicao import Batch, Geometry, ShiCao, sum_rows

_sum_rows = torch.func.vmap(sum_rows)  # (R, B, J) -> (R, J), same order for every column


class Batches:
    """R batches of sequences, one per model: tokens (R, B, N-1), y (R, B), w (R, B)."""

    def __init__(self, batches: list[Batch], device: str | torch.device = "cpu"):
        self.parts = batches  # kept on the CPU, for the single-model fallbacks
        self.tokens = torch.stack([b.tokens for b in batches]).to(device)  # (R, B, N-1)
        self.y = torch.stack([b.y for b in batches]).to(device)  # (R, B)
        self.w = torch.stack([b.w for b in batches]).to(device)  # (R, B)
        self.present = torch.stack([b.present for b in batches]).to(device)  # (R, B, K)

    def __len__(self) -> int:
        return self.tokens.shape[1]


def _per_model(fn, *xs) -> torch.Tensor:
    """torch.stack([fn(x_1[r], x_2[r], ...)]): the single model's own BLAS call per model.
    A batched gemm rounds differently from R separate ones, and BLAS kernels round
    differently for operands that are not 64-byte aligned (a slice x[r] often is not),
    so unaligned slices are copied first."""
    aligned = lambda t: t if t.data_ptr() % 64 == 0 else t.clone()  # noqa: E731
    return torch.stack([fn(*map(aligned, parts)) for parts in zip(*xs)])


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


class BatchedShiCao:
    """R models of one :class:`Geometry`, built from R single models' parameters.

    **Arguments:**
    - `geo`: the shared geometry.
    - `models`: R freshly initialised :class:`ShiCao` (their V, A, W0 x̃_N and R are stacked).
    - `device`: where the batched tensors live; metrics and the rare single-model
      fallbacks are computed on the CPU copy (on the CPU itself nothing is copied).
    """

    def __init__(self, geo: Geometry, models: list[ShiCao], device: str | torch.device = "cpu"):
        self.cpu_geo, self.geo = geo, copy.copy(geo)
        for name in ("P", "n", "q"):
            setattr(self.geo, name, getattr(geo, name).to(device))
        stack = lambda ts: torch.stack(ts).to(device)  # noqa: E731
        self.V = stack([m.V for m in models])  # (R, K|m, K)
        self.A = stack([m.A for m in models]) if models[0].A is not None else None  # (R, K, m)
        self.W0q = stack([m.W0q for m in models])  # (R, D)
        self.R = stack([m.R for m in models])  # (R, D)
        self.fallbacks = torch.zeros(len(models), dtype=torch.long)
        self.active = torch.ones(len(models), dtype=torch.bool)  # stopped (failed) models get no fallback

    def __len__(self) -> int:
        return self.V.shape[0]

    def single(self, r: int) -> ShiCao:
        """Model r as a plain CPU :class:`ShiCao` (sharing storage on the CPU; W0 itself is not kept)."""
        m = object.__new__(ShiCao)
        m.geo, m.W0, m.fallbacks, m._cache = self.cpu_geo, None, 0, None
        m.V, m.W0q, m.R = self.V[r].cpu(), self.W0q[r].cpu(), self.R[r].cpu()
        m.A = self.A[r].cpu() if self.A is not None else None
        return m

    @property
    def u(self) -> torch.Tensor:
        return self.W0q + self.R * self.geo.qq  # (R, D)

    def _scores(self):
        g, u = self.geo, self.u
        # one matrix-vector product per model, the very call of Geometry.scores: a batched
        # gemm rounds differently, and sin positions amplify round-off (Fig. 5)
        c = _per_model(lambda ur: ur @ g.P, u[:, g.K :]) / g.n  # (R, N)
        return u[:, : g.K] / g.n[0], c  # (R, K), (R, N)

    def _attend(self, b: Batches):
        """The separable softmax of ``ShiCao._separable`` for all models; ``ok`` (R,)
        marks the models whose rows did not underflow."""
        ut, c = self._scores()
        R, B, K = b.present.shape
        Ep = torch.exp(c - c.max(1, keepdim=True).values)  # (R, N)
        C = torch.zeros(R, B, K, dtype=Ep.dtype, device=Ep.device)  # (R, B, K), summed in position order
        C.scatter_add_(2, b.tokens, Ep[:, None, :-1].expand(R, B, -1))
        zt = torch.where(b.present, ut[:, None, :], -torch.inf)  # (R, B, K)
        mb = torch.clamp(zt.max(2).values, min=0.0)  # (R, B)
        Et = torch.exp(zt - mb[:, :, None])  # (R, B, K)
        num = C * Et  # (R, B, K)
        sN = Ep[:, -1:] * torch.exp(-mb)  # (R, B)
        Z = num.sum(2) + sN  # (R, B)
        ok = (Z > torch.finfo(Z.dtype).tiny / torch.finfo(Z.dtype).eps).all(1).cpu()  # (R,)
        return {"h": num / Z[:, :, None], "S_N": sN / Z, "Ep": Ep, "Et": Et, "Z": Z, "ok": ok}

    def _head(self, h):
        pre = _per_model(lambda hr, Vr: hr @ Vr.T, h, self.V)  # (R, B, K|m)
        if self.A is None:
            return {"f": pre}
        return {"pre": pre, "f": _per_model(lambda x, Ar: torch.relu(x) @ Ar.T, pre, self.A)}  # (R, B, K)

    def forward(self, b: Batches) -> list[dict[str, torch.Tensor]]:
        """``ShiCao.forward`` of every model: a list of R dicts h (B, K), f (B, K), attention (N,)."""
        att = self._attend(b)
        hd = self._head(att["h"])
        G = att["Et"] / att["Z"][:, :, None]  # (R, B, K)
        cols = _sum_rows(G.gather(2, b.tokens))  # (R, N-1)
        attention = torch.cat([att["Ep"][:, :-1] * cols, att["S_N"].sum(1, keepdim=True)], 1) / len(b)  # (R, N)
        out = []
        h, f, attention = att["h"].cpu(), hd["f"].cpu(), attention.cpu()
        for r in range(len(self)):
            if bool(att["ok"][r]) or not bool(self.active[r]):
                out.append({"h": h[r], "f": f[r], "attention": attention[r]})
            else:  # the single model's direct fallback
                self.fallbacks[r] += 1
                out.append(self.single(r).forward(b.parts[r]))
        return out

    def grads(self, b: Batches, eps: list[float]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``ShiCao.grads`` of every model (``eps[r]`` its loss constant): losses (R,)
        and gradients with a leading R axis."""
        g = self.geo
        eps_t = torch.tensor(eps, dtype=self.V.dtype, device=self.V.device)  # (R,)
        att = self._attend(b)
        h = att["h"]  # (R, B, K)
        hd = self._head(h)
        R, B, K = h.shape
        zy = hd["f"].gather(2, b.y[:, :, None])[:, :, 0] + eps_t[:, None]  # (R, B)
        loss = -(b.w * torch.log(zy)).sum(1)  # (R,)
        gz = -b.w / zy  # (R, B)
        out = {}
        if self.A is None:
            out["V"] = _index_add(self.V.shape, b.y, gz[:, :, None] * h)  # (R, K, K)
            dh = gz[:, :, None] * _rows(self.V, b.y)  # (R, B, K)
        else:
            pre = hd["pre"]
            out["A"] = _index_add(self.A.shape, b.y, gz[:, :, None] * torch.relu(pre))  # (R, K, m)
            dpre = gz[:, :, None] * _rows(self.A, b.y) * (pre > 0)  # (R, B, m)
            out["V"] = _per_model(lambda d, hr: d.T @ hr, dpre, h)  # (R, m, K)
            dh = _per_model(torch.matmul, dpre, self.V)  # (R, B, K)
        abar = (h * dh).sum(2)  # (R, B)
        d_ut = _sum_rows(h * (dh - abar[:, :, None]))  # (R, K), as ShiCao.grads
        G = att["Et"] * (dh - abar[:, :, None]) / att["Z"][:, :, None]  # (R, B, K)
        dc = torch.cat([att["Ep"][:, :-1] * _sum_rows(G.gather(2, b.tokens)),
                        -(att["S_N"] * abar).sum(1, keepdim=True)], 1)  # (R, N)
        dpos = _per_model(lambda x: g.P @ x, dc / g.n)  # (R, M), as in ShiCao.grads
        out["R"] = torch.cat([d_ut / g.n[0], dpos], 1)  # (R, D)
        for r in torch.nonzero(~att["ok"] & self.active).flatten().tolist():  # the single model's fallback
            self.fallbacks[r] += 1
            lr, gr = self.single(r).grads(b.parts[r], eps[r])
            loss[r] = lr
            for k in out:
                out[k][r] = gr[k].to(out[k].device)
        return loss, out

    def step(self, grads: dict[str, torch.Tensor], eta: torch.Tensor, active: torch.Tensor) -> None:
        """θ_r ← θ_r − η_r ∇θ_r for the active models; the others keep their parameters."""
        for name in ("V", "A", "R"):
            p = getattr(self, name)
            if p is None:
                continue
            e = eta.to(p.device).reshape(-1, *[1] * (p.dim() - 1))
            keep = active.to(p.device).reshape(-1, *[1] * (p.dim() - 1))
            setattr(self, name, torch.where(keep, p - e * grads[name], p))
