"""The random-walk paper's reviewers' question on a parent at lag k (issue 16 item 2):
``rev-lag``, the circle walk whose next state depends on x_{N−k} (reviewer Z1xn).

**The task.** ``task.name=chain task.graph=circle task.lag=k``: s_i = s_{i−k} ± 1 (p, 1 − p),
so a sequence is k interleaved, independent circle walks (sub-chain r holds positions
r+1, r+1+k, ...), each started uniformly; s_N's parent is x_{N−k} and OPT = max(p, 1 − p).

**The analogue of N = rK + 1.** From zero init the first GD step trains V on the token
average x̄ = (1/(N−1)) Σ_{j<N} e_{x_j} (W = 0: uniform attention); Theorem 4.1's trap is a
token average that tells nothing about y = s_N. At p ∈ {0, 1} sub-chain r is a deterministic
walk, so its n_r tokens visit consecutive states: their one-hots sum to ⌊n_r/K⌋·1 plus the
n_r mod K states nearest its start. Hence

- x̄ is the *same vector for every sequence* iff every n_r ≡ 0 (mod K), i.e. (N−1) ≡ 0
  (mod kK): **N = r·k·K + 1** (k = 1: the paper's N = rK + 1). Then V moves along 1 1ᵀ, the
  output V X S is the same for every token and W's gradient is zero: the exact symmetric
  point (with exactly orthogonal ``onehot`` positions; ``sin`` is orthogonal only up to
  round-off, which breaks it, as at lag 1: docs/results-random-walks.md).
- x̄ is uninformative *in expectation* (E[x̄ | y] uniform) iff the parent sub-chain's count
  t = ⌊(N−1)/k⌋ ≡ 0 (mod K) (the other sub-chains are independent of y). For k ≥ 2 this
  adds N = r·k·K + 2 .. r·k·K + k, where x̄ still varies from sequence to sequence.

K = 6: lag 2 → N = 97 = 8·12 + 1 (the trap), 98 (uninformative only in expectation); lag 3 →
N = 91 = 5·18 + 1 (the trap), 92 (in expectation), 97 and 98 informative (t = 32).
:func:`analogue` computes both, :func:`token_average` measures them on sampled sequences.

**Variants** (K = 6, M = 1000, zero init, η = 1, ε = 0.1, 1000 sequences, STEPS steps on a log
grid, 10 seeds): (a) p ∈ {0.5, 0.8} × k ∈ {2, 3} × N ∈ {97, 98} with the paper's ``sin``
positions; (b) p = 1 with ``onehot`` positions at lag 2, N ∈ {97, 98}, lag 3, N ∈ {91, 92, 97,
98}, and p = 0 at the two traps; (c) the paper's ``sin`` positions at the two traps, p = 1;
(d) lag 1 at N = 97, p = 1, onehot, on the reference transformer and on the Shi & Cao
acceleration (the controls of the trap: the reference transformer leaves it by round-off in
some seeds, at lag 1 too; the acceleration never).
A lag-k chain is not a configuration of the Shi & Cao acceleration (paths.SHICAO: task.lag = 1,
task.name circle), so every run trains on the reference transformer (~11 ms a step at
N = 97, M = 1000, against ~0.1 ms on the fast path for lag 1): docs/reviewers/rev-lag.md.
"""

from __future__ import annotations

import numpy as np

from .. import plots
from .core import Experiment, claim, describe, difference, question, register, stat
from .common import PAPER, at_random_guess, finals, near_opt, with_figure
from .reviewers import PARENT, top_lag

K = PAPER["task.K"]
STEPS = 50
LAGS = (2, 3)
PS = (0.5, 0.8)
NS = (97, 98)
SYMMETRIC = 1e-12  # attention over the token slots "uniform": max − min below this
BASE = PAPER | {"init.scheme": "zero", "train.eta": 1.0, "train.steps": STEPS, "eval.grid": "log"}
CHAIN = {"task.name": "chain", "task.graph": "circle"}


