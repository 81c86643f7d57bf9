"""The "Attention with Markov" (p, q) grid preset (``awm-grid``): the 5×5 grid of the
predicted P(1 | 0), tied vs untied, and its phase diagram; with the ``gpt`` presets'
conventions, budget and criteria of ``experiments/markov.py``."""

from __future__ import annotations

import numpy as np

from .. import plots
from .core import Experiment, claim, register, stat
from . import markov_differences as md
from .common import finals
from .markov import BASE, CONTROL_SEEDS, LEARNED_KL, STUCK_FRAC, _info

# ---- AwM: the (p, q) grid ---------------------------------------------------------------------
GRID = (0.2, 0.4, 0.5, 0.6, 0.8)
GRID_BASE = BASE | {"task.N": 32, "train.steps": 300, "eval.every": 300}


# control: the slowest cells (the q = 0.2 column below p + q = 1 that fail at 300 steps) at the paper's 500 iterations
SLOW_CELLS, PAPER_STEPS = ((0.4, 0.2), (0.5, 0.2)), 500


# the tied cells whose estimate the paper prints (markov-avg-p.pdf), p + q > 1
PAPER_TIED = {(0.5, 0.8): 0.408, (0.8, 0.8): 0.726, (0.4, 0.8): 0.347}
PAPER_TOL = 0.05  # the same tolerance as "estimate ≈ p"
MIN_DEVIATION = 0.02  # "deviates": |p_hat − p| at least this (the paper's smallest printed deviation is 0.053)


def _grid_variants():
    return {f"p{p}-q{q}-{t}": {"task.p": p, "task.q": q, "model.tie": t == "tied"}
            for t in ("tied", "untied") for p in GRID for q in GRID} | {
        f"p{p}-q{q}-{t}-{PAPER_STEPS}": {"task.p": p, "task.q": q, "model.tie": t == "tied", "train.steps": PAPER_STEPS}
        for t in ("tied", "untied") for p, q in SLOW_CELLS} | {
        # control: the paper's printed tied cells with LayerNorm (the authors' full model has it)
        f"p{p}-q{q}-tied-layernorm": {"task.p": p, "task.q": q, "model.tie": True, "model.layernorm": True}
        for p, q in PAPER_TIED}


def deviates_toward(p_hat: float, p: float, pi1: float) -> bool:
    """The tied estimate has left p toward the unigram π₁ = p / (p + q): on π₁'s side of p
    and at least MIN_DEVIATION away."""
    return (p_hat - p) * (pi1 - p) > 0 and abs(p_hat - p) >= MIN_DEVIATION


def grid_panel(fig, ax, values, text, dark, title: str, fontsize: int = 9, **imshow) -> None:
    """One (p, q) heat-map of the GRID (p up, q across), each cell annotated with
    ``text(i, j)``, in white where ``dark[i, j]``."""
    im = ax.imshow(values, origin="lower", **imshow)
    for i in range(len(GRID)):
        for j in range(len(GRID)):
            ax.text(j, i, text(i, j), ha="center", va="center", fontsize=fontsize, color="w" if dark[i, j] else "k")
    ax.set_xticks(range(len(GRID)), [str(q) for q in GRID])
    ax.set_yticks(range(len(GRID)), [str(p) for p in GRID])
    ax.set_xlabel("q")
    ax.set_ylabel("p")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)


