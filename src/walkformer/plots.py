"""Figures (matplotlib, Agg). Curves over seeds are drawn as mean with a min–max band;
reference lines are the optimal accuracy (OPT), random guessing (1/K) and, where a run
records them, reference losses (Bayes, unigram, bigram). Fonts are large enough to read
when a figure is shown at page width (the HTML report) or printed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

plt.rcParams.update({"font.size": 13, "axes.titlesize": 14, "axes.labelsize": 13, "legend.fontsize": 11,
                     "figure.titlesize": 15, "figure.dpi": 100})

# Reference losses (nats) drawn as horizontal lines on loss curves when a run's summary
# or metrics carry them: key -> label.
REFERENCE_LOSSES = {"bayes_loss": "Bayes-optimal loss", "bigram_loss": "bigram loss (optimal)",
                    "unigram_loss": "unigram loss"}


def heatmap(ax, M, title: str, labels_from: int = 1, vmin: float | None = None, vmax: float | None = None) -> None:
    """``vmin``/``vmax`` fix the colour scale (pass the same to panels the reader compares);
    by default each panel spans its own range."""
    M = np.asarray(M)
    im = ax.imshow(M, cmap="viridis", vmin=vmin, vmax=vmax)
    ax.set_title(title)
    ticks = range(M.shape[0]) if M.shape[0] <= 20 else range(0, M.shape[0], 5)
    ax.set_xticks(list(ticks), [str(i + labels_from) for i in ticks], fontsize=10)
    ax.set_yticks(list(ticks), [str(i + labels_from) for i in ticks], fontsize=10)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)


def band(ax, steps, runs, label: str, color=None) -> None:
    """Mean over runs with a min–max band; ``runs`` is (n_seeds, n_steps)."""
    runs = np.asarray(runs, dtype=float)
    line = ax.plot(steps, runs.mean(0), label=label, color=color)[0]
    if len(runs) > 1:
        ax.fill_between(steps, runs.min(0), runs.max(0), alpha=0.25, color=line.get_color(), lw=0)


def references(ax, opt: float | None = None, K: int | None = None) -> None:
    if opt is not None:
        ax.axhline(opt, ls="--", color="k", lw=1, label=f"optimal {opt:.3g}")
    if K is not None:
        ax.axhline(1.0 / K, ls=":", color="r", lw=1, label=f"1/K = {1 / K:.3g}")


def loss_references(ax, *sources: dict) -> None:
    """Dashed lines for every key of :data:`REFERENCE_LOSSES` found in ``sources``."""
    styles = iter(["--", "-.", ":"])
    for key, label in REFERENCE_LOSSES.items():
        v = next((s[key] for s in sources if isinstance(s.get(key), (int, float))), None)
        if v is not None:
            ax.axhline(v, ls=next(styles, "--"), color="k", lw=1, label=f"{label} {v:.3g}")


def kl_axes(ax, title: str) -> None:
    """Log scale when the plotted KL spans more than a factor of 20, else linear (a log
    axis over 1.79–1.80 has unreadable ticks)."""
    ys = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()] or [np.ones(1)])
    ys = ys[np.isfinite(ys)]
    if len(ys) and ys.min() > 0 and ys.max() / ys.min() > 20:
        ax.set_yscale("log")
    ax.set_xlabel("GD iteration")
    ax.set_ylabel("KL(true ‖ normalised output), nats")
    ax.set_title(title)


def accuracy_axes(ax, title: str) -> None:
    ax.set_xlabel("GD iteration")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=10, loc="best")


def attention_axes(ax, att, title: str, zoom: int | None = None) -> None:
    att = np.asarray(att)
    pos = np.arange(1, len(att) + 1)
    if zoom:
        pos, att = pos[-zoom:], att[-zoom:]
    ax.bar(pos, att, width=0.8)
    ax.set_xlabel("token position j (N = empty slot)")
    ax.set_ylabel("mean attention $S_j$")
    ax.set_title(title)


def save(fig, path: Path | str, margins: dict | None = None) -> None:
    """Write ``fig`` as PNG (atomically). ``margins`` (``subplots_adjust``'s keys) replaces
    ``tight_layout``, which measures every text once more (a quarter of the time of a
    2 x 2 figure); presets that draw the same layout every time pass what tight_layout found.
    zlib level 3: the same pixels as the default 6, written twice as fast (and smaller here)."""
    from .runs.rundir import atomic_write
    import io

    if margins is None:
        fig.tight_layout()
    else:
        fig.subplots_adjust(**margins)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", pil_kwargs={"compress_level": 3})
    plt.close(fig)
    atomic_write(path, buf.getvalue())


def plot_run(result, path: Path | str) -> None:
    """Six panels of one run: accuracy, KL, attention (all and last 10), V and Π^T."""
    m, task = result.metrics, result.task
    steps = [x["step"] for x in m]
    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    ax = axes[0, 0]
    ax.plot(steps, [x["test_accuracy"] for x in m])
    references(ax, task.optimal_accuracy, task.K)
    accuracy_axes(ax, "test accuracy")
    ax = axes[0, 1]
    ax.plot(steps, [x["kl"] for x in m])
    kl_axes(ax, "KL divergence")
    attention_axes(axes[0, 2], m[-1]["attention"], f"attention at step {steps[-1]}")
    attention_axes(axes[1, 2], m[-1]["attention"], "attention, last 10 positions", zoom=10)
    if "V" in m[-1]:  # a model whose V maps states to states (the paper's)
        heatmap(axes[1, 0], m[-1]["V"], f"V at step {steps[-1]}")
    else:
        axes[1, 0].axis("off")
    if task.Pi is not None:
        heatmap(axes[1, 1], task.Pi.T, "Πᵀ (the optimal V, up to scale)")
    else:
        axes[1, 1].axis("off")
    save(fig, path)


def loss_axes(ax, unigram: float, bigram: float, title: str) -> None:
    """Loss axes with the exact unigram H(π) and bigram (entropy-rate) reference lines."""
    ax.axhline(unigram, ls=":", color="r", lw=1, label=f"unigram H(π) = {unigram:.4f}")
    ax.axhline(bigram, ls="--", color="k", lw=1, label=f"bigram (entropy rate) = {bigram:.4f}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("test loss (nats)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")


def plot_binary_run(result, path: Path | str) -> None:
    """One binary-chain run: test loss with references, and (gpt) predicted P(1 | x_n = 0)
    at the last step, or, for a gpt run that failed before it, p̂ and q̂ over the steps;
    (canonical) e, w and b over the steps. Non-finite values are left out of the limits."""
    m, s = result.metrics, result.summary
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3))
    steps = [x["step"] for x in m]
    dot = {"marker": "o", "ms": 4} if len(steps) < 4 else {}  # a run that stopped early: points, not a line
    axes[0].plot(steps, [x["test_loss"] for x in m], label="test loss", **dot)
    seen = [x["test_loss"] for x in m if isinstance(x["test_loss"], float) and np.isfinite(x["test_loss"])]
    lo, hi = s["bigram_loss"], max(s["unigram_loss"], min(max(seen, default=0.0), 2 * s["unigram_loss"]))
    axes[0].set_ylim(lo - 0.1 * (hi - lo) - 1e-3, hi + 0.1 * (hi - lo) + 1e-3)
    loss_axes(axes[0], s["unigram_loss"], s["bigram_loss"], f"p = {s['p']}, q = {s['q']}")
    ax = axes[1]
    if "p_hat_by_position" in m[-1]:
        y = np.array([np.nan if v is None else v for v in m[-1]["p_hat_by_position"]], dtype=float)
        ax.plot(np.arange(1, len(y) + 1), y, lw=0.8, label="model")
        ax.axhline(s["p"], ls="--", color="k", lw=1, label=f"p = {s['p']}")
        ax.axhline(s["pi1"], ls=":", color="r", lw=1, label=f"π₁ = {s['pi1']:.3f}")
        ax.set_xlabel("position n")
        ax.set_ylabel("predicted P(x_{n+1}=1 | x_n=0)")
        ax.set_title(f"at step {steps[-1]}")
        ax.legend(fontsize=8)
    else:
        for k in ("e", "w", "b") if "e" in m[-1] else ("p_hat", "q_hat"):
            ax.plot(steps, [np.nan if x.get(k) is None else x[k] for x in m], label=k, **dot)
        ax.set_xlabel("iteration")
        ax.set_title(f"run failed at step {steps[-1]}" if s.get("status") == "failed" else "")
        ax.legend(fontsize=8)
    save(fig, path)
