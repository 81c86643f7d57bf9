"""Binary first-order Markov chains with next-token targets at every position
(Makkuva et al., "Attention with Markov" and "Local to Global").

    P(p, q) = [[1 − p, p], [q, 1 − q]],   p = P(1 | 0),  q = P(0 | 1),
    x_1 ~ π = (q, p) / (p + q)  (stationary),   x_{n+1} | x_n ~ P[x_n, :].

A sample is x_1 .. x_{N+1}; the model sees x = x_1..x_N and predicts y = x_2..x_{N+1}
at every position. Because x_1 is stationary, every x_n has law π, so the reference
losses (nats) hold at every position, exactly:

    unigram  H(π) = h(π_1)                                   (best constant predictor)
    bigram   H(x_{n+1} | x_n) = (q h(p) + p h(q)) / (p + q)   (the entropy rate; Bayes)

with h the binary entropy.

Sampling is vectorised over both batch and positions: the chain is a sequence of
alternating runs whose lengths are independent geometric variables (a run of 0s ends
with probability p per step, a run of 1s with probability q), so we draw N+1 run
lengths per sequence at once (enough even if every run has length 1), place the
switch points with a cumulative sum and read x_n as the parity of the number of
switches before n. No Python loop over positions.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .markov import MarkovChain


def binary_entropy(a: float) -> float:
    """h(a) = −a log a − (1−a) log(1−a), nats; h(0) = h(1) = 0."""
    return -sum(x * math.log(x) for x in (a, 1.0 - a) if x > 0)


class BinaryChain(MarkovChain):
    """The binary chain P(p, q) started from its stationary law.

    **Arguments:**
    - `p`: P(x_{n+1} = 1 | x_n = 0), in [0, 1].
    - `q`: P(x_{n+1} = 0 | x_n = 1), in [0, 1]; p + q > 0.
    - `N`: input length (the model predicts x_{n+1} for n = 1..N).

    ``self.N`` (from :class:`MarkovChain`) is N + 1, the number of states drawn;
    ``self.seq_len`` is N.
    """

    def __init__(self, p: float, q: float, N: int):
        if not (0.0 <= p <= 1.0 and 0.0 <= q <= 1.0) or p + q <= 0:
            raise ValueError(f"(p, q) = ({p}, {q}): need p, q in [0, 1] and p + q > 0")
        self.p, self.q, self.seq_len = float(p), float(q), int(N)
        pi = np.array([q, p]) / (p + q)
        super().__init__([[1.0 - p, p], [q, 1.0 - q]], pi, N + 1)
        self.pi1 = float(pi[1])

    # ---- exact reference losses -------------------------------------------------------
    @property
    def unigram_loss(self) -> float:
        """H(π): loss of the best position-independent constant predictor f ≡ π_1."""
        return binary_entropy(self.pi1)

    @property
    def bigram_loss(self) -> float:
        """H(x_{n+1} | x_n) = (q h(p) + p h(q)) / (p + q): the Bayes loss at every position."""
        return (self.q * binary_entropy(self.p) + self.p * binary_entropy(self.q)) / (self.p + self.q)

    def prob_one(self, x: torch.Tensor) -> torch.Tensor:
        """The Bayes predictor P(x_{n+1} = 1 | x_n) for every entry of x (same shape)."""
        return torch.where(x == 0, self.p, 1.0 - self.q).to(torch.float64)

    # ---- sampling ------------------------------------------------------------------------
    def sample_states(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """(n, N+1) states x_1..x_{N+1} (long), by geometric run lengths (see module doc)."""
        return sample_many([self], n, [gen])[0]

    def sample_next_token(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` sequences: inputs x (n, N) and next-token targets y (n, N), both long."""
        s = self.sample_states(n, gen)  # (n, N+1)
        return s[:, :-1], s[:, 1:]

    def sample_states_loop(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """The straightforward sampler (the authors' code: one draw per position, vectorised
        over the batch only). Kept as the benchmark baseline; same law, other numbers."""
        P = torch.from_numpy(self.Pi)
        s = torch.empty(n, self.N, dtype=torch.long)
        s[:, 0] = (torch.rand(n, generator=gen, dtype=torch.float64) < self.pi1).long()
        for i in range(1, self.N):
            s[:, i] = torch.multinomial(P[s[:, i - 1]], 1, generator=gen)[:, 0]
        return s


def sample_many(chains: list[BinaryChain], n: int, gens: list[torch.Generator]) -> torch.Tensor:
    """(R, n, N+1) states of R chains of one length, chain r drawn from ``gens[r]``: the
    same draws, in the same order, as ``chains[r].sample_states(n, gens[r])`` (which is
    this with R = 1); only the uniforms are drawn per chain, the rest is one vectorised
    pass over all R (see the module docstring)."""
    L = chains[0].N  # states per sequence
    pi1 = torch.tensor([c.pi1 for c in chains], dtype=torch.float64)[:, None]  # (R, 1)
    x1, u = [], []
    for gen in gens:
        x1.append(torch.rand(n, generator=gen, dtype=torch.float64))  # (n,)
        u.append(torch.rand(n, L, generator=gen, dtype=torch.float64))  # (n, L): one per run
    x1 = (torch.stack(x1) < pi1).long()  # (R, n)
    u = torch.stack(u)  # (R, n, L)
    # run k (0-based) is in state x1 XOR (k odd); it ends w.p. p (state 0) or q (state 1)
    state = (x1[..., None] + torch.arange(L)) & 1  # (R, n, L)
    stay = lambda r: math.log1p(-r) if r < 1 else -math.inf  # noqa: E731
    log_stay = torch.tensor([[stay(c.p), stay(c.q)] for c in chains], dtype=torch.float64)  # (R, 2)
    # Geometric(r) on {1, 2, ..}: 1 + floor(log U / log(1 − r)); r = 0 gives +inf (never ends)
    ls = torch.where(state == 0, log_stay[:, :1, None], log_stay[:, 1:, None])  # (R, n, L)
    lengths = 1.0 + torch.floor(torch.log1p(-u) / ls)  # (R, n, L); rate 1: log U / -inf = 0 -> 1
    lengths = torch.where(ls == 0, float(L), lengths)  # rate 0: the run never ends
    lengths = lengths.clamp(max=L).long()  # a run longer than the sequence is cut
    ends = lengths.cumsum(2)  # (R, n, L) first index of run k+1 (0-based), increasing
    switch = torch.zeros(len(chains), n, L + 1, dtype=torch.long)  # +1 where a new run starts
    switch.scatter_add_(2, ends.clamp(max=L), (ends < L).long())
    return (x1[..., None] + switch[..., :L].cumsum(2)) & 1  # (R, n, L)
