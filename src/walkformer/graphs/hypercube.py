"""the walk on the k-cube: flip one of the k = log₂ K bits of the state, uniformly

    π_{i,j} = 1/k for j = i with one bit flipped   (K = 2^k, k >= 1)
"""

import numpy as np

from . import need

USES = ("task.K",)
RANK = 5


def table(t) -> np.ndarray:
    K = t.K
    k = K.bit_length() - 1
    need(K >= 2 and K == 1 << k, "task.K", K, "a power of 2 >= 2 with task.graph=hypercube (K = 2^k states)")
    Pi = np.zeros((K, K))
    i = np.arange(K)
    for b in range(k):
        Pi[i, i ^ (1 << b)] = 1.0 / k
    return Pi
