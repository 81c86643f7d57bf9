"""the walk on a K-cycle of Shi & Cao: clockwise w.p. task.p

    π_{i,i+1} = p,  π_{i,i−1} = 1 − p   (mod K; K >= 3)
"""

import numpy as np

from . import nodes, probability

USES = ("task.K", "task.p")
RANK = 0


def transition(K: int, p: float) -> np.ndarray:
    """Π of the walk on a K-cycle, (K, K) (also the circle task's, ``tasks/circle.py``)."""
    Pi = np.zeros((K, K))
    i = np.arange(K)
    Pi[i, (i + 1) % K] += p
    Pi[i, (i - 1) % K] += 1.0 - p
    return Pi


def table(t) -> np.ndarray:
    nodes(t.K, "circle", 3)
    probability("task.p", t.p)
    return transition(t.K, t.p)
