"""The random-walk paper's reviewers' questions (issue 15 item 4): ``rev-bias``, bias terms in
the App. F.2 model (reviewer 5AGb, Q5), and why fig10's Task 1 stays at chance.

App. F.2's model is f = A ReLU(V X S), S = softmax(X̃ᵀ W x̃_N) (``model.head=relu``). The
rebuttal (A5 to 5AGb) ran "the following model: ." (the formula is lost in our sources).
Our reading (inferred): f = A ReLU(V X S + b) + b_A, a bias in each layer of the head. It is
the only placement that changes the model: x̃_N = [0; p_N] is the same for every sequence, so
a query bias only shifts the free vector u = W x̃_N; a key bias adds u·b_K to every score of
a row and cancels in the softmax; a value bias before V is V b, i.e. a b. ``model.bias=true``
with ``model.head=relu`` builds exactly this (models/transformer.py: head.b, head.b_A, zero
at init), but only on the reference transformer (150–400 ms a step here at load ~12, against ~1.5 ms for
the fast path), so the arms train in :func:`train_head`, an exact small trainer of the same
model: because every gradient of W is an outer product r x̃_Nᵀ (models/shicao.py), GD on W
is GD on u = W x̃_N with step η‖x̃_N‖², and

    z_j = (u_tok[s_j] + p_jᵀ u_pos) / n_j,   h = Σ_{j<N} S_j e_{s_j},
    f = A ReLU(V h + b) + b_A,               L = mean_b −log(f_{y_b} + ε),

from the run's own initial W, V, A (``loop.build``) and its own training and test sets
(``loop.Data``). Its no-bias arm equals the project's fast-path run at every step (claim
``trainer-equals-fig10``, an identity; tests/test_rev_bias.py checks the bias arm against the
reference transformer).

Arms (each changes one thing from fig10: σ = 0.01 for W, V, A, η = 0.1, 100 steps, 1024
sequences): ``bias`` (b, b_A from 0); A's initial scale σ_A ∈ {0.1, 1}; A's step η_A = 10η,
100η; the same A changes with biases; PyTorch's default scale for V, A with biases; softmax
cross-entropy in place of the ε-log-loss (unbounded below: f_y → ∞ lowers it for every y). A's step is not a rescaling of A's init: with
ReLU's homogeneity f(A, V, b) = f(A/c, cV, cb) for c > 0, and

    ∇_{A/c} L = c ∇_A L,   ∇_{cV} L = ∇_V L / c,

so GD with one step η from (A₀/c, cV₀, cb₀), mapped back by (cÃ, Ṽ/c, b̃/c), is GD from
(A₀, V₀, b₀) with steps c²η on A and η/c² on V and b. A larger step on A alone equals a
*smaller* A and a *larger* V at init (same function), not a larger A; scaling A alone changes
f at init by c. Both are measured (tests/test_rev_bias.py checks the identity to 1e-9).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import plots
from ..config import from_dict
from .core import Experiment, claim, describe, difference, question, register, stat
from .beyond import QA
from .common import tolerance, with_figure

FIG10 = QA | {"model.head": "relu", "model.m": 19, "train.n_train": 1024, "eval.n_test": 1024}
TORCH_SCALE = 1 / math.sqrt(3 * 19)  # nn.Linear(19, ·)'s U(±1/√fan_in) has this s.d.
ARMS = {  # label -> train_head options
    "fig10": {}, "bias": {"bias": True},
    "A-init-0.1": {"sigma_A": 0.1}, "A-init-1": {"sigma_A": 1.0},
    "A-step-x10": {"lr_A": 10.0}, "A-step-x100": {"lr_A": 100.0},
    "bias-A-init-1": {"bias": True, "sigma_A": 1.0}, "bias-A-step-x100": {"bias": True, "lr_A": 100.0},
    "bias-torch-scale": {"bias": True, "sigma_A": TORCH_SCALE, "sigma_V": TORCH_SCALE},
    "softmax-ce": {"loss": "softmax-ce"},
    "bias-hidden": {"bias": "hidden"}, "bias-out": {"bias": "out"},  # which of the two biases  # only the loss: is it the ε-log-loss, unbounded below?
}
A_ARMS = ("A-init-0.1", "A-init-1", "A-step-x10", "A-step-x100")
REBUTTAL_STEPS = 20  # "the transformer achieves the optimal accuracy (100%) after 20 iterations"
SOLVED = 0.99
FIGURE = "rev_bias.png"


def start(cfg) -> dict:
    """The run's initial W, V, A and its data as :func:`train_head` needs them."""
    from ..loop import Data, build

    task, model = build(cfg)
    data = Data(cfg, task)
    P, n = model.P.double(), model.norm.double()  # (N, M), (N,)
    q = torch.cat([torch.zeros(task.K, dtype=torch.float64), P[-1]]) / n[-1]  # x̃_N after normalisation
    u = model.blocks[0].attn.W.detach()[0].double() @ q
    return {"cfg": cfg, "K": task.K, "P": P, "n": n, "qq": float(q @ q), "u": u,
            "V": model.head.V.detach()[0].double(), "A": model.head.A.detach().double(),
            "train": data.train(0), "test": data.test}


