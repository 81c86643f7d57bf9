"""The residual stream of the reference transformer (``transformer.py``), two ways.

``Factorised`` (concatenated positions, no LayerNorm): the stream at slot i is

    h_i = E[s_i] + E[K1 + i] + c_i · E[K1 + S :]          E: (C, D), C = K1 + S + r

a token row (K1 = K + 1 rows, the last one the empty query slot's zero token), a
position row (one per slot, i = 0..S-1) and r written terms with per-sequence
coefficients c (B, S, r). At layer 1, E = [[t_k, 0]; [0, p_i]] and r = 0: that is
x̃_i = [t_{s_i}; p_i] without ever building the dense (B, D, S) X̃ (D = K + M ≈ 1000 in
the paper, where S ≈ 100 and r ≈ 10). Every linear read h_i @ R is then a table
lookup, ``coords(E @ R)``: one (C, D) × (D, n) product shared by the batch plus
gathers, and a bilinear form h_i^T A B^T h_j is read from the (C, C) matrix
(E A)(E B)^T (``keyed``). A term an attention or MLP layer writes is (coefficient,
basis, constant): c_i · basis + const; the constant joins the position rows.

``Dense``: the stream as a (B, S, D) tensor (added positions, RoPE, or LayerNorm, which
is not linear and forces the dense form). The same methods, so the model reads the same.
"""

from __future__ import annotations

import torch


class Factorised:
    factorised = True

    def __init__(self, E: torch.Tensor, s: torch.Tensor, c: torch.Tensor, K1: int):
        self.E, self.s, self.c, self.K1 = E, s, c, K1  # (C, D), (B, S) long, (B, S, r)
        self.S = s.shape[1]

    @property
    def C(self) -> int:
        return self.E.shape[0]

    def rows(self, qi: torch.Tensor | None) -> torch.Tensor:
        """Indices of the rows of E that the slots ``qi`` are made of (all rows if None)."""
        if qi is None:
            return torch.arange(self.C, device=self.E.device)
        K1, S = self.K1, self.S
        return torch.cat([self.s[:, qi].flatten().unique(), K1 + qi, torch.arange(K1 + S, self.C, device=qi.device)])

    def tables(self, R: torch.Tensor, const: torch.Tensor | None = None, rows=None) -> torch.Tensor:
        """E[rows] @ R (..., C', n), with ``const`` (..., n) added to every position row:
        the table of the read h_i @ R + const (rows: default all)."""
        E = self.E if rows is None else self.E[rows]
        T = E @ R  # (..., C', n)
        if const is not None:
            idx = torch.arange(self.C, device=E.device) if rows is None else rows
            is_pos = ((idx >= self.K1) & (idx < self.K1 + self.S)).to(T.dtype)  # (C',)
            T = T + is_pos[:, None] * const[..., None, :]
        return T

    def coords(self, T: torch.Tensor, qi: torch.Tensor | None = None) -> torch.Tensor:
        """Σ of the rows of a table T (C, n) that make up slot i, for i in ``qi`` (default
        all): (B, nq, n)."""
        K1, S = self.K1, self.S
        s, c = (self.s, self.c) if qi is None else (self.s[:, qi], self.c[:, qi])  # (B, nq), (B, nq, r)
        pos = T[K1 : K1 + S] if qi is None else T[K1 + qi]  # (nq, n)
        out = T[s] + pos  # (B, nq, n)
        return out + c @ T[K1 + S :] if c.shape[-1] else out

    def read(self, R: torch.Tensor, qi=None, const=None) -> torch.Tensor:
        """h_i @ R (+ const) for the slots ``qi``, R (D, n): (B, nq, n)."""
        return self.coords(self.tables(R, const), qi)

    def keyed(self, Qc: torch.Tensor) -> torch.Tensor:
        """Σ_y Qc[..., y] a_j[y] for every key slot j, where a_j are slot j's coordinates
        (one-hot token row, one-hot position row, c_j): Qc (B, H, nq, C) -> (B, H, nq, S)."""
        K1, S = self.K1, self.S
        B, H, nq, _ = Qc.shape
        idx = self.s[:, None, None, :].expand(B, H, nq, S)  # (B, H, nq, S)
        z = Qc[..., :K1].gather(-1, idx) + Qc[..., K1 : K1 + S]  # (B, H, nq, S)
        if self.c.shape[-1]:
            z = z + Qc[..., K1 + S :] @ self.c[:, None].transpose(-1, -2)  # (B, H, nq, r) @ (B, 1, r, S)
        return z

    def token_block(self, Dv: int) -> torch.Tensor:
        """The first Dv coordinates of every h_i (the paper's X): (B, S, Dv)."""
        return self.coords(self.E[:, :Dv])

    def dense(self) -> torch.Tensor:
        return self.coords(self.E)  # (B, S, D)

    def at(self, qi: torch.Tensor) -> "Factorised":
        """The stream at the slots ``qi`` only."""
        K1, S = self.K1, self.S
        E = torch.cat([self.E[:K1], self.E[K1 + qi], self.E[K1 + S :]])
        return Factorised(E, self.s[:, qi], self.c[:, qi], K1)

    def write(self, coef, basis, const, residual: bool) -> "Factorised":
        """h + (coef · basis + const) if residual else the written term alone.
        coef (B, S, r'), basis (r', D), const (D,) or None."""
        K1, S, D = self.K1, self.S, self.E.shape[1]
        const = torch.zeros(D, dtype=self.E.dtype, device=self.E.device) if const is None else const
        if residual:
            E = torch.cat([self.E[:K1], self.E[K1 : K1 + S] + const, self.E[K1 + S :], basis])
            return Factorised(E, self.s, torch.cat([self.c, coef], -1), K1)
        E = torch.cat([torch.zeros_like(self.E[:K1]), const.expand(S, D), basis])
        return Factorised(E, self.s, coef, K1)


class Dense:
    factorised = False

    def __init__(self, h: torch.Tensor):
        self.h = h  # (B, S, D)
        self.S = h.shape[1]

    def read(self, R: torch.Tensor, qi=None, const=None) -> torch.Tensor:
        out = (self.h if qi is None else self.h[:, qi]) @ R  # (B, nq, n)
        return out if const is None else out + const

    def token_block(self, Dv: int) -> torch.Tensor:
        return self.h[..., :Dv]  # (B, S, Dv)

    def dense(self) -> torch.Tensor:
        return self.h

    def at(self, qi: torch.Tensor) -> "Dense":
        return Dense(self.h[:, qi])

    def write(self, coef, basis, const, residual: bool) -> "Dense":
        a = coef @ basis  # (B, S, D)
        a = a if const is None else a + const
        return Dense(self.h + a if residual else a)
