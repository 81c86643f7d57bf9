"""The one-layer transformer of Shi & Cao, eq. (2.1), with hand-written gradients.

    f(X) = V X S(X̃^T W x̃_N),    X̃ = [X; P],   X = [x_1 .. x_{N-1}, 0]

S is the softmax over all N slots (slot N has a zero value column), W is the merged
key-query matrix, there is no output softmax and no 1/√d. The loss (2.2) is
L = E[−log(e_y^T f + ε)], trained by gradient descent (2.3).

Why this is fast (and exact): the query x̃_N = [0; p_N] is the same for every
sequence, so only u = W x̃_N is ever needed, and every gradient of W is an outer
product r x̃_N^T. Hence W^(t) = W^(0) + R^(t) x̃_N^T with a single accumulated vector
R, and u^(t) = W^(0) x̃_N + R^(t) ‖x̃_N‖². The logits split into a token part and a
position part that is shared by the whole batch:

    z_j = (u_tok[s_j] + p_j^T u_pos) / n_j,    z_N = p_N^T u_pos / n_N

(n_j = ‖x̃_j‖ with ``normalize`` and 1 otherwise), so a step costs O(B N + M N) and
never builds the dense (K+M)×N matrix X̃ of a sample. ``dense.py`` keeps the
straightforward autograd implementation to check this one against.

By default ``ShiCao`` runs each step as one C call (``ops/shicao_kernel.py``: the same
maths, ~3x faster than these ~100 torch operations); the torch code below is the fallback
(no C compiler, ``WALKFORMER_OPS=reference``, an underflowing batch) and the reference
the tests compare the kernel with.
"""

from __future__ import annotations

import math

import torch

from .. import positions
from ..ops import shicao_kernel


def positional(pos: str, M: int, N: int, dtype=torch.float64) -> torch.Tensor:
    """Positional embeddings P = [p_1 .. p_N], shape (M, N), of a concatenated scheme
    (``positions/sin.py``: [p_i]_j = sin(π i j / M); ``onehot.py``: p_i = √(M/2) e_i;
    ``none.py``: M = 0). This model needs ‖p_j‖² = M/2 for every j (``paths.py`` sends
    only these three here)."""
    if positions.kind(pos) != "concatenated":
        raise ValueError(f"model.pos={pos!r}: expected a concatenated scheme ({', '.join(positions.of_kind('concatenated'))})")
    scheme = positions.scheme(pos)
    return scheme.table(N, M if "model.M" in scheme.USES else 0, dtype).T.contiguous()  # (M, N)


