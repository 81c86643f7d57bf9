"""Lemmas C.5 and C.7 of Shi & Cao: attention on the parent from step 2 on, against M / N^{3/2}.

From zero initialisation W^(1) = 0 (Lemma C.1), so S^(1) is uniform. Then, for 0 < p < 1
and M = Ω(N^{3/2}):

    Lemma C.5:  S^(2)_{N−1} ≥ 1 − exp(−Ω(N)),
    Lemma C.7:  S^(t)_{N−1} ≥ 1 − exp(−Ω(N))   for every 2 ≤ t ≤ T*,

with S^(t) = S(X̃ᵀ W^(t) x̃_N) the softmax over the N positions. We measure the deficit

    d(t) = 1 − E_X S^(t)_{N−1}(X)      (``1 − parent_attention``: the mean over the test set)

at every step. Since max_X (1 − S_{N−1}(X)) ≥ d(t), d(t) > δ refutes the lemmas' bound at
step t for some sequences; d(t) ≤ δ is necessary for it, not sufficient.

Pre-registered: δ = 0.01 (``DELTA``); N ∈ {49, 97}; M = r ρ₀ N^{3/2} with ρ₀ = 1000/97^{3/2}
(r = 1 is the paper's M = 1000 at N = 97) and r ∈ {1/4, 1/2, 1, 2, 4, 8}; the paper's
settings otherwise (zero init, η = 1, ε = 0.1, sin positions, 1000 training sequences,
50 steps; N = 97 is far beyond exact population enumeration), 10 seeds. Each claim is read
at r = 1, the ratio the paper itself runs; the grid says where the condition on M starts
to matter (``r_from``: the smallest r of the grid from which the bound holds in every seed).
"""

from __future__ import annotations

import numpy as np

from .. import plots
from ..criteria import settled
from .core import Experiment, claim, describe, difference, register, stat
from .common import with_figure
from .randomwalk import RHO0, ZERO, scaled_M

DELTA = 0.01
LEMMA_N = (49, 97)
RATIOS = (0.25, 0.5, 1, 2, 4, 8)
T_START = 2  # the lemmas' bound holds from step 2 on (W^(1) = 0: S^(1) is uniform)


def label(N: int, r: float) -> str:
    return f"N{N}-r{r:g}"


def deficits(run: dict) -> tuple[np.ndarray, np.ndarray]:
    """(steps, d): d(t) = 1 − mean parent attention at every logged step t >= T_START."""
    ms = [m for m in run["metrics"] if m["step"] >= T_START]
    return np.array([m["step"] for m in ms]), np.array([1.0 - m["parent_attention"] for m in ms])


def lemma_stats(runs: list[dict], delta: float = DELTA) -> dict:
    """Per seed: d(2) (Lemma C.5), max_{t >= 2} d(t) and where it is reached (Lemma C.7),
    and the step from which d <= delta for good; how many seeds meet each bound."""
    sd = [deficits(r) for r in runs]
    d2 = [float(d[0]) for _, d in sd]
    dmax = [float(d.max()) for _, d in sd]
    worst = [int(t[np.argmax(d)]) for t, d in sd]
    focus = [settled((m["step"], 1.0 - m["parent_attention"] <= delta) for m in r["metrics"]) for r in runs]
    return {"d_step2": stat(d2), "max_d_from_step2": stat(dmax), "worst_step_per_seed": worst,
            "focused_from_step": stat(focus), "seeds_c5": sum(x <= delta for x in d2),
            "seeds_c7": sum(x <= delta for x in dmax), "n_seeds": len(runs)}


def r_from(grid: dict, key: str) -> float | None:
    """Smallest ratio r of ``grid`` (r -> lemma_stats) such that every seed meets the bound
    (``key``: seeds_c5 or seeds_c7) at r and at every larger r of the grid; None: not even
    at the largest."""
    found = None
    for r in sorted(grid, reverse=True):
        if grid[r][key] < grid[r]["n_seeds"]:
            break
        found = r
    return found


def _analyse(runs, out, exp):
    grids = {N: {r: lemma_stats(runs[label(N, r)]) for r in RATIOS} for N in LEMMA_N}
    figure(runs, grids, out / "parent_attention.png")
    claims = []
    for N in LEMMA_N:
        g = grids[N]
        table = {f"{r:g}": {"M": scaled_M(N, r), **g[r]} for r in RATIOS}
        common = {"delta": DELTA, "M_over_N1.5_at_r1": RHO0, "grid": table}
        claims.append(claim(
            f"c5-step2-N{N}", f"N = {N}, M = {scaled_M(N)}: after two GD steps attention sits on the parent, "
            f"S_(N-1) >= 1 - δ (δ = {DELTA})", "S^(2)_(N-1) >= 1 - exp(-Ω(N)) (Lemma C.5)",
            g[1]["d_step2"] | common | {"r_from": r_from(g, "seeds_c5")}, g[1]["seeds_c5"] == g[1]["n_seeds"],
            f"every seed: 1 - mean S^(2)_(N-1) <= {DELTA} at M = ρ0 N^1.5 (the paper's ratio)"))
        claims.append(claim(
            f"c7-all-steps-N{N}", f"N = {N}, M = {scaled_M(N)}: attention stays on the parent at every step "
            f"2 <= t <= {runs[label(N, 1)][0]['summary']['steps']}", "S^(t)_(N-1) >= 1 - exp(-Ω(N)) for t >= 2 (Lemma C.7)",
            g[1]["max_d_from_step2"] | common | {"r_from": r_from(g, "seeds_c7")}, g[1]["seeds_c7"] == g[1]["n_seeds"],
            f"every seed: max over 2 <= t <= T of 1 - mean S^(t)_(N-1) <= {DELTA} at M = ρ0 N^1.5"))
    return with_figure(claims, "parent_attention.png")


