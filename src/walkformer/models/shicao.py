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
"""

from __future__ import annotations

import math

import torch


def positional(pos: str, M: int, N: int, dtype=torch.float64) -> torch.Tensor:
    """Positional embeddings P = [p_1 .. p_N], shape (M, N).

    - ``sin``: [p_i]_j = sin(π i j / M), j = 1..M (DST; ⟨p_i, p_k⟩ = 0 in exact
      arithmetic, ‖p_i‖² = M/2, but ~1e-12 off-orthogonal in float64).
    - ``onehot``: p_i = √(M/2) e_i (same norm; exactly orthogonal in floating point).
    - ``none``: M = 0, no positional information.
    """
    if pos == "none":
        return torch.zeros(0, N, dtype=dtype)
    if pos == "sin":
        j = torch.arange(1, M + 1, dtype=torch.float64)[:, None]  # (M, 1)
        i = torch.arange(1, N + 1, dtype=torch.float64)[None, :]  # (1, N)
        return torch.sin(math.pi * i * j / M).to(dtype)  # (M, N)
    if pos == "onehot":
        P = torch.zeros(M, N, dtype=torch.float64)
        P[torch.arange(N), torch.arange(N)] = math.sqrt(M / 2)
        return P.to(dtype)
    raise ValueError(f"model.pos={pos!r}: expected sin, onehot or none")


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
    (1/B for sampled data, path probabilities for the exact population).
    """

    def __init__(self, tokens: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None, K: int, dtype):
        B = tokens.shape[0]
        self.tokens, self.y = tokens, y
        self.w = (w if w is not None else torch.full((B,), 1.0 / B, dtype=torch.float64)).to(dtype)
        self.present = torch.zeros(B, K, dtype=torch.bool).scatter_(1, tokens, True)  # (B, K) states that occur

    def __len__(self) -> int:
        return self.tokens.shape[0]


def _column_sums(G: torch.Tensor, b: Batch) -> torch.Tensor:
    """Σ_b G[b, s_bj] for every position j, (N-1,).

    Not ``b.XT @ G``: a BLAS dot product splits its sum over SIMD lanes by the flat
    index b·K + s_bj, which differs between positions, so positions that are equal in
    exact arithmetic get different round-off. At Theorem 4.1's symmetric point that
    round-off alone breaks the symmetry. Summing a (B, N-1) gather over b adds the same
    numbers in the same order for every position, so exact symmetry stays exact.
    """
    return sum_rows(G.gather(1, b.tokens))  # (N-1,)


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