def analogue(N: int, lag: int, K: int = K) -> dict:
    """Which of Theorem 4.1's conditions a lag-``lag`` deterministic circle walk meets at N:
    ``every_sequence`` (x̄ the same vector for every sequence: all sub-chain counts ≡ 0 mod K,
    N = r·lag·K + 1) and ``in_expectation`` (the parent sub-chain's count ≡ 0 mod K)."""
    counts = [len(range(r, N - 1, lag)) for r in range(lag)]  # tokens x_1..x_{N−1}: 0-based r, r+lag, ..
    parent = len(range((N - 1) % lag, N - 1, lag))  # the sub-chain of s_N (0-based position N−1)
    return {"sub_chain_counts": counts, "parent_count": parent,
            "every_sequence": all(c % K == 0 for c in counts), "in_expectation": parent % K == 0}


def token_average(lag: int, N: int, p: float, n: int = 2000, seed: int = 0) -> dict:
    """Measured on ``n`` sampled sequences: the largest spread of x̄ over sequences, and the
    largest deviation from 1/K of the label-conditional mean E[x̄ | y] (both 0 at the trap)."""
    import torch

    from ..api import configure
    from ..tasks import make_task

    task = make_task(configure(BASE | CHAIN | {"task.N": N, "task.lag": lag, "task.p": p}))
    x, y = task.sample(n, torch.Generator().manual_seed(seed))
    xbar = torch.nn.functional.one_hot(x, K).double().mean(1).numpy()  # (n, K)
    y = y.numpy()
    cond = np.array([xbar[y == v].mean(0) for v in range(K) if (y == v).any()])
    return {"spread_over_sequences": float(np.ptp(xbar, axis=0).max()),
            "conditional_deviation": float(np.abs(cond - 1.0 / K).max())}


def _v(lag, p, N, pos):
    return CHAIN | {"task.lag": lag, "task.p": p, "task.N": N, "model.pos": pos}


SUCCESS = {f"lag{k}-p{p}-N{N}": _v(k, p, N, "sin") for k in LAGS for p in PS for N in NS}
DET_NS = {2: (97, 98), 3: (91, 92, 97, 98)}
TRAP = {2: 97, 3: 91}
DET = {f"onehot-lag{k}-p1.0-N{N}": _v(k, 1.0, N, "onehot") for k in LAGS for N in DET_NS[k]}
DET |= {f"onehot-lag{k}-p0.0-N{TRAP[k]}": _v(k, 0.0, TRAP[k], "onehot") for k in LAGS}
SIN_TRAP = {f"sin-lag{k}-p1.0-N{TRAP[k]}": _v(k, 1.0, TRAP[k], "sin") for k in LAGS}
# the controls of the trap at lag 1 (N = 97 = 16·6 + 1): the same chain task on the reference transformer,
# and task.name=circle, which the Shi & Cao acceleration trains (paths.SHICAO)
LAG1 = {"ref-lag1-p1.0-N97": _v(1, 1.0, 97, "onehot"),
        "fast-lag1-p1.0-N97": {"task.name": "circle", "task.p": 1.0, "task.N": 97, "model.pos": "onehot"}}
VARIANTS = SUCCESS | DET | SIN_TRAP | LAG1
FIG = "rev_lag.png"


def attention_spread(run: dict) -> float:
    """max − min of the final mean attention over the N − 1 token slots (0: uniform)."""
    att = np.asarray(run["metrics"][-1]["attention"])[:-1]
    return float(att.max() - att.min())


def escape_step(run: dict) -> int | None:
    """First logged step whose attention over the token slots is not uniform (max − min ≥
    SYMMETRIC); None: uniform at every logged step."""
    for m in run["metrics"]:
        att = np.asarray(m["attention"])[:-1] if "attention" in m else None
        if att is not None and att.max() - att.min() >= SYMMETRIC:
            return m["step"]
    return None


