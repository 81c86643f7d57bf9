"""Small random initialisation (Figs. 6, 11–13) and the question-answering tasks (Figs. 7, 10)."""

from __future__ import annotations

import numpy as np

from .. import plots
from .core import Experiment, claim, describe, difference, load_claims, register, stat
from .common import PAPER, at_step, curve, finals, tolerance, with_figure
from .fig6_criteria import (REBUTTAL_VAR, fig11_check, over_trained_readings, table_reading, tested_where_solved,
                            top_lag, trains, variance_curve)

RANDOM = PAPER | {"init.scheme": "gaussian", "init.sigma": 0.01, "model.normalize": True,
                  "train.eta": 0.01, "train.steps": 1000, "eval.every": 10}
# Controlled variant: a loss *summed* over the 1000 training sequences with η = 0.01 is
# the mean loss with η = 10. The paper does not say which it used.
SUMMED = {"train.eta": 10.0}
FIG6 = {"p0.5": {"task.p": 0.5}, "p1": {"task.p": 1.0},
        "p0.5-summed": {"task.p": 0.5} | SUMMED, "p1-summed": {"task.p": 1.0} | SUMMED}
# Controls for the rebuttal's variance table only (p = 1): the readings η ∈ {0.01, 1, 10} x
# σ ∈ {0.01, 0.03}, fixed before comparing (docs/random-walk-criteria.md); the paper's two
# readings (σ = 0.01, η = 0.01 or 10) are p1 and p1-summed above.
TABLE_CONTROLS = {"p1-eta1": {"task.p": 1.0, "train.eta": 1.0},
                  "p1-sigma0.03": {"task.p": 1.0, "init.sigma": 0.03},
                  "p1-sigma0.03-eta1": {"task.p": 1.0, "init.sigma": 0.03, "train.eta": 1.0},
                  "p1-sigma0.03-summed": {"task.p": 1.0, "init.sigma": 0.03} | SUMMED}
TABLE_READINGS = ("p1", "p1-summed") + tuple(TABLE_CONTROLS)
SNAPSHOTS = (100, 400, 700, 1000)


