"""The random-walk paper's reviewers' questions (issue 16 item 4): ``rev-pretrain``, pretrain by
next-token prediction, then fine-tune Task 2 of Sec. 6 (``qa2``) with ``init.from`` (reviewer bJ9o).

What can carry over (the algebra first). In the slot layout the query is x̃_N = [0; p_N] and the
score of slot j is z_j = x̃_jᵀ W x̃_N, so the model reads W only through u = W x̃_N, and every
gradient of W is an outer product r x̃_Nᵀ: from zero init W^(t) = R^(t) x̃_Nᵀ. With orthogonal
positions (``model.pos=onehot``: p_i = √(M/2) e_i, orthogonal in floating point too), pretraining
at length N' touches only W's column K + N' − 1, and

    W_pre x̃_N = R p_{N'}ᵀ p_N = 0    for N' ≠ N   (exactly),

so a pretraining at another length hands fine-tuning V only; one at the same N hands V and
u = W x̃_N (an attention pattern), and nothing else of W is ever read. A QA sentence corpus as
next-token prediction: the model predicts one token per sequence (slot N; ``layout=causal`` predicts
at the last token, also one), so what is expressible is (a) ``qa1``'s answer word (the next word of
its sentence), N' = 17, (b) a random walk on the circle of K = 19 states (the QA vocabulary) at
N' = 19 = N and N' = 37, and (c) ``chain`` with the first-order (bigram) table of the QA sentences
(question + answer, one stream; each task weight 1/2) at N' = 19. Not done: next-token prediction at
every prefix of the QA sentences (no task serves it).

Why zero init cannot learn Task 2: both questions hold one apple and one orange, so with uniform
attention f = V x̄ is the same for both, V's gradient is (Σ g_b) x̄ᵀ with equal apple and orange
weights, and the fruit slots A (7) and B (10) get equal score gradients. The invariant
V e_apple = V e_orange, z_A = z_B is kept by every step; accuracy stays at 1/2. A start with
V e_apple ≠ V e_orange breaks it. The bigram table of the QA corpus has identical apple and
orange rows (the qa1 lists are uniform, qa2 swaps the fruits), so its population V keeps the
invariant: only sampling noise separates the two columns.

Design (two phases, one preset): the variants are the pretraining runs (``pre-*``, on the fast path
where it serves them) and the zero-init fine-tuning ``ft-zero``. ``init.from`` must name an existing
run directory when the config is made (``checks.check_init_from``), so the fine-tuning runs are jobs
of a second ``executors.execute`` that ``analyse`` starts once the first phase is on disk, in the
same ``runs/`` tree (``ft-<source>``, seed k from ``pre-<source>`` seed k): a reproduction stopped
anywhere resumes (finished runs are skipped). Controls, written under ``init/`` as run directories
with the source's config.json: ``random-<source>`` (V uniform [0, 1) scaled to the source's ‖V‖_F;
W zero but for a Gaussian u of the source's ‖W x̃_N‖), ``Vonly-<source>`` (the source's V, W = 0;
for ``walk-N37`` it must give bit-identical fine-tuning, for the N' = N sources it removes the
attention handed over) and ``sym-bigram-N19`` (the bigram V with its apple and orange columns
averaged: the invariant on a pretrained V). Fine-tuning: qa2, ``train.data=population`` (the two
questions, weight 1/2 each), η = 1 (the pretraining's step), STEPS steps, on the reference transformer (the only one
that takes ``init.from``); M = 100 (a fine-tuned run stores W dense, (K + M)² floats).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import plots
from .core import Experiment, claim, describe, difference, load_run, question, register, stat
from .common import curve, finals, tolerance, with_figure

K, N, M = 19, 19, 100  # the QA vocabulary; qa2's N; positions
A_SLOT, B_SLOT = 7, 10  # "... I prefer an <A> to an <B> ..." (0-based slots of qa2)
STEPS = 100
LEARNED = 0.99  # final accuracy of a seed that learned Task 2 (OPT = 1; two questions)
WORKERS = 2  # processes of the fine-tuning phase (analyse is not told reproduce's --workers)
COMMON = {"model.pos": "onehot", "model.M": M, "model.normalize": True, "init.scheme": "zero", "train.eps": 0.1,
          "train.eta": 1.0, "train.steps": STEPS, "eval.n_test": 200, "eval.grid": "log", "eval.per_decade": 20}


def bigram_table() -> np.ndarray:
    """Π[i, j] = P(next word j | word i) of the QA sentences (question + answer, read as one
    stream: after the answer comes "Based"); qa1's 32 and qa2's 2 sentences weigh 1/2 per task."""
    from ..tasks.qa import _questions

    C = np.zeros((K, K))
    for name in ("qa1", "qa2"):
        qs = _questions(name)
        for toks, y in qs:
            s = toks + [y, toks[0]]
            for a, b in zip(s[:-1], s[1:]):
                C[a, b] += 0.5 / len(qs)
    return C / C.sum(1, keepdims=True)


def _matrix_text(P: np.ndarray) -> str:
    return ";".join(",".join(repr(float(x)) for x in row) for row in P)


PRE_STEPS = 300  # the fast path's pretrainings (the bigram one, on the reference, keeps STEPS: ~10x a step)
WALK = {"task.name": "circle", "task.K": K, "task.p": 0.5, "train.n_train": 1000, "train.steps": PRE_STEPS}
SOURCES = {"walk-N19": WALK | {"task.N": N}, "walk-N37": WALK | {"task.N": 37},
           "qa1": {"task.name": "qa1", "train.n_train": 1000, "train.steps": PRE_STEPS},
           "bigram-N19": {"task.name": "chain", "task.graph": "matrix", "task.matrix": _matrix_text(bigram_table()),
                          "task.N": N, "train.n_train": 1000}}
TARGET = {"task.name": "qa2", "train.data": "population", "train.path": "reference"}
VARIANTS = {f"pre-{s}": o for s, o in SOURCES.items()} | {"ft-zero": TARGET}
# the fine-tuning phase: label -> (kind of initial parameters, source)
PHASE2 = ({f"ft-{s}": ("source", s) for s in SOURCES} | {f"ft-random-{s}": ("random", s) for s in SOURCES}
          | {f"ft-Vonly-{s}": ("Vonly", s) for s in ("walk-N37", "walk-N19", "bigram-N19")}
          | {"ft-sym-bigram-N19": ("sym", "bigram-N19")})
SAME_N = ("walk-N19", "bigram-N19")  # pretrained at qa2's N: W x̃_N carries over
FIG = "rev_pretrain.png"


def query() -> "torch.Tensor":  # noqa: F821
    """x̃_N = [0; p_N] of qa2 (D,)."""
    import torch

    from ..models.shicao import positional

    return torch.cat([torch.zeros(K, dtype=torch.float64), positional("onehot", M, N)[:, N - 1]])


def VW(run_dir) -> tuple:
    """(V (K, K), W (D, D)) of a run directory, float64, whichever path wrote it (the Shi & Cao
    acceleration's V, W or the reference's head.V, blocks.0.attn.W)."""
    from ..runs.rundir import load_params

    p = load_params(run_dir)
    V, W = (p["V"], p["W"]) if "V" in p else (p["head.V"], p["blocks.0.attn.W"])
    return V.double().reshape(K, K), W.double().reshape(K + M, K + M)


def carried(run_dir) -> dict:
    """What a pretrained (V, W) hands the qa2 query: ‖W x̃_N‖, the columns of W that are not
    exactly 0.0 (a zero-init W keeps 0.0 bit for bit elsewhere), and max |V e_apple − V e_orange|."""
    from ..tasks.qa import APPLE, ORANGE

    V, W = VW(run_dir)
    return {"W_query_norm": float((W @ query()).norm()), "W_columns": (W != 0).any(0).nonzero().flatten().tolist(),
            "V_norm": float(V.norm()), "V_apple_minus_orange": float((V[:, APPLE] - V[:, ORANGE]).abs().max())}


def write_init(kind: str, src: str, source: Path, dest: Path, seed: int) -> None:
    """A run directory ``dest`` (params.safetensors + the source's config.json) that init.from
    reads: ``Vonly`` the source's V with W = 0; ``sym`` the same with V's apple and orange columns
    replaced by their mean; ``random`` a uniform [0, 1) V scaled to the source's
    ‖V‖_F (non-negative: a signed Gaussian of that norm makes f_y + ε ≤ 0 at init in most seeds) and
    W = ĝ x̃_Nᵀ ‖u‖/‖x̃_N‖² with u = W_source x̃_N (so ‖W x̃_N‖ matches; the rest of W is 0, unread)."""
    import torch
    from safetensors.torch import save_file

    if (dest / "params.safetensors").is_file() and (dest / "config.json").is_file():
        return
    V, W = VW(source)
    if kind in ("Vonly", "sym"):
        V2, W2 = V.clone(), torch.zeros_like(W)
        if kind == "sym":  # V e_apple = V e_orange: the zero-init invariant, on a pretrained V
            from ..tasks.qa import APPLE, ORANGE

            V2[:, APPLE] = V2[:, ORANGE] = (V[:, APPLE] + V[:, ORANGE]) / 2
    else:
        g = torch.Generator().manual_seed(7919 * seed + 1 + sorted(SOURCES).index(src))
        G = torch.rand(K, K, generator=g, dtype=torch.float64)  # ≥ 0: f ≥ 0, so −log(f_y + ε) is defined
        u = torch.randn(K + M, generator=g, dtype=torch.float64)
        q = query()
        V2 = G * (V.norm() / G.norm())
        W2 = torch.outer(u * ((W @ q).norm() / u.norm()), q) / q.dot(q)
    dest.mkdir(parents=True, exist_ok=True)
    save_file({"V": V2.contiguous(), "W": W2.contiguous()}, str(dest / ".params.tmp"))
    (dest / "config.json").write_text((source / "config.json").read_text())
    os.replace(dest / ".params.tmp", dest / "params.safetensors")


def phase2_jobs(exp: Experiment, out: Path, n: int, variants: dict = PHASE2):
    """(config, run directory) of each fine-tuning run; writes the control initialisations."""
    from ..config import Config, apply_overrides, resolve

    for label, (kind, src) in variants.items():
        for s in range(n):
            source = out / "runs" / f"pre-{src}" / f"seed{s}"
            init = source if kind == "source" else out / "init" / f"{kind}-{src}" / f"seed{s}"
            if kind != "source":
                write_init(kind, src, source, init, s)
            over = exp.base | exp.variants["ft-zero"] | {"seed": s, "init.from": str(init.resolve())}
            yield resolve(apply_overrides(Config(), over), explicit=set(over)), out / "runs" / label / f"seed{s}"


def first_learned(run: dict) -> int | None:
    """First logged step from which the test accuracy stays ≥ LEARNED (None: not at the end)."""
    ms = run["metrics"]
    if ms[-1]["test_accuracy"] < LEARNED:
        return None
    i = len(ms) - 1
    while i > 0 and ms[i - 1]["test_accuracy"] >= LEARNED:
        i -= 1
    return ms[i]["step"]


def cell(rs: list[dict]) -> dict:
    acc = finals(rs, "test_accuracy")
    reads = ["A" if r["metrics"][-1]["attention"][A_SLOT] > r["metrics"][-1]["attention"][B_SLOT] else
             "B" if r["metrics"][-1]["attention"][A_SLOT] < r["metrics"][-1]["attention"][B_SLOT] else "tie"
             for r in rs]
    return {"learned": sum(a >= LEARNED for a in acc), "n_seeds": len(rs), "accuracy": stat(acc),
            "last_word_attention_start": stat([r["metrics"][0]["parent_attention"] for r in rs]),
            "last_word_attention_end": stat(finals(rs, "parent_attention")),
            "steps_to_learned": stat([first_learned(r) for r in rs]),
            "reads_fruit_slot": {k: reads.count(k) for k in ("A", "B", "tie") if k in reads}}


def zero_invariant(run: dict) -> dict:
    """The zero-init invariant, exactly: V e_apple == V e_orange after the last step and the two
    fruit slots' attention equal at every logged step; then both questions get the same answer, so
    the accuracy is 0 or one question's share of the test set (``constant_answer``: every logged
    accuracy ≤ 1/2 + 3 binomial s.d.)."""
    import torch

    from ..tasks.qa import APPLE, ORANGE

    V = VW(run["path"])[0]
    att = [(m["attention"][A_SLOT], m["attention"][B_SLOT]) for m in run["metrics"]]
    return {"V_columns_equal": bool(torch.equal(V[:, APPLE], V[:, ORANGE])),
            "fruit_slots_equal_every_step": all(a == b for a, b in att),
            "accuracies": sorted({m["test_accuracy"] for m in run["metrics"]}), "V_norm": float(V.norm()),
            "constant_answer": max(m["test_accuracy"] for m in run["metrics"])
            <= 0.5 + tolerance(0.5, run["config"]["eval"]["n_test"])}


def _figure(ft: dict, cells: dict, carry: dict, path) -> None:
    fig, axes = plots.plt.subplots(2, 2, figsize=(16, 11))
    axes = axes.ravel()
    for ax, kinds, title in ((axes[0], ("ft-", "ft-random-"),
                              "(a) from the pretrained (V, W) — dotted: random, same norms"),
                             (axes[1], ("ft-Vonly-", "ft-sym-"), "(b) from the pretrained V with W = 0 — dotted: V's "
                                                                 "fruit columns averaged")):
        for i, s in enumerate(SOURCES):
            for kind, ls in zip(kinds, ("-", ":")):
                if kind + s in ft:
                    steps, acc = curve(ft[kind + s], "test_accuracy")
                    ax.plot(steps, np.nanmean(acc, 0), ls, color=f"C{i}", lw=2, label=kind + s)
        steps, acc = curve(ft["ft-zero"], "test_accuracy")
        ax.plot(steps, np.nanmean(acc, 0), "-", color="k", lw=1, label="ft-zero")
        plots.accuracy_axes(ax, "Task 2 fine-tuning, mean test accuracy over seeds\n" + title)
        ax.legend(fontsize=9)
    labels = ["ft-zero"] + [x for s in SOURCES for x in (f"ft-{s}", f"ft-Vonly-{s}", f"ft-sym-{s}", f"ft-random-{s}")
                            if x in cells]
    color = {k: "k" if k == "ft-zero" else f"C{next(i for i, s in enumerate(SOURCES) if k.endswith('-' + s))}"
             for k in labels}
    for j, k in enumerate(labels):
        axes[2].bar(j, cells[k]["learned"], color=color[k], alpha=0.45 if "random" in k or "sym" in k else 1.0,
                    hatch="//" if "Vonly" in k or "sym" in k else None, edgecolor="w" if "Vonly" in k else None)
        axes[2].text(j, cells[k]["learned"] + 0.1, str(cells[k]["learned"]), ha="center", fontsize=9)
    axes[2].set_xticks(np.arange(len(labels)), labels, rotation=60, ha="right", fontsize=9)
    axes[2].set_ylabel(f"seeds with final accuracy ≥ {LEARNED} (of {cells['ft-zero']['n_seeds']})")
    axes[2].set_title("(c) seeds that learn Task 2\n(hatched: the source's V, W = 0; pale: random, same norms)")
    xs = np.arange(len(SOURCES))
    floor = 1e-18
    for off, key, name in ((-0.2, "W_query_norm", "‖W x̃_N‖ (attention handed over)"),
                           (0.2, "V_apple_minus_orange", "max |V e_apple − V e_orange|")):
        axes[3].bar(xs + off, [max(carry[s][key]["max"], floor) for s in SOURCES], 0.4, label=name)
    axes[3].set_yscale("log")
    axes[3].axhline(floor, color="r", ls=":", lw=1, label=f"exactly 0 (drawn at {floor:g})")
    axes[3].set_xticks(xs, list(SOURCES))
    axes[3].set_title("(d) what the pretraining hands the qa2 query (max over seeds)")
    axes[3].legend(fontsize=9)
    fig.suptitle(f"Pretrain by next-token prediction, fine-tune Task 2 (qa2) with init.from: K = {K}, M = {M} one-hot "
                 f"positions, η = 1, {STEPS} steps, zero init unless said")
    plots.save(fig, path)


def _analyse(runs, out, exp):
    import sys

    from ..runs.executors import execute

    n = len(runs["ft-zero"])
    jobs = list(phase2_jobs(exp, out, n))
    execute(jobs, workers=WORKERS, quiet=not sys.stderr.isatty(), desc="fine-tune")
    ft = {label: [load_run(p) for _, p in jobs if p.parent.name == label] for label in PHASE2}
    ft["ft-zero"] = runs["ft-zero"]
    cells = {k: cell(rs) for k, rs in ft.items()}
    per_seed = {s: [carried(r["path"]) for r in runs[f"pre-{s}"]] for s in SOURCES}
    carry = {s: {k: stat([c[k] for c in cs]) for k in ("W_query_norm", "V_norm", "V_apple_minus_orange")}
             for s, cs in per_seed.items()}
    pre_acc = {s: stat(finals(runs[f"pre-{s}"], "test_accuracy")) | {
        "optimal": runs[f"pre-{s}"][0]["summary"]["optimal_accuracy"]} for s in SOURCES}
    _figure(ft, cells, carry, out / FIG)

    col = {s: K + (SOURCES[s].get("task.N") or 17) - 1 for s in SOURCES}  # qa1: N = 17
    exact = {s: all(c["W_columns"] in ([], [col[s]]) and (c["W_query_norm"] == 0.0) == (col[s] != K + N - 1)
                    for c in cs) for s, cs in per_seed.items()}
    same = [bit_same(a, b) for a, b in zip(ft["ft-walk-N37"], ft["ft-Vonly-walk-N37"])]
    zero = [zero_invariant(r) for r in ft["ft-zero"]]
    claims = [
        claim("carries-exactly", f"pretraining at N' ≠ {N} leaves W x̃_N = 0.0 exactly (only W's column K + N' − 1 "
              f"is not 0.0: W = R x̃_N'ᵀ with orthogonal positions), so only V reaches the qa2 query; at N' = {N} "
              "W x̃_N ≠ 0 carries an attention pattern too",
              "issue 16: \"pretraining at other positions may leave W x̃_N unchanged; show which parameters carry over\"",
              {s: {"N'": col[s] - K + 1,
                   "W_columns_not_zero": [list(t) for t in sorted({tuple(c["W_columns"]) for c in per_seed[s]})],
                   "W_query_norm": carry[s]["W_query_norm"], "exact": exact[s]} for s in SOURCES},
              all(exact.values()), "every seed of every source: the columns of W that are not exactly 0.0 are "
              "[K + N' − 1] (or none), and ‖W x̃_N‖ == 0.0 exactly iff N' ≠ N"),
        claim("only-V-carries-N37", "fine-tuning from the N' = 37 walk equals fine-tuning from its V with W = 0, bit "
              "for bit (every logged metric, the final V and W x̃_N): the rest of W is never read",
              "issue 16: \"show which parameters carry over and test it\"",
              {"seeds_bit_identical": sum(x["same"] for x in same), "n_seeds": len(same),
               "learned_in_both": cells["ft-walk-N37"]["learned"]},
              bool(same) and all(x["same"] for x in same),
              "every seed: metrics.jsonl records equal, final V equal (torch.equal), final W x̃_N equal"),
        claim("zero-init-stuck", "from zero init Task 2 keeps V e_apple = V e_orange and equal attention on the two "
              "fruit slots exactly, so its accuracy never moves",
              "Sec. 6: Task 2 fails; reviewer bJ9o: \"random or zero initialization is known to be insufficient\"",
              {"seeds_V_columns_equal": sum(z["V_columns_equal"] for z in zero),
               "seeds_fruit_slots_equal_every_step": sum(z["fruit_slots_equal_every_step"] for z in zero),
               "seeds_never_above_one_answer": sum(z["constant_answer"] for z in zero),
               "accuracy": cells["ft-zero"]["accuracy"],
               "V_norm": stat([z["V_norm"] for z in zero]), "n_seeds": len(zero)},
              all(z["V_columns_equal"] and z["fruit_slots_equal_every_step"] and z["constant_answer"]
                  and z["V_norm"] > 0 for z in zero),
              "every seed: V[:, apple] == V[:, orange] (torch.equal) after the last step, attention on slots A and B "
              "equal (==) at every logged step, every logged accuracy ≤ 1/2 + 3 binomial s.d. (one answer for both "
              "questions), and V trained (‖V‖ > 0)")]
    for s in SAME_N:
        c, v = cells[f"ft-{s}"], cells[f"ft-Vonly-{s}"]
        claims.append(claim(
            f"attention-blocks-{s}", f"pretrained on {s} at qa2's own length, the attention handed over (W x̃_N, on "
            "the last word) is what stops Task 2: the same V with W = 0 learns in more seeds",
            "our reading of the algebra (W x̃_N is the one part of W that fine-tuning reads)",
            {"with_W": {k: c[k] for k in ("learned", "accuracy", "last_word_attention_start", "last_word_attention_end")},
             "V_only": {k: v[k] for k in ("learned", "accuracy", "steps_to_learned")}},
            v["learned"] > c["learned"], "seeds learned from (V, 0) > seeds learned from (V, W)"))
    sym = [zero_invariant(r) for r in ft["ft-sym-bigram-N19"]]
    v_only = cells["ft-Vonly-bigram-N19"]
    claims.append(claim(
        "noise-breaks-bigram", "the bigram table has Π[apple, ·] = Π[orange, ·], so only sampling noise separates "
        "the pretrained V's apple and orange columns; with the two columns averaged (W = 0) Task 2 stays stuck as "
        "from zero init, while the V as pretrained (W = 0) learns",
        "our reading of the invariant (V e_apple = V e_orange and equal fruit-slot scores are kept by every step)",
        {"averaged": {"seeds_never_above_one_answer": sum(z["constant_answer"] for z in sym),
                      "seeds_V_columns_equal": sum(z["V_columns_equal"] for z in sym),
                      "seeds_fruit_slots_equal_every_step": sum(z["fruit_slots_equal_every_step"] for z in sym),
                      "learned": cells["ft-sym-bigram-N19"]["learned"], "n_seeds": len(sym)},
         "as_pretrained": {"learned": v_only["learned"], "accuracy": v_only["accuracy"]},
         "V_apple_minus_orange_pretrained": carry["bigram-N19"]["V_apple_minus_orange"]},
        all(z["constant_answer"] and z["V_columns_equal"] and z["fruit_slots_equal_every_step"] for z in sym)
        and v_only["learned"] > 0,
        "every averaged seed as zero-init-stuck (V[:, apple] == V[:, orange] at the end, fruit-slot attention equal "
        "at every logged step, accuracy never above 1/2 + 3 s.d.); at least one seed from the V as pretrained learns"))
    for s in SOURCES:
        c, r = cells[f"ft-{s}"], cells[f"ft-random-{s}"]
        claims.append(claim(
            f"learnable-{s}", f"pretrained on {s} (next-token prediction), Task 2 becomes learnable: every seed ends "
            f"at accuracy ≥ {LEARNED} after {STEPS} fine-tuning steps", "reviewer bJ9o: \"I would expect performance "
            "to improve significantly\"; authors A1: such tasks \"can definitely be easily handled by well-pretrained "
            "language models\"",
            {"learned": f"{c['learned']} of {c['n_seeds']}", "accuracy": c["accuracy"],
             "steps_to_learned": c["steps_to_learned"], "reads_fruit_slot": c["reads_fruit_slot"],
             "last_word_attention_start": c["last_word_attention_start"],
             "pretraining_accuracy": pre_acc[s], "carried": carry[s]},
            c["learned"] == c["n_seeds"], f"every seed's final test accuracy ≥ {LEARNED}"))
        med = {k: x["steps_to_learned"]["mean"] for k, x in (("pre", c), ("rand", r))}
        claims.append(claim(
            f"structure-{s}", f"what pretraining on {s} hands over is more than a broken symmetry: it learns Task 2 in "
            "more seeds than a random init of the same norms (‖V‖_F, ‖W x̃_N‖), or as many and sooner",
            "reviewer bJ9o: \"random or zero initialization is known to be insufficient for downstream tasks\"",
            {"pretrained": {k: c[k] for k in ("learned", "accuracy", "steps_to_learned")},
             "matched_random": {k: r[k] for k in ("learned", "accuracy", "steps_to_learned")}},
            c["learned"] > r["learned"] or (c["learned"] == r["learned"] == c["n_seeds"] and med["pre"] < med["rand"]),
            "pretrained seeds learned > random seeds learned, or both all and the mean first step at ≥ "
            f"{LEARNED} earlier"))
    return with_figure(claims, FIG)


def bit_same(a: dict, b: dict) -> dict:
    import torch

    (Va, Wa), (Vb, Wb) = VW(a["path"]), VW(b["path"])
    q = query()
    return {"same": a["metrics"] == b["metrics"] and torch.equal(Va, Vb) and torch.equal(Wa @ q, Wb @ q)}


def _differences(claims, out):
    c = {x["id"]: x for x in claims}
    diffs = []
    for s in SOURCES:
        m = c[f"learnable-{s}"]["measured"]
        if c[f"learnable-{s}"]["holds"] is not False:
            continue
        r = c[f"structure-{s}"]["measured"]["matched_random"]
        cr, n = m["carried"], c["zero-init-stuck"]["measured"]["n_seeds"]
        block = c.get(f"attention-blocks-{s}")
        ctrl = (f"the same V with W = 0 (one change: no attention handed over): {block['measured']['V_only']['learned']} "
                f"of {n} seeds learn (accuracy {describe(block['measured']['V_only']['accuracy'])}). " if block else "")
        diffs.append(difference(
            f"not-learnable-{s}", f"Pretraining on {s} does not make Task 2 learnable in every seed",
            "reviewer bJ9o expects a significant improvement after next-token pretraining",
            f"{m['learned']} seeds learn (final accuracy {describe(m['accuracy'])}); the pretraining hands over "
            f"‖W x̃_N‖ {describe(cr['W_query_norm'])} (attention on the last word at the start of fine-tuning "
            f"{describe(m['last_word_attention_start'])}) and max |V e_apple − V e_orange| "
            f"{describe(cr['V_apple_minus_orange'])}",
            ctrl + f"A random init of the same norms: {r['learned']} of {n} seeds learn (accuracy "
            f"{describe(r['accuracy'])}); zero init: none. Only the initial parameters differ",
            claims=(f"learnable-{s}",)))
    return diffs


def _questions(claims, out):
    c = {x["id"]: x for x in claims}
    rand = {s: c[f"structure-{s}"]["measured"]["matched_random"]["learned"] for s in SOURCES}
    learned = "; ".join(f"{s}: {c[f'learnable-{s}']['measured']['learned']} (random init of the same norms: {rand[s]})"
                        for s in SOURCES)
    z = c["zero-init-stuck"]["measured"]
    block = "; ".join(f"{s}: {c[f'attention-blocks-{s}']['measured']['V_only']['learned']}" for s in SAME_N)
    return [question(
        "pretrain-finetune", "bJ9o", "how would a Transformer perform on the tasks in Section 6 if it were first "
        "pretrained to predict the next token and then fine-tuned on tasks like identifying the preferable fruit? "
        "I would expect performance to improve significantly",
        "A1: the QA tasks \"can definitely be easily handled by well-pretrained language models\"; studying "
        "pretraining and fine-tuning \"is beyond the scope of our work\"",
        f"From zero init Task 2 never moves (V e_apple = V e_orange exactly in {z['seeds_V_columns_equal']} of "
        f"{z['n_seeds']} seeds; accuracy {describe(z['accuracy'])}). Seeds learning it in {STEPS} steps after "
        f"pretraining: {learned}. Pretraining at another length hands over V only (W x̃_N = 0 exactly); at qa2's "
        f"length the attention it hands over (on the last word) blocks learning: with W = 0 the same V learns in "
        f"{block}.",
        claims=tuple(f"learnable-{s}" for s in SOURCES))]


register(Experiment("rev-pretrain", "Shi & Cao reviewers' questions: pretrain, then fine-tune (bJ9o)",
                    "Next-token pretraining (walks, QA sentences), then Task 2 with init.from", VARIANTS, _analyse,
                    base=COMMON, differences=_differences, questions=_questions, tier="extended"))