def train_head(s: dict, bias=False, sigma_A=None, sigma_V=None, lr_A=1.0, lr_V=1.0, steps=None, rescale=1.0,
               loss="log-eps") -> dict:
    """GD on f = A ReLU(V h + b) + b_A (b, b_A only with ``bias``, from 0; "hidden": b only, "out": b_A only) as the module
    docstring says. ``sigma_A``/``sigma_V`` rescale the run's own A, V to that s.d.; steps
    η·lr_A on A and η·lr_V on V and b; ``rescale`` = c starts from (A/c, cV, cb) (the
    homogeneity check); ``loss="softmax-ce"`` trains on cross-entropy of softmax(f) instead. Returns accuracy and loss at every step (θ^(t), t = 0..steps) and
    ``failure`` (the step at which e_yᵀf + ε ≤ 0 made the loss undefined, else None)."""
    cfg, K = s["cfg"], s["K"]
    P, n, u = s["P"], s["n"], s["u"]
    V = s["V"] * (1.0 if sigma_V is None else sigma_V / cfg.init.sigma) * rescale
    A = s["A"] * (1.0 if sigma_A is None else sigma_A / cfg.init.sigma) / rescale
    ut, up = u[:K].clone().requires_grad_(), u[K:].clone().requires_grad_()
    V, A = V.clone().requires_grad_(), A.clone().requires_grad_()
    b = torch.zeros(V.shape[0], dtype=torch.float64, requires_grad=True)
    bA = torch.zeros(K, dtype=torch.float64, requires_grad=True)
    hid, out = bias in (True, "hidden"), bias in (True, "out")  # both, or one of the two (controls)
    groups = [(ut, s["qq"]), (up, s["qq"]), (V, lr_V), (A, lr_A)]
    groups += ([(b, lr_V)] if hid else []) + ([(bA, 1.0)] if out else [])
    eta, eps = cfg.train.eta, cfg.train.eps
    (x, y, _), (xt, yt, _) = s["train"], s["test"]

    def forward(tok):
        c = (P @ up) / n  # (N,) position part of the scores
        z = torch.cat([ut[tok] / n[0] + c[:-1], c[-1:].expand(len(tok), 1)], 1)  # (B, N)
        h = torch.zeros(len(tok), K, dtype=z.dtype).scatter_add(1, tok, torch.softmax(z, 1)[:, :-1])  # X S
        pre = h @ V.T + b if hid else h @ V.T
        return torch.relu(pre) @ A.T + bA if out else torch.relu(pre) @ A.T

    acc, losses, failure, loss_name = [], [], None, loss
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # ~2 ms a step; more threads only contend on 2 cores
    try:
        for t in range((cfg.train.steps if steps is None else steps) + 1):
            with torch.no_grad():
                acc.append(float((forward(xt).argmax(1) == yt).double().mean()))
            f = forward(x)
            loss = (-torch.log(f.gather(1, y[:, None])[:, 0] + eps).mean() if loss_name == "log-eps"
                    else torch.nn.functional.cross_entropy(f, y))
            losses.append(float(loss.detach()))
            if not math.isfinite(losses[-1]):
                failure = t
                break
            grads = torch.autograd.grad(loss, [p for p, _ in groups])
            with torch.no_grad():
                for (p, r), g in zip(groups, grads):
                    p -= eta * r * g
    finally:
        torch.set_num_threads(threads)
    return {"accuracy": acc, "loss": losses, "failure": failure,
            "params": {"A": A.detach() * rescale, "V": V.detach() / rescale, "b": b.detach() / rescale}}