def _fig6(runs, out, exp):
    fig, axes = plots.plt.subplots(2, 2, figsize=(14, 9.5))  # (a) (b) / (c) (d), readable at page width
    axes = axes.ravel()
    for col, p in enumerate(("p0.5", "p1")):
        for label, name in ((p, "η = 0.01 (mean loss)"), (p + "-summed", "η = 10 (= summed loss)")):
            steps, acc = curve(runs[label], "test_accuracy")
            plots.band(axes[2 * col], steps, acc, name)
            steps, kl = curve(runs[label], "kl")
            plots.band(axes[2 * col + 1], steps, kl, name)
        opt = runs[p][0]["summary"]["optimal_accuracy"]
        plots.references(axes[2 * col], opt, 6)
        plots.accuracy_axes(axes[2 * col], f"({'ac'[col]}) accuracy, {p.replace('p', 'p = ')}")
        ax = axes[2 * col + 1]
        plots.kl_axes(ax, f"({'bd'[col]}) KL divergence, {p.replace('p', 'p = ')}")
        ax.legend(fontsize=10)
    fig.suptitle("Fig. 6: random initialisation σ = 0.01, x̃ normalised in the softmax")
    plots.save(fig, out / "fig6.png")

    fig, axes = plots.plt.subplots(2, 2, figsize=(11, 8))
    for row, label in enumerate(("p0.5", "p0.5-summed")):
        last = runs[label][0]["metrics"][-1]
        plots.heatmap(axes[row, 0], last["V"], f"Fig. 11: V at step {last['step']}, {label} (seed 0)")
        att = np.mean([r["metrics"][-1]["attention"] for r in runs[label]], axis=0)
        plots.attention_axes(axes[row, 1], att, f"mean attention, {label}")
    plots.save(fig, out / "fig11.png")

    fig, axes = plots.plt.subplots(2, 4, figsize=(18, 8))
    fig13, axes13 = plots.plt.subplots(2, 4, figsize=(18, 7.5))
    # one colour scale per row (a reading over training), from 0: a V that is almost constant
    # (0.62-0.68) must look constant. The rows differ ~100-fold (eta = 0.01 mean vs 10 summed).
    for row, label in enumerate(("p1", "p1-summed")):
        run = runs[label][0]
        Vs = [np.asarray(at_step(run, t)["V"]) for t in SNAPSHOTS]
        lo, hi = min(0.0, *(V.min() for V in Vs)), max(0.0, *(V.max() for V in Vs))
        for col, t in enumerate(SNAPSHOTS):
            m = at_step(run, t)
            plots.heatmap(axes[row, col], m["V"], f"V at step {m['step']}, {label}", vmin=lo, vmax=hi)
            ax = axes13[row, col]
            x = np.arange(1, 7)
            ax.bar(x - 0.2, m["h_example"], 0.4, label="weighted-average token (one sequence)")
            ax.bar(x + 0.2, m["h_var"], 0.4, label="variance across test sequences")
            ax.set_title(f"step {m['step']}, {label}")
            ax.set_xlabel("state")
    fig13.legend(*axes13[0, 0].get_legend_handles_labels(), loc="lower center", ncol=2, fontsize=11, frameon=False)
    fig.suptitle("Fig. 12: V over training, p = 1 (one colour scale per row, from 0)")
    fig13.suptitle("Fig. 13: weighted-average token X·S and its per-dimension variance, p = 1")
    plots.save(fig, out / "fig12.png")
    plots.save(fig13, out / "fig13.png", margins={"left": 0.04, "right": 0.99, "bottom": 0.13, "top": 0.9,
                                                          "hspace": 0.35, "wspace": 0.2})

    t5, t5s = finals(runs["p0.5"], "steps_to_optimal"), finals(runs["p0.5-summed"], "steps_to_optimal")
    ratio = {k: [r["metrics"][-1]["kl"] / r["metrics"][0]["kl"] for r in runs[k]] for k in ("p0.5", "p1", "p0.5-summed", "p1-summed")}
    sym700 = [at_step(r, 700)["value_ones_cosine"] for r in runs["p1"]]
    sym1000 = [at_step(r, 1000)["value_ones_cosine"] for r in runs["p1"]]
    summed1000 = [at_step(r, 1000)["value_ones_cosine"] for r in runs["p1-summed"]]
    not_solved = {k: tested_where_solved(runs[k.replace("p1", "p0.5")], runs[k]) for k in ("p1", "p1-summed")}
    trained = {k: trains(runs[k.replace("p1", "p0.5")]) for k in ("p1", "p1-summed")}  # the two readings
    kl_faster = over_trained_readings({k: np.mean(ratio[k.replace("p1", "p0.5")]) < min(0.9, np.mean(ratio[k]))
                                       for k in trained}, trained)
    broken = over_trained_readings({"p1": np.mean(sym1000) < 0.99, "p1-summed": np.mean(summed1000) < 0.99}, trained)
    readings_note = ("tested only under the readings (η = 0.01 mean loss, η = 10 summed) in which at least half of the "
                     "p = 0.5 seeds end at OPT (a reading that trains nothing cannot compare p = 0.5 with p = 1); ")
    tables = {label: table_reading(runs[label]) for label in TABLE_READINGS}
    table_figure(runs, tables, out / "fig13_table.png")
    paper_tables = [tables[k]["reproduces"] for k in ("p1", "p1-summed")]
    f11 = {k: fig11_check(runs[k]) | {"value_cosine": stat(finals(runs[k], "value_cosine")),
                                      "parent_attention": stat(finals(runs[k], "parent_attention"))}
           for k in ("p0.5", "p0.5-summed")}
    p1_criterion = ("tested only if at least half of the p = 0.5 seeds of the same reading end within 3 binomial s.d. "
                    "of OPT; then every p = 1 seed's final accuracy < 1 - 1/n_test")
    return with_figure([
        claim("p0.5-optimal-by-400", "p = 0.5 reaches the optimum after around 400 iterations",
              "≈ 50% after ~400 iterations", stat(t5) | {"final_accuracy": stat(finals(runs["p0.5"], "test_accuracy"))},
              all(t is not None and t <= 500 for t in t5), "every seed within tolerance of OPT from step <= 500 on"),
        claim("p0.5-summed-optimal-by-400", "controlled variant η = 10 (summed loss): p = 0.5 reaches the optimum around 400",
              "≈ 50% after ~400 iterations", stat(t5s) | {"final_accuracy": stat(finals(runs["p0.5-summed"], "test_accuracy")),
                                                                 "parent_attention": stat(finals(runs["p0.5-summed"], "parent_attention")),
                                                                 "top_attention_lag_per_seed": [top_lag(r) for r in runs["p0.5-summed"]]},
              all(t is not None and t <= 500 for t in t5s), "every seed within tolerance of OPT from step <= 500 on"),
        claim("p1-not-solved", "η = 0.01 (mean loss): p = 1 does not reach 100% within 1000 iterations",
              "below 100% at 1000", stat(finals(runs["p1"], "test_accuracy")) | not_solved["p1"][1],
              not_solved["p1"][0], p1_criterion),
        claim("p1-not-solved-summed", "η = 10 (summed loss): p = 1 does not reach 100% within 1000 iterations",
              "below 100% at 1000", stat(finals(runs["p1-summed"], "test_accuracy")) | not_solved["p1-summed"][1]
              | {"steps_to_optimal": stat(finals(runs["p1-summed"], "steps_to_optimal"))},
              not_solved["p1-summed"][0], p1_criterion),
        claim("kl-faster-random-walk", "KL falls much faster for p = 0.5 than for p = 1",
              "faster decrease for p = 0.5", {"kl_end_over_start_p0.5": stat(ratio["p0.5"]),
                                              "kl_end_over_start_p1": stat(ratio["p1"]),
                                              "summed_kl_end_over_start_p0.5": stat(ratio["p0.5-summed"]),
                                              "summed_kl_end_over_start_p1": stat(ratio["p1-summed"]),
                                              "readings_tested": kl_faster[1]},
              kl_faster[0], readings_note + "mean KL(1000)/KL(0) below 0.9 for p = 0.5 and below that of p = 1"),
        claim("fig13-symmetry-until-700", "up to ~700 iterations the weighted-average token is nearly the same for all "
              "sequences (p = 1): its largest per-dimension variance follows the authors' table over steps 100-900",
              "max variance " + ", ".join(f"{v:.2g} at {s}" for s, v in REBUTTAL_VAR.items()) + " (rebuttal table)",
              {"paper_readings": ["p1", "p1-summed"], "readings": tables, "cos_V_ones_at_700": stat(sym700)},
              True if True in paper_tables else (None if None in paper_tables else False),
              "pre-registered: seed-median of max_k Var(h_k); time scale c fixed where it first reaches the table's "
              "step-500 value; each other row s within a factor 3 of ours at step c·s; holds if one of the paper's "
              "readings (σ = 0.01, η = 0.01 or 10) passes (controls reported beside)") | {"figure": "fig13_table.png"},
        claim("fig13-broken-by-1000", "by 1000 iterations random initialisation breaks the symmetry (p = 1)",
              "V no longer ∝ 1 1^T at 1000", {"cos_V_ones_at_1000": stat(sym1000),
                                                "summed_cos_V_ones_at_1000": stat(summed1000),
                                                "readings_tested": broken[1]},
              broken[0], readings_note + "mean cos(V, 1 1^T) < 0.99 at step 1000") | {"figure": "fig12.png"},
        claim("fig11-random-init", "p = 0.5, random init: V recovers Π^T in direction and the parent's softmax score "
              "is the largest and ≈ 1", "V ≈ Π^T, parent score largest and ≈ 1 (Fig. 11)",
              {"mean_loss": f11["p0.5"], "summed": f11["p0.5-summed"]},
              f11["p0.5"]["holds"] or f11["p0.5-summed"]["holds"],
              "under one reading (η = 0.01 or 10), every seed at step 1000: cos(V, Π^T) >= 0.9, the most-attended "
              "token is x_(N-1) and its mean attention >= 0.99") | {"figure": "fig11.png"},
    ], "fig6.png")


