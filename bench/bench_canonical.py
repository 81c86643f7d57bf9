"""The two exact canonical-model presets (l2g-fig1, l2g-canonical): where their time goes.

For each preset, in this process: the computation (``fig1_numbers`` / ``canonical_numbers``,
of which the gradient flows), the figure (``fig1_figure`` / ``canonical_figure``) and, as
baselines measured in the same run,

- the flows run the straightforward way, one ``models.canonical.flow`` call per initial
  point (the same calls, recorded from the preset; timed on ``--points`` points of each and
  scaled to all of them), against the vectorised calls the preset makes;
- the same figure laid out by ``tight_layout`` (``plots.save`` without fixed margins).

Then, end to end in fresh processes: ``python -c "import walkformer.experiments"`` (Python,
numpy, matplotlib and the presets; neither preset imports torch) and ``walkformer
reproduce NAME``. Times are the
best of ``--repeats`` (the machine is shared); CPU time of this process for the in-process
parts, wall time for the subprocesses.

    python bench/bench_canonical.py [--repeats 3] [--points 20]
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from walkformer.experiments import REGISTRY
from walkformer.experiments import canonical as ce
from walkformer.models import canonical as cm


def best(fn, repeats: int) -> tuple[float, object]:
    """(least CPU seconds over ``repeats`` calls of fn, its last result)."""
    t, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.process_time()
        out = fn()
        t = min(t, time.process_time() - t0)
    return t, out


def recorded_flows(numbers):
    """Run ``numbers()`` with ``cm.flow`` wrapped; returns the (args, kwargs) of every call."""
    calls, flow = [], cm.flow

    def spy(*args, **kw):
        calls.append((args, kw))
        return flow(*args, **kw)

    cm.flow = spy
    try:
        numbers()
    finally:
        cm.flow = flow
    return calls


def flows_vectorised(calls) -> None:
    for args, kw in calls:
        cm.flow(*args, **kw)


def flows_per_point(calls, points: int) -> tuple[float, int]:
    """CPU seconds of one flow call per initial point, timed on ``points`` points of each
    call (evenly spaced) and scaled to all of them; and the number of points in all."""
    total, n_all = 0.0, 0
    for (p, q, e0, w0, *rest), kw in calls:
        cols = np.broadcast_arrays(*(np.asarray(x, dtype=float).ravel() for x in (p, q, e0, w0, *rest)))
        n = len(cols[0])
        idx = np.unique(np.linspace(0, n - 1, min(points, n)).round().astype(int))
        t0 = time.process_time()
        for i in idx:
            cm.flow(*(float(c[i]) for c in cols), **kw)
        total += (time.process_time() - t0) * n / len(idx)
        n_all += n
    return total, n_all


def wall(cmd: list[str], repeats: int) -> float:
    t = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t = min(t, time.perf_counter() - t0)
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--points", type=int, default=20, help="initial points per flow call timed one by one")
    a = ap.parse_args()
    n = REGISTRY["l2g-canonical"].seeds
    presets = {"l2g-fig1": (ce.fig1_numbers, ce.fig1_figure, "FIG1_MARGINS"),
               "l2g-canonical": (lambda: ce.canonical_numbers(n), ce.canonical_figure, "CANONICAL_MARGINS")}
    print(f"canonical presets, CPU seconds of this process, best of {a.repeats} (numpy {np.__version__})")
    with tempfile.TemporaryDirectory() as tmp:
        png = Path(tmp) / "fig.png"
        for name, (numbers, figure, margins) in presets.items():
            t_num, d = best(numbers, a.repeats)
            calls = recorded_flows(numbers)
            t_vec, _ = best(lambda: flows_vectorised(calls), a.repeats)
            t_loop, n_pts = flows_per_point(calls, a.points)
            t_fig, _ = best(lambda: figure(d, png), a.repeats)
            fixed = getattr(ce, margins)
            setattr(ce, margins, None)  # plots.save falls back to tight_layout
            try:
                t_tight, _ = best(lambda: figure(d, png), a.repeats)
            finally:
                setattr(ce, margins, fixed)
            print(f"{name}")
            print(f"  compute                       : {t_num:7.3f} s  (of which flows {t_vec:.3f} s, "
                  f"{len(calls)} calls, {n_pts} initial points)")
            print(f"  flows, one call per point     : {t_loop:7.3f} s  (scaled from {a.points} points per call)"
                  f"   -> vectorised is {t_loop / t_vec:5.1f}x faster")
            print(f"  figure (fixed margins)        : {t_fig:7.3f} s")
            print(f"  figure with tight_layout      : {t_tight:7.3f} s   -> fixed margins {t_tight / t_fig:5.2f}x faster")
            print(f"  compute + figure              : {t_num + t_fig:7.3f} s")
        exe = [sys.executable, "-m", "walkformer.cli"]
        t_imp = wall([sys.executable, "-c", "import walkformer.experiments"], a.repeats)
        t_py = wall([sys.executable, "-c", "pass"], a.repeats)
        print(f"end to end, wall seconds, best of {a.repeats}")
        print(f"  python -c pass                : {t_py:7.3f} s")
        print(f"  import walkformer.experiments : {t_imp:7.3f} s  (numpy, matplotlib, every preset; no torch)")
        for name in presets:
            t = wall(exe + ["reproduce", name, "--out", str(Path(tmp) / "out"), "--quiet"], a.repeats)
            print(f"  walkformer reproduce {name:13s}: {t:6.3f} s")


if __name__ == "__main__":
    main()
