"""centre 0 → a uniform leaf, every leaf → the centre

    π_{0,j} = 1/(K−1) for j >= 1,  π_{j,0} = 1
"""

import numpy as np

from . import nodes

USES = ("task.K",)
RANK = 3


def table(t) -> np.ndarray:
    K = t.K
    nodes(K, "star")
    Pi = np.zeros((K, K))
    Pi[0, 1:], Pi[1:, 0] = 1.0 / (K - 1), 1.0
    return Pi