def solved_from(acc: list, level: float = SOLVED):
    """First step from which the accuracy stays ≥ level to the end (None: never)."""
    t = None
    for i in range(len(acc) - 1, -1, -1):
        if acc[i] < level:
            break
        t = i
    return t


def arms_of(runs: dict, arms: dict = ARMS) -> dict:
    """{task: {arm: [train_head result per seed]}} from the same starts as the fig10 runs."""
    out = {}
    for task, rs in runs.items():
        starts = [start(from_dict(r["config"])) for r in rs]
        out[task] = {a: [train_head(s, **kw) for s in starts] for a, kw in arms.items()}
    return out


def _cell(results: list, tol: float) -> dict:
    fin = [r["accuracy"][-1] if r["failure"] is None else None for r in results]
    ok = [a for a in fin if a is not None]
    return {"final_accuracy": stat(fin), "peak_accuracy": stat([max(r["accuracy"]) for r in results]),
            "solved_from": stat([solved_from(r["accuracy"]) if r["failure"] is None
                                                             else None for r in results]),
            "seeds_solved": sum(a >= SOLVED for a in ok), "seeds_near_half": sum(abs(a - 0.5) <= tol for a in ok),
            "undefined_loss": sum(r["failure"] is not None for r in results), "n_seeds": len(results)}


def _figure(arms: dict, out) -> None:
    fig, axes = plots.plt.subplots(1, 2, figsize=(16, 6.5))
    for ax, task in zip(axes, ("qa1", "qa2")):
        for i, (a, rs) in enumerate(arms[task].items()):
            acc = [r["accuracy"] for r in rs if r["failure"] is None]
            if acc:
                ax.plot(np.arange(len(acc[0])), np.mean(acc, 0), label=f"{a} ({len(acc)} seeds)",
                        ls="-" if a.startswith(("fig10", "bias")) else "--", color=plots.plt.cm.tab20(i % 20))
        ax.axhline(0.5, ls=":", color="r", lw=1)
        ax.axvline(REBUTTAL_STEPS, ls=":", color="k", lw=1)
        plots.accuracy_axes(ax, f"Task {task[-1]}: mean test accuracy over seeds (dotted: step 20, 0.5)")
    if axes[0].get_legend() is not None:
        axes[0].get_legend().remove()
    axes[1].legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle("App. F.2 with and without biases f = A ReLU(V X S + b) + b_A; A's initial scale and step")
    plots.save(fig, out / FIGURE)


