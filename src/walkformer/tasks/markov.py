"""A general finite Markov chain as a next-token prediction task.

A sequence is s_1 ~ μ, s_{i+1} | s_i ~ Π[s_i, :], for i < N. The model sees
x_1..x_{N-1} (one-hot of s_1..s_{N-1}) and must predict y = s_N. By the Markov
property the Bayes-optimal predictor is f_OPT(X) = Π^T x_{N-1}, so

    OPT  = Σ_s P(s_{N-1} = s) · max_y Π[s, y]        (optimal accuracy)
    H    = Σ_s P(s_{N-1} = s) · H(Π[s, :])           (Bayes loss, nats)

with P(s_{N-1} = ·) = μ Π^{N-2}. Both are computed in closed form here.
"""

from __future__ import annotations

import numpy as np
import torch

# Exact population mode enumerates every path; beyond this many it is not "small".
MAX_POPULATION_ROWS = 1 << 20


def population_size(Pi, mu, N: int, cap: int = MAX_POPULATION_ROWS) -> int:
    """The number of length-N paths of positive probability, 1ᵀ_{μ>0} A^{N-1} 1 with
    A = [Π > 0], without enumerating them (O(N K²)); counting stops at the first
    length whose count exceeds ``cap`` (then a number > cap, not the total, is returned)."""
    A = (np.asarray(Pi) > 0).astype(np.float64)
    c = (np.asarray(mu) > 0).astype(np.float64)
    for _ in range(1, N):
        if c.sum() > cap:
            break
        c = c @ A
    return int(c.sum())


class MarkovChain:
    """Next-state prediction on a finite Markov chain.

    **Arguments:**
    - `Pi`: (K, K) row-stochastic transition matrix, Π[i, j] = P(next = j | current = i).
    - `mu`: (K,) law of s_1.
    - `N`: sequence length including the predicted state s_N.
    """

    def __init__(self, Pi, mu, N: int):
        Pi = np.asarray(Pi, dtype=np.float64)
        mu = np.asarray(mu, dtype=np.float64)
        K = Pi.shape[0]
        if Pi.shape != (K, K) or (Pi < 0).any() or not np.allclose(Pi.sum(1), 1.0, atol=1e-12):
            raise ValueError(f"Pi: expected a row-stochastic (K, K) matrix, got shape {Pi.shape}")
        if mu.shape != (K,) or (mu < 0).any() or not np.isclose(mu.sum(), 1.0, atol=1e-12):
            raise ValueError(f"mu: expected a probability vector of length {K}")
        if N < 2:
            raise ValueError(f"N={N}: need N >= 2")
        self.Pi, self.mu, self.K, self.N = Pi, mu, K, N
        self._cum = torch.from_numpy(np.cumsum(Pi, axis=1))  # (K, K) inverse-CDF table
        self._cum[:, -1] = 1.0 + 1e-12  # no u in [0, 1) can fall past the last state
        self._cum0 = torch.from_numpy(np.cumsum(mu))
        self._cum0[-1] = 1.0 + 1e-12

    # ---- Bayes-optimal answer, in closed form -------------------------------------
    def marginal(self, i: int) -> np.ndarray:
        """Law of s_i (1-based): μ Π^{i-1}."""
        return self.mu @ np.linalg.matrix_power(self.Pi, i - 1)

    @property
    def optimal_accuracy(self) -> float:
        return float(self.marginal(self.N - 1) @ self.Pi.max(axis=1))

    @property
    def bayes_loss(self) -> float:
        P = self.Pi
        H = -(np.where(P > 0, P * np.log(np.where(P > 0, P, 1.0)), 0.0)).sum(1)  # (K,)
        return float(self.marginal(self.N - 1) @ H)

    @property
    def parent_index(self) -> int:
        """0-based position of the direct parent x_{N-1} among the N attention slots."""
        return self.N - 2

    def true_conditional(self, tokens: torch.Tensor) -> torch.Tensor:
        """P(y | x_1..x_{N-1}) = Π[s_{N-1}, :], shape (B, K)."""
        return torch.from_numpy(self.Pi)[tokens[:, -1]]  # (B, K)

    # ---- sampling ------------------------------------------------------------------
    def sample_states(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """(n, N) states s_1..s_N; vectorised over the batch, one pass over positions."""
        u = torch.rand(n, self.N, generator=gen, dtype=torch.float64)  # (n, N)
        s = torch.empty(n, self.N, dtype=torch.long)
        s[:, 0] = torch.searchsorted(self._cum0, u[:, 0].contiguous(), right=True)
        for i in range(1, self.N):
            rows = self._cum[s[:, i - 1]]  # (n, K)
            s[:, i] = torch.searchsorted(rows, u[:, i : i + 1].contiguous(), right=True)[:, 0]
        return s

    def sample(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` sequences: tokens (n, N-1) and labels (n,)."""
        s = self.sample_states(n, gen)
        return s[:, :-1].contiguous(), s[:, -1].contiguous()

    # ---- exact population ----------------------------------------------------------
    def population(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every length-N path of positive probability: tokens (R, N-1), y (R,), weights (R,).

        The weights are the path probabilities and sum to 1, so a weighted mean over
        these rows *is* the population expectation of the theory.
        """
        if (n := population_size(self.Pi, self.mu, self.N)) > MAX_POPULATION_ROWS:
            raise ValueError(f"train.data=population: {n}+ paths for K={self.K}, N={self.N}; "
                             f"allowed up to {MAX_POPULATION_ROWS} (use smaller N or train.data=fixed)")
        paths = np.flatnonzero(self.mu > 0)[:, None]  # (R, 1)
        prob = self.mu[paths[:, 0]]
        for _ in range(1, self.N):
            nxt = self.Pi[paths[:, -1]]  # (R, K)
            r, j = np.nonzero(nxt > 0)
            paths = np.concatenate([paths[r], j[:, None]], axis=1)
            prob = prob[r] * nxt[r, j]
        s = torch.from_numpy(paths)
        return s[:, :-1].contiguous(), s[:, -1].contiguous(), torch.from_numpy(prob)