class Geometry:
    """What the data fixes: positions P, the query q = x̃_N and the softmax scales n_j."""

    def __init__(self, K: int, N: int, pos: str, M: int, normalize: bool, dtype=torch.float64):
        self.K, self.N, self.normalize, self.dtype = K, N, normalize, dtype
        self.P = positional(pos, M, N, torch.float64)  # (M, N)
        self.M = self.P.shape[0]
        # ‖p_j‖² = M/2 for every j (exactly for onehot, in exact arithmetic for sin), so
        # the scales are the exact norms: √(1 + M/2) for a token column, √(M/2) for the
        # query. One value for all j < N keeps the logits separable (token + position).
        n = torch.ones(N, dtype=torch.float64)
        if normalize and self.M > 0:
            n[:-1] = math.sqrt(1.0 + M / 2)
            n[-1] = math.sqrt(M / 2)
        q = torch.cat([torch.zeros(K, dtype=torch.float64), self.P[:, -1]]) / n[-1]  # (K+M,)
        self.n = n.to(dtype)
        self.q = q.to(dtype)
        self.qq = float(q @ q)  # ‖x̃_N‖² (after normalisation)
        # c = (u_pos P) ⊘ n with u_pos = W0 x̃_N + ‖x̃_N‖² P a: the (N, N) matrix ‖x̃_N‖² PᵀP ⊘ n,
        # of the P this dtype stores (float32 sin columns are ~1e-7 off orthogonal, and that
        # round-off is what breaks Theorem 4.1's symmetry: a float64 PᵀP would hide it)
        Pd = self.P.to(dtype).double()  # (M, N)
        self.gram = (self.qq * (Pd.T @ Pd) / n[None, :]).to(dtype)  # (N, N)
        self.P = self.P.to(dtype)

    def scores(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Split the logits z_j = x̃_j^T u / n_j into a token part ũ (K,) and a position
        part c (N,): z_j = ũ[s_j] + c_j for j < N and z_N = c_N."""
        return u[: self.K] / self.n[0], (u[self.K :] @ self.P) / self.n  # (K,), (N,)

    def dense_inputs(self, tokens: torch.Tensor) -> torch.Tensor:
        """The dense X̃ / n of each sequence, (B, K+M, N): what the fast path avoids."""
        B = tokens.shape[0]
        X = torch.zeros(B, self.K, self.N, dtype=self.dtype)
        X.scatter_(1, tokens[:, None, :], 1.0)  # (B, K, N); column N stays 0
        Xt = torch.cat([X, self.P.expand(B, -1, -1)], 1)  # (B, K+M, N)
        return Xt / self.n


def init_params(geo: Geometry, scheme: str, sigma: float, head: str, m: int, gen: torch.Generator) -> dict:
    """Zero or N(0, σ²) parameters. Gaussian draws are float64 then cast, so both dtypes
    start from the same numbers. Returns V, W0 (only if nonzero), A (relu head)."""
    K, D = geo.K, geo.K + geo.M
    rows = m if head == "relu" else K
    shapes = {"V": (rows, K), "W0": (D, D)} | ({"A": (K, m)} if head == "relu" else {})
    out = {}
    for name, shape in shapes.items():
        if scheme == "gaussian" and sigma > 0:
            out[name] = (sigma * torch.randn(*shape, generator=gen, dtype=torch.float64)).to(geo.dtype)
        elif name != "W0":
            out[name] = torch.zeros(*shape, dtype=geo.dtype)
    return out


class Batch:
    """Sequences with their labels and loss weights.

    `tokens` (B, N-1) long, `y` (B,) long, `w` (B,) loss weights summing to 1
    (1/B for sampled data, path probabilities for the exact population). The fast path
    works sequence-last, (K, B), so that every per-sequence reduction over the K tokens
    runs along contiguous memory; its two passes over positions read ``tok16``.
    """

    def __init__(self, tokens: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None, K: int, dtype):
        B = tokens.shape[0]
        self.K, self.tokens, self.y = K, tokens, y
        self.w = (w if w is not None else torch.full((B,), 1.0 / B, dtype=torch.float64)).to(dtype)
        pad = (-tokens.shape[1]) % 16  # see sum_rows: a multiple of 16 columns
        self.tok16 = torch.nn.functional.pad(tokens, (0, pad)) if pad else tokens  # (B, J16)
        self.J = tokens.shape[1]  # N-1
        self._truth = None  # P(y | x) of each sequence, filled by metrics.evaluate
        self._joined = None  # (probe, this batch and the probe side by side)

    def joined(self, probe: "Batch") -> "Batch":
        """This batch and ``probe`` as one batch (B + B' sequences), cached for a fixed probe."""
        if self._joined is None or self._joined[0] is not probe:
            both = object.__new__(Batch)
            both.K, both.J = self.K, self.J
            both.tok16 = torch.cat([self.tok16, probe.tok16], 0)  # (B + B', J16)
            both.tokens = both.tok16  # only its length is used
            self._joined = (probe, both)
        return self._joined[1]

    def __len__(self) -> int:
        return self.tokens.shape[0]


def _column_sums(G: torch.Tensor, b: Batch) -> torch.Tensor:
    """Σ_b G[s_bj, b] for every position j, (N-1,), from a sequence-last G (K, B).

    Not ``onehot(X) @ G``: a BLAS product splits each sum over SIMD lanes by a flat index
    that differs between positions, so positions that are equal in exact arithmetic get
    different round-off, and at Theorem 4.1's symmetric point that round-off alone breaks
    the symmetry. A gather to (B, J16) followed by a dim-0 sum (as :func:`sum_rows`: J16
    a multiple of 16 columns, the pad columns gather junk that is dropped) adds the same
    numbers in the same order for every position, so exact symmetry stays exact. (Gathering
    along the last axis of a (B, K) table is ~3x faster than along dim 0 of (K, B).)
    """
    return _gathered(G, b).sum(0)[: b.J]  # (N-1,)


def _gathered(G: torch.Tensor, b: Batch) -> torch.Tensor:
    """G[s_bj, b] laid out (B, J16), J16 = N-1 padded to a multiple of 16 (junk in the pad)."""
    return G.T.contiguous().gather(1, b.tok16)  # (B, J16)


def sum_rows(x: torch.Tensor) -> torch.Tensor:
    """x.sum(0) with the same summation order for every column.

    torch vectorises a dim-0 sum across columns and finishes the columns that do not
    fill a SIMD register with another loop, whose round-off differs; equal columns
    would then get unequal sums. Zero-padding to a multiple of 16 columns avoids that.
    """
    n = x.shape[1]
    pad = (-n) % 16
    if pad:
        x = torch.nn.functional.pad(x, (0, pad))
    return x.sum(0)[:n]


def all_finite(loss: float, grads: dict[str, torch.Tensor]) -> bool:
    """Whether the loss and every gradient entry are finite (torch; any model's grads)."""
    return math.isfinite(loss) and bool(torch.isfinite(torch.cat([g.reshape(-1) for g in grads.values()])).all())


class ShiCao:
    """Fast path: parameters V (and A), W kept as W0 + R x̃_N^T.

    With z_j = ũ[s_j] + c_j the softmax factorises, exp(z_j) = E_tok[s_j] · E_pos[j], so

        Z h = C ⊙ E_tok,   C[k, b] = Σ_{j<N: s_bj = k} E_pos[j]

    and forward and backward cost two passes over the (B, N-1) tokens plus O(K·B) work.

    Two more savings. (1) R's position part stays in the span of P (every gradient
    there is P (∂L/∂c ⊘ n)), so it is kept as R_pos = P a with a ∈ ℝ^N and the position
    logits are c = c₀ + ‖x̃_N‖² (PᵀP a) ⊘ n: an (N, N) product per step instead of two
    (M, N) ones. (2) One shift for every sequence, the largest token logit (never
    batch-dependent): E_tok is then a (K,) vector. If some sequence's weights would underflow with it, the
    batch falls back to the direct (B, N) softmax (``_direct``), which is exact for any
    logits.

    Tensors are sequence-last inside: h, f (K, B); ``forward`` returns (B, K) views.

    **Arguments:**
    - `geo`: the :class:`Geometry` of the data.
    - `params`: from :func:`init_params`.
    """

    def __init__(self, geo: Geometry, params: dict):
        self.geo = geo
        K, D = geo.K, geo.K + geo.M
        self.V = params["V"].clone()
        self.A = params["A"].clone() if "A" in params else None
        self.W0 = params.get("W0")
        self.W0q = self.W0 @ geo.q if self.W0 is not None else torch.zeros(D, dtype=geo.dtype)  # (D,)
        self.c0 = (self.W0q[K:] @ geo.P) / geo.n  # (N,) position logits of W0
        self.Rk = torch.zeros(K, dtype=geo.dtype)  # (K,) token part of R
        self.a = torch.zeros(geo.N, dtype=geo.dtype)  # (N,) R_pos = P a
        self.fallbacks = 0  # how many batches needed the direct softmax
        self._cache = None  # (ũ, c) of the current parameters: training and evaluation share them

    # ---- parameters ----------------------------------------------------------------
    @property
    def R(self) -> torch.Tensor:
        """The accumulated W-gradient direction, (D,): W = W0 + R x̃_Nᵀ."""
        return torch.cat([self.Rk, self.geo.P @ self.a])

    @property
    def W(self) -> torch.Tensor:
        """The merged key-query matrix, materialised (D, D)."""
        W = torch.outer(self.R, self.geo.q)
        return W + self.W0 if self.W0 is not None else W

    def tensors(self, dense: bool = True) -> dict[str, torch.Tensor]:
        """The paper's matrices. ``dense=False`` stores W by its factors instead of the
        (D, D) matrix: W = W0 + W_R W_qᵀ, with W0 the initialisation (zero, or redrawn
        from the run's seed by :func:`walkformer.runs.rundir.load_params`)."""
        W = {"W": self.W} if dense else {"W_R": self.R, "W_q": self.geo.q}
        return {"V": self.V} | W | ({"A": self.A} if self.A is not None else {})

    @property
    def u(self) -> torch.Tensor:
        """W x̃_N, (D,)."""
        return self.W0q + self.R * self.geo.qq

    def scores(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(ũ, c) of the current parameters, (K,) and (N,), computed once per step."""
        if self._cache is None and self._kernel():
            self._cache = shicao_kernel.scores(self)  # the same maths in C: one call, not seven
        if self._cache is None:
            g = self.geo
            ut = (self.W0q[: g.K] + g.qq * self.Rk) / g.n[0]  # (K,)
            self._cache = (ut, self.c0 + self.a @ g.gram)  # (K,), (N,)
        return self._cache

    # ---- forward -------------------------------------------------------------------
    def _separable(self, b: Batch, ut, c):
        Ep = torch.exp(c - c.max())  # (N,)
        # C[k, b] = Σ_{j: s_bj = k} E_pos[j], accumulated in position order for every k
        # (see _column_sums: a BLAS product would give equal sums different round-off);
        # the pad columns of tok16 add exact zeros
        B, pad = len(b), b.tok16.shape[1] - b.J
        Ej = torch.nn.functional.pad(Ep[:-1], (0, pad)) if pad else Ep[:-1]  # (J16,)
        C = torch.zeros(B, b.K, dtype=Ep.dtype).scatter_add_(1, b.tok16, Ej.expand(B, -1)).T.contiguous()  # (K, B)
        # one shift for all sequences of all batches (never batch-dependent, so a sequence's
        # numbers do not depend on what it is batched with); slot N has token logit 0
        m = torch.clamp(ut.max(), min=0.0)
        Et = torch.exp(ut - m)  # (K,)
        num = C * Et[:, None]  # (K, B) = Z h
        sN = Ep[-1] * torch.exp(-m)  # unnormalised weight of slot N
        # a left-to-right sum over tokens: sum(0) rounds the last columns (those that do not
        # fill a SIMD register) differently, so a sequence's Z would depend on its batch
        Z = num.cumsum(0)[-1] + sN  # (B,)
        if not float(Z.min()) > torch.finfo(Z.dtype).tiny / torch.finfo(Z.dtype).eps:
            return None
        return {"h": num / Z, "S_N": sN / Z, "Ep": Ep, "Et": Et, "Z": Z}

    def _direct(self, b: Batch, ut, c):
        z = torch.cat([ut[b.tokens] + c[:-1], c[-1:].expand(len(b), 1)], 1)  # (B, N)
        S = torch.softmax(z, dim=1)  # (B, N)
        h = torch.zeros(len(b), b.K, dtype=S.dtype).scatter_add_(1, b.tokens, S[:, :-1]).T.contiguous()  # (K, B)
        return {"h": h, "S_N": S[:, -1], "S": S}

    def _attend(self, b: Batch):
        ut, c = self.scores()
        out = self._separable(b, ut, c)
        if out is None:
            self.fallbacks += 1
            out = self._direct(b, ut, c)
        return out

    def _head(self, h):
        if self.A is None:
            return {"f": self.V @ h}  # (K, B)
        pre = self.V @ h  # (m, B)
        return {"pre": pre, "f": self.A @ torch.relu(pre)}  # (K, B)

    def _output(self, att, b: Batch, cols=None) -> dict[str, torch.Tensor]:
        """h, f as (B, K) views and the mean attention by slot; ``cols`` are the column
        sums Σ_b E_tok[s_bj] / Z_b when the caller already has them."""
        h = att["h"]  # (K, B)
        out = {"h": h.T, "f": self._head(h)["f"].T}  # (B, K) views
        if "S" in att:
            out["attention"] = att["S"].mean(0)
        else:  # mean_b S_bj = E_pos[j] · mean_b E_tok[s_bj] / Z_b
            if cols is None:
                cols = _column_sums(att["Et"][:, None] / att["Z"], b)  # (N-1,)
            out["attention"] = torch.cat([att["Ep"][:-1] * cols, att["S_N"].sum(0, keepdim=True)]) / len(b)
        return out

    def _kernel(self) -> bool:
        """Whether the C kernel (``ops/shicao_kernel.py``) runs this model's passes: by default,
        unless the softmax was replaced (as the tests do to force the direct path)."""
        return (shicao_kernel.usable(self.geo.dtype, self.V.device)
                and getattr(self._separable, "__func__", None) is ShiCao._separable)

    def forward(self, b: Batch) -> dict[str, torch.Tensor]:
        """Weighted-average token h = X S (B, K), output f (B, K), mean attention by slot (N,)."""
        if self._kernel():
            rc, _, _, fw = shicao_kernel.step(self, None, 0.0, b)
            if rc == 0:
                return fw
        return self._output(self._attend(b), b)

    # ---- backward ------------------------------------------------------------------
    def grads(self, b: Batch, eps: float) -> tuple[float, dict[str, torch.Tensor]]:
        """Weighted loss Σ_b w_b −log(f_{b,y_b} + ε) and its exact gradients.

        Returns ``(loss, {"V", "A"?, "Rk", "a"})``: ∇_W L = R' ⊗ x̃_N with
        R' = [Rk; P a] (see :meth:`grad_W`).
        """
        if self._kernel():
            rc, loss, g, _ = shicao_kernel.step(self, b, eps, None)
            if rc == 0:
                return loss, g
        return self._grads(self._attend(b), b, eps)

    def grads_and_forward(self, b: Batch, eps: float, probe: Batch):
        """``grads(b, eps)`` and ``forward(probe)`` (the held-out batch) at once: both
        batches go through one softmax and one gather, half the small operations of two
        calls. Every sequence's numbers are those of the separate calls, bit for bit
        (nothing in a column depends on the other columns; tested)."""
        if self._kernel():
            rc, loss, g, fw = shicao_kernel.step(self, b, eps, probe)
            if rc == 0:
                return loss, g, fw
            loss, g = self.grads(b, eps)  # some sequence underflows: each batch on its own
            return loss, g, self.forward(probe)
        both = b.joined(probe)
        att = self._separable(both, *self.scores())
        if att is None:  # some sequence underflows: the separate calls handle it exactly
            loss, g = self.grads(b, eps)
            return loss, g, self.forward(probe)
        B = len(b)
        part = lambda sl: {"h": att["h"][:, sl], "S_N": att["S_N"][sl], "Z": att["Z"][sl],  # noqa: E731
                           "Ep": att["Ep"], "Et": att["Et"]}
        tr, te = part(slice(0, B)), part(slice(B, None))
        loss, g, cols = self._grads(tr, b, eps, extra=te["Et"][:, None] / te["Z"], both=both)
        return loss, g, self._output(te, probe, cols)

    def _grads(self, att, b: Batch, eps: float, extra=None, both=None):
        g = self.geo
        h = att["h"]  # (K, B)
        hd = self._head(h)
        zy = hd["f"].gather(0, b.y[None])[0] + eps  # (B,)
        loss = -torch.dot(b.w, torch.log(zy))
        gz = -b.w / zy  # (B,) dL/df_y
        out = {}
        if self.A is None:
            out["V"] = torch.zeros_like(self.V).index_add_(0, b.y, (h * gz).T)  # (K, K)
            dh = self.V.T[:, b.y] * gz  # (K, B)
        else:
            pre = hd["pre"]  # (m, B)
            out["A"] = torch.zeros_like(self.A).index_add_(0, b.y, (torch.relu(pre) * gz).T)  # (K, m)
            dpre = self.A.T[:, b.y] * gz * (pre > 0)  # (m, B)
            out["V"] = dpre @ h.T  # (m, K)
            dh = self.V.T @ dpre  # (K, B)
        abar = (h * dh).sum(0)  # (B,) Σ_j S_j a_j, with a_j = dh[s_j] and a_N = 0
        diff = dh - abar  # (K, B)
        d_ut = (h * diff).sum(1)  # (K,) dL/dũ, one summation order for every token
        cols = None
        if "S" in att:  # direct: dz = S (a - ā)
            a = diff.T.contiguous().gather(1, b.tokens)  # (B, N-1)
            dcj = sum_rows(att["S"][:, :-1] * a)  # (N-1,)
        else:
            G = diff * (att["Et"][:, None] / att["Z"])  # (K, B)
            if extra is None:
                dcj = _column_sums(G, b)  # (N-1,)
            else:  # the probe's attention sums ride along in the same gather
                X = _gathered(torch.cat([G, extra], 1), both)  # (B + B', J16)
                dcj, cols = X[: len(b)].sum(0)[: b.J], X[len(b) :].sum(0)[: b.J]
            dcj = att["Ep"][:-1] * dcj
        dc = torch.cat([dcj, -(att["S_N"] * abar).sum(0, keepdim=True)])  # (N,)
        out["Rk"] = d_ut / g.n[0]  # (K,) dL/du_tok
        out["a"] = dc / g.n  # (N,) dL/du_pos = P a
        return (float(loss), out) if extra is None else (float(loss), out, cols)

    def finite(self, loss: float, grads: dict[str, torch.Tensor]) -> bool:
        """Whether the loss and every gradient entry are finite."""
        if self._kernel():
            return math.isfinite(loss) and all(shicao_kernel.finite(g) for g in grads.values())
        return all_finite(loss, grads)

    def step(self, grads: dict[str, torch.Tensor], eta: float) -> None:
        self._cache = None
        if self._kernel() and all(p.is_contiguous() for p in (self.V, self.A, self.Rk, self.a) if p is not None):
            for p, name in ((self.V, "V"), (self.A, "A"), (self.Rk, "Rk"), (self.a, "a")):
                if p is not None:
                    shicao_kernel.update(p, grads[name].contiguous(), eta)
            return
        self.V -= eta * grads["V"]
        if self.A is not None:
            self.A -= eta * grads["A"]
        self.Rk -= eta * grads["Rk"]
        self.a -= eta * grads["a"]

    def grad_W(self, grads) -> torch.Tensor:
        return torch.outer(torch.cat([grads["Rk"], self.geo.P @ grads["a"]]), self.geo.q)
