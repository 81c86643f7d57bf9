"""The random walk on a circle (Shi & Cao, Sec. 2).

K nodes on a circle; s_1 ~ Unif([K]); each step goes clockwise (+1 mod K) with
probability p and counter-clockwise (−1 mod K) with probability 1 − p:

    π_{i,j} = p · 1{j ≡ i + 1} + (1 − p) · 1{j ≡ i − 1}    (mod K)

so Π = p Π_0^T + (1 − p) Π_0 is circulant, OPT = max(p, 1 − p) and the Bayes loss
is the binary entropy h(p) (both closed forms, checked against the general chain).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..graphs import circle
from .markov import MarkovChain


circle_transition = circle.transition  # Π of the walk on a K-cycle, (K, K) (defined with its graph)


class CircleWalk(MarkovChain):
    """Random walk on a circle; sampling is a cumulative sum of ±1 steps."""

    def __init__(self, K: int, N: int, p: float):
        if K < 3:
            raise ValueError(f"K={K}: a circle needs K >= 3")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p={p}: must be in [0, 1]")
        super().__init__(circle_transition(K, p), np.full(K, 1.0 / K), N)
        self.p = p

    @property
    def optimal_accuracy(self) -> float:
        return max(self.p, 1.0 - self.p)

    @property
    def bayes_loss(self) -> float:
        p = self.p
        return -sum(q * math.log(q) for q in (p, 1.0 - p) if q > 0)

    def sample_states(self, n: int, gen: torch.Generator) -> torch.Tensor:
        s1 = torch.randint(self.K, (n, 1), generator=gen)  # (n, 1)
        u = torch.rand(n, self.N - 1, generator=gen, dtype=torch.float64)  # (n, N-1)
        steps = torch.where(u < self.p, 1, -1)  # (n, N-1)
        return (s1 + torch.cat([torch.zeros_like(s1), steps.cumsum(1)], 1)) % self.K  # (n, N)


def circle_walk(K: int, N: int, p: float) -> CircleWalk:
    return CircleWalk(K, N, p)
