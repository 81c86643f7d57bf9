"""a uniform step to any other node

    π_{i,j} = 1/(K−1) for j ≠ i
"""

import numpy as np

from . import nodes

USES = ("task.K",)
RANK = 4


def table(t) -> np.ndarray:
    nodes(t.K, "complete")
    return (np.ones((t.K, t.K)) - np.eye(t.K)) / (t.K - 1)
