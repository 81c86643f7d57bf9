"""each row drawn from Dirichlet(task.alpha, .., task.alpha) by numpy's default_rng(task.graph_seed)

    (K^order, K): row c ~ Dir(α·1_K), drawn in row order (a k-th order table for task.order = k)
"""

import numpy as np

from . import contexts, need, nodes, stochastic

USES = ("task.K", "task.alpha", "task.graph_seed")
RANK = 7
ORDERED = True


def table(t) -> np.ndarray:
    K, alpha, order = t.K, t.alpha, t.order
    nodes(K, "dirichlet")
    contexts(K, order)
    need(alpha > 0 and np.isfinite(alpha), "task.alpha", alpha, "a concentration > 0")
    T = np.random.default_rng(t.graph_seed).dirichlet(np.full(K, float(alpha)), size=K**order)
    return stochastic(T, "task.alpha", alpha, order)
