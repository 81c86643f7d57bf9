"""Transition tables of ``task.name=chain``: the graphs of ``task.graph`` and their checks.

Every generator is a pure function of its parameters and returns a row-stochastic numpy
array, Π[i, j] = P(next = j | current = i), of shape (K, K); ``dirichlet`` and ``matrix``
may also give a k-th order table of shape (K^k, K) whose row c is the law of the next
state given the context c (see ``chain.py`` for the context index). K nodes are 0..K-1.

    circle       π_{i,i+1} = p,  π_{i,i-1} = 1 − p                  (mod K; K >= 3; Shi & Cao)
    lazy-circle  Π = stay · I + (1 − stay) · Π_circle(p)            (K >= 3)
    path         π_{i,i+1} = p,  π_{i,i-1} = 1 − p  for 0 < i < K−1;
                 reflecting ends: π_{0,1} = π_{K−1,K−2} = 1          (the step that would leave
                 the path goes to the only neighbour instead)
    star         π_{0,j} = 1/(K−1) for j >= 1 (centre 0 → a uniform leaf),  π_{j,0} = 1 (leaf → centre)
    complete     π_{i,j} = 1/(K−1) for j != i
    hypercube    π_{i,j} = 1/log₂K for j = i with one bit flipped             (K = 2^k, k >= 1)
    regular      π_{i,j} = 1/d for j ~ i in a random connected d-regular graph (seed ``graph_seed``)
    dirichlet    each row ~ Dir(α, .., α), drawn by numpy's default_rng(graph_seed)
    matrix       given: inline rows "0.9,0.1;0.2,0.8" (';' between rows, ',' between
                 entries) or a .npy / .csv / .json file (a list of rows)

:func:`stochastic` is the one check every table passes (finite, non-negative, rows summing
to 1 within 1e-9, then renormalised exactly; shape (K^k, K), K >= 2); a bad value is a
one-line :class:`~walkformer.config.ConfigError` naming the key, the value and what is allowed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..config import ConfigError
from ..keys import GRAPHS  # noqa: F401  (the names, declared once in the key registry)
from .circle import circle_transition

ORDERED = ("dirichlet", "matrix")  # the graphs that define a k-th order table (k > 1)
ROW_SUM_TOL = 1e-9
# K^order contexts at most: the chain on contexts (chain.py) is a dense (K^k, K^k) matrix.
MAX_CONTEXTS = 1024


def _need(ok: bool, key: str, value, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is not allowed: {allowed}")


def _nodes(K: int, graph: str, least: int = 2) -> None:
    _need(least <= K <= MAX_CONTEXTS, "task.K", K, f"task.graph={graph} needs {least} to {MAX_CONTEXTS} nodes")


def _contexts(K: int, order: int, key: str = "task.order", value=None) -> None:
    _need(K**order <= MAX_CONTEXTS, key, order if value is None else value, f"K^order <= {MAX_CONTEXTS} contexts "
          f"(K={K}, order {order} give {K**order}; the chain on contexts is a dense (K^k, K^k) matrix)")


def _probability(key: str, x: float) -> None:
    _need(0.0 <= x <= 1.0, key, x, "a probability in [0, 1]")


# ---- the graphs ----------------------------------------------------------------------------
def circle(K: int, p: float) -> np.ndarray:
    """The walk on a K-cycle of Shi & Cao (``tasks/circle.py``), (K, K)."""
    _nodes(K, "circle", 3)
    _probability("task.p", p)
    return circle_transition(K, p)


def lazy_circle(K: int, p: float, stay: float) -> np.ndarray:
    """Stay put w.p. ``stay``, else one circle step (clockwise w.p. p), (K, K)."""
    _nodes(K, "lazy-circle", 3)
    _probability("task.stay", stay)
    return stay * np.eye(K) + (1.0 - stay) * circle(K, p)


def path(K: int, p: float) -> np.ndarray:
    """The walk on the path 0 - 1 - .. - K−1 with reflecting ends, (K, K)."""
    _nodes(K, "path")
    _probability("task.p", p)
    Pi = np.zeros((K, K))
    i = np.arange(1, K - 1)  # inner nodes
    Pi[i, i + 1], Pi[i, i - 1] = p, 1.0 - p
    Pi[0, 1] = Pi[K - 1, K - 2] = 1.0
    return Pi


def star(K: int) -> np.ndarray:
    """Centre 0 → a uniform leaf, every leaf → the centre, (K, K)."""
    _nodes(K, "star")
    Pi = np.zeros((K, K))
    Pi[0, 1:], Pi[1:, 0] = 1.0 / (K - 1), 1.0
    return Pi


def complete(K: int) -> np.ndarray:
    """A uniform step to any other node, (K, K)."""
    _nodes(K, "complete")
    return (np.ones((K, K)) - np.eye(K)) / (K - 1)


def hypercube(K: int) -> np.ndarray:
    """The walk on the k-cube: flip one of the k = log₂ K bits of the state, uniformly, (K, K)."""
    k = K.bit_length() - 1
    _need(K >= 2 and K == 1 << k, "task.K", K, "a power of 2 >= 2 with task.graph=hypercube (K = 2^k states)")
    Pi = np.zeros((K, K))
    i = np.arange(K)
    for b in range(k):
        Pi[i, i ^ (1 << b)] = 1.0 / k
    return Pi


def regular(K: int, d: int, seed: int) -> np.ndarray:
    """The uniform walk on a random connected d-regular graph, (K, K): edges paired at
    random among the K·d half-edges (no loops, no double edges; a dead end restarts), the
    complement of a (K−1−d)-regular graph when d > (K−1)/2, redrawn until connected."""
    _nodes(K, "regular")
    _need(isinstance(d, (int, np.integer)) and 1 <= d <= K - 1, "task.degree", d,
          f"an integer in [1, K−1] = [1, {K - 1}] for task.K={K}")
    _need(K * d % 2 == 0, "task.degree", d, f"K·d even (each edge has two ends), and task.K={K}")
    _need(d >= 2 or K == 2, "task.degree", d,
          f"d >= 2 for task.K={K} (a 1-regular graph on K > 2 nodes is disconnected)")
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


def dirichlet(K: int, alpha: float, seed: int, order: int = 1) -> np.ndarray:
    """(K^order, K): row c ~ Dir(α·1_K), drawn in row order from default_rng(seed)."""
    _nodes(K, "dirichlet")
    _contexts(K, order)
    _need(alpha > 0 and np.isfinite(alpha), "task.alpha", alpha, "a concentration > 0")
    table = np.random.default_rng(seed).dirichlet(np.full(K, float(alpha)), size=K**order)
    return stochastic(table, "task.alpha", alpha, order)


def matrix(text: str, order: int = 1) -> np.ndarray:
    """The table given by ``task.matrix`` (inline rows or a .npy/.csv/.json path), checked."""
    return stochastic(read_matrix(text), "task.matrix", text, order)


def read_matrix(text: str) -> np.ndarray:
    """``task.matrix`` as a float array: a file when it ends in .npy, .csv or .json, else
    inline rows "a,b;c,d"."""
    suffix = Path(text).suffix.lower()
    if suffix not in (".npy", ".csv", ".json"):
        return _inline(text)
    try:
        if suffix == ".npy":
            raw = np.load(text, allow_pickle=False)
        elif suffix == ".csv":
            raw = np.loadtxt(text, delimiter=",", ndmin=2)
        else:
            raw = json.loads(Path(text).read_text())
        return np.asarray(raw, dtype=np.float64)
    except (OSError, ValueError, TypeError) as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(f"task.matrix={text!r}: cannot read it as a matrix ({why}); allowed: a readable "
                          f".npy, .csv or .json file of rows, or inline rows like '0.9,0.1;0.2,0.8'") from None


def _inline(text: str) -> np.ndarray:
    rows = [r.split(",") for r in text.strip().strip(";").split(";")]
    try:
        values = [[float(x) for x in r] for r in rows]
    except ValueError:
        raise ConfigError(f"task.matrix={text!r}: an entry is not a number; allowed: rows separated by ';' with "
                          f"entries separated by ',', like '0.9,0.1;0.2,0.8', or a .npy/.csv/.json path") from None
    widths = sorted({len(r) for r in values})
    _need(len(widths) == 1, "task.matrix", text, f"rows of one length (got lengths {widths})")
    return np.array(values)


# ---- the one check -------------------------------------------------------------------------
def stochastic(T: np.ndarray, key: str, value, order: int = 1) -> np.ndarray:
    """``T`` as a (K^order, K) row-stochastic float64 table, rows renormalised to sum to 1
    exactly; a one-line ConfigError naming ``key=value`` otherwise."""
    T = np.asarray(T, dtype=np.float64)
    _need(T.ndim == 2, key, value, f"a 2-D table (got {T.ndim} dimensions)")
    K = T.shape[1]
    _need(K >= 2, key, value, f"at least 2 states (got shape {T.shape})")
    _contexts(K, order, *(("task.order", order) if order > 1 else (key, value)))
    want = "square" if order == 1 else f"(K^k, K) = ({K**order}, {K}) for task.order={order}"
    _need(T.shape[0] == K**order, key, value, f"a {want} table (got shape {T.shape})")
    if (~np.isfinite(T)).any():
        _need(False, key, value, f"finite entries (entry {tuple(map(int, np.argwhere(~np.isfinite(T))[0]))} is not)")
    if (T < 0).any():
        i = tuple(map(int, np.argwhere(T < 0)[0]))
        _need(False, key, value, f"non-negative entries (entry {i} is {float(T[i])!r})")
    sums = T.sum(1)
    off = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOL)
    if len(off):
        i = int(off[0])
        _need(False, key, value, f"rows summing to 1 within {ROW_SUM_TOL:g} (row {i} sums to {float(sums[i])!r})")
    return T / sums[:, None]


def transition_table(t) -> np.ndarray:
    """The checked (K^order, K) table of a task section ``t`` (``cfg.task``; keys read with
    their defaults, so it also works before the task.* keys exist)."""
    graph, order = getattr(t, "graph", "circle"), getattr(t, "order", 1)
    text, K, p = getattr(t, "matrix", ""), getattr(t, "K", 6), getattr(t, "p", 0.5)
    _need(graph in GRAPHS, "task.graph", graph, "one of " + " | ".join(GRAPHS))
    _need(graph == "matrix" or not text, "task.matrix", text, f"only with task.graph=matrix (got task.graph={graph})")
    _need(graph != "matrix" or bool(text), "task.graph", graph,
          "matrix only with task.matrix set (inline rows or a path)")
    _need(order == 1 or graph in ORDERED, "task.order", order,
          f"1 for task.graph={graph} (a first-order walk); a k-th order table needs task.graph=dirichlet or matrix")
    seed = getattr(t, "graph_seed", 0)
    _need(isinstance(seed, (int, np.integer)) and seed >= 0, "task.graph_seed", seed, "an integer >= 0")
    if graph == "matrix":
        return matrix(text, order)
    if graph == "dirichlet":
        return dirichlet(K, getattr(t, "alpha", 1.0), seed, order)
    if graph == "regular":
        return regular(K, getattr(t, "degree", 3), seed)
    if graph == "lazy-circle":
        return lazy_circle(K, p, getattr(t, "stay", 0.5))
    return {"circle": lambda: circle(K, p), "path": lambda: path(K, p), "star": lambda: star(K),
            "complete": lambda: complete(K), "hypercube": lambda: hypercube(K)}[graph]()
