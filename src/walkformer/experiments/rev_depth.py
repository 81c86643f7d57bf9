"""The random-walk paper's reviewers' question on depth and heads (issue 15 item 6):
``rev-depth``, attention-only models with L ∈ {1, 2, 3} layers, H ∈ {1, 2} heads, with and
without the MLP (reviewers yFLc Q3, 5AGb Q4).

**Zero init, algebra** (slot layout, linear head f = Σ_k V_k y_k, layer l < L writes
a_i = Σ_k y_k W_V,k W_O,k, h ← a (no residual) or h ← h + a (residual), the MLP writes
ReLU(h W_in) W_out). At θ = 0:

- *No residual, L ≥ 2*: h¹ = a¹ = 0 (W_V = W_O = 0), so y^L = 0 and f = V y^L = 0.
  ∇_V L = δ (y^L)ᵀ = 0 and ∇_{y^L} L = Vᵀ δ = 0, so every gradient upstream is 0: the
  model never moves, f ≡ 0, at every p (the paper's p = 0.5 included).
- *Residual, L ≥ 2*: h^l = x̃ for every l (each write is 0), so layer L is the paper's
  one-layer model on x̃. ∇_{W_V} L ∝ W_O = 0, ∇_{W_O} L ∝ W_V = 0 (a product of two zero
  factors, as W_Kᵀ W_Q in rev-qk-split), the MLP's ∇ ∝ W_out = 0, W_in = 0 and ReLU'(0) = 0,
  and the scores of layer l < L reach the loss only through W_V W_O = 0. So every layer
  below the last stays exactly 0 with exactly uniform attention, and for H = 1 the model is
  the one-layer model at every step (whatever the MLP).
- *H = 2 heads*: both heads start equal and get equal gradients, so they stay equal; with
  V' = V_1 + V_2 = 2V_k the model is one head with V's step 2η and W's step η/2
  (∇_{W_k} L = ½ ∇_W L(V', W)). Tested in tests/test_rev_depth.py.

So from zero init depth adds nothing (residual) or kills learning (no residual): the
deterministic walk fails as in Theorem 4.1, because the last layer *is* the one-layer model,
not because "each layer takes an average" (the lower layers average even at p = 0.5).

**Random init.** From N(0, σ²), σ = 0.01, the paper's ε-log-loss −log(f_y + ε) with a linear
f is unbounded below, and in a deeper model the token-average direction (f ∝ 1) grows as a
product of several factors: it swamps f (loss far below the Bayes loss, accuracy at 1/K).
So the random-init grid uses the softmax cross-entropy (model.loss=softmax-ce) and the
residual stream; controls: the paper's loss, and no residual, each changing one thing.

Setting: K = 6, N = 2K + 1 = 13 (= rK + 1: Theorem 4.1's symmetric point at p = 1), onehot
positions with M = N, η = 1 (GD), 200 training and 400 test sequences (N and the counts
reduced from Fig. 4: the reference transformer runs deeper models, ~15–60 ms a step at
N = 13, 1000 sequences, against ~1.5 s at N = 97), 10 seeds.
"""

from __future__ import annotations

import numpy as np

from .. import plots
from .core import Experiment, claim, describe, difference, question, register, stat
from .common import at_random_guess, finals, near_opt, tolerance, with_figure
from .reviewers import PARENT

K = 6
N_D = 2 * K + 1
STEPS, ZERO_STEPS = 40, 25
SIGMA = 0.01
PS = (0.5, 1.0)
BASE = {"task.K": K, "task.N": N_D, "model.pos": "onehot", "model.M": N_D, "train.eta": 1.0,
        "train.n_train": 200, "eval.n_test": 400, "train.steps": STEPS, "eval.grid": "log", "eval.per_decade": 10}


