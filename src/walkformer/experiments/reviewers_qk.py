"""The random-walk paper's reviewers' questions on the architecture (issue 15 item 1):
``rev-qk-split``, W = W_Kᵀ W_Q in place of the paper's merged W (reviewer bJ9o).

Reviewer bJ9o: "in practice [...] the weight matrix is typically decomposed as W_Kᵀ W_Q.
Could this decomposition affect or enhance the theoretical results?"; later "separating
query and key weights can affect initialization". Authors (rebuttal A5.2): "we can no longer
use zero initialization in this setting [...] The gradient of W_K involves W_Q, and the
gradient of W_Q also involves W_K, which results in both gradients remaining zero with zero
initialization. In this case, we have to consider random initialization."

Split attention scores z_j = (x̃_N W_Q)·(x̃_j W_K) (row vectors) depend on W_Q, W_K only
through W_Q W_Kᵀ; with G = Σ_j (∂L/∂z_j) x̃_Nᵀ x̃_j (D × D),

    ∇_{W_Q} L = G W_K,        ∇_{W_K} L = Gᵀ W_Q,

both zero at W_Q = W_K = 0: from zero init neither ever moves, the scores stay 0 and the
attention stays exactly uniform (1/N per slot), whatever d_head. Only V trains.

Variants (model.attention=split, scale none, d_head ∈ D_HEADS, 0 = full D; against the
paper's merged W, the same σ): (a) zero init, p = 0.5; (b) init.scheme=gaussian σ ∈ SIGMAS
at p = 0.5 (steps to OPT, final accuracy, attention on x_{N−1}); (c) the same at p = 1 with
N = rK + 1 (Theorem 4.1's symmetric point): the first logged step at which the accuracy
leaves 1/K. Cost: a split step on the reference transformer at the Fig. 4 setting (N = 97,
M = 1000) costs 300–600 ms on this 2-core machine (not the 10–20 ms hoped for; the merged
fast path 5 ms), so the preset runs at N = N_QK = 2K + 1 = 13 (so p = 1 is still the
symmetric point), M = ρ₀N^{3/2} = 49, STEPS steps, 10 seeds: see docs/reviewers.md §3.
"""

from __future__ import annotations

import math

import numpy as np

from .. import failures, plots
from .core import Experiment, claim, describe, difference, question, register, stat
from .common import PAPER, finals, near_opt, tolerance, with_figure
from .randomwalk import scaled_M
from .reviewers import PARENT, top_lag

K = PAPER["task.K"]
N_QK = 2 * K + 1  # = rK + 1 with r = 2: Theorem 4.1's symmetric point at p = 1
STEPS = 60
ZERO_STEPS = 10
D_HEADS = (6, 32, 0)  # 0: full width D = K + M
SIGMAS = (1e-3, 1e-2, 1e-1)
PS = (0.5, 1.0)
BASE = PAPER | {"task.N": N_QK, "model.M": scaled_M(N_QK), "train.eta": 1.0, "train.steps": STEPS,
                "eval.grid": "log", "eval.per_decade": 20}
SPLIT = {f"split{d}": {"model.attention": "split", "model.d_head": d} for d in D_HEADS}
ARCH = SPLIT | {"merged": {"model.attention": "merged"}}
ZERO = {f"zero-{a}": o | {"init.scheme": "zero", "task.p": 0.5, "train.steps": ZERO_STEPS} for a, o in ARCH.items()}
RANDOM = {f"{a}-s{s:g}-p{p}": o | {"init.scheme": "gaussian", "init.sigma": s, "task.p": p}
          for p in PS for s in SIGMAS for a, o in ARCH.items()}
QK_FIG = "rev_qk_split.png"


def is_ok(run: dict) -> bool:
    return failures.of(run["summary"]) is None


def zero_init_exact(run: dict) -> dict:
    """From the run directory: W_Q and W_K after the last step (exactly zero?), and the
    logged attention at every logged step (exactly uniform: every slot's mean weight the
    same float, and that float against 1/N)."""
    from ..runs.rundir import load_params

    p = load_params(run["path"])
    N = run["config"]["task"]["N"]
    att = np.array([m["attention"] for m in run["metrics"]])  # (T, N)
    return {"max_abs_W_Q": float(p["blocks.0.attn.W_Q"].abs().max()),
            "max_abs_W_K": float(p["blocks.0.attn.W_K"].abs().max()),
            "uniform_every_step": bool((att == att[:, :1]).all()), "n_logged_steps": len(att),
            "max_attention_minus_1_over_N": float(np.abs(att - 1 / N).max())}