def table_figure(runs: dict, tables: dict, path) -> None:
    """Seed-median max_k Var(h_k) against step for each reading, with the rebuttal table
    drawn at its own steps (x) and at the calibrated steps c·s of each reading (o)."""
    fig, ax = plots.plt.subplots(figsize=(14, 6))
    table = np.array(list(REBUTTAL_VAR.values()))
    for label in TABLE_READINGS:
        steps, v = variance_curve(runs[label])
        t = tables[label]
        (line,) = ax.semilogy(steps, v, label=f"{label}: σ = {t['sigma']}, η = {t['eta']} ({len(runs[label])} seeds)")
        if "time_scale" in t:
            ax.semilogy(t["time_scale"] * np.array(list(REBUTTAL_VAR)), table, "o", mfc="none", color=line.get_color())
    ax.semilogy(list(REBUTTAL_VAR), table, "kx", ms=10, mew=2, label="rebuttal table (its own steps)")
    ax.set_xlabel("iteration")
    ax.set_ylabel("max over states of Var(h_k) across test sequences")
    ax.set_title("Fig. 13 / rebuttal table, p = 1 (o: the table at steps c·s, c calibrated on its step-500 row)")
    ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    plots.save(fig, path)


def table_phrase(t: dict) -> str:
    """One reading of the rebuttal-table comparison, in words."""
    if "time_scale" not in t:
        return f"does not reproduce it: {t['why']}"
    verdict = {True: "reproduces it", False: "does not reproduce it", None: "not tested"}[t["reproduces"]]
    rows = ", ".join(f"{s}: {'beyond the run' if r['ratio'] is None else format(r['ratio'], '.2g') + '×'}"
                     for s, r in t["rows"].items())
    return (f"{verdict} (time scale {t['time_scale']:.3g}: the step-500 value is reached at step "
            f"{t['calibration_step']:.0f}; ours/table at rows {rows}; {t['seeds_reproducing_alone']} of "
            f"{t['n_seeds']} seeds alone)")


