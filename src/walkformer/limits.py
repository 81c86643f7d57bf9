"""What a run costs before it runs: an upper bound on its memory, the machine's memory,
and the ceilings on steps and on the runs of a sweep.

``config.resolve`` refuses a config whose estimate exceeds the machine's memory, so a
run that cannot fit costs one line (``ConfigError``) instead of minutes of allocation
and a numpy or torch traceback. The estimate is a rough *upper bound*, a sum of terms
(bytes; s = 8 for float64, 4 for float32; a long index takes 8 B; a float kept in a
logged metrics line is a Python float in a list, 32 B)::

    shi-cao   rows = n_train (population: its paths), B = rows + n_test, D = D_t + M (D_t = K for
              model.embed=onehot, else d; M only for concatenated positions), ℓ layers, H heads
      sequences    B·N·(2·8 + 6·s)         tokens (and a copy), logits, softmax weights, grads
      predictions  B·K·6·s                 h, f, targets, their gradients
      key-query W  2·D²·s·ℓ·H              W0 (gaussian init) and the dense W that is saved, per head and layer
      positions    2·M·N·s + 2·N²·s        P and its Gram matrix
      value head   4·(K² + 2·K·m)·s        V (A), their gradients and updates
      metrics      L·(K² + N + 20)·32      each logged line keeps V and the attention
    gpt       (d width, ℓ layers, H heads, B = train.batch, L logged lines)
      parameters   4·(12·ℓ·d² + (N + 4)·d)·s     weights, grads, two AdamW moments
      training     ℓ·(16·B·N·d + 3·B·H·N²)·s     activations and the attention matrix
      evaluation   ℓ·2·16·H·N²·s + n_test·N·56   one chunk of 16 test sequences; test set
      metrics      (L·(4·ℓ + 10) + N)·32
    canonical 1000·steps                           one line of (e, w, b, loss) per step

L is the number of logged steps (``eval.grid``). Runs trained together in a batch
(sweeps, reproductions) share their data, so the per-run bound is what is checked.
"""

from __future__ import annotations

import functools
import math
import os

MAX_RUNS = 100_000  # a sweep with more runs needs --yes (checked from the grid's shape, before expanding)
# The most GD steps of one run: at the fastest measured step (~10 µs, a tiny shi-cao run) 10⁹
# steps take about 3 hours; every preset uses at most a few thousand.
MAX_STEPS = 10**9
PYFLOAT = 32  # bytes of a float kept in a list of a metrics line (24 B object + 8 B pointer)


@functools.lru_cache(maxsize=1)
def machine_memory() -> int | None:
    """Total physical memory in bytes (``/proc/meminfo`` MemTotal, else ``os.sysconf``); None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return None


def n_logged(ev, steps: int) -> int:
    """An upper bound on the number of logged metrics lines of a run of ``steps`` steps."""
    if ev.grid == "log":
        return ev.per_decade * (int(math.log10(max(steps, 1))) + 1) + 2
    return steps // ev.every + 2


def memory_terms(cfg, rows: int | None = None) -> list[tuple[str, float, tuple[str, ...]]]:
    """The terms of the module docstring's bound for ``cfg`` (resolved): (what, bytes,
    the keys that set it). ``rows``: the training sequences when ``train.data=population``."""
    t, m, tr, ev = cfg.task, cfg.model, cfg.train, cfg.eval
    s = 8 if cfg.dtype == "float64" else 4
    L = n_logged(ev, tr.steps)
    logs = ("train.steps", "eval.per_decade" if ev.grid == "log" else "eval.every")
    if m.name == "canonical":
        return [("one line per step", 1000.0 * tr.steps, ("train.steps",))]
    if m.name == "gpt":
        d, ly, H, B, N = m.d, m.layers, m.heads, tr.batch, t.N
        return [("parameters", 4.0 * (12 * ly * d * d + (N + 4) * d) * s, ("model.d", "task.N")),
                ("training activations", 1.0 * ly * (16 * B * N * d + 3 * B * H * N * N) * s,
                 ("task.N", "train.batch", "model.d")),
                ("evaluation", 2.0 * ly * 16 * H * N * N * s + 56.0 * ev.n_test * N, ("task.N", "eval.n_test")),
                ("metrics", (L * (4.0 * ly + 10) + N) * PYFLOAT, logs)]
    K, N = t.K, t.N
    M = m.M if m.pos in ("sin", "onehot") else 0  # concatenated positions only
    D = (K if m.embed == "onehot" else m.d) + M
    n = (rows if tr.data == "population" and rows is not None else tr.n_train) + ev.n_test
    return [("sequences", 1.0 * n * N * (16 + 6 * s), ("train.n_train", "task.N", "eval.n_test")),
            ("predictions", 6.0 * n * K * s, ("train.n_train", "task.K", "eval.n_test")),
            ("key-query W", 2.0 * D * D * s * m.layers * m.heads, ("task.K", "model.M")),
            ("positions", 2.0 * (M * N + N * N) * s, ("task.N", "model.M")),
            ("value head", 4.0 * (K * K + 2 * K * m.m) * s, ("task.K", "model.m")),
            ("metrics", L * (K * K + N + 20.0) * PYFLOAT, logs + ("task.K",))]


@functools.lru_cache(maxsize=256)
def population_rows(name: str, K: int, N: int, p: float) -> tuple[int, int]:
    """(training sequences of ``train.data=population``, the most allowed): the circle's
    paths of positive probability (counted, not enumerated; > the most if too many), a
    QA task's questions."""
    from .tasks.markov import MAX_POPULATION_ROWS, population_size

    if name != "circle":
        return 4, MAX_POPULATION_ROWS
    from .tasks.circle import circle_transition

    return population_size(circle_transition(K, p), [1.0] * K, N), MAX_POPULATION_ROWS


def gib(b: float) -> str:
    return f"{b / 2**30:.3g} GiB" if b < 2**40 else f"{b / 2**40:.3g} TiB"