def arch(L: int, H: int, mlp: bool = False, res: bool = True) -> dict:
    """A depth/heads/MLP/residual configuration (one layer: the paper's model, no residual
    or MLP to set: the slot layout's residual changes nothing and the last layer has no MLP)."""
    over = {"model.layers": L, "model.heads": H}
    return over if L == 1 else over | {"model.mlp": "relu" if mlp else "none", "model.residual": res}


ARCHS = {f"L{L}H{H}" + ("-mlp" if m else ""): arch(L, H, m) for L in (1, 2, 3) for m in (False, True)
         for H in (1, 2) if not (L == 1 and m)}
ZERO_ARCHS = {"L1H1": arch(1, 1), "L2H1-res": arch(2, 1), "L2H1-nores": arch(2, 1, res=False),
              "L3H2-mlp-res": arch(3, 2, True), "L3H2-mlp-nores": arch(3, 2, True, False)}
ZERO = {f"zero-{a}-p{p}": o | {"init.scheme": "zero", "task.p": p, "train.steps": ZERO_STEPS}
        for a, o in ZERO_ARCHS.items() for p in PS}
GAUSS = {"init.scheme": "gaussian", "init.sigma": SIGMA}
RANDOM = {f"rand-{a}-p{p}": o | GAUSS | {"task.p": p, "model.loss": "softmax-ce"} for a, o in ARCHS.items() for p in PS}
CONTROLS = {f"rand-L2H1-nores-p{p}": arch(2, 1, res=False) | GAUSS | {"task.p": p, "model.loss": "softmax-ce"}
            for p in PS} | {"paperloss-L2H1-p0.5": arch(2, 1) | GAUSS | {"task.p": 0.5}} \
    | {f"paperloss-L1H1-p{p}": arch(1, 1) | GAUSS | {"task.p": p} for p in PS}
VARIANTS = ZERO | RANDOM | CONTROLS
ACC_FIG, ATT_FIG, FULL_FIG = "rev_depth_accuracy.png", "rev_depth_attention.png", "rev_depth_patterns.png"


# ---- per run ---------------------------------------------------------------------------
def rows(run: dict) -> np.ndarray:
    """Final prediction-slot attention rows (L, H, N), mean over test sequences (the fast
    path of the one-layer paper model logs only its one row)."""
    m = run["metrics"][-1]
    return np.asarray(m["patterns"] if "patterns" in m else [[m["attention"]]], dtype=float)


def parent_max(run: dict) -> float:
    """The largest weight on the parent x_{N−1} over every layer and head (prediction slot)."""
    return float(rows(run)[:, :, -2].max())


def top_lag(run: dict) -> int:
    """Lag ℓ of the token x_{N−ℓ} with the largest weight in any head of the last layer
    (prediction slot): 1 the parent, 2 the grandparent, 0 the empty query slot."""
    R = rows(run)[-1]  # (H, N)
    return int(R.shape[-1] - 1 - np.unravel_index(np.argmax(R), R.shape)[1])


def lower_max(run: dict) -> float | None:
    """The largest weight of any prediction-slot row below the last layer (uniform: 1/N)."""
    R = rows(run)[:-1]
    return float(R.max()) if R.size else None


def frozen(run: dict) -> dict:
    """From the saved parameters: the largest |θ| of the whole model and of the layers below
    the last (their attention W, W_V, W_O and the MLP)."""
    from ..runs.rundir import load_params

    p = {k: v for k, v in load_params(run["path"]).items() if k != "Pi_T"}  # Pi_T: the task's, saved beside
    L = run["config"]["model"]["layers"]
    lower = [v for k, v in p.items() if k.startswith("blocks.") and int(k.split(".")[1]) < L - 1
             or ".mlp." in k or ".W_V" in k or ".W_O" in k]
    return {"max_abs_all": max(float(v.abs().max()) for v in p.values()),
            "max_abs_lower": max((float(v.abs().max()) for v in lower), default=0.0)}


def uniform_lower(run: dict) -> bool:
    """Every logged prediction row of every layer below the last is one float repeated."""
    for m in run["metrics"]:
        P = np.asarray(m.get("patterns", [[m["attention"]]]))[:-1]
        if P.size and not (P == P[..., :1]).all():
            return False
    return True


