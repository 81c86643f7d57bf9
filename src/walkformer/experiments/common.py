"""Helpers shared by the presets: curves over seeds and the standard panels."""

from __future__ import annotations

import numpy as np

from .. import plots
from ..criteria import tolerance  # noqa: F401  (the presets import it from here)


PAPER = {  # common settings of Shi & Cao's random-walk experiments
    "task.K": 6, "task.N": 97, "model.M": 1000, "train.eps": 0.1,
    "train.n_train": 1000, "eval.n_test": 1000,
}


def with_figure(claims: list[dict], figure: str) -> list[dict]:
    """Name the figure (a PNG beside claims.json) that shows each claim (unless it names
    one already); the report links it."""
    return [{"figure": figure} | c for c in claims]


def curve(runs: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    steps = np.array([m["step"] for m in runs[0]["metrics"]])
    vals = np.array([[np.nan if m[key] is None else m[key] for m in r["metrics"]] for r in runs], dtype=float)
    return steps, vals  # (T,), (n_seeds, T)


def finals(runs: list[dict], key: str) -> list:
    return [r["summary"][key] for r in runs]


def at_step(run: dict, step: int) -> dict:
    return min(run["metrics"], key=lambda m: abs(m["step"] - step))


def near_opt(runs: list[dict]) -> tuple[bool, float]:
    """Every seed's final accuracy ≥ OPT − tol (3 binomial s.d. on n_test sequences)."""
    s = runs[0]["summary"]
    tol = tolerance(s["optimal_accuracy"], runs[0]["config"]["eval"]["n_test"])
    return all(a >= s["optimal_accuracy"] - tol for a in finals(runs, "test_accuracy")), tol


def at_random_guess(runs: list[dict]) -> tuple[bool, float]:
    """Every seed's final accuracy within 3 binomial s.d. of 1/K."""
    K = runs[0]["config"]["task"]["K"]
    tol = tolerance(1.0 / K, runs[0]["config"]["eval"]["n_test"])
    return all(abs(a - 1.0 / K) <= tol for a in finals(runs, "test_accuracy")), tol


def symmetry_break_step(run: dict, threshold: float = 1e-6) -> int | None:
    """First logged step whose token-logit spread exceeds ``threshold`` (None: never)."""
    for m in run["metrics"]:
        if m["token_logit_spread"] > threshold:
            return m["step"]
    return None


def transition_T(run: dict) -> np.ndarray | None:
    """Π^T of the run's task (the optimal V up to scale), or None for tasks without one."""
    from ..config import from_dict
    from ..tasks import make_task

    Pi = getattr(make_task(from_dict(run["config"])), "Pi", None)
    return None if Pi is None else np.asarray(Pi).T


def standard_figure(runs: list[dict], path, title: str, zoom: int = 10) -> None:
    """The paper's panels (a) accuracy, (b) V, (c) attention by position, (d) its last
    ``zoom`` positions, with the KL curve and Π^T beside V added:

        (a) accuracy | (b) KL | (c) V | (d) Π^T
        (e) attention by position        | (f) zoom
    """
    s = runs[0]["summary"]
    K = runs[0]["config"]["task"]["K"]
    fig = plots.plt.figure(figsize=(16, 8.6))
    grid = fig.add_gridspec(2, 4)
    axes = [fig.add_subplot(grid[0, i]) for i in range(4)] + [fig.add_subplot(grid[1, :3]), fig.add_subplot(grid[1, 3])]
    steps, acc = curve(runs, "test_accuracy")
    plots.band(axes[0], steps, acc, f"mean, min–max over {len(runs)} seeds")
    plots.references(axes[0], s["optimal_accuracy"], K)
    plots.accuracy_axes(axes[0], "(a) test accuracy")
    steps, kl = curve(runs, "kl")
    plots.band(axes[1], steps, kl, f"mean, min–max over {len(runs)} seeds")
    plots.kl_axes(axes[1], "(b) KL to the true next-state law")
    plots.heatmap(axes[2], runs[0]["metrics"][-1]["V"], f"(c) V at step {steps[-1]} (seed 0)")
    Pi_T = transition_T(runs[0])
    if Pi_T is not None:
        plots.heatmap(axes[3], Pi_T, "(d) Πᵀ (optimal V up to scale)")
    else:
        axes[3].axis("off")
    att = np.mean([r["metrics"][-1]["attention"] for r in runs], axis=0)
    plots.attention_axes(axes[4], att, f"(e) mean attention by position at step {steps[-1]}")
    plots.attention_axes(axes[5], att, f"(f) last {zoom} positions", zoom=zoom)
    fig.suptitle(title)
    plots.save(fig, path)
