"""the table given by task.matrix: inline rows or a .npy/.csv/.json file

Inline rows "0.9,0.1;0.2,0.8" (';' between rows, ',' between entries), or a path ending in
.npy, .csv or .json (a list of rows); (K^order, K) for task.order = k. K is the table's.
"""

import json
from pathlib import Path

import numpy as np

from . import need, stochastic
from ..errors import ConfigError

USES = ("task.matrix",)
RANK = 8
ORDERED = True


def table(t) -> np.ndarray:
    need(bool(t.matrix), "task.graph", "matrix", "matrix only with task.matrix set (inline rows or a path)")
    return stochastic(read(t.matrix), "task.matrix", t.matrix, t.order)


def read(text: str) -> np.ndarray:
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
    need(len(widths) == 1, "task.matrix", text, f"rows of one length (got lengths {widths})")
    return np.array(values)