def _differences(claims, out):
    """Where Lemma C.7's bound fails at the paper's own M, and from which M it holds."""
    c = {x["id"]: x for x in claims}
    out_ = []
    for N in LEMMA_N:
        c7 = c[f"c7-all-steps-N{N}"]
        m = c7["measured"]
        worst = {r: g["max_d_from_step2"]["max"] for r, g in m["grid"].items()}
        out_.append(difference(
            f"c7-N{N}", f"Lemma C.7 at N = {N}: attention on the parent from step 2 on, against M",
            "S^(t)_(N−1) ≥ 1 − exp(−Ω(N)) for every t ≥ 2 when M = Ω(N^1.5); the paper runs M = 1000 at N = 97",
            f"at M = {m['grid']['1']['M']} (M / N^1.5 = {m['M_over_N1.5_at_r1']:.2f}, the paper's ratio) the largest "
            f"deficit 1 − S_(N−1) over 2 ≤ t ≤ T is {describe(m)}, worst seed {m['max']:.3g} (δ = {m['delta']})",
            "the same runs over M = r · 1.05 N^1.5, r = " + ", ".join(m["grid"]) + ": worst deficit "
            + ", ".join(f"{w:.2g}" for w in worst.values())
            + ("; it holds at no r of the grid" if m["r_from"] is None else
               f"; the bound holds in every seed from r = {m['r_from']} on"
               + (", so the constant in M = Ω(N^1.5) matters at the paper's own M" if m["r_from"] > 1 else
                  ", the paper's ratio included")),
            claims=(f"c7-all-steps-N{N}",)))
    return out_


def figure(runs, grids, path) -> None:
    """(a) max_{t>=2} d(t) against M / N^1.5 (every seed, and the worst); (b) d(t) at r = 1."""
    fig, axes = plots.plt.subplots(1, 2, figsize=(14, 5))
    for i, N in enumerate(LEMMA_N):
        x = [r * RHO0 for r in RATIOS]
        for r, xr in zip(RATIOS, x):
            d = [max(float(deficits(run)[1].max()), 1e-17) for run in runs[label(N, r)]]
            axes[0].plot([xr * (1 + 0.04 * i)] * len(d), d, "o", alpha=0.35, color=f"C{i}")
        axes[0].plot(x, [max(grids[N][r]["max_d_from_step2"]["max"], 1e-17) for r in RATIOS], "-", color=f"C{i}",
                     label=f"N = {N}: worst seed")
        for run in runs[label(N, 1)]:
            ms = [m for m in run["metrics"] if m["step"] >= 1]
            axes[1].plot([m["step"] for m in ms], [max(1 - m["parent_attention"], 1e-17) for m in ms], color=f"C{i}",
                         alpha=0.5, label=f"N = {N}, M = {scaled_M(N)}" if run is runs[label(N, 1)][0] else None)
    for ax in axes:
        ax.axhline(DELTA, ls="--", color="k", lw=1, label=f"δ = {DELTA}")
        ax.set_yscale("log")
        ax.legend(fontsize=9)
    axes[0].set_xscale("log", base=2)
    axes[0].axvline(RHO0, ls=":", color="grey")
    axes[0].set_xlabel("M / N^1.5 (dotted: the paper's 1000 / 97^1.5)")
    axes[0].set_ylabel("max over 2 <= t <= T of 1 - S_(N-1) (0 drawn at 1e-17)")
    axes[0].set_title("(a) Lemma C.7 against the size of M (dots: seeds)")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("GD step t")
    axes[1].set_ylabel("1 - mean S_(N-1)")
    axes[1].set_title("(b) at the paper's ratio, every seed")
    plots.save(fig, path)


register(Experiment("parent-attention", "Shi & Cao Lemmas C.5, C.7", "attention on the parent from step 2 on, "
                    "against M / N^1.5", {label(N, r): {"task.p": 0.5, "task.N": N, "model.M": scaled_M(N, r)}
                                          for N in LEMMA_N for r in RATIOS}, _analyse, base=ZERO,
                    differences=_differences))
