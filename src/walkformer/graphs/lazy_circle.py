"""stay put w.p. task.stay, else one circle step (clockwise w.p. task.p)

    Π = stay · I + (1 − stay) · Π_circle(p)   (K >= 3)
"""

import numpy as np

from . import circle, nodes, probability

USES = ("task.K", "task.p", "task.stay")
RANK = 1


def table(t) -> np.ndarray:
    nodes(t.K, "lazy-circle", 3)
    probability("task.p", t.p)
    probability("task.stay", t.stay)
    return t.stay * np.eye(t.K) + (1.0 - t.stay) * circle.transition(t.K, t.p)