def qk_zero_gradients(over: dict, steps: int) -> dict:
    """Train ``over`` (split attention) by the loop's own GD and, at every step, read the
    gradients of W_Q and W_K: returns the largest |gradient| seen and the largest |W_Q|,
    |W_K| and V change, so that "nothing trains in W" is checked at every step, not only at
    the end."""
    import torch

    from ..api import configure
    from ..loop import Data, build

    cfg = configure(over)
    task, m = build(cfg)
    x, y, w = Data(cfg, task).train(0)
    V0 = m.head.V.detach().clone()
    grad = 0.0
    for _ in range(steps):
        m.zero_grad()
        m.loss(m(x), y, w, cfg.train.eps).backward()
        attn = m.blocks[0].attn
        grad = max(grad, float(attn.W_Q.grad.abs().max()), float(attn.W_K.grad.abs().max()))
        with torch.no_grad():
            for p in m.parameters():
                p -= cfg.train.eta * p.grad
    attn = m.blocks[0].attn
    with torch.no_grad():
        return {"steps": steps, "max_abs_grad_QK": grad, "max_abs_W_Q": float(attn.W_Q.abs().max()),
                "max_abs_W_K": float(attn.W_K.abs().max()), "V_change": float((m.head.V - V0).abs().max())}


def leaves_random_guess(run: dict) -> int | None:
    """First logged step whose test accuracy exceeds 1/K by more than 3 binomial s.d.
    (the symmetry of Theorem 4.1 is broken in the prediction), None: never in the run."""
    tol = tolerance(1 / K, run["config"]["eval"]["n_test"])
    return next((m["step"] for m in run["metrics"] if m["test_accuracy"] > 1 / K + tol), None)


def _cell(rs: list[dict]) -> dict:
    ok = [r for r in rs if is_ok(r)]
    out = {"n_runs": len(rs), "failures": failures.counts(failures.of(r["summary"]) for r in rs)}
    if not ok:
        return out | {"n_ok": 0}
    return out | {"n_ok": len(ok), "accuracy": stat(finals(ok, "test_accuracy")),
                  "parent_attention": stat(finals(ok, "parent_attention")),
                  "steps_to_optimal": stat(finals(ok, "steps_to_optimal")), "near_opt": near_opt(ok)[0],
                  "on_parent": sum(r["summary"]["parent_attention"] >= PARENT for r in ok),
                  "leaves_random_guess": stat([leaves_random_guess(r) for r in ok]),
                  "top_lag": [top_lag(r) for r in ok]}


def _learns(c: dict) -> bool:
    return c["n_ok"] > 0 and c["near_opt"] and c["on_parent"] == c["n_ok"]


def _shown(c: dict) -> dict:
    """What a p = 0.5 claim shows of a cell (at most 6 entries: the report folds longer)."""
    return {"learned": _learns(c), "on_parent": f"{c.get('on_parent', 0)} of {c['n_ok']}",
            "accuracy": c.get("accuracy"), "parent_attention": c.get("parent_attention"),
            "steps_to_optimal": c.get("steps_to_optimal"), "failures": c["failures"]}


def _figure(cells: dict, path) -> None:
    fig, axes = plots.plt.subplots(2, 2, figsize=(14, 9.5))
    axes = axes.ravel()
    xs = np.arange(len(SIGMAS))
    for i, (a, color) in enumerate(zip(ARCH, ("C0", "C1", "C2", "C3"))):
        off = (i - 1.5) * 0.09
        panels = ((0.5, "accuracy"), (0.5, "parent_attention"), (1.0, "leaves_random_guess"), (1.0, "accuracy"))
        for ax, (p, key) in zip(axes, panels):
            cs = [cells[f"{a}-s{s:g}-p{p}"] for s in SIGMAS]
            mean = [c[key]["mean"] if c["n_ok"] and c[key]["mean"] is not None else np.nan for c in cs]
            lo = [c[key]["min"] if c["n_ok"] and c[key]["min"] is not None else np.nan for c in cs]
            hi = [c[key]["max"] if c["n_ok"] and c[key]["max"] is not None else np.nan for c in cs]
            ax.errorbar(xs + off, mean, yerr=[np.subtract(mean, lo), np.subtract(hi, mean)], fmt="o", capsize=3,
                        color=color, label=a.replace("split0", "split (full d)"))
    axes[0].axhline(0.5, color="k", lw=1, label="OPT")
    axes[0].axhline(1 / K, color="r", ls=":", lw=1, label="1/K")
    titles = ("p = 0.5: final test accuracy", "p = 0.5: final attention on x_{N−1}",
              "p = 1: first step accuracy > 1/K + 3 s.d. (never: not shown)",
              f"p = 1: final test accuracy (after {STEPS} steps)")
    for ax, t in zip(axes, titles):
        ax.set_xticks(xs, [f"σ = {s:g}" for s in SIGMAS])
        ax.set_title(t, fontsize=11)
    axes[0].legend(fontsize=9)
    axes[2].set_ylabel("GD iteration")
    axes[3].axhline(1 / K, color="r", ls=":", lw=1)
    fig.suptitle(f"W = W_Kᵀ W_Q (split, d_head ∈ {{6, 32, D}}) against merged W: K = {K}, N = {N_QK}, "
                 f"M = {scaled_M(N_QK)}, η = 1, {STEPS} steps\n(mean, min–max over the seeds whose loss is defined "
                 "at init)")
    plots.save(fig, path)


