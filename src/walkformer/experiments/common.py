"""Helpers shared by the presets: curves over seeds and the standard panels."""

from __future__ import annotations

import numpy as np

from .. import plots
from ..train import tolerance

PAPER = {  # common settings of Shi & Cao's random-walk experiments
    "task.K": 6, "task.N": 97, "model.M": 1000, "train.eps": 0.1,
    "train.n_train": 1000, "eval.n_test": 1000,
}


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


def standard_figure(runs: list[dict], path, title: str, zoom: int = 10) -> None:
    """The paper's panel layout: (a) accuracy, (b) V, (c) attention by position, (d) zoom."""
    s = runs[0]["summary"]
    K = runs[0]["config"]["task"]["K"]
    fig, axes = plots.plt.subplots(1, 4, figsize=(19, 4.3))
    steps, acc = curve(runs, "test_accuracy")
    plots.band(axes[0], steps, acc, f"mean, min–max over {len(runs)} seeds")
    plots.references(axes[0], s["optimal_accuracy"], K)
    plots.accuracy_axes(axes[0], "(a) test accuracy")
    plots.heatmap(axes[1], runs[0]["metrics"][-1]["V"], f"(b) V at step {steps[-1]} (seed 0)")
    att = np.mean([r["metrics"][-1]["attention"] for r in runs], axis=0)
    plots.attention_axes(axes[2], att, "(c) mean attention by position")
    plots.attention_axes(axes[3], att, f"(d) last {zoom} positions", zoom=zoom)
    fig.suptitle(title)
    plots.save(fig, path)