def _grid(runs, out, exp):
    mean = {t: np.array([[np.mean(finals(runs[f"p{p}-q{q}-{t}"], "p_hat")) for q in GRID] for p in GRID])
            for t in ("tied", "untied")}
    truth = np.array([[p for q in GRID] for p in GRID])
    pi1 = np.array([[p / (p + q) for q in GRID] for p in GRID])
    fig, axes = plots.plt.subplots(1, 2, figsize=(12, 5))
    for ax, t in zip(axes, ("tied", "untied")):
        grid_panel(fig, ax, mean[t], lambda i, j: f"{mean[t][i, j]:.3f}", mean[t] < 0.5,
                   f"mean predicted P(1 | x_n = 0), {t} (truth: p)", cmap="viridis", vmin=0.15, vmax=0.85)
    plots.save(fig, out / "awm_grid.png")
    gap_claims = _phase(runs, out)
    above = np.array([[p + q > 1 + 1e-9 for q in GRID] for p in GRID])
    below = np.array([[p + q < 1 - 1e-9 for q in GRID] for p in GRID])
    err_u, err_t = np.abs(mean["untied"] - truth), np.abs(mean["tied"] - truth)
    toward_pi = np.abs(mean["tied"] - pi1) < np.abs(mean["tied"] - truth)
    dev = np.array([[deviates_toward(mean["tied"][i, j], p, pi1[i, j]) for j, q in enumerate(GRID)]
                    for i, p in enumerate(GRID)])
    cells = lambda m: {f"p{p}-q{q}": round(float(m[i, j]), 4) for i, p in enumerate(GRID)  # noqa: E731
                       for j, q in enumerate(GRID)}

    def worst(err):
        i, j = np.unravel_index(int(np.argmax(err)), err.shape)
        return {"p": GRID[i], "q": GRID[j], "abs_error": float(err[i, j])}

    def off(err):  # the cells outside 0.05, for the difference's text
        return [f"({GRID[i]}, {GRID[j]})" for i, j in zip(*np.nonzero(err > 0.05))]
    c0 = runs[f"p{GRID[0]}-q{GRID[0]}-tied"][0]["config"]
    setting = {"steps": c0["train"]["steps"], "N": c0["task"]["N"]}
    return [
        claim("untied-learns-p", "untied: the estimate ≈ p in every cell", "0.197–0.802 ≈ p",
              {"max_abs_error": float(err_u.max()), "cells_within_0.05": int((err_u <= 0.05).sum()), "cells": 25,
               "note": "300 steps at N = 32 (paper: 500 at 1024); the q = 0.2 column is slowest, tied or not",
               "worst_cell": worst(err_u), "p_hat": cells(mean["untied"]), "cells_off": off(err_u)} | setting,
              err_u.max() <= 0.05, "|mean p_hat − p| <= 0.05 in all 25 cells"),
        claim("tied-learns-p-below", "tied, p + q < 1: the estimate ≈ p", "≈ p",
              {"max_abs_error": float(err_t[below].max()), "cells_within_0.05": int((err_t[below] <= 0.05).sum()),
               "cells": int(below.sum()), "worst_cell": worst(np.where(below, err_t, 0)),
               "cells_off": off(np.where(below, err_t, 0))} | setting,
              err_t[below].max() <= 0.05, "|mean p_hat − p| <= 0.05 in every cell with p + q < 1"),
        _slow_cells(runs),
        claim("tied-deviates-above", "tied, p + q > 1: the estimate deviates from p, toward the unigram π₁",
              "(0.5, 0.8): 0.408; (0.8, 0.8): 0.726; (0.4, 0.8): 0.347",
              {"cells_deviating": int(dev[above].sum()), "cells": int(above.sum()),
               "cells_closer_to_pi1_than_to_p": int(toward_pi[above].sum()),
               "paper_cells_pass_this_criterion": all(deviates_toward(v, p, p / (p + q)) for (p, q), v in
                                                      PAPER_TIED.items()),
               "p_hat": cells(mean["tied"]), "pi1": cells(pi1)},
              dev[above].all(), f"in every cell with p + q > 1 the mean estimate lies on π₁'s side of p, at least "
              f"{MIN_DEVIATION} from p (the paper's three printed cells pass this)"),
        _paper_cells(runs, mean["tied"]),
    ] + gap_claims


def _paper_cells(runs, tied) -> dict:
    """The tied estimate against the paper's printed values, with the LayerNorm control."""
    ours = {f"({p}, {q})": float(tied[GRID.index(p), GRID.index(q)]) for p, q in PAPER_TIED}
    ln_runs = {(p, q): finals(runs[f"p{p}-q{q}-tied-layernorm"], "p_hat") for p, q in PAPER_TIED}
    ln = {f"({p}, {q})": stat(v) | {"seeds_at_pi1": sum(abs(x - p / (p + q)) <= PAPER_TOL for x in v),
                                    "seeds_at_p": sum(abs(x - p) <= PAPER_TOL for x in v)}
          for (p, q), v in ln_runs.items()}
    err = {f"({p}, {q})": abs(ours[f"({p}, {q})"] - v) for (p, q), v in PAPER_TIED.items()}
    return claim("tied-paper-cells", "tied, p + q > 1: the estimate in the cells the paper prints",
                 "; ".join(f"({p}, {q}): {v}" for (p, q), v in PAPER_TIED.items()),
                 {"paper": {f"({p}, {q})": v for (p, q), v in PAPER_TIED.items()}, "ours": ours,
                  "abs_difference": err, "pi1": {f"({p}, {q})": p / (p + q) for p, q in PAPER_TIED},
                  "control_layernorm_p_hat": ln},
                 max(err.values()) <= PAPER_TOL, f"|mean p_hat − paper| <= {PAPER_TOL} in each printed cell")


def _slow_cells(runs) -> dict:
    """The control: the slowest cells at the paper's number of iterations (our N)."""
    err = {f"({p}, {q}) {t}": [abs(v - p) for v in finals(runs[f"p{p}-q{q}-{t}-{PAPER_STEPS}"], "p_hat")]
           for p, q in SLOW_CELLS for t in ("tied", "untied")}
    mean_err = {f"({p}, {q}) {t}": abs(float(np.mean(finals(runs[f"p{p}-q{q}-{t}-{PAPER_STEPS}"], "p_hat"))) - p)
                for p, q in SLOW_CELLS for t in ("tied", "untied")}
    return claim("slow-cells-learn-p", f"controlled: at the paper's {PAPER_STEPS} iterations the slowest cells' "
                 f"estimate ≈ p, tied and untied (N = {GRID_BASE['task.N']})", "≈ p (500 iterations, N = 1024)",
                 {"cells": [f"({p}, {q})" for p, q in SLOW_CELLS], "steps": PAPER_STEPS,
                  "n_seeds": len(runs[f"p{SLOW_CELLS[0][0]}-q{SLOW_CELLS[0][1]}-tied-{PAPER_STEPS}"]),
                  "abs_error": {k: stat(e) for k, e in err.items()}, "abs_error_of_mean": mean_err},
                 max(mean_err.values()) <= 0.05, "|mean p_hat − p| <= 0.05 in each control cell, tied and untied")


