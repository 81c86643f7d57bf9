"""the walk on the path 0 - 1 - .. - K−1 (right w.p. task.p) with reflecting ends

    π_{i,i+1} = p,  π_{i,i−1} = 1 − p   for 0 < i < K−1;
    π_{0,1} = π_{K−1,K−2} = 1           (the step that would leave the path goes to the only neighbour)
"""

import numpy as np

from . import nodes, probability

USES = ("task.K", "task.p")
RANK = 2


def table(t) -> np.ndarray:
    K, p = t.K, t.p
    nodes(K, "path")
    probability("task.p", p)
    Pi = np.zeros((K, K))
    i = np.arange(1, K - 1)  # inner nodes
    Pi[i, i + 1], Pi[i, i - 1] = p, 1.0 - p
    Pi[0, 1] = Pi[K - 1, K - 2] = 1.0
    return Pi
