"""The transition graphs of ``task.name=chain``: one module per ``task.graph`` value.

A graph module is the whole of a graph: adding ``graphs/my_graph.py`` adds
``task.graph=my-graph`` (underscores become hyphens) to the keys, the checks, ``walkformer
keys`` and docs/keys.md. It holds, with numpy only (this package never imports torch, so
the key registry can read it):

- its docstring: the first line is the one-line description in ``walkformer keys``, the
  rest the maths, e.g. ``π_{i,i+1} = p, π_{i,i−1} = 1 − p``;
- ``USES``: the task keys it reads (``task.K``, ``task.p``, ...): those keys apply with
  this graph, the others are refused (``keys.py``);
- ``RANK``: its place in the list of graphs; ``ORDERED = True`` if it can define a k-th
  order table (``task.order`` > 1);
- ``table(t)``: the (K^order, K) row-stochastic numpy table for a task section ``t``
  (``cfg.task``), Π[i, j] = P(next = j | current = i); it checks its own parameters with a
  one-line :class:`~walkformer.errors.ConfigError` (:func:`need`).

This module: the discovery (:data:`GRAPHS`, :func:`using`), the one check every table
passes (:func:`stochastic`) and :func:`transition_table`, which picks the graph.
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np

from ..errors import ConfigError

ROW_SUM_TOL = 1e-9
# K^order contexts at most: the chain on contexts (tasks/chain.py) is a dense (K^k, K^k) matrix.
MAX_CONTEXTS = 1024


def need(ok: bool, key: str, value, allowed: str) -> None:
    """A one-line ConfigError ``key=value is not allowed: allowed`` unless ``ok``."""
    if not ok:
        raise ConfigError(f"{key}={value!r} is not allowed: {allowed}")


def nodes(K: int, graph: str, least: int = 2) -> None:
    need(least <= K <= MAX_CONTEXTS, "task.K", K, f"task.graph={graph} needs {least} to {MAX_CONTEXTS} nodes")


def probability(key: str, x: float) -> None:
    need(0.0 <= x <= 1.0, key, x, "a probability in [0, 1]")


def contexts(K: int, order: int, key: str = "task.order", value=None) -> None:
    need(K**order <= MAX_CONTEXTS, key, order if value is None else value, f"K^order <= {MAX_CONTEXTS} contexts "
         f"(K={K}, order {order} give {K**order}; the chain on contexts is a dense (K^k, K^k) matrix)")


def stochastic(T: np.ndarray, key: str, value, order: int = 1) -> np.ndarray:
    """``T`` as a (K^order, K) row-stochastic float64 table, rows renormalised to sum to 1
    exactly; a one-line ConfigError naming ``key=value`` otherwise."""
    T = np.asarray(T, dtype=np.float64)
    need(T.ndim == 2, key, value, f"a 2-D table (got {T.ndim} dimensions)")
    K = T.shape[1]
    need(K >= 2, key, value, f"at least 2 states (got shape {T.shape})")
    contexts(K, order, *(("task.order", order) if order > 1 else (key, value)))
    want = "square" if order == 1 else f"(K^k, K) = ({K**order}, {K}) for task.order={order}"
    need(T.shape[0] == K**order, key, value, f"a {want} table (got shape {T.shape})")
    if (~np.isfinite(T)).any():
        need(False, key, value, f"finite entries (entry {tuple(map(int, np.argwhere(~np.isfinite(T))[0]))} is not)")
    if (T < 0).any():
        i = tuple(map(int, np.argwhere(T < 0)[0]))
        need(False, key, value, f"non-negative entries (entry {i} is {float(T[i])!r})")
    sums = T.sum(1)
    off = np.flatnonzero(np.abs(sums - 1.0) > ROW_SUM_TOL)
    if len(off):
        i = int(off[0])
        need(False, key, value, f"rows summing to 1 within {ROW_SUM_TOL:g} (row {i} sums to {float(sums[i])!r})")
    return T / sums[:, None]


class _Defaults:
    """A task section read with the keys' defaults (so a table can be built before the
    task.* keys exist, e.g. from an old config)."""

    DEFAULTS = {"graph": "circle", "order": 1, "matrix": "", "K": 6, "p": 0.5, "graph_seed": 0, "stay": 0.5, "degree": 3,
                "alpha": 1.0}  # as config.TaskConfig (tests/test_graphs.py checks)

    def __init__(self, t):
        self._t = t

    def __getattr__(self, name):
        return getattr(self._t, name, self.DEFAULTS.get(name))


def transition_table(t) -> np.ndarray:
    """The checked (K^order, K) table of a task section ``t`` (``cfg.task``)."""
    t = _Defaults(t)
    graph, order, text = t.graph, t.order, t.matrix
    need(graph in GRAPHS, "task.graph", graph, "one of " + " | ".join(GRAPHS))
    need(graph == "matrix" or not text, "task.matrix", text, f"only with task.graph=matrix (got task.graph={graph})")
    need(order == 1 or graph in ORDERED, "task.order", order, f"1 for task.graph={graph} (a first-order walk); a "
         f"k-th order table needs task.graph={' or '.join(ORDERED)}")
    seed = t.graph_seed
    need(isinstance(seed, (int, np.integer)) and seed >= 0, "task.graph_seed", seed, "an integer >= 0")
    return _MODULES[graph].table(t)


# ---- the graphs: every module of this package (after the helpers above, which they import)
def _discover() -> dict:
    mods = [importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__)
            if not m.name.startswith("_")]
    return {m.__name__.rsplit(".", 1)[1].replace("_", "-"): m for m in sorted(mods, key=lambda m: (m.RANK, m.__name__))}


_MODULES = _discover()
GRAPHS = tuple(_MODULES)  # the values of task.graph, in RANK order
ORDERED = tuple(g for g, m in _MODULES.items() if getattr(m, "ORDERED", False))  # k-th order tables (k > 1)


def using(key: str) -> tuple[str, ...]:
    """The graphs that read the task key ``key`` (their ``USES``)."""
    return tuple(g for g, m in _MODULES.items() if key in m.USES)


def uses(graph: str) -> tuple[str, ...]:
    """The task keys ``graph`` reads (its module's ``USES``)."""
    return tuple(_MODULES[graph].USES)


def describe(graph: str) -> str:
    """The graph's one-line description (the first line of its module's docstring)."""
    return (_MODULES[graph].__doc__ or graph).strip().splitlines()[0]