def _fig6_differences(claims, out):
    c = {x["id"]: x["measured"] for x in claims}
    held = {x["id"]: x["holds"] for x in claims}
    t5, t5s, p1, p1s, kl, f13, tab, f11 = (
        c["p0.5-optimal-by-400"], c["p0.5-summed-optimal-by-400"], c["p1-not-solved"], c["p1-not-solved-summed"],
        c["kl-faster-random-walk"], c["fig13-broken-by-1000"], c["fig13-symmetry-until-700"], c["fig11-random-init"])
    lags = t5s["top_attention_lag_per_seed"]
    f11m, f11s = f11["mean_loss"], f11["summed"]
    readings = tab["readings"]
    p1_mean = (f"not tested: {p1['not_tested']} (p = 1's final accuracy {describe(p1)})" if held["p1-not-solved"] is None
               else f"final accuracy {describe(p1)} ({'holds' if held['p1-not-solved'] else 'fails'})")
    return [
        difference(
            "fig6-timing", "Random initialisation (Fig. 6): when p = 0.5 reaches the optimum",
            "≈ 50% (the optimum) after about 400 iterations",
            f"read literally (σ = 0.01, η = 0.01, mean loss), steps to reach the optimum: {describe(t5)}; "
            f"final accuracy {describe(t5['final_accuracy'])}: at this scale the gradients are ~σ² and "
            f"nothing moves in 1000 iterations",
            f"the same runs with η = 10, i.e. the loss summed over the 1000 training sequences (the paper does not "
            f"say mean or sum): steps to reach the optimum {describe(t5s)}; final accuracy {describe(t5s['final_accuracy'])}, "
            f"attention on the parent {describe(t5s['parent_attention'])}. The most-attended token is the parent "
            f"x_(N-1) in {lags.count(1)} seeds and the grandparent x_(N-2) in {lags.count(2)} (for p = 0.5 predicting "
            f"x_(N-2) is optimal too: P(y = x_(N-2)) = 1/2), another token in {len(lags) - lags.count(1) - lags.count(2)}. "
            f"Neither reading gives ~400 for every seed; Fig. 11's picture (claim fig11-random-init) holds in "
            f"{f11s['seeds_ok']} of {f11s['n_seeds']} seeds at η = 10 and {f11m['seeds_ok']} of {f11m['n_seeds']} at "
            f"η = 0.01", claims=("p0.5-optimal-by-400", "p0.5-summed-optimal-by-400")),
        difference(
            "fig6-p1-summed", "p = 1 under the reading that trains at all",
            "p = 1 does not reach 100% within 1000 iterations",
            f"η = 0.01 (mean loss): {p1_mean}",
            f"η = 10 (summed loss), where p = 0.5 ends at the optimum in {p1s['p0.5_seeds_at_opt']} of "
            f"{p1s['p0.5_seeds']} seeds: p = 1's final accuracy is {describe(p1s)}, below 100% in "
            f"{p1s['seeds_below_100']} seeds, "
            f"at 100% from step {describe(p1s['steps_to_optimal'])}",
            claims=("p1-not-solved-summed",)),
        difference(
            "fig6-kl", "KL: p = 0.5 against p = 1 under the reading that trains",
            "KL falls much faster for the random walk (p = 0.5) than for p = 1",
            f"KL(1000)/KL(0) at η = 0.01: {describe(kl['kl_end_over_start_p0.5'], 4)} for p = 0.5, "
            f"{describe(kl['kl_end_over_start_p1'], 4)} for p = 1 (nothing trains: not a test)",
            f"at η = 10 (summed loss), where p = 0.5 trains: {describe(kl['summed_kl_end_over_start_p0.5'])} for "
            f"p = 0.5, {describe(kl['summed_kl_end_over_start_p1'])} for p = 1",
            claims=("kl-faster-random-walk",)),
        difference(
            "fig13-table", "Fig. 13: the rebuttal's variance table against each reading of Fig. 6",
            "the largest per-dimension variance of the weighted-average token across 1000 sequences is "
            + ", ".join(f"{v:.3g}" for v in REBUTTAL_VAR.values()) + " at steps "
            + ", ".join(map(str, REBUTTAL_VAR)) + " (authors' rebuttal, p = 1, random init)",
            f"σ = 0.01, η = 0.01 (mean loss) {table_phrase(readings['p1'])}; σ = 0.01, η = 10 (summed loss) "
            f"{table_phrase(readings['p1-summed'])}",
            "other readings, fixed before comparing (p = 1, same seeds' data): " + "; ".join(
                f"σ = {readings[k]['sigma']}, η = {readings[k]['eta']} {table_phrase(readings[k])}"
                for k in TABLE_CONTROLS), claims=("fig13-symmetry-until-700",)),
        difference(
            "fig13-symmetry", "Fig. 13: the symmetry breaks by 1000 iterations only under the reading that trains",
            "by 1000 iterations V is no longer ∝ 1 1ᵀ (p = 1)",
            f"cos(V, 1 1ᵀ) at step 1000 (η = 0.01, where nothing trains: not a test): "
            f"{describe(f13['cos_V_ones_at_1000'], 4)}",
            f"at η = 10 (summed loss), where p = 0.5 trains: {describe(f13['summed_cos_V_ones_at_1000'], 4)}",
            claims=("fig13-broken-by-1000",)),
        difference(
            "fig11-random-init", f"Fig. 11: V ∝ Πᵀ with the parent most attended in {f11s['seeds_ok']} of "
            f"{f11s['n_seeds']} seeds (η = 10) and {f11m['seeds_ok']} of {f11m['n_seeds']} (η = 0.01)",
            "under random init (p = 0.5) V recovers Πᵀ and the parent's softmax score is the largest and ≈ 1",
            f"η = 0.01 (mean loss): {f11m['seeds_ok']} of {f11m['n_seeds']} seeds; cos(V, Πᵀ) "
            f"{describe(f11m['value_cosine'])}, parent attention {describe(f11m['parent_attention'])}",
            f"η = 10 (summed loss): {f11s['seeds_ok']} of {f11s['n_seeds']} seeds; cos(V, Πᵀ) "
            f"{describe(f11s['value_cosine'])}, parent attention {describe(f11s['parent_attention'])}; the "
            f"most-attended token sits {f11s['top_attention_lag_per_seed']} positions back (1 = the parent). In the "
            f"{len(f11s['parent_seeds_value_cosine'])} seeds on the parent cos(V, Πᵀ) is "
            + ", ".join(f"{x:.4f}" for x in f11s["parent_seeds_value_cosine"]) + " against the criterion's 0.9, "
            "and V has a large near-uniform part (cos(V, 1 1ᵀ) "
            + ", ".join(f"{x:.2f}" for x in f11s["parent_seeds_ones_cosine"]) + ")",
            claims=("fig11-random-init",)),
    ]