def _analyse(runs, out, exp, arms: dict = ARMS):
    res = arms_of(runs, arms)
    _figure(res, out)
    n = runs["qa1"][0]["config"]["eval"]["n_test"]
    tol = tolerance(0.5, n)
    cells = {t: {a: _cell(rs, tol) for a, rs in res[t].items()} for t in res}
    same = [r["accuracy"] == [m["test_accuracy"] for m in run["metrics"]]
            for t in res for r, run in zip(res[t]["fig10"], runs[t])]
    t1, t2 = cells["qa1"], cells["qa2"]
    ns = len(runs["qa1"])
    learned = [a for a in arms if t1[a]["seeds_solved"] * 2 >= ns]
    bias_solved = [solved_from(r["accuracy"]) for r in res["qa1"]["bias"]]
    gain = t1["bias"]["final_accuracy"]["mean"] - t1["fig10"]["final_accuracy"]["mean"]
    claims = [
        claim("trainer-equals-fig10", "the exact small trainer's no-bias arm is the fig10 run (the project's fast "
              "path): the same test accuracy at every step, every seed and both tasks", "—",
              {"seeds_identical": f"{sum(same)} of {len(same)}"}, all(same),
              "accuracy lists equal (==) at steps 0..100", kind="identity"),
        claim("rebuttal-task1-bias", f"with biases, Task 1 reaches 100% after about {REBUTTAL_STEPS} iterations",
              "\"In task 1, the transformer achieves the optimal accuracy (100%) after 20 iterations\" (A5 to 5AGb)",
              t1["bias"] | {"solved_from_per_seed": bias_solved},
              all(x is not None and x <= 2 * REBUTTAL_STEPS for x in bias_solved),
              f"every seed ≥ {SOLVED} from a step ≤ {2 * REBUTTAL_STEPS} (twice the rebuttal's 20) to step 100; "
              "arm 'bias' (fig10's setting plus b, b_A from 0)"),
        claim("task2-stays-half", "Task 2 stays at 50% (random guessing) in every arm that learns Task 1",
              "\"In task 2, the test accuracy remains around 50%\"",
              {a: t2[a] for a in learned} | {"arms_learning_task1": learned, "tolerance": tol},
              all(t2[a]["seeds_near_half"] == ns - t2[a]["undefined_loss"] for a in learned) if learned else None,
              f"tested only in arms where ≥ half the seeds solve Task 1 (≥ {SOLVED} at step 100; else nothing "
              "trains and 50% is vacuous): every Task 2 seed within 3 binomial s.d. of 0.5"),
        claim("bias-explains-fig10", "biases are what fig10 lacks: adding b, b_A lifts Task 1's final accuracy "
              "by at least 0.25", "the rebuttal's bias run reaches 100% where fig10 (Fig. 10) also does",
              {"fig10": t1["fig10"], "bias": t1["bias"], "mean_gain": gain, "bias_hidden": t1["bias-hidden"],
               "bias_out": t1["bias-out"]}, gain >= 0.25,
              "mean final accuracy (bias) − mean (fig10) ≥ 0.25, same seeds, data and initial W, V, A"),
    ]
    peak = [(max(r["accuracy"]), r["accuracy"][-1]) for r in res["qa1"]["fig10"]]
    transient = sum(p >= SOLVED and abs(f - 0.5) <= tol for p, f in peak)
    claims.append(claim(
        "fig10-learns-then-unlearns", "without biases (fig10) Task 1 passes through 100% in some seeds and falls "
        "back to 50% by step 100", "— (Fig. 10 shows Task 1 near 100%)",
        t1["fig10"] | {"seeds_peak_then_half": transient, "peak_and_final_per_seed": peak,
                       "softmax_ce": t1["softmax-ce"]},
        transient >= 2, f"at least 2 seeds ≥ {SOLVED} at some step and within 3 binomial s.d. of 0.5 at step 100"))
    for a in A_ARMS:
        claims.append(claim(
            f"{a}-solves-task1", f"changing only A ({a}: {ARMS[a]}) solves Task 1 within 100 iterations",
            "— (our hypothesis for fig10: A and V both N(0, 0.01²) make f a product of two small matrices)",
            {"no_bias": t1[a]} | ({"with_bias": t1["bias-" + a]} if "bias-" + a in t1 else {}),
            t1[a]["seeds_solved"] == ns, f"every seed ≥ {SOLVED} at step 100"))
    claims.append(claim("torch-scale-bias", "the rebuttal's likely implementation (nn.Linear layers with biases: "
                        f"V, A at PyTorch's default scale, s.d. {TORCH_SCALE:.3f}) solves Task 1 by ~20 iterations",
                        "100% after 20 iterations", t1["bias-torch-scale"],
                        t1["bias-torch-scale"]["seeds_solved"] == ns and
                        (t1["bias-torch-scale"]["solved_from"]["max"] or math.inf) <= 2 * REBUTTAL_STEPS,
                        f"every seed ≥ {SOLVED} from a step ≤ {2 * REBUTTAL_STEPS} (biases from 0: our trainer)"))
    return with_figure(claims, FIGURE)


