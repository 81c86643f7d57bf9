"""``rev-jumps``: sudden jumps in accuracy under random init, and the token-average
conjecture of Sec. 6 (issue 16 item 7, reviewer yFLc Q1, Q2).

**Jumps.** For a test sequence X with label y the margin of the correct logit is
m(X) = f_y(X) − max_{y' ≠ y} f_{y'}(X); X is classified correctly iff m(X) > 0 (ties aside).
On the deterministic walk (p = 1) the test set holds only K distinct sequences, one per
parent state c = x_{N−1}, so acc = Σ_c n_c/n · [m_c > 0] moves in steps of n_c/n ≈ 1/K,
whenever one class margin m_c crosses 0, however smoothly the margins move: the authors'
explanation ("the accuracy can only take values from a finite set", A1). What is not
automatic, and what we measure, is (i) that every one-step change of the accuracy is a
multiple of ≈ 1/K (it fails wherever sequences of one parent class disagree, e.g. at
p = ½), (ii) that the mean margin m̄ = mean_X m(X) has no spike at a jump (its change at
the jump step is at most SPIKE × the median one-step change in the surrounding ±WINDOW
steps), and (iii) where the attention is when the jumps happen: the authors say training
must first move the largest softmax score onto a token, so we record the top attention and
the top attended lag at every step.

The margins are not in metrics.jsonl (it logs accuracy, attention, V): :func:`trace`
replays a run's gradient descent with the loop's own pieces (``loop.Data``,
``training.ShiCaoAdapter``: the same seeded data, initialisation and steps) and reads f
on the test set at every step; the replayed accuracy at the logged steps must equal the
logged one exactly (an identity claim).

Setting: Sec. 5 (Fig. 6): K = 6, N = 97, M = 1000, σ = 0.01, x̃ unit-normalised in the
softmax, η = 10 (the paper's η = 0.01 on a loss summed over 1000 sequences: at η = 0.01 on
the mean loss nothing trains in 1000 steps, see fig6), 1000 steps, p ∈ {1, 0.5}, 10 seeds.

**The token-average conjecture** ("zero-init models learn only where the token average is
informative", Sec. 6). A family of Task-2-like questions (:class:`HintQA`, defined here: no
config key expresses it): "Based on the sentence I prefer an A to an B ..." with label A;
with probability q the filler "the" is replaced by the answer A (a *hint*). The hinted
questions hold A twice and B once, the plain ones both once, so the best accuracy of any
predictor that sees only the bag of words is BAG(q) = q + (1 − q)/2 = (1 + q)/2
(:func:`bag_of_words_accuracy`, by enumeration), while the order makes every question
answerable (OPT = 1). q = 0 is Task 2, uninformative average. Runs: Fig. 7's setting
(σ = 0.01, normalised, η = 0.1, ε = 0.1, M = 1000, 100 steps), q ∈ QS, 10 seeds, trained in
:func:`_analyse` by :func:`trace` (no config key names the task, so they are not preset
variants); control: the same with x̃ not normalised (the initial attention then far from
uniform).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from .. import failures, plots
from ..runs.rundir import write_json
from ..tasks.qa import FruitQA, _IDX
from .core import Experiment, claim, describe, difference, question, register, stat
from .common import PAPER, tolerance, with_figure

K = PAPER["task.K"]
STEPS = 1000
SELECT = 0.5  # "the attention has selected a token": top mean attention at least this
SPIKE, WINDOW = 3.0, 25
BASE = PAPER | {"init.scheme": "gaussian", "init.sigma": 0.01, "model.normalize": True, "train.eta": 10.0,
                "train.steps": STEPS, "eval.grid": "log", "eval.per_decade": 10}
VARIANTS = {"p1": {"task.p": 1.0}, "p0.5": {"task.p": 0.5}}
QS = (0.0, 0.25, 0.5, 0.75, 1.0)
QA_SEEDS = 10
QA = {"task.name": "qa2", "init.scheme": "gaussian", "init.sigma": 0.01, "model.normalize": True, "model.M": 1000,
      "train.eta": 0.1, "train.eps": 0.1, "train.steps": 100, "train.n_train": 1000, "eval.n_test": 1000}
QA_CONTROL = (0.0, 0.5)  # q of the raw-x̃ control
FIG, QFIG = "rev_jumps.png", "rev_jumps_qa.png"


# ---- the replay ----------------------------------------------------------------------
def trace(over: dict, task=None) -> dict:
    """Replay the run ``over`` (a run's config.json, or dotted overrides) step by
    step and return per step t = 0..T: ``acc``, ``margin`` (mean m(X)), ``class_margin``
    (T+1, K) the mean margin of the test sequences of each parent state x_{N−1},
    ``top_att``, ``top_lag`` (of the mean test attention); and ``class_share`` (K,), ``failed``.
    ``task``: train on this task object in place of the config's (same K and N)."""
    from ..api import configure
    from ..config import from_dict
    from ..loop import Data
    from ..training import ShiCaoAdapter

    cfg = from_dict(over) if isinstance(over.get("task"), dict) else configure(over)
    it = ShiCaoAdapter(cfg)
    if task is not None:
        it.task = task
    data = Data(cfg, it.task, it.batch)
    test = data.test
    y, par = test.y, test.tokens[:, -1]
    ms, accs, atts, failed = [], [], [], False
    for step in range(cfg.train.steps + 1):
        loss = it.loss(data.train(step), test)
        if not it.finite(loss):
            failed = True
            break
        fw = it._fw if it._fw is not None else it.model.forward(test)
        f = fw["f"].double()
        fy = f.gather(1, y[:, None])[:, 0]
        ms.append(fy - f.scatter(1, y[:, None], -torch.inf).max(1).values)
        accs.append((f.argmax(1) == y).double().mean())
        atts.append(fw["attention"].double().clone())
        if step == cfg.train.steps:
            break
        it.step(step)
    if not ms:
        return {"failed": True}
    m, att = torch.stack(ms).numpy(), torch.stack(atts).numpy()  # (T+1, B), (T+1, N)
    onehot = np.eye(it.task.K)[par.numpy()]  # (B, K)
    share = onehot.sum(0)
    return {"acc": torch.stack(accs).numpy(), "margin": m.mean(1), "failed": failed,
            "class_margin": (m @ onehot) / np.maximum(share, 1), "class_share": share / len(y),
            "top_att": att.max(1), "top_lag": att.shape[1] - 1 - att.argmax(1)}


def jumps(acc: np.ndarray) -> np.ndarray:
    """Steps t ≥ 1 at which the accuracy changed from step t − 1."""
    return np.nonzero(np.diff(acc) != 0)[0] + 1


def step_sizes_ok(acc: np.ndarray, n_test: int) -> tuple[bool, list[float]]:
    """Every one-step change of the accuracy is within 3 binomial s.d. (at 1/K) of a nonzero
    multiple of 1/K."""
    d = np.abs(np.diff(acc))[jumps(acc) - 1]
    tol = tolerance(1 / K, n_test)
    k = np.maximum(np.round(d * K), 1)
    return bool(np.all(np.abs(d - k / K) <= tol)), [float(x) for x in d]


def spikes(margin: np.ndarray, at: np.ndarray) -> list[float]:
    """At each step t of ``at``: |m̄(t) − m̄(t−1)| over the median one-step change in
    [t − WINDOW, t + WINDOW] without t (SPIKE or more: the margin jumped too)."""
    d = np.abs(np.diff(margin))  # d[t−1] = |m̄(t) − m̄(t−1)|
    out = []
    for t in at:
        lo, hi = max(0, t - 1 - WINDOW), min(len(d), t + WINDOW)
        around = np.delete(d[lo:hi], t - 1 - lo)
        med = float(np.median(around)) if len(around) else 0.0
        out.append(float(d[t - 1] / med) if med > 0 else float("inf"))
    return out


def first_at(acc: np.ndarray, level: float) -> int | None:
    hit = np.nonzero(acc >= level)[0]
    return int(hit[0]) if len(hit) else None


# ---- the hinted Task 2 family -----------------------------------------------------------
class HintQA(FruitQA):
    """Task 2 with a hint: with probability q the word "the" (position 2) is the answer."""

    def __init__(self, q: float):
        super().__init__("qa2")
        hinted = self._tokens.clone()
        assert bool((hinted[:, 2] == _IDX["the"]).all())
        hinted[:, 2] = self._y  # "Based on <A> sentence I prefer an A to an B ..."
        self._tokens = torch.cat([self._tokens, hinted])
        self._y = torch.cat([self._y, self._y])
        self.q = q
        self._w = torch.tensor([(1 - q) / 2, (1 - q) / 2, q / 2, q / 2], dtype=torch.float64)

    def sample(self, n: int, gen: torch.Generator):
        idx = torch.multinomial(self._w, n, replacement=True, generator=gen)
        return self._tokens[idx], self._y[idx]

    def population(self):
        return self._tokens.clone(), self._y.clone(), self._w.clone()


def bag_of_words_accuracy(task: HintQA) -> float:
    """Best accuracy from the word counts alone: Σ over count vectors of max_y P(counts, y)."""
    joint = defaultdict(float)
    for toks, y, w in zip(task._tokens, task._y, task._w):
        joint[(tuple(torch.bincount(toks, minlength=task.K).tolist()), int(y))] += float(w)
    best = defaultdict(float)
    for (c, _), w in joint.items():
        best[c] = max(best[c], w)
    return sum(best.values())


def qa_runs(q: float, seeds: int, over: dict | None = None) -> list[dict]:
    task = HintQA(q)
    out = []
    for s in range(seeds):
        t = trace(QA | (over or {}) | {"seed": s}, task)
        out.append({"q": q, "seed": s, "failed": t["failed"], "accuracy": None if t["failed"] else float(t["acc"][-1]),
                    "curve": None if t["failed"] else t["acc"].tolist()})
    return out


# ---- analysis ---------------------------------------------------------------------------
BIG = 1 / (2 * K)  # a "step" of the accuracy: a one-step change of at least half of 1/K


def staircase(x: dict, n_test: int) -> dict:
    """The accuracy's one-step changes from step 2 on (step 1 moves V off its random init in
    one large step, V⁽¹⁾ of Lemma C.1, and is left out): the big ones (≥ BIG), whether each is
    within 3 binomial s.d. of a multiple of 1/K, the share of the net rise they make, the
    margin's spike ratio at each, and the attention when OPT is first reached."""
    acc = x["acc"]
    d = np.diff(acc)
    t = np.nonzero(np.abs(d) >= BIG)[0] + 1
    t = t[t >= 2]
    tol = tolerance(1 / K, n_test)
    sizes = np.abs(d[t - 1])
    rise = float(acc[-1] - acc[1])
    return {"big_steps": [int(s) for s in t], "sizes": [round(float(s), 4) for s in sizes],
            "multiples_of_1_over_K": bool(np.all(np.abs(sizes - np.maximum(np.round(sizes * K), 1) / K) <= tol)),
            "share_of_rise": float(d[t - 1].sum() / rise) if abs(rise) >= BIG else None,
            "margin_spike": [round(s, 3) for s in spikes(x["margin"], t)],
            "n_small_changes": int(np.sum((np.abs(d[1:]) > 0) & (np.abs(d[1:]) < BIG)))}


def _per_run(runs: list[dict]) -> list[dict]:
    out = []
    for r in runs:
        if failures.of(r["summary"]) is not None:
            out.append({"failed": failures.of(r["summary"])})
            continue
        x = trace(r["config"])
        logged = {m["step"]: m["test_accuracy"] for m in r["metrics"]}
        s, n = r["summary"], r["config"]["eval"]["n_test"]
        t_opt = first_at(x["acc"], s["optimal_accuracy"] - tolerance(s["optimal_accuracy"], n))
        out.append({"failed": None, "trace": x, "replay_gap": max(abs(x["acc"][t] - a) for t, a in logged.items()),
                    "stairs": staircase(x, n), "t_opt": t_opt,
                    "top_att_at_opt": None if t_opt is None else float(x["top_att"][t_opt]),
                    "final_lag": int(x["top_lag"][-1]), "final_top_att": float(x["top_att"][-1])})
    return out


def _figure(per: dict, path) -> None:
    fig, axes = plots.plt.subplots(2, 3, figsize=(20, 10))
    ax = axes.ravel()
    for i, x in enumerate(p for p in per["p1"] if not p["failed"]):
        tr, c = x["trace"], f"C{i % 10}"
        steps = np.arange(len(tr["acc"]))
        ax[0].plot(steps, tr["acc"], color=c, lw=1)
        ax[1].plot(steps, tr["margin"], color=c, lw=1)
        ax[1].scatter(x["stairs"]["big_steps"], tr["margin"][x["stairs"]["big_steps"]], color=c, s=14, zorder=3)
        ax[3].semilogy(steps, tr["top_att"], color=c, lw=1)
        if x["t_opt"] is not None:
            ax[3].scatter([x["t_opt"]], [x["top_att_at_opt"]], color=c, marker="*", s=90, zorder=3)
    first = next(p for p in per["p1"] if not p["failed"])["trace"]
    for k in range(K):
        ax[2].plot(first["class_margin"][:, k], lw=1, label=f"x_(N−1) = {k + 1}")
    ax[2].plot(2 * first["acc"], color="k", lw=2, ls="--", label="2 × accuracy")
    ax[2].axhline(0, color="grey", lw=1)
    ax[2].set_xlim(100, 300)
    ax[2].set_ylim(-1.5, 3)
    for i, x in enumerate(p for p in per["p0.5"] if not p["failed"]):
        tr, c = x["trace"], f"C{i % 10}"
        ax[4].plot(tr["acc"], color=c, lw=1)
        ax[5].semilogy(tr["top_att"], color=c, lw=1)
        if x["t_opt"] is not None:
            ax[5].scatter([x["t_opt"]], [x["top_att_at_opt"]], color=c, marker="*", s=90, zorder=3)
    for a in (ax[3], ax[5]):
        a.axhline(SELECT, color="k", ls="--", lw=1, label=f"selects a token ({SELECT})")
        a.axhline(1 / 97, color="r", ls=":", lw=1, label="uniform 1/N")
        a.set_ylabel("top mean attention (any position)")
        a.legend(fontsize=9)
    titles = ("(a) p = 1: test accuracy, every seed", "(b) p = 1: mean margin f_y − max_{y'≠y} f_y' (dots: accuracy "
              "steps ≥ 1/(2K))", "(c) p = 1, seed 0: margin of each parent class", "(d) p = 1: top attention (★: OPT "
              "first reached)", "(e) p = 0.5 (control): test accuracy", "(f) p = 0.5: top attention (★: OPT first reached)")
    for a, t in zip(ax, titles):
        a.set_title(t, fontsize=11)
        a.set_xlabel("GD iteration")
    ax[2].legend(fontsize=8)
    fig.suptitle(f"Sudden jumps under random init (σ = 0.01, x̃ normalised, η = 10, K = 6, N = 97): replayed every step")
    plots.save(fig, path)


def _qa_figure(qa: dict, ctrl: dict, path) -> None:
    fig, ax = plots.plt.subplots(figsize=(9, 6))
    for i, q in enumerate(QS):
        acc = [r["accuracy"] for r in qa[q] if r["accuracy"] is not None]
        ax.scatter(np.full(len(acc), q) + np.linspace(-0.015, 0.015, len(acc)), acc, color="C0", s=16,
                   label="normalised x̃ (seeds)" if i == 0 else None)
    for i, q in enumerate(QA_CONTROL):
        acc = [r["accuracy"] for r in ctrl[q] if r["accuracy"] is not None]
        ax.scatter(np.full(len(acc), q + 0.04), acc, color="C3", marker="x", s=20,
                   label="control: x̃ not normalised" if i == 0 else None)
    qs = np.linspace(0, 1, 11)
    ax.plot(qs, (1 + qs) / 2, color="k", ls="--", label="bag-of-words accuracy (1 + q)/2")
    ax.axhline(1, color="grey", ls=":", label="OPT (the word order answers every question)")
    ax.set_xlabel("q: share of questions whose words' average tells the answer")
    ax.set_ylabel(f"final test accuracy ({QA['train.steps']} steps)")
    ax.set_title("Task 2 with a hint: accuracy against the informativeness of the token average")
    ax.legend(fontsize=9)
    plots.save(fig, path)


def _analyse(runs, out, exp):  # (run_all analyses on one torch thread: experiments.core.one_thread)
    per = {k: _per_run(rs) for k, rs in runs.items()}
    qa = {q: qa_runs(q, QA_SEEDS) for q in QS}
    ctrl = {q: qa_runs(q, QA_SEEDS, {"model.normalize": False}) for q in QA_CONTROL}
    _figure(per, out / FIG)
    bags = {q: bag_of_words_accuracy(HintQA(q)) for q in sorted(set(QS) | set(QA_CONTROL))}
    write_json(out / "qa.json", {"bag_accuracy": {str(q): bags[q] for q in QS},
                                 "normalised": {str(q): [r["accuracy"] for r in rs] for q, rs in qa.items()},
                                 "raw_control": {str(q): [r["accuracy"] for r in rs] for q, rs in ctrl.items()}})
    _qa_figure(qa, ctrl, out / QFIG)
    ok = {k: [x for x in v if not x["failed"]] for k, v in per.items()}
    n = runs["p1"][0]["config"]["eval"]["n_test"]
    gap = max(x["replay_gap"] for v in ok.values() for x in v)
    st = {k: [x["stairs"] for x in v] for k, v in ok.items()}
    share = {k: stat([s["share_of_rise"] for s in v]) for k, v in st.items()}
    p1, p5 = st["p1"], st["p0.5"]
    claims = [claim(
        "replay-exact", "the replay (loop.Data + training.ShiCaoAdapter, step by step) gives the logged test accuracy at "
        "every logged step of every run, exactly", "—", {"largest_difference": gap, "runs": sum(map(len, ok.values()))},
        gap == 0.0, "max over runs and logged steps of |replayed − logged accuracy| == 0", kind="identity"),
        claim(
        "p1-steps-of-1/K", "p = 1: the accuracy rises in steps of 1/K: one-step changes ≥ 1/(2K) make at least 90% of "
        "the rise from step 1 to the end, each within 3 binomial s.d. of a multiple of 1/K",
        "\"since we consider 6 nodes in our experiments, the accuracy can only take values from a finite set. Thus [...] "
        "sudden jumps may occur\" (A1)",
        {"share_of_rise_in_steps": share["p1"], "all_multiples_of_1_over_K": sum(s["multiples_of_1_over_K"] for s in p1),
         "steps_per_run": [len(s["big_steps"]) for s in p1], "sizes_seed0": p1[0]["sizes"] if p1 else None,
         "control_p0.5": {"share_of_rise_in_steps": share["p0.5"],
                          "small_changes_per_run": stat([s["n_small_changes"] for s in p5])}},
        all(s["multiples_of_1_over_K"] and s["share_of_rise"] is not None and s["share_of_rise"] >= 0.9 for s in p1)
        if p1 else None,
        "every p = 1 run that did not fail: share ≥ 0.9 and every big step a multiple of 1/K (±3 s.d.); the p = 0.5 "
        "control is shown, not in the criterion"),
        claim(
        "p1-margin-smooth", f"p = 1: the mean margin moves smoothly through every accuracy step: its change at the step "
        f"is at most {SPIKE:g}× the median one-step change in the ±{WINDOW} steps around",
        "the authors' explanation: the accuracy is discrete, the training continuous (A1)",
        {"spike_ratios": [s["margin_spike"] for s in p1], "largest": max([max(s["margin_spike"], default=0) for s in p1],
                                                                         default=None)},
        all(r <= SPIKE for s in p1 for r in s["margin_spike"]) if any(s["big_steps"] for s in p1) else None,
        f"every big accuracy step (≥ 1/(2K), from step 2 on) of every p = 1 run: spike ratio ≤ {SPIKE:g}"),
        claim(
        "p1-opt-after-selection", f"p = 1: the accuracy reaches OPT only once the attention has selected a token "
        f"(top mean attention ≥ {SELECT} at the first step at OPT)",
        "\"sufficient training steps are needed to update the weight matrix so that the largest softmax score can be "
        "assigned to the direct parent token. Before that, the attention may select another token, which can lead to a "
        "lower accuracy\" (A1; our reading: the jumps follow the attention's selection)",
        {"top_attention_at_opt": stat([x["top_att_at_opt"] for x in ok["p1"]]),
         "first_step_at_opt": stat([x["t_opt"] for x in ok["p1"]]),
         "control_p0.5": {"top_attention_at_opt": stat([x["top_att_at_opt"] for x in ok["p0.5"]]),
                          "first_step_at_opt": stat([x["t_opt"] for x in ok["p0.5"]])}},
        all(x["top_att_at_opt"] >= SELECT for x in ok["p1"] if x["t_opt"] is not None)
        if any(x["t_opt"] is not None for x in ok["p1"]) else None,
        f"every p = 1 run that reaches OPT − 3 s.d.: top attention ≥ {SELECT} at that step; not tested if none does"),
        claim(
        "p1-arbitrary-token", f"p = 1: by step {STEPS} the softmax score of one arbitrary token is much larger than the "
        f"others: every run's top attention ≥ {SELECT}, on at least two different lags across seeds",
        "\"after 1000 iterations [...] the softmax score for one arbitrary token becomes much larger than the others\" (A3)",
        {"final_top_lag": [x["final_lag"] for x in ok["p1"]],
         "final_top_attention": stat([x["final_top_att"] for x in ok["p1"]])},
        all(x["final_top_att"] >= SELECT for x in ok["p1"]) and len({x["final_lag"] for x in ok["p1"]}) >= 2,
        f"every p = 1 run: final top attention ≥ {SELECT}; ≥ 2 distinct final top lags"),
    ]
    fin = {q: [r["accuracy"] for r in rs if r["accuracy"] is not None] for q, rs in qa.items()}
    tol = {q: tolerance(b, QA["eval.n_test"]) for q, b in bags.items()}  # QS and QA_CONTROL
    means = [float(np.mean(fin[q])) for q in QS]
    cfin = {q: [r["accuracy"] for r in rs if r["accuracy"] is not None] for q, rs in ctrl.items()}
    claims += [claim(
        "qa-not-beyond-average", f"hinted Task 2: small-init models learn only what the token average tells: for every q "
        f"∈ {list(QS)} every seed's final accuracy ≤ the bag-of-words accuracy (1 + q)/2 (+3 s.d.)",
        "\"zero initialised models only learn when token averages have discriminative value\" (yFLc's reading of Sec. 6; "
        "A2: Task 2 fails because \"the token averages remain the same across all sequences\")",
        {f"q{q}": {"bag": bags[q], "accuracy": stat(fin[q]), "at_bag": sum(abs(a - bags[q]) <= tol[q] for a in fin[q])}
         for q in QS},
        all(a <= bags[q] + tol[q] for q in QS for a in fin[q]),
        "every seed, every q: accuracy ≤ (1 + q)/2 + 3 binomial s.d. on 1000 test questions"),
        claim(
        "qa-rises-with-average", "hinted Task 2: the mean accuracy rises with the informativeness q of the token average "
        "(strictly from q = 0 to q = 1, never falling by more than 3 s.d. between neighbours)",
        "Task 1 (informative average) learned, Task 2 (identical average) not (Sec. 6, Fig. 7)",
        {f"q{q}": m for q, m in zip(QS, means)},
        means[-1] > means[0] + tol[QS[0]]
        and all(b >= a - tolerance(0.75, QA["eval.n_test"]) for a, b in zip(means, means[1:])),
        "mean final accuracy at q = 1 above q = 0's + 3 s.d., and no neighbour pair falling by more than 3 s.d."),
        claim(
        "qa-control-raw-beyond", "control, x̃ not normalised (the same σ = 0.01 then gives far-from-uniform initial "
        "attention): some seed at q = 0 beats the bag-of-words accuracy 1/2, i.e. reads the word order",
        "Sec. 6 requires small init; our notes: without normalisation Task 2 is learned",
        {f"q{q}": {"bag": bags[q], "accuracy": stat(cfin[q]), "beyond_bag": sum(a > bags[q] + tol[q] for a in cfin[q])}
         for q in QA_CONTROL},
        any(a > bags[0.0] + tol[0.0] for a in cfin[0.0]), "at q = 0, some raw-x̃ seed's accuracy > 1/2 + 3 s.d."),
    ]
    return with_figure(claims[:5], FIG) + with_figure(claims[5:], QFIG)


def _differences(claims, out):
    c = {x["id"]: x for x in claims}
    res = []
    sel = c["p1-opt-after-selection"]
    if sel["holds"] is False:
        m = sel["measured"]
        res.append(difference(
            "jumps-before-selection", "At p = 1 the accuracy steps up to OPT while the attention is still spread out",
            sel["paper"],
            f"the first step at OPT is {describe(m['first_step_at_opt'])} with top mean attention "
            f"{describe(m['top_attention_at_opt'])} (uniform: 1/97 = 0.0103): the staircase is V reading a slightly "
            "non-uniform average, a class at a time, before any token is selected",
            "the same runs at p = 0.5 (only p differs): first at OPT at step "
            f"{describe(m['control_p0.5']['first_step_at_opt'])} "
            f"with top attention {describe(m['control_p0.5']['top_attention_at_opt'])}; there the accuracy rises "
            "with the selection of the parent", claims=("p1-opt-after-selection",)))
    qa = c["qa-not-beyond-average"]
    if qa["holds"] is False:
        res.append(difference(
            "qa-beyond-average", "Small-init models beat the token average on the hinted Task 2", qa["paper"],
            "; ".join(f"{k}: accuracy {describe(v['accuracy'])} against bag {v['bag']:.3f}"
                      for k, v in qa["measured"].items()),
            "the raw-x̃ control: " + "; ".join(f"{k}: {describe(v['accuracy'])}"
                                             for k, v in c["qa-control-raw-beyond"]["measured"].items()),
            claims=("qa-not-beyond-average",)))
    return res


def _questions(claims, out):
    c = {x["id"]: x["measured"] for x in claims}
    st, sel, qa = c["p1-steps-of-1/K"], c["p1-opt-after-selection"], c["qa-not-beyond-average"]
    return [question(
        "sudden-jumps", "yFLc", "Discussing the sudden jumps in accuracy. Are these e.g., because of random noise happening "
        "upon an output that is sufficiently far away from the uniform averaging?",
        "the initial scores differ, so long training is needed before the largest score sits on the parent, and \"the "
        "accuracy can only take values from a finite set. Thus [...] sudden jumps may occur\" (A1)",
        f"At p = 1 steps of ≈ 1/K make {describe(st['share_of_rise_in_steps'])} of the accuracy rise while the mean "
        f"margin moves smoothly (largest spike ratio {c['p1-margin-smooth']['largest']}); OPT is first reached with top "
        f"attention {describe(sel['top_attention_at_opt'])}, i.e. before any token is selected.",
        claims=("p1-steps-of-1/K", "p1-margin-smooth", "p1-opt-after-selection")),
        question(
        "token-average", "yFLc", "a conjecture this paper seems to make is \"Zero initialised models only learn when token "
        "averages have discriminative value\" [...] could be strengthened with further experimental support",
        "Sec. 6 shows the value of the theory: in Task 2 \"the token averages remain the same across all sequences; thus, "
        "we expect that Task 2 is a failure case\" (A2)",
        "Hinted Task 2, accuracy against the bag-of-words accuracy (1 + q)/2: "
        + "; ".join(f"q = {k[1:]}: {describe(v['accuracy'])} (bag {v['bag']:.3f})" for k, v in qa.items()) + ".",
        claims=("qa-not-beyond-average", "qa-rises-with-average"))]


register(Experiment("rev-jumps", "Shi & Cao reviewers' questions: sudden jumps, token average (yFLc)",
                    "Sudden jumps under random init, and accuracy against the informativeness of the token average",
                    VARIANTS, _analyse, base=BASE, differences=_differences, questions=_questions, tier="extended"))