class ShiCao:
    """Fast path: parameters V (and A), W kept as W0 + R x̃_N^T.

    With z_j = ũ[s_j] + c_j (ũ = u_tok / n_tok, c_j = p_j^T u_pos / n_j) the softmax
    factorises, exp(z_j) = E_tok[s_j] · E_pos[j], so

        Z h = C ⊙ E_tok,   C[b, k] = Σ_{j<N: s_bj = k} E_pos[j]

    and forward and backward cost two passes over the (B, N-1) tokens plus O(B·K) work. Each row is
    shifted by its own largest present token logit; if a row would still underflow
    the whole batch falls back to the direct (B, N) softmax (``_direct``).

    **Arguments:**
    - `geo`: the :class:`Geometry` of the data.
    - `params`: from :func:`init_params`.
    """

    def __init__(self, geo: Geometry, params: dict):
        self.geo = geo
        self.V = params["V"].clone()
        self.A = params["A"].clone() if "A" in params else None
        self.W0 = params.get("W0")
        D = geo.K + geo.M
        self.W0q = self.W0 @ geo.q if self.W0 is not None else torch.zeros(D, dtype=geo.dtype)  # (D,)
        self.R = torch.zeros(D, dtype=geo.dtype)  # (D,) accumulated W-gradient direction
        self.fallbacks = 0  # how many batches needed the direct softmax
        self._cache = None  # (ũ, c) of the current parameters: training and evaluation share them

    # ---- parameters ----------------------------------------------------------------
    @property
    def W(self) -> torch.Tensor:
        """The merged key-query matrix, materialised (D, D)."""
        W = torch.outer(self.R, self.geo.q)
        return W + self.W0 if self.W0 is not None else W

    def tensors(self, dense: bool = True) -> dict[str, torch.Tensor]:
        """The paper's matrices. ``dense=False`` stores W by its factors instead of the
        (D, D) matrix: W = W0 + W_R W_qᵀ, with W0 the initialisation (zero, or redrawn
        from the run's seed by :func:`walkformer.rundir.load_params`)."""
        W = {"W": self.W} if dense else {"W_R": self.R, "W_q": self.geo.q}
        return {"V": self.V} | W | ({"A": self.A} if self.A is not None else {})

    @property
    def u(self) -> torch.Tensor:
        """W x̃_N, (D,)."""
        return self.W0q + self.R * self.geo.qq

    def scores(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(ũ, c) of the current parameters, computed once per step (an (M, N) product)."""
        if self._cache is None:
            self._cache = self.geo.scores(self.u)
        return self._cache

    # ---- forward -------------------------------------------------------------------
    def _separable(self, b: Batch, ut, c):
        B, K = b.present.shape
        Ep = torch.exp(c - c.max())  # (N,)
        # C[b, k] = Σ_{j: s_bj = k} E_pos[j], accumulated in position order for every k (see
        # _column_sums: a BLAS product would give equal sums different round-off)
        C = torch.zeros(B, K, dtype=Ep.dtype).scatter_add_(1, b.tokens, Ep[:-1].expand(B, -1))  # (B, K)
        zt = torch.where(b.present, ut, -torch.inf)  # (B, K)
        mb = torch.clamp(zt.max(1).values, min=0.0)  # (B,) row shift; slot N has token logit 0
        Et = torch.exp(zt - mb[:, None])  # (B, K), 0 where absent
        num = C * Et  # (B, K) = Z h
        sN = Ep[-1] * torch.exp(-mb)  # (B,) unnormalised weight of slot N
        Z = num.sum(1) + sN  # (B,)
        if not float(Z.min()) > torch.finfo(Z.dtype).tiny / torch.finfo(Z.dtype).eps:
            return None
        return {"h": num / Z[:, None], "S_N": sN / Z, "Ep": Ep, "Et": Et, "Z": Z}

    def _direct(self, b: Batch, ut, c):
        z = torch.cat([ut[b.tokens] + c[:-1], c[-1:].expand(len(b), 1)], 1)  # (B, N)
        S = torch.softmax(z, dim=1)  # (B, N)
        h = torch.zeros(len(b), self.geo.K, dtype=S.dtype).scatter_add_(1, b.tokens, S[:, :-1])  # (B, K)
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
            return {"f": h @ self.V.T}  # (B, K)
        pre = h @ self.V.T  # (B, m)
        return {"pre": pre, "f": torch.relu(pre) @ self.A.T}  # (B, K)

    def forward(self, b: Batch) -> dict[str, torch.Tensor]:
        """Weighted-average token h = X S (B, K), output f (B, K), mean attention by slot (N,)."""
        att = self._attend(b)
        out = {"h": att["h"], **self._head(att["h"])}
        if "S" in att:
            out["attention"] = att["S"].mean(0)
        else:  # mean_b S_bj = E_pos[j] · mean_b E_tok[b, s_bj] / Z_b
            G = att["Et"] / att["Z"][:, None]  # (B, K)
            out["attention"] = torch.cat([att["Ep"][:-1] * _column_sums(G, b), att["S_N"].sum(0, keepdim=True)]) / len(b)
        return out

    # ---- backward ------------------------------------------------------------------
    def grads(self, b: Batch, eps: float) -> tuple[float, dict[str, torch.Tensor]]:
        """Weighted loss Σ_b w_b −log(f_{b,y_b} + ε) and its exact gradients.

        Returns ``(loss, {"V", "A"?, "R"})`` with ∇_W L = grads["R"] ⊗ x̃_N.
        """
        g = self.geo
        att = self._attend(b)
        h = att["h"]
        hd = self._head(h)
        B = len(b)
        zy = hd["f"][torch.arange(B), b.y] + eps  # (B,)
        loss = -(b.w * torch.log(zy)).sum()
        gz = -b.w / zy  # (B,) dL/df_y
        out = {}
        if self.A is None:
            out["V"] = torch.zeros_like(self.V).index_add_(0, b.y, gz[:, None] * h)  # (K, K)
            dh = gz[:, None] * self.V[b.y]  # (B, K)
        else:
            pre = hd["pre"]
            out["A"] = torch.zeros_like(self.A).index_add_(0, b.y, gz[:, None] * torch.relu(pre))  # (K, m)
            dpre = gz[:, None] * self.A[b.y] * (pre > 0)  # (B, m)
            out["V"] = dpre.T @ h  # (m, K)
            dh = dpre @ self.V  # (B, K)
        abar = (h * dh).sum(1)  # (B,) Σ_j S_j a_j, with a_j = dh[s_j] and a_N = 0
        d_ut = sum_rows(h * (dh - abar[:, None]))  # (K,) dL/dũ, one summation order for every token
        if "S" in att:  # direct: dz = S (a - ā)
            S = att["S"]
            a = torch.cat([dh.gather(1, b.tokens), torch.zeros(B, 1, dtype=dh.dtype)], 1)  # (B, N)
            dc = sum_rows(S * (a - abar[:, None]))  # (N,)
        else:
            G = att["Et"] * (dh - abar[:, None]) / att["Z"][:, None]  # (B, K)
            dc = torch.cat([att["Ep"][:-1] * _column_sums(G, b), -(att["S_N"] * abar).sum(0, keepdim=True)])  # (N,)
        out["R"] = torch.cat([d_ut / g.n[0], g.P @ (dc / g.n)])  # (D,) dL/du, u = W x̃_N
        return float(loss), out

    def step(self, grads: dict[str, torch.Tensor], eta: float) -> None:
        self._cache = None
        self.V -= eta * grads["V"]
        if self.A is not None:
            self.A -= eta * grads["A"]
        self.R -= eta * grads["R"]

    def grad_W(self, grads) -> torch.Tensor:
        return torch.outer(grads["R"], self.geo.q)