def heads_gap(run: dict) -> dict:
    """Head 2 against head 1: the largest difference of their logged rows (every layer and
    logged step) and of their final last-layer W and V (saved parameters), beside how far
    that W moved (so that equal heads are not 0 == 0)."""
    from ..runs.rundir import load_params

    p = load_params(run["path"])
    L = run["config"]["model"]["layers"]
    W, V = p[f"blocks.{L - 1}.attn.W"], p["head.V"]
    rows_gap = max(float(np.abs(np.asarray(m["patterns"])[:, 0] - np.asarray(m["patterns"])[:, 1]).max())
                   for m in run["metrics"])
    return {"rows": rows_gap, "W": float((W[0] - W[1]).abs().max()), "V": float((V[0] - V[1]).abs().max()),
            "W_scale": float(W.abs().max())}


def cell(rs: list[dict]) -> dict:
    return {"accuracy": stat(finals(rs, "test_accuracy")), "near_opt": near_opt(rs)[0],
            "at_random_guess": at_random_guess(rs)[0], "parent_max": stat([parent_max(r) for r in rs]),
            "on_parent": sum(parent_max(r) >= PARENT for r in rs), "n": len(rs),
            "train_loss": stat(finals(rs, "train_loss")), "bayes_loss": rs[0]["summary"]["bayes_loss"],
            "top_lag": [top_lag(r) for r in rs], "steps_to_optimal": stat(finals(rs, "steps_to_optimal")),
            "lower_max": stat([lower_max(r) for r in rs]), "loss_spikes": sum(loss_spike(r) for r in rs)}


def loss_spike(run: dict) -> bool:
    """The final training loss lies 0.1 or more above the lowest logged one (GD overshoots)."""
    losses = [m["train_loss"] for m in run["metrics"]]
    return losses[-1] >= min(losses) + 0.1


def off_parent_lags(rs: list[dict]) -> list[int]:
    """The last layer's most attended lag in the seeds where no layer or head is on the parent."""
    return [top_lag(r) for r in rs if parent_max(r) < PARENT]


def brief(c: dict, *keys) -> dict:
    return {k: c[k] for k in (keys or ("accuracy", "near_opt", "parent_max", "on_parent"))}


# ---- figures ---------------------------------------------------------------------------
def _accuracy_figure(cells: dict, path) -> None:
    fig, axes = plots.plt.subplots(2, 1, figsize=(15, 9), sharex=True)
    names = list(dict.fromkeys(k.rsplit("-p", 1)[0] for k in VARIANTS))
    x = np.arange(len(names))
    for ax, p in zip(axes, PS):
        xs = [i for i, n in enumerate(names) if f"{n}-p{p}" in cells]
        cs = [cells[f"{names[i]}-p{p}"] for i in xs]
        color = ["C0" if names[i].startswith("zero") else "C3" if names[i].startswith(("paper", "rand-L2H1-nores"))
                 else "C2" for i in xs]
        x_ = np.asarray(xs)
        ax.errorbar(x_, [c["accuracy"]["mean"] for c in cs], yerr=[c["accuracy"]["std"] for c in cs], fmt="none",
                    ecolor="gray", capsize=3)
        ax.scatter(x_, [c["accuracy"]["mean"] for c in cs], c=color, zorder=3)
        ax.scatter(x_, [c["accuracy"]["min"] for c in cs], marker="_", color="k")
        ax.scatter(x_, [c["accuracy"]["max"] for c in cs], marker="_", color="k")
        ax.axhline(max(p, 1 - p), ls="--", color="k", lw=1, label=f"OPT {max(p, 1 - p):g}")
        ax.axhline(1 / K, ls=":", color="r", lw=1, label="1/K")
        ax.set_ylim(-0.03, 1.05)
        ax.set_ylabel("final test accuracy")
        ax.set_title(f"p = {p}: blue zero init (ε-log-loss), green σ = {SIGMA} (cross-entropy, residual), "
                     "red controls; mean ± sd, min/max over seeds")
        ax.legend(fontsize=9, loc="center right")
    axes[1].set_xticks(x, names, rotation=50, ha="right", fontsize=9)
    fig.suptitle(f"Depth L, heads H, MLP: K = {K}, N = {N_D} = 2K + 1, onehot positions M = N")
    plots.save(fig, path)