register(Experiment("fig6", "Shi & Cao Figs. 6, 11, 12, 13", "small random initialisation, p = 0.5 and p = 1",
                    FIG6 | TABLE_CONTROLS, _fig6, base=RANDOM, differences=_fig6_differences))


# ---- Fig. 7 and Fig. 10: the fruit questions -------------------------------------------
QA = {"task.name": "qa1", "init.scheme": "gaussian", "init.sigma": 0.01, "model.normalize": True,
      "model.M": 1000, "train.eta": 0.1, "train.eps": 0.1, "train.steps": 100,
      "train.n_train": 1000, "eval.n_test": 1000}


def _qa(runs, out, exp, fig_name, paper_fig):
    fig, axes = plots.plt.subplots(2, 2, figsize=(14, 9.5))  # (a) (b) / (c) (d), readable at page width
    axes = axes.ravel()
    for col, label in enumerate(("qa1", "qa2")):
        steps, acc = curve(runs[label], "test_accuracy")
        plots.band(axes[2 * col], steps, acc, f"mean, min–max over {len(runs[label])} seeds")
        plots.references(axes[2 * col], 1.0)
        axes[2 * col].axhline(0.5, ls=":", color="r", lw=1, label="0.5")
        plots.accuracy_axes(axes[2 * col], f"Task {col + 1}: accuracy")
        steps, kl = curve(runs[label], "kl")
        plots.band(axes[2 * col + 1], steps, kl, "KL")
        plots.kl_axes(axes[2 * col + 1], f"Task {col + 1}: KL divergence")
    fig.suptitle(f"{paper_fig}: {exp.title}")
    plots.save(fig, out / f"{fig_name}.png")
    a1, a2 = finals(runs["qa1"], "test_accuracy"), finals(runs["qa2"], "test_accuracy")
    n = runs["qa2"][0]["config"]["eval"]["n_test"]
    tol = tolerance(0.5, n)
    return with_figure([
        claim("task1-learned", "Task 1 (majority fruit) approaches 100% within 100 iterations", "≈ 100%",
              stat(a1), min(a1) >= 0.99, "every seed's final accuracy >= 0.99"),
        claim("task2-fails", "Task 2 (stated preference) stays around 50%", "≈ 50%",
              stat(a2) | {"tolerance": tol}, all(abs(a - 0.5) <= tol for a in a2),
              "every seed within 3 binomial s.d. of 0.5"),
    ], f"{fig_name}.png")