def _analyse(runs, out, exp):
    cells = {k: _cell(rs) for k, rs in runs.items()}
    _figure(cells, out / QK_FIG)
    exact = {a: [zero_init_exact(r) for r in runs[f"zero-{a}"]] for a in SPLIT}
    zero_nothing = all(e["max_abs_W_Q"] == 0 and e["max_abs_W_K"] == 0 and e["uniform_every_step"]
                       for es in exact.values() for e in es)
    claims = [claim(
        "zero-init-nothing-trains", f"from zero init nothing trains in W_Q, W_K (split attention, d_head ∈ "
        f"{{6, 32, D}}): after {ZERO_STEPS} GD steps both are exactly 0 and the attention is exactly uniform "
        f"(1/N) at every logged step; merged W from zero init does train (p = 0.5)",
        "\"The gradient of W_K involves W_Q, and the gradient of W_Q also involves W_K, which results in both "
        "gradients remaining zero with zero initialization\" (rebuttal A5.2)",
        {a: {"max_abs_W_Q": max(e["max_abs_W_Q"] for e in es), "max_abs_W_K": max(e["max_abs_W_K"] for e in es),
             "seeds_uniform_every_step": sum(e["uniform_every_step"] for e in es),
             "max_attention_minus_1_over_N": max(e["max_attention_minus_1_over_N"] for e in es),
             "accuracy": cells[f"zero-{a}"]["accuracy"]} for a, es in exact.items()}
        | {"merged": {k: cells["zero-merged"][k] for k in ("accuracy", "parent_attention")}},
        zero_nothing and cells["zero-merged"]["parent_attention"]["min"] >= PARENT,
        "every split seed: W_Q == 0 and W_K == 0 exactly at the end, every logged attention vector has all N "
        f"entries equal; every merged seed ends with attention on x_(N−1) ≥ {PARENT}")]
    for s in SIGMAS:
        cs = {a: cells[f"{a}-s{s:g}-p0.5"] for a in ARCH}
        ok = [c for c in cs.values() if c["n_ok"]]
        claims.append(claim(
            f"learns-p0.5-s{s:g}", f"from a Gaussian init with σ = {s:g} the model learns the walk at p = 0.5 "
            f"within {STEPS} steps: accuracy OPT and attention on the parent x_(N−1), split (d_head ∈ {{6, 32, D}}) "
            f"and merged (N = {N_QK})",
            "\"we have to consider random initialization\" (A5.2); \"our positive results for learning random walks "
            "in Theorem 3.1 are fairly robust to random initialization\" (reply to the third reviewer, A3)",
            {a: _shown(c) for a, c in cs.items()} | {"top_lag": {a: c.get("top_lag") for a, c in cs.items()}},
            all(_learns(c) for c in ok) if ok else None,
            f"every seed whose loss is defined at init ends within 3 binomial s.d. of OPT with attention on "
            f"x_(N−1) ≥ {PARENT}, in every architecture; runs whose log-loss is undefined at init (e_yᵀf + ε ≤ 0) "
            "are counted under failures, not as learned or failed"))
    for s in SIGMAS:
        cs = {a: cells[f"{a}-s{s:g}-p1.0"] for a in ARCH}
        t = {a: [math.inf if x is None else x for x in (leaves_random_guess(r) for r in runs[f"{a}-s{s:g}-p1.0"]
                                                         if is_ok(r))] for a in ARCH}
        med = {a: float(np.median(v)) if v else None for a, v in t.items()}
        split_med = [med[a] for a in SPLIT if med[a] is not None]
        tested = bool(split_med) and med["merged"] is not None and not (
            all(math.isinf(x) for x in split_med) and math.isinf(med["merged"]))
        claims.append(claim(
            f"p1-split-breaks-later-s{s:g}", f"at p = 1 (N = {N_QK} = 2K + 1, Theorem 4.1's symmetric point) from "
            f"σ = {s:g}, the split W_Kᵀ W_Q breaks the symmetry later than merged W: its median first step with "
            f"accuracy above 1/K + 3 s.d. is later, for every d_head (within {STEPS} steps; never = ∞)",
            "not answered (A5.2: random init \"can largely complicate the analysis\"); reviewer bJ9o: \"separating "
            "query and key weights can affect initialization\". Our reading of the gradients: W_Kᵀ W_Q starts at "
            "O(σ²) and each factor's gradient is O(σ), so the split should move later",
            {a: {"leaves_random_guess": c.get("leaves_random_guess"), "median_step": med[a],
                 "accuracy": c.get("accuracy"), "failures": c["failures"]} for a, c in cs.items()},
            all(x > med["merged"] for x in split_med) if tested else None,
            "median over the seeds that started (never in the run = ∞) of every split width > merged's; not tested "
            "when no architecture leaves 1/K within the run"))
    return with_figure(claims, QK_FIG)