def cell(rs: list[dict]) -> dict:
    c = rs[0]["config"]["task"]
    return {"accuracy": stat(finals(rs, "test_accuracy")), "attention_on_x_(N-k)": stat(finals(rs, "parent_attention")),
            "top_lag": [top_lag(r) for r in rs], "value_cosine": stat(finals(rs, "value_cosine")),
            "attention_spread": stat([attention_spread(r) for r in rs]),
            "escape_steps": [escape_step(r) for r in rs],
            "steps_to_optimal": stat(finals(rs, "steps_to_optimal")),
            "optimal_accuracy": rs[0]["summary"]["optimal_accuracy"], "near_opt": near_opt(rs)[0],
            "at_random_guess": at_random_guess(rs)[0], "lag": c["lag"], "N": c["N"], "p": c["p"],
            "analogue": analogue(c["N"], c["lag"], c["K"])}


def _figure(runs: dict, cells: dict, path) -> None:
    """Every seed as a dot: final accuracy (OPT and 1/K marked), attention on x_(N−k), most attended lag."""
    labels = list(cells)
    fig, axes = plots.plt.subplots(3, 1, figsize=(15, 11), sharex=True)
    for i, k in enumerate(labels):
        rs = runs[k]
        jitter = np.full(len(rs), i) + np.linspace(-0.25, 0.25, len(rs))
        axes[0].scatter(jitter, finals(rs, "test_accuracy"), s=14, color="C0", label="a seed" if i == 0 else None)
        axes[0].plot([i - 0.35, i + 0.35], [cells[k]["optimal_accuracy"]] * 2, color="k", lw=2,
                     label="OPT" if i == 0 else None)
        axes[1].scatter(jitter, finals(rs, "parent_attention"), s=14, color="C1")
        axes[2].scatter(jitter, cells[k]["top_lag"], s=14, color="C2")
    axes[0].axhline(1 / K, ls=":", color="r", lw=1, label="1/K")
    axes[0].legend(fontsize=9)
    for ax, title in zip(axes[:2], ("final test accuracy", "final attention on the parent x_(N−k)")):
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(title)
    axes[2].set_yscale("symlog", linthresh=4)
    axes[2].set_ylabel("lag ℓ of the most attended x_(N−ℓ)")
    axes[2].set_title("most attended lag, every seed (a trap cell: argmax of uniform attention)")
    axes[2].set_xticks(np.arange(len(labels)), labels, rotation=45, ha="right", fontsize=9)
    fig.suptitle("Circle walk with the parent at lag k (K = 6, M = 1000, zero init): sin positions at p < 1,\n"
                 "onehot (exactly orthogonal) and sin at p ∈ {0, 1}; the trap N = r·k·K + 1 is 97 (k = 2), 91 (k = 3)")
    plots.save(fig, path)