def _fig7_differences(claims, out):
    a1 = {x["id"]: x["measured"] for x in claims}["task1-learned"]
    return [difference(
        "task1-seeds", "Task 1 is not learned to ≈ 100% by every seed in 100 iterations",
        "≈ 100% within 100 iterations", f"final accuracy {describe(a1)}",
        "no controlled experiment yet: the seeds differ only in training data and initialisation, and the "
        "criterion asks every seed for ≥ 0.99", claims=("task1-learned",))]


def _fig10_differences(claims, out):
    a1 = {x["id"]: x["measured"] for x in claims}["task1-learned"]
    plain = load_claims(out, "fig7").get("task1-learned")
    control = (f"the same task without the ReLU layer (fig7: same σ, η and 100 iterations; 1000 rather than 1024 "
               f"sequences) reaches {describe(plain['measured'])}" if plain
               else "fig7 (the same task without the ReLU layer) was not run")
    return [difference(
        "relu-head", "With the ReLU layer Task 1 does not move in 100 iterations",
        "≈ 100% with the ReLU layer", f"final accuracy {describe(a1)}",
        control + ". A likely reason, not isolated by an experiment yet: with A and V both N(0, 0.01²) the output "
        "is a product of two small matrices, so its gradients start at ~σ²", claims=("task1-learned",))]


register(Experiment("fig7", "Shi & Cao Fig. 7", "the two fruit question-answering tasks",
                    {"qa1": {"task.name": "qa1"}, "qa2": {"task.name": "qa2"}},
                    lambda r, o, e: _qa(r, o, e, "fig7", "Fig. 7"), base=QA, differences=_fig7_differences))
register(Experiment("fig10", "Shi & Cao Fig. 10", "QA tasks with an extra ReLU layer f = A ReLU(V X S)",
                    {"qa1": {"task.name": "qa1"}, "qa2": {"task.name": "qa2"}},
                    lambda r, o, e: _qa(r, o, e, "fig10", "Fig. 10"),
                    base=QA | {"model.head": "relu", "model.m": 19, "train.n_train": 1024, "eval.n_test": 1024},
                    differences=_fig10_differences))