def _differences(claims, out):
    c_ = {c["id"]: c for c in claims}
    out_ = []
    for c in claims:
        if not c["id"].startswith("learns-") or c["holds"] is not False:
            continue
        m = {a: v for a, v in c["measured"].items() if a in ARCH}
        bad = {a: v for a, v in m.items() if v["accuracy"] and not v["learned"]}
        good = [a for a, v in m.items() if v["learned"]]
        s = c["id"].split("-s")[-1]
        held = [x for x in SIGMAS if c_[f"learns-p0.5-s{x:g}"]["holds"]]
        if good:  # the same σ, the other parametrisation
            ctrl = (f"the same seeds, σ = {s}, data and steps with the other parametrisation of W: "
                    + "; ".join(f"{a}: accuracy {describe(m[a]['accuracy'])}, attention on x_(N−1) "
                                f"{describe(m[a]['parent_attention'])}" for a in good)
                    + ". Only the parametrisation of W differs, so which solution random init finds depends on it")
        else:  # every parametrisation fails at this σ: the control is a smaller σ
            ctrl = (f"the same architectures and seeds from σ = {held[0]:g}: "
                    + "; ".join(f"{a}: {v['on_parent']} seeds on the parent" for a, v in
                                c_[f"learns-p0.5-s{held[0]:g}"]["measured"].items() if a in ARCH)
                    + f". Only σ differs, so at σ = {s} the initial scores decide the attended lag"
                    if held else "no σ of the grid learns in every architecture")
        failed = {a: v["failures"] for a, v in m.items() if v["failures"]}
        out_.append(difference(
            f"random-init-off-parent-s{s}", f"From σ = {s} not every run learns the walk at p = 0.5",
            "\"our positive results for learning random walks in Theorem 3.1 are fairly robust to random "
            "initialization\" (A3); the authors also warn that \"the larger initial scores assigned to other tokens "
            "may cause the value matrix to learn a k-step transition matrix\" (A5.1)",
            "; ".join(f"{a}: {v['on_parent']} seeds on the parent, accuracy {describe(v['accuracy'])}, most attended "
                      f"lags {c['measured']['top_lag'][a]}" for a, v in bad.items())
            + (f"; log-loss undefined at init (not trained): {failed}" if failed else ""),
            ctrl + " (the runs off the parent attend to another lag: the authors' own k-step warning)",
            claims=(c["id"],)))
    return out_


def _questions(claims, out):
    c = {x["id"]: x for x in claims}
    zero = c["zero-init-nothing-trains"]["measured"]
    learned = {s: {a: v for a, v in c[f"learns-p0.5-s{s:g}"]["measured"].items() if a in ARCH} for s in SIGMAS}
    p1 = {s: c[f"p1-split-breaks-later-s{s:g}"]["measured"] for s in SIGMAS}
    return [question(
        "qk-split", "bJ9o", "the weight matrix is typically decomposed as W_Kᵀ W_Q. Could this decomposition affect "
        "or enhance the theoretical results? [...] separating query and key weights can affect initialization",
        "zero initialisation can no longer be used: both gradients stay zero (A5.2); random initialisation "
        "complicates the analysis",
        f"From zero init W_Q, W_K stay exactly 0 (largest |W_Q| {max(v['max_abs_W_Q'] for a, v in zero.items() if a in SPLIT):g}) "
        f"and the attention uniform. At N = {N_QK}, p = 0.5, seeds on the parent: "
        + "; ".join(f"σ = {s:g}: " + ", ".join(f"{a} {v['on_parent']}" for a, v in learned[s].items())
                    for s in SIGMAS)
        + ". At p = 1, median first step off 1/K: "
        + "; ".join(f"σ = {s:g}: " + ", ".join(f"{a} {_step(v['median_step'])}" for a, v in p1[s].items())
                    for s in SIGMAS) + ".",
        claims=("zero-init-nothing-trains",) + tuple(f"learns-p0.5-s{s:g}" for s in SIGMAS))]


def _step(x) -> str:
    return "never" if x is None or math.isinf(x) else f"{x:g}"


register(Experiment("rev-qk-split", "Shi & Cao reviewers' questions: W = W_Kᵀ W_Q (bJ9o)",
                    "Query/key split: zero init stays put; random init against merged W", ZERO | RANDOM, _analyse,
                    base=BASE, differences=_differences, questions=_questions))
