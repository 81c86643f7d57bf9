"""The straightforward implementation of eq. (2.1): dense X̃ per sequence, autograd.

This is the reference the fast path (``shicao.py``) is checked against, and the
baseline of ``bench/``. It builds X̃ = [X; P] of shape (B, K+M, N) for every batch
and lets torch differentiate

    f(X) = V X S((X̃/n)^T W x̃_N),    L = Σ_b w_b · −log(e_{y_b}^T f + ε)

(with the optional ReLU head f = A ReLU(V X S)). Same interface as ``ShiCao``.
"""

from __future__ import annotations

import torch

from .shicao import Geometry


class DenseShiCao:
    def __init__(self, geo: Geometry, params: dict):
        self.geo = geo
        D = geo.K + geo.M
        self.V = params["V"].clone()
        self.A = params["A"].clone() if "A" in params else None
        self._W = params["W0"].clone() if "W0" in params else torch.zeros(D, D, dtype=geo.dtype)

    @property
    def W(self) -> torch.Tensor:
        return self._W

    @property
    def u(self) -> torch.Tensor:
        return self._W @ self.geo.q

    def scores(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.geo.scores(self.u)

    def tensors(self, dense: bool = True) -> dict[str, torch.Tensor]:  # always dense
        return {"V": self.V, "W": self._W} | ({"A": self.A} if self.A is not None else {})

    def _forward(self, tokens, V, W, A):
        g = self.geo
        Xt = g.dense_inputs(tokens)  # (B, K+M, N), columns scaled by 1/n_j
        S = torch.softmax(Xt.transpose(1, 2) @ (W @ g.q), dim=1)  # (B, N)
        X = Xt[:, : g.K] * g.n  # (B, K, N) raw one-hot tokens for the value path
        h = (X @ S[:, :, None])[:, :, 0]  # (B, K)
        f = h @ V.T if A is None else torch.relu(h @ V.T) @ A.T  # (B, K)
        return {"h": h, "f": f, "attention": S.mean(0)}

    def forward(self, b):
        with torch.no_grad():
            return self._forward(b.tokens, self.V, self._W, self.A)

    def grads(self, b, eps):
        names = ["V", "W"] + (["A"] if self.A is not None else [])
        leaves = {k: t.detach().clone().requires_grad_(True) for k, t in self.tensors().items()}
        f = self._forward(b.tokens, leaves["V"], leaves["W"], leaves.get("A"))["f"]
        loss = -(b.w * torch.log(f[torch.arange(len(b.y)), b.y] + eps)).sum()
        gs = torch.autograd.grad(loss, [leaves[k] for k in names])
        return float(loss.detach()), dict(zip(names, gs))

    def step(self, grads, eta):
        self.V -= eta * grads["V"]
        self._W -= eta * grads["W"]
        if self.A is not None:
            self.A -= eta * grads["A"]

    def grad_W(self, grads):
        return grads["W"]