def _attention_figure(runs: dict, path) -> None:
    """One panel per variant: final prediction-slot rows (layer, head) × key slot, mean over seeds."""
    labels = list(VARIANTS)
    ncol = 6
    nrow = -(-len(labels) // ncol)
    fig, axes = plots.plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 2.3 * nrow), squeeze=False)
    for ax, lab in zip(axes.ravel(), labels):
        R = np.mean([rows(r) for r in runs[lab]], axis=0)  # (L, H, N)
        Lh = R.reshape(-1, R.shape[-1])
        ax.imshow(Lh, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_yticks(range(len(Lh)), [f"l{l + 1}h{h + 1}" for l in range(R.shape[0]) for h in range(R.shape[1])],
                      fontsize=7)
        ax.set_xticks([0, N_D - 2, N_D - 1], ["1", "N−1", "N"], fontsize=7)
        ax.set_title(lab, fontsize=8)
    for ax in axes.ravel()[len(labels):]:
        ax.axis("off")
    fig.suptitle("Attention of the prediction slot N in each layer l and head h (rows) on slots 1..N "
                 "(columns; N−1 is the parent), final, mean over test sequences and seeds; colour 0–1")
    plots.save(fig, path)


def full_patterns(run: dict) -> np.ndarray:
    """(L, H, S, S) attention of every query slot, mean over the run's test sequences, from
    the saved parameters (walkformer.load): the logged metrics hold only slot N's rows."""
    from ..api import load

    r = load(run["path"])
    return r.attention(r.test_tokens()).mean(1).numpy()


def _patterns_figure(runs: dict, labels: list[str], path) -> None:
    pats = {lab: full_patterns(runs[lab][0]) for lab in labels}
    n = max(P.shape[0] * P.shape[1] for P in pats.values())
    fig, axes = plots.plt.subplots(len(labels), n, figsize=(3 * n, 3 * len(labels)), squeeze=False)
    for row, lab in zip(axes, labels):
        P = pats[lab]
        for i, ax in enumerate(row):
            if i >= P.shape[0] * P.shape[1]:
                ax.axis("off")
                continue
            l, h = divmod(i, P.shape[1])
            S = P.shape[-1]
            ax.imshow(P[l, h], vmin=0, vmax=1, cmap="viridis", extent=(0.5, S + 0.5, S + 0.5, 0.5))
            ax.set_title(f"{lab}\nlayer {l + 1} head {h + 1}", fontsize=8)
            ax.set_xlabel("key slot", fontsize=7)
            ax.set_ylabel("query slot", fontsize=7)
    fig.suptitle("Every query slot's attention on slots 1..N (seed 0, mean over test sequences; row N is the "
                 "prediction slot, column N−1 the parent), from the saved parameters")
    plots.save(fig, path)


# ---- analysis --------------------------------------------------------------------------
def _analyse(runs, out, exp):
    cells = {k: cell(rs) for k, rs in runs.items()}
    _accuracy_figure(cells, out / ACC_FIG)
    _attention_figure(runs, out / ATT_FIG)
    _patterns_figure(runs, [lab for lab in ("rand-L3H2-mlp-p0.5", "rand-L3H2-mlp-p1.0", "zero-L3H2-mlp-res-p0.5")
                            if lab in runs], out / FULL_FIG)
    tol = tolerance(1 / K, runs["zero-L1H1-p1.0"][0]["config"]["eval"]["n_test"])
    deep_res, deep_nores = ("L2H1-res", "L3H2-mlp-res"), ("L2H1-nores", "L3H2-mlp-nores")
    claims = []
    trains = all(cells[f"zero-{a}-p0.5"]["near_opt"] for a in deep_res)  # non-vacuity of the p = 1 claim
    claims.append(claim(
        "zero-deep-p1-fails", f"from zero init a deeper model (L = 2, 3, residual) fails at p = 1 (accuracy 1/K), "
        f"while the same models learn p = 0.5 (N = {N_D} = 2K + 1)",
        "\"When the token average is not informative, multi-layer transformers may also struggle with zero "
        "initialization since it always takes an average over all tokens in each layer\" (A3 to yFLc; A4 to 5AGb)",
        {a: {"p1": cells[f"zero-{a}-p1.0"]["accuracy"], "p0.5": cells[f"zero-{a}-p0.5"]["accuracy"]} for a in deep_res}
        | {"tolerance": tol}, all(cells[f"zero-{a}-p1.0"]["at_random_guess"] for a in deep_res) if trains else None,
        "every seed's p = 1 accuracy within 3 binomial s.d. of 1/K; not tested (null) unless every seed of the "
        "same models reaches OPT at p = 0.5"))
    for tag, archs, what in (("res", deep_res, "with the residual stream"),
                             ("nores", deep_nores, "without residual (the paper's h ← attention(h) stacked)")):
        claims.append(claim(
            f"zero-deep-p0.5-learned-{tag}", f"from zero init a deeper model {what} still learns p = 0.5 (OPT)",
            "\"Theorem 3.1 [...] may indicate the capability of multi-layer transformers in learning the same task "
            "as well\" (A3 to yFLc)", {a: brief(cells[f"zero-{a}-p0.5"]) for a in archs},
            all(cells[f"zero-{a}-p0.5"]["near_opt"] for a in archs), "every seed within 3 binomial s.d. of OPT = 0.5"))
    fr = {lab: [frozen(r) for r in runs[lab]] for lab in ZERO if "nores" in lab}
    claims.append(claim(
        "zero-nores-frozen", "from zero init without residual a deeper model never moves: every parameter is "
        "exactly 0 after training, at p = 0.5 and 1 (f ≡ 0, so ∇V = δ·0 and ∇y = Vᵀδ = 0)",
        "not in the paper (our algebra, module docstring)",
        {lab: max(f["max_abs_all"] for f in v) for lab, v in fr.items()},
        all(f["max_abs_all"] == 0.0 for v in fr.values() for f in v), "max |θ| over every parameter and seed == 0",
        kind="identity"))
    lo = {lab: [frozen(r) for r in runs[lab]] for lab in ZERO if lab.endswith(("res-p0.5", "res-p1.0"))
          and "nores" not in lab}
    same = [abs(a["summary"]["test_accuracy"] - b["summary"]["test_accuracy"]) for p in PS
            for a, b in zip(runs[f"zero-L2H1-res-p{p}"], runs[f"zero-L1H1-p{p}"])]
    claims.append(claim(
        "zero-res-lower-layers-stay", "from zero init with the residual the layers below the last (and the MLP) "
        "stay exactly 0 and their attention exactly uniform, at p = 0.5 as at p = 1; the 2-layer, 1-head model "
        "is the one-layer model (same test accuracy, seed by seed)",
        "the authors' mechanism: \"it always takes an average over all tokens in each layer\" (A4 to 5AGb)",
        {"max_abs_lower": {lab: max(f["max_abs_lower"] for f in v) for lab, v in lo.items()},
         "lower_attention_uniform_every_step": {lab: sum(uniform_lower(r) for r in runs[lab]) for lab in lo},
         "L2H1_vs_L1H1_max_accuracy_difference": max(same)},
        all(f["max_abs_lower"] == 0.0 for v in lo.values() for f in v)
        and all(uniform_lower(r) for lab in lo for r in runs[lab]) and max(same) == 0.0,
        "max |θ| of the lower layers and the MLP == 0, every logged lower-layer row one float, and the L2H1 and "
        "L1H1 test accuracies equal, every seed", kind="identity"))
    gaps = {lab: [heads_gap(r) for r in runs[lab]] for lab in ZERO if "H2-mlp-res" in lab}
    worst = {lab: {k: max(g[k] for g in v) for k in ("rows", "W", "V")} | {"W_scale_min": min(g["W_scale"] for g in v)}
             for lab, v in gaps.items()}
    claims.append(claim(
        "zero-heads-identical", "from zero init the two heads of a layer stay identical to round-off (attention "
        "rows at every logged step, the last layer's W and V at the end), while W moves at p = 0.5",
        "not in the paper (our algebra: equal heads get equal gradients)", worst,
        all(w["rows"] <= 1e-12 and w["W"] <= 1e-12 and w["V"] <= 1e-12 for w in worst.values())
        and worst["zero-L3H2-mlp-res-p0.5"]["W_scale_min"] > 1e-3,
        "head 2 − head 1 ≤ 1e-12 (rows, W, V), every seed; the last layer's max |W| > 1e-3 at p = 0.5",
        kind="identity"))
    for p in PS:
        cs = {a: brief(cells[f"rand-{a}-p{p}"], "accuracy", "near_opt", "top_lag", "lower_max", "loss_spikes")
              for a in ARCHS}
        claims.append(claim(
            f"random-p{p}-learned", f"from small random init (σ = {SIGMA}, cross-entropy, residual) every "
            f"architecture (L = 1–3, H = 1–2, MLP or not) learns p = {p} (OPT)",
            "A3: multi-layer transformers may learn the task; random init \"may break this symmetry, enabling the "
            "transformer to successfully learn the optimal predictor\" (A3 to 5AGb, one layer)" if p == 1 else
            "\"p = 0.5 is still learned\" (A3 to yFLc)", cs, all(c["near_opt"] for c in cs.values()),
            "every seed of every architecture within 3 binomial s.d. of OPT"))
    par = {a: {"on_parent": f"{cells[f'rand-{a}-p0.5']['on_parent']} of {cells[f'rand-{a}-p0.5']['n']}",
               "off_parent_top_lags": off_parent_lags(runs[f"rand-{a}-p0.5"])} for a in ARCHS}
    par["paper-loss-L1H1 (control)"] = {"on_parent": f"{cells['paperloss-L1H1-p0.5']['on_parent']} of "
                                        f"{cells['paperloss-L1H1-p0.5']['n']}",
                                        "off_parent_top_lags": off_parent_lags(runs["paperloss-L1H1-p0.5"])}
    claims.append(claim(
        "random-p0.5-parent", f"at p = 0.5 some layer and head attends to the parent x_(N−1) (weight ≥ {PARENT}) "
        "in every seed and architecture", "the token selector of Theorem 3.1 (A4 to yFLc: \"attention focusing "
        "on the direct parent\")", par, all(cells[f"rand-{a}-p0.5"]["on_parent"] == cells[f"rand-{a}-p0.5"]["n"]
                                            for a in ARCHS),
        f"max over layers and heads of the prediction slot's weight on x_(N−1) ≥ {PARENT}, every seed"))
    nores, loss = cells["rand-L2H1-nores-p0.5"], cells["paperloss-L2H1-p0.5"]
    claims.append(claim(
        "random-nores-p0.5-learned", f"without residual (the paper's stacking) a 2-layer model from σ = {SIGMA} "
        f"learns p = 0.5 within {STEPS} steps", "\"p = 0.5 is still learned\" (A3 to yFLc)",
        brief(nores, "accuracy", "near_opt", "train_loss", "parent_max"), nores["near_opt"],
        "every seed within 3 binomial s.d. of OPT"))
    claims.append(claim(
        "random-paper-loss-p0.5-learned", f"with the paper's ε-log-loss a 2-layer model (residual) from σ = {SIGMA} "
        "learns p = 0.5", "\"p = 0.5 is still learned\" (A3 to yFLc)",
        brief(loss, "accuracy", "near_opt", "train_loss", "bayes_loss", "parent_max"), loss["near_opt"],
        "every seed within 3 binomial s.d. of OPT"))
    return with_figure(claims, ACC_FIG)


def _differences(claims, out):
    c = {x["id"]: x for x in claims}
    d = []
    if c["zero-deep-p0.5-learned-nores"]["holds"] is False:
        d.append(difference(
            "zero-nores-dead", "From zero init, stacking attention layers without residual learns nothing, "
            "not even p = 0.5", "deeper models fail at p ∈ {0, 1} like one layer; p = 0.5 \"may\" be learned (A3)",
            "accuracy at p = 0.5: " + "; ".join(f"{a}: {describe(v['accuracy'])}" for a, v in
                                                 c["zero-deep-p0.5-learned-nores"]["measured"].items()),
            f"every parameter stays exactly 0 (zero-nores-frozen holds = {c['zero-nores-frozen']['holds']}): f = V·0, "
            "so ∇V = 0 and ∇y = Vᵀδ = 0. The same models with the residual stream (one change) learn p = 0.5: "
            + "; ".join(f"{a}: {describe(v['accuracy'])}" for a, v in c["zero-deep-p0.5-learned-res"]["measured"].items()),
            claims=("zero-deep-p0.5-learned-nores",)))
    if c["random-paper-loss-p0.5-learned"]["holds"] is False:
        m = c["random-paper-loss-p0.5-learned"]["measured"]
        d.append(difference(
            "paper-loss-deep", "With the paper's ε-log-loss a deeper model from small random init does not learn "
            "p = 0.5", "\"p = 0.5 is still learned\" (A3)",
            f"L = 2, H = 1, residual, σ = {SIGMA}: accuracy {describe(m['accuracy'])}, train loss "
            f"{describe(m['train_loss'])}, below the Bayes loss {m['bayes_loss']:.3f}",
            "−log(f_y + ε) with a linear f is unbounded below: raising every f_k lowers it. A deeper model grows the "
            "f ∝ 1 direction as a product of factors and it swamps f. The same model with the softmax "
            "cross-entropy (one change) reaches OPT: accuracy "
            + describe(c["random-p0.5-learned"]["measured"]["L2H1"]["accuracy"]), claims=("random-paper-loss-p0.5-learned",)))
    if c["random-nores-p0.5-learned"]["holds"] is False:
        m = c["random-nores-p0.5-learned"]["measured"]
        d.append(difference(
            "nores-saddle", f"Without residual a 2-layer model from σ = {SIGMA} stays at the zero saddle within "
            f"{STEPS} steps", "\"p = 0.5 is still learned\" (A3)",
            f"accuracy {describe(m['accuracy'])}, train loss {describe(m['train_loss'])} (log K = {np.log(K):.3f})",
            "f = V y² with y² linear in W_V W_O: the gradient that leaves θ = 0 is a product of three σ-small "
            "factors. The same model with the residual stream (one change) reaches OPT: accuracy "
            + describe(c["random-p0.5-learned"]["measured"]["L2H1"]["accuracy"]), claims=("random-nores-p0.5-learned",)))
    rp, rl = c["random-p0.5-parent"], c["random-p0.5-learned"]
    if rp["holds"] is False or rl["holds"] is False:
        m, acc = rp["measured"], rl["measured"]
        n_on = {a: int(v["on_parent"].split(" of ")[0]) for a, v in m.items()}
        two = [a for a in ARCHS if "H2" in a]
        d.append(difference(
            "random-ancestor", f"From σ = {SIGMA} a one-head model can select an older ancestor instead of the parent",
            "the trained attention selects the direct parent (A4 to yFLc); p = 0.5 is still learned (A3)",
            "; ".join(f"{a}: on the parent in {v['on_parent']} seeds, the others' most attended lag "
                      f"{v['off_parent_top_lags']}" for a, v in m.items() if "control" not in a)
            + "; lowest accuracy " + ", ".join(f"{a} {acc[a]['accuracy']['min']:.3f}" for a in ARCHS
                                               if not acc[a]["near_opt"])
            + "; seeds whose final training loss is ≥ 0.1 above their lowest (GD at η = 1 overshooting): "
            + (", ".join(f"{a} {acc[a]['loss_spikes']}" for a in ARCHS if acc[a]["loss_spikes"]) or "none"),
            f"depth is not the cause: one layer and one head does it too (L1H1 on the parent in {m['L1H1']['on_parent']}), "
            f"two heads never miss the parent (H = 2: {sum(n_on[a] for a in two)} of {10 * len(two)} seeds). The "
            "authors' own A1 names the mechanism for random init: \"the larger initial scores assigned to other "
            "tokens may cause the value matrix to learn a k-step transition matrix\". At p = 0.5 the grandparent "
            "(lag 2) is as accurate as the parent (x_N = x_(N−2) with probability 1/2), so only other lags lower "
            "the accuracy. With the paper's ε-log-loss (the loss changed, one layer): on the parent in "
            f"{m['paper-loss-L1H1 (control)']['on_parent']} seeds",
            claims=(rp["id"], rl["id"])))
    return d


def _questions(claims, out):
    c = {x["id"]: x for x in claims}
    p1 = c["zero-deep-p1-fails"]["measured"]
    r1 = c["random-p1.0-learned"]["measured"]
    r5 = c["random-p0.5-learned"]["measured"]
    nores = c["zero-deep-p0.5-learned-nores"]["measured"]
    fails = "; ".join(f"{a} {describe(v['p1'])}" for a, v in p1.items() if a != "tolerance")
    dead = "; ".join(f"{a} {describe(v['accuracy'])}" for a, v in nores.items())
    return [question(
        "depth-5AGb", "5AGb", "How would the failure mechanism for deterministic walks (p=0,1) be affected by the "
        "presence of multiple transformer layers? Would deeper models be able to break the symmetry, or would the "
        "'uninformative' signal propagate and cause a similar failure?",
        "\"multi-layer transformers may struggle since it always takes an average over all tokens in each layer\" (A4)",
        f"From zero init, p = 1: accuracy {fails} "
        f"(1/K = {1 / K:.3f}); the lower layers never move (exactly), so the last layer is the one-layer model. "
        f"From σ = {SIGMA} (cross-entropy) every depth breaks it: {sum(v['near_opt'] for v in r1.values())} of "
        f"{len(r1)} architectures reach accuracy 1 in every seed, the last layer selecting an arbitrary token "
        f"(most attended lags {sorted(set(x for v in r1.values() for x in v['top_lag']))}).",
        claims=("zero-deep-p1-fails", "zero-res-lower-layers-stay")),
        question(
        "depth-yFLc", "yFLc", "2-layer attention models?",
        "\"Theorem 3.1 [...] may indicate the capability of multi-layer transformers in learning the same task as "
        "well [...] multi-layer transformers may also struggle with zero initialization\" (A3)",
        f"p = 0.5 from zero init: learned with the residual stream, not without (accuracy "
        f"{dead}: nothing moves); from σ = {SIGMA} "
        f"(cross-entropy) every seed reaches OPT in {sum(v['near_opt'] for v in r5.values())} of {len(r5)} "
        "architectures; the misses select an older ancestor (one-layer models too) or overshoot at η = 1.",
        claims=("zero-deep-p0.5-learned-res", "zero-deep-p0.5-learned-nores", "random-p0.5-learned"))]


register(Experiment("rev-depth", "Shi & Cao reviewers' questions: depth and heads (yFLc, 5AGb)",
                    "Depth, heads and the MLP: does the uninformative average propagate?", VARIANTS, _analyse,
                    base=BASE, differences=_differences, questions=_questions, tier="extended"))
