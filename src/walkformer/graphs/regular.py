"""the uniform walk on a random connected task.degree-regular graph (seed task.graph_seed)

    π_{i,j} = 1/d for j ~ i

Edges are paired at random among the K·d half-edges (no loops, no double edges; a dead end
restarts), the complement of a (K−1−d)-regular graph when d > (K−1)/2, redrawn until
connected.
"""

import numpy as np

from . import need, nodes
from ..errors import ConfigError

USES = ("task.K", "task.degree", "task.graph_seed")
RANK = 6


def table(t) -> np.ndarray:
    K, d, seed = t.K, t.degree, t.graph_seed
    nodes(K, "regular")
    need(isinstance(d, (int, np.integer)) and 1 <= d <= K - 1, "task.degree", d,
         f"an integer in [1, K−1] = [1, {K - 1}] for task.K={K}")
    need(K * d % 2 == 0, "task.degree", d, f"K·d even (each edge has two ends), and task.K={K}")
    need(d >= 2 or K == 2, "task.degree", d, f"d >= 2 for task.K={K} (a 1-regular graph on K > 2 nodes is disconnected)")
    rng = np.random.default_rng(seed)
    dense = 2 * d > K - 1  # draw the sparser complement
    for _ in range(1000):
        A = _pairing(K, K - 1 - d if dense else d, rng)
        if A is not None and dense:
            A = ~A & ~np.eye(K, dtype=bool)
        if A is not None and _connected(A):
            return A / float(d)
    raise ConfigError(f"task.degree={d}: no connected {d}-regular graph on {K} nodes found in 1000 draws "
                      f"(task.graph_seed={seed}); allowed: a larger degree")


def _pairing(K: int, d: int, rng: np.random.Generator) -> np.ndarray | None:
    """(K, K) boolean adjacency of a simple d-regular graph, or None at a dead end."""
    A = np.zeros((K, K), dtype=bool)
    stubs = list(np.repeat(np.arange(K), d))
    while stubs:
        for _ in range(100):
            a, b = rng.choice(len(stubs), 2, replace=False)
            u, v = stubs[a], stubs[b]
            if u != v and not A[u, v]:
                break
        else:
            return None
        A[u, v] = A[v, u] = True
        for i in sorted((a, b), reverse=True):
            stubs.pop(i)
    return A


def _connected(A: np.ndarray) -> bool:
    seen = np.zeros(len(A), dtype=bool)
    seen[0] = True
    while True:
        grown = seen | A[seen].any(0)
        if (grown == seen).all():
            return bool(seen.all())
        seen = grown