def from_ancestor(lag: int, p: float, ell: int) -> float:
    """Best accuracy of a prediction of s_N from x_{N−ℓ} alone on the lag-``lag`` circle walk:
    max_y (Π^m)[x, y] for ℓ = m·lag (the same sub-chain, m steps back), else 1/K (independent)."""
    from ..graphs import circle

    if ell <= 0 or ell % lag:
        return 1.0 / K
    Pi = circle.transition(K, p)
    return float(np.linalg.matrix_power(Pi, ell // lag)[0].max())


def _off_parent(rs: list[dict]) -> list[dict]:
    lag, p = rs[0]["config"]["task"]["lag"], rs[0]["config"]["task"]["p"]
    return [{"seed": r["config"]["seed"], "top_lag": top_lag(r), "accuracy": r["summary"]["test_accuracy"],
             "best_from_that_token": from_ancestor(lag, p, top_lag(r))} for r in rs if top_lag(r) != lag]


def _brief(c: dict) -> dict:
    return {k: c[k] for k in ("accuracy", "attention_on_x_(N-k)", "top_lag", "optimal_accuracy", "near_opt")}


def _trapped(c: dict) -> bool:
    return c["at_random_guess"] and c["attention_spread"]["max"] < SYMMETRIC


def _analyse(runs, out, exp):
    cells = {k: cell(rs) for k, rs in runs.items()}
    _figure(runs, cells, out / FIG)
    claims = []
    for k in LAGS:
        for p in PS:
            for N in NS:
                c = cells[f"lag{k}-p{p}-N{N}"]
                claims.append(claim(
                    f"parent-lag{k}-p{p}-N{N}", f"lag {k}, p = {p}, N = {N}: attention selects the parent x_(N−{k}) "
                    "and the accuracy reaches OPT (Theorem 3.1 extended to lag k)",
                    "\"We believe that our theory can be extended to Markov chains that depend on a different "
                    "position. [...] Therefore, we can extend our results to this specific task.\" (rebuttal A8)",
                    _brief(c) | {"value_cosine": c["value_cosine"], "off_parent": _off_parent(runs[f"lag{k}-p{p}-N{N}"])},
                    c["near_opt"] and all(t == k for t in c["top_lag"]) and c["attention_on_x_(N-k)"]["min"] >= PARENT,
                    f"every seed: most attended lag == {k}, attention on x_(N−{k}) ≥ {PARENT}, final accuracy within "
                    "3 binomial s.d. of OPT"))
    for k in LAGS:
        for p in (1.0, 0.0):
            c = cells[f"onehot-lag{k}-p{p}-N{TRAP[k]}"]
            claims.append(claim(
                f"trap-lag{k}-p{p}", f"lag {k}, p = {p}, N = {TRAP[k]} = {TRAP[k] // (k * K)}·{k}·{K} + 1 (every "
                "sequence's token average is the same vector), onehot positions: the accuracy stays at 1/K and the "
                "attention stays uniform", "Theorem 4.1 (lag 1, N = rK + 1), its analogue at lag k (derived here)",
                _brief(c) | {"attention_spread": c["attention_spread"], "escape_steps": c["escape_steps"],
                             "analogue": c["analogue"]}, _trapped(c),
                f"every seed's final accuracy within 3 binomial s.d. of 1/K and attention max − min over the token "
                f"slots < {SYMMETRIC:g}"))
    for k in LAGS:
        for N in DET_NS[k]:
            if N == TRAP[k]:
                continue
            c = cells[f"onehot-lag{k}-p1.0-N{N}"]
            a = c["analogue"]
            why = ("the token average is uninformative in expectation only" if a["in_expectation"]
                   else "the token average is informative")
            claims.append(claim(
                f"learns-lag{k}-N{N}", f"lag {k}, p = 1, N = {N} ({why}; parent sub-chain count {a['parent_count']}), "
                f"onehot positions: the model reaches accuracy 1 attending a token of the parent's sub-chain "
                f"(a lag that is a multiple of {k})", "not in the paper: the failure is specific to N = r·k·K + 1",
                _brief(c) | {"analogue": a}, c["near_opt"] and all(t % k == 0 and t > 0 for t in c["top_lag"]),
                f"every seed within 3 binomial s.d. of OPT = 1 and most attended lag a positive multiple of {k}"))
    c = cells["onehot-lag3-p1.0-N97"]
    claims.append(claim(
        "rk1-lag3-N97", "Theorem 4.1's condition read literally, N = rK + 1 (97 = 16·6 + 1), gives the failure at "
        "lag 3 too (p = 1, onehot positions)", "Theorem 4.1: p ∈ {0, 1} and N = rK + 1",
        _brief(c) | {"analogue": c["analogue"]}, _trapped(c),
        f"every seed's final accuracy within 3 binomial s.d. of 1/K and attention max − min < {SYMMETRIC:g}"))
    for path, what in (("fast", "the Shi & Cao acceleration (task.name=circle)"),
                       ("ref", "the reference transformer (task.name=chain, the path of every lag-k run)")):
        c = cells[f"{path}-lag1-p1.0-N97"]
        claims.append(claim(
            f"trap-lag1-{path}", f"lag 1 (Theorem 4.1 itself), p = 1, N = 97, onehot positions, trained by {what}: "
            "the accuracy stays at 1/K and the attention stays uniform", "Theorem 4.1 (p ∈ {0, 1}, N = rK + 1)",
            _brief(c) | {"attention_spread": c["attention_spread"], "escape_steps": c["escape_steps"]}, _trapped(c),
            f"every seed's final accuracy within 3 binomial s.d. of 1/K and attention max − min < {SYMMETRIC:g}"))
    for k in LAGS:
        c = cells[f"sin-lag{k}-p1.0-N{TRAP[k]}"]
        claims.append(claim(
            f"trap-sin-lag{k}", f"with the paper's sin positions the lag-{k} trap (p = 1, N = {TRAP[k]}) holds too: "
            "accuracy 1/K, uniform attention", "Theorem 4.1 with the paper's positions (its analogue at lag k)",
            _brief(c) | {"attention_spread": c["attention_spread"]}, _trapped(c),
            f"every seed's final accuracy within 3 binomial s.d. of 1/K and attention max − min < {SYMMETRIC:g}"))
    return with_figure(claims, FIG)


def _differences(claims, out):
    c = {x["id"]: x for x in claims}
    res = []
    for k in LAGS:
        for p in PS:
            bad = [c[f"parent-lag{k}-p{p}-N{N}"] for N in NS if c[f"parent-lag{k}-p{p}-N{N}"]["holds"] is False]
            good = [c[f"parent-lag{k}-p{p}-N{N}"] for N in NS if c[f"parent-lag{k}-p{p}-N{N}"]["holds"]]
            for b in bad:
                off = b["measured"]["off_parent"]
                res.append(difference(
                    f"off-parent-{b['id']}", f"Lag {k}, p = {p}: some seeds attend a farther ancestor",
                    "the attention selects the parent x_(N−k) (rebuttal A8, extending Theorem 3.1)",
                    f"{b['id']}: " + "; ".join(
                        f"seed {o['seed']} attends x_(N−{o['top_lag']}), accuracy {o['accuracy']:.3f}, the best any "
                        f"prediction from that token alone can do {o['best_from_that_token']:.3f}" for o in off)
                    + f"; the other seeds attend x_(N−{k}), accuracy {describe(b['measured']['accuracy'])}",
                    "the same lag and p at the other N: " + ("; ".join(
                        f"{g['id']}: every seed on x_(N−{k}), accuracy {describe(g['measured']['accuracy'])}"
                        for g in good) or "fails too") + ". A token m steps up the parent's sub-chain predicts s_N "
                    "through Π^m (best max_y (Π^m)[x, y]); from zero init the first step's V is a mixture of these "
                    "powers, and a seed whose attention settles on such an ancestor stays at that stationary point",
                    claims=(b["id"],)))
    lit = c["rk1-lag3-N97"]
    if lit["holds"] is False:
        m, t = lit["measured"], c["trap-lag3-p1.0"]["measured"]
        res.append(difference(
            "trap-is-rkK+1", "At lag k the failure sits at N = r·k·K + 1, not N = rK + 1",
            "Theorem 4.1: p ∈ {0, 1} fails when N = rK + 1",
            f"lag 3, p = 1, N = 97 = 16·6 + 1 (onehot positions): accuracy {describe(m['accuracy'])}, most attended "
            f"lags {sorted(set(m['top_lag']))}; sub-chain counts {m['analogue']['sub_chain_counts']} are not multiples "
            f"of K, so the token average carries y",
            f"the same preset at N = 91 = 5·3·6 + 1 (every sub-chain count {t['analogue']['sub_chain_counts']} ≡ 0 mod 6, "
            f"the token average is the same vector for every sequence): accuracy {describe(t['accuracy'])}, attention "
            f"max − min {describe(t['attention_spread'])} (trap-lag3-p1.0 holds = {c['trap-lag3-p1.0']['holds']})",
            claims=(lit["id"],)))
    fast, ref = c["trap-lag1-fast"], c["trap-lag1-ref"]
    broken = [x for x in (f"trap-lag{k}-p{p}" for k in LAGS for p in (1.0, 0.0)) if c[x]["holds"] is False]
    if broken:
        def esc(m):
            e = [s for s in m["escape_steps"] if s is not None]
            return f"{len(e)} of {len(m['escape_steps'])} seeds" + (f" (first non-uniform at step {min(e)}–{max(e)})"
                                                                    if e else "")
        res.append(difference(
            "trap-round-off", "Some seeds leave the lag-k trap on the reference transformer",
            "Theorem 4.1's symmetric point is kept for ever (exact arithmetic)",
            "onehot positions at N = r·k·K + 1: " + "; ".join(
                f"{x}: {esc(c[x]['measured'])} leave the symmetric point, accuracy {describe(c[x]['measured']['accuracy'])}"
                for x in broken),
            f"lag 1 itself on the same reference transformer (trap-lag1-ref holds = {ref['holds']}): "
            f"{esc(ref['measured'])} leave it, accuracy {describe(ref['measured']['accuracy'])}; on the Shi & Cao "
            f"acceleration (trap-lag1-fast holds = {fast['holds']}): {esc(fast['measured'])}, accuracy "
            f"{describe(fast['measured']['accuracy'])}. The symmetric point is unstable: the reference model sums "
            "each state's attention-weighted one-hots in an order that depends on where the state sits in the "
            "sequence, so the token logits differ by round-off and the gap grows; the acceleration keeps them equal",
            claims=tuple(broken)))
    for k in LAGS:
        s = c[f"trap-sin-lag{k}"]
        if s["holds"] is not False:
            continue
        m, o = s["measured"], c[f"trap-lag{k}-p1.0"]["measured"]
        res.append(difference(
            f"sin-breaks-trap-lag{k}", f"With the paper's sin positions the lag-{k} trap breaks",
            "Theorem 4.1's symmetric point (exact arithmetic)",
            f"sin positions, lag {k}, p = 1, N = {TRAP[k]}: accuracy {describe(m['accuracy'])}, attention max − min "
            f"{describe(m['attention_spread'])}",
            f"onehot positions (exactly orthogonal, same setting otherwise): accuracy {describe(o['accuracy'])}, "
            f"attention max − min {describe(o['attention_spread'])}. sin embeddings are orthogonal only up to "
            "round-off, which makes the position logits unequal; the symmetric point is unstable and the gap grows "
            "(as at lag 1, fig5's sin variant)", claims=(s["id"],)))
    return res


def _questions(claims, out):
    c = {x["id"]: x for x in claims}
    parts = [f"k = {k}, p = {p}, N = {N}: accuracy {m['accuracy']['mean']:.3f} (OPT {m['optimal_accuracy']:.2f}), "
             f"{sum(t == k for t in m['top_lag'])}/{len(m['top_lag'])} seeds on x_(N−{k})"
             for k in LAGS for p in PS for N in NS for m in (c[f"parent-lag{k}-p{p}-N{N}"]["measured"],)]
    traps = "; ".join(f"lag {k}, N = {TRAP[k]}: {m['escape_steps'].count(None)}/{len(m['escape_steps'])} seeds stay at "
                      "the symmetric point" for k in LAGS for m in (c[f"trap-lag{k}-p1.0"]["measured"],))
    return [question(
        "lag", "Z1xn", "it would be interesting to see generalization to Markov chains that still depend on a single "
        "token but at different positions rather than the previous one (e.g., x_{N-2})",
        "\"We believe that our theory can be extended to Markov chains that depend on a different position. [...] "
        "we can extend our results to this specific task\" (A8)",
        "; ".join(parts) + f" (mean over 10 seeds). At p = 1 (onehot positions) the symmetric trap sits at "
        f"N = r·k·K + 1, not rK + 1 ({traps}, the others leave it by round-off, as lag 1 does on the same reference transformer; "
        "accuracy 1 at every other N tried).",
        claims=tuple(f"parent-lag{k}-p{p}-N{N}" for k in LAGS for p in PS for N in NS))]


register(Experiment("rev-lag", "Shi & Cao reviewers' questions: a parent at lag k (Z1xn)",
                    "A parent at lag k: attention on x_(N−k), and where p ∈ {0, 1} fails", VARIANTS, _analyse,
                    base=BASE, differences=_differences, questions=_questions, tier="extended"))