def _phase(runs, out) -> list[dict]:
    """The binary phase diagram (issue 4): final excess test loss over the bigram (Bayes)
    loss on the grid, tied vs untied, mean ± s.d. over seeds; and claims read off it."""
    gap = {t: np.array([[finals(runs[f"p{p}-q{q}-{t}"], "kl") for q in GRID] for p in GRID])
           for t in ("tied", "untied")}  # (P, Q, seeds)
    info = np.array([[_info(runs[f"p{p}-q{q}-tied"])[2] for q in GRID] for p in GRID])  # unigram − bigram
    n_seeds = gap["tied"].shape[2]
    fig, axes = plots.plt.subplots(1, 2, figsize=(12, 5))
    vmax = float(max(g.mean(2).max() for g in gap.values()))
    for ax, t in zip(axes, ("tied", "untied")):
        m, sd = gap[t].mean(2), gap[t].std(2)
        grid_panel(fig, ax, m, lambda i, j: f"{m[i, j]:.3f}\n±{sd[i, j]:.3f}", m > 0.5 * vmax,
                   f"{t}: final test loss − bigram loss (nats), {n_seeds} seeds", cmap="magma_r", vmin=0,
                   vmax=vmax, fontsize=8)
        ax.plot([len(GRID) - 1, 0], [0, len(GRID) - 1], ls="--", color="c", lw=1)  # p + q = 1 on this grid
    fig.suptitle("Binary phase diagram: excess over the Bayes (bigram) loss on the same test positions "
                 "(dashed: p + q = 1)")
    plots.save(fig, out / "awm_grid_gap.png")
    above = np.array([[p + q > 1 + 1e-9 for q in GRID] for p in GRID])
    below = np.array([[p + q < 1 - 1e-9 for q in GRID] for p in GRID])
    mean = {t: g.mean(2) for t, g in gap.items()}
    cells = lambda m, mask=None: {f"p{p}-q{q}": round(float(m[i, j]), 4) for i, p in enumerate(GRID)  # noqa: E731
                                  for j, q in enumerate(GRID) if mask is None or mask[i, j]}
    frac = np.where(info > 1e-9, mean["tied"] / np.where(info > 1e-9, info, 1), np.nan)  # share of the unigram's excess
    fig_ = {"figure": "awm_grid_gap.png"}
    return [
        fig_ | claim("phase-untied-bigram", "phase diagram, untied: the final loss is at the bigram loss in every cell",
                     "untied models reach the bigram loss for all (p, q)",
                     {"max_mean_gap": float(mean["untied"].max()),
                      "cells_learned": int((mean["untied"] <= LEARNED_KL).sum()), "cells": mean["untied"].size, "gap": cells(mean["untied"]),
                      "seeds_learned": int((gap["untied"] <= LEARNED_KL).sum()), "runs": gap["untied"].size},
                     (mean["untied"] <= LEARNED_KL).all(), f"mean final gap <= {LEARNED_KL} nats in all 25 cells"),
        fig_ | claim("phase-tied-below-bigram", "phase diagram, tied, p + q < 1: at the bigram loss",
                     "tied models reach the bigram loss when p + q < 1",
                     {"max_mean_gap": float(mean["tied"][below].max()), "cells": int(below.sum()),
                      "cells_learned": int((mean["tied"][below] <= LEARNED_KL).sum()),
                      "gap": cells(mean["tied"], below)},
                     (mean["tied"][below] <= LEARNED_KL).all(),
                     f"mean final gap <= {LEARNED_KL} nats in every cell with p + q < 1"),
        fig_ | claim("phase-tied-above-unigram", "phase diagram, tied, p + q > 1: the gap is the unigram's whole "
                     "excess (stuck at the unigram loss)", "tied models are stuck at the unigram loss when p + q > 1",
                     {"min_share_of_unigram_excess": float(np.nanmin(frac[above])), "cells": int(above.sum()),
                      "cells_stuck": int((frac[above] >= STUCK_FRAC).sum()),
                      "share_of_unigram_excess": cells(frac, above), "gap": cells(mean["tied"], above),
                      "note": "share = mean gap / (unigram − bigram): 1 is the unigram loss, 0 the bigram"},
                     (frac[above] >= STUCK_FRAC).all(),
                     f"mean final gap >= {STUCK_FRAC} x (unigram − bigram) in every cell with p + q > 1"),
    ]


register(Experiment("awm-grid", "AwM (p, q) heat-maps (markov-avg-p)", "5×5 grid of the predicted p, tied vs untied",
                    _grid_variants(), _grid, seeds=10, base=GRID_BASE, differences=md.grid_differences,
                    variant_seeds={k: CONTROL_SEEDS for k in _grid_variants() if k.endswith(f"-{PAPER_STEPS}")}))