def _differences(claims, out):
    c = {x["id"]: x for x in claims}
    b, f = c["rebuttal-task1-bias"]["measured"], c["bias-explains-fig10"]["measured"]
    a_ok = [x for x in A_ARMS if c[f"{x}-solves-task1"]["holds"]]
    ctrl = ("; ".join(f"{x}: Task 1 final {describe(c[f'{x}-solves-task1']['measured']['no_bias']['final_accuracy'])}, "
                      f"{c[f'{x}-solves-task1']['measured']['no_bias']['seeds_solved']} of "
                      f"{c[f'{x}-solves-task1']['measured']['no_bias']['n_seeds']} seeds solved" for x in A_ARMS))
    ts = c["torch-scale-bias"]["measured"]
    return [difference(
        "bias-task1", "With biases Task 1 still does not learn in the App. F.2 setting",
        "with biases Task 1 reaches 100% after 20 iterations (A5 to 5AGb)",
        f"with b, b_A from 0 (otherwise fig10): Task 1 final {describe(b['final_accuracy'])}, {b['seeds_solved']} of "
        f"{b['n_seeds']} seeds ≥ {SOLVED}; without biases {describe(f['fig10']['final_accuracy'])} (best step of each "
        f"seed: with biases {describe(b['peak_accuracy'])}, without {describe(f['fig10']['peak_accuracy'])})",
        f"only A changed (same seeds, data, W and V): {ctrl}. "
        + (f"Changing A alone solves it ({', '.join(a_ok)}), adding biases does not: fig10's 0.5 is A's scale "
           "(and step), not the missing biases." if a_ok else "No single change of A solves it either.")
        + f" Without biases {c['fig10-learns-then-unlearns']['measured']['seeds_peak_then_half']} seeds pass through "
        f"≥ {SOLVED} and fall back to 0.5 (the loss goes below 0: f_y grows without bound for both fruits); "
        f"the same with softmax cross-entropy in place of the ε-log-loss: "
        f"{describe(c['fig10-learns-then-unlearns']['measured']['softmax_ce']['final_accuracy'])}."
        + f" One bias at a time: b only {describe(c['bias-explains-fig10']['measured']['bias_hidden']['peak_accuracy'])}"
        f" at each seed's best step, b_A only {describe(c['bias-explains-fig10']['measured']['bias_out']['peak_accuracy'])}"
        " (fig10 without either above)."
        + f" PyTorch-scale V, A with biases: {describe(ts['final_accuracy'])}, {ts['seeds_solved']} of "
        f"{ts['n_seeds']} seeds solved, from step {describe(ts['solved_from'])}",
        claims=("rebuttal-task1-bias", "bias-explains-fig10"))]


def _questions(claims, out):
    c = {x["id"]: x["measured"] for x in claims}
    b, t2 = c["rebuttal-task1-bias"], c["task2-stays-half"]
    best = max(A_ARMS, key=lambda a: c[f"{a}-solves-task1"]["no_bias"]["seeds_solved"])
    m = c[f"{best}-solves-task1"]["no_bias"]
    return [question(
        "bias", "5AGb", "what would be the expected effect of adding bias terms to the model's layers?",
        "\"The results are similar to Figure 10 [...] In task 1, the transformer achieves the optimal accuracy "
        "(100%) after 20 iterations. In task 2, the test accuracy remains around 50%\" (A5)",
        f"With b, b_A (fig10's σ = 0.01, η = 0.1) Task 1 ends at {describe(b['final_accuracy'])} "
        f"({b['seeds_solved']} of {b['n_seeds']} seeds ≥ {SOLVED}), as without biases; changing A instead "
        f"({best}) gives {describe(m['final_accuracy'])}. Task 2 stays at 0.5 in the arms that learn Task 1 "
        f"({', '.join(t2['arms_learning_task1']) or 'none'}).",
        claims=("rebuttal-task1-bias", "task2-stays-half"))]


register(Experiment("rev-bias", "Shi & Cao reviewers' questions: biases (5AGb)",
                    "Bias terms in the App. F.2 ReLU head; A's scale and step against fig10's chance level",
                    {"qa1": {"task.name": "qa1"}, "qa2": {"task.name": "qa2"}}, _analyse, base=FIG10,
                    differences=_differences, questions=_questions, tier="extended"))
