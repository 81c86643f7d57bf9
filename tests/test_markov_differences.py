"""The gpt presets' controls and "where we differ" entries (experiments/markov_differences.py):
the mirror symmetry the Fig. 4 control relies on, the test loss it computes from logits,
per-variant seeds, and that every difference is formatted from the claims it is given."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from walkformer.config import Config, apply_overrides, resolve
from walkformer.experiments import REGISTRY, describe, run_all
from walkformer.experiments import markov_differences as md
from walkformer.models.gpt import GPT, init_gpt
from walkformer.training import generator
from walkformer.metrics import evaluate_gpt
from walkformer.train_binary import build_gpt, make_binary_task

GPT_PRESETS = ("l2g-fig4", "awm-tying", "awm-grid", "awm-depth", "l2g-rank-one")
FAILING = {"l2g-fig4": ("anti-aligned-reaches-bigram", "anti-aligned-start"),
           "awm-tying": ("p0.5-q0.8-tied-layernorm-unigram",),
           "awm-grid": ("untied-learns-p", "tied-learns-p-below"),
           "awm-depth": ("2-layers-bigram",), "l2g-rank-one": ("W_V-rank-one-at-end",)}


def cfg(over: dict) -> Config:
    over = {"task.name": "binary", "model.name": "gpt", "task.N": 12, "dtype": "float64"} | over
    return resolve(apply_overrides(Config(), over), explicit=set(over))


# ---- the controls' maths -----------------------------------------------------------------------
def test_mirrored_anti_aligned_model_is_the_model_with_negated_embeddings():
    """c = −1 from (e, p_n) is exactly c = +1 from (−e, −p_n): same logits, and gradients that
    map the same way (so training paths map too) — what the Fig. 4 control's 'mirror' assumes."""
    g = torch.Generator().manual_seed(3)
    neg, pos = GPT(8, 12).double(), GPT(8, 12).double()
    init_gpt(neg, "anti-aligned", -1.0, g)
    pos.load_state_dict(neg.state_dict())
    with torch.no_grad():
        for name in ("embed.W_E", "pos_embed.W_pos", "blocks.0.mlp.W_in", "blocks.0.mlp.W_out"):
            pos.get_parameter(name).neg_()
    assert float(pos.blocks[0].mlp.W_in.detach().min()) == 1.0 == -float(pos.blocks[0].mlp.W_out.detach().max())
    x = torch.randint(0, 2, (5, 12), generator=g)
    y = torch.randint(0, 2, (5, 12), generator=g).double()
    l_neg, l_pos = neg(x), pos(x)
    torch.testing.assert_close(l_neg, l_pos, rtol=0, atol=1e-12)
    F.binary_cross_entropy_with_logits(l_neg, y).backward()
    F.binary_cross_entropy_with_logits(l_pos, y).backward()
    flipped = {"embed.W_E", "pos_embed.W_pos", "blocks.0.mlp.W_in", "blocks.0.mlp.W_out"}
    for (name, a), (_, b) in zip(neg.named_parameters(), pos.named_parameters()):
        torch.testing.assert_close(a.grad, -b.grad if name in flipped else b.grad, rtol=0, atol=1e-12)
    # and the two really differ as draws: the alignment the control reads changes sign
    assert float(neg.embed.W_E.detach().sum()) == -float(pos.embed.W_E.detach().sum()) != 0


def test_expected_loss_from_logits_is_the_runs_test_loss():
    """md.expected_loss (from logits, exact where σ rounds to 0 or 1) equals ``test_loss``
    of evaluate_gpt on the same test sequences where nothing is clamped; and the authors'
    'good' init, evaluated the same way, starts far above the anti-aligned init."""
    c = cfg({"init.scheme": "anti-aligned", "eval.n_test": 16})
    model = build_gpt(c, generator(c.seed, "init"))
    task = make_binary_task(c)
    x, _ = task.sample_next_token(c.eval.n_test, generator(c.seed, "test"))
    # (1e-7: the two evaluate the model in different chunks; the formulas agree to round-off)
    assert md.expected_loss(model, c) == pytest.approx(evaluate_gpt(model, task, x, False)["test_loss"], abs=1e-7)
    run = {"config": c.to_dict()}
    assert md.good_init_loss(run, -1.0, 0.5, 2.0, -2.0) > 100 > md.good_init_loss(run, 0.5, -0.25, 1.0, -1.0) > 0.9
    assert md.mlp_alignment(run) == pytest.approx(float(model.embed.W_E.detach().sum()), abs=1e-12)


def test_a_control_variant_runs_fewer_seeds_and_seeds_caps_it(tmp_path):
    exp = REGISTRY["awm-depth"]
    count = lambda seeds: {lab: sum(1 for _, p in exp.jobs(tmp_path, seeds) if p.parent.name == lab)  # noqa: E731
                           for lab in exp.variants}
    assert count(None) == {"layers1": 10, "layers2": 10, "layers4": 10, "layers2-longer": 2}
    assert count(1) == {"layers1": 1, "layers2": 1, "layers4": 1, "layers2-longer": 1}


# ---- every preset, shrunk: the analysis runs and its differences come from its claims -------------
def small(exp):
    """The preset at N = 16 and 20 steps (a control's longer N or run: 32 and 40), evaluated every 10."""
    variants = {k: v | ({"train.steps": 40} if "train.steps" in v else {}) | ({"task.N": 32} if "task.N" in v else {})
                | {"eval.every": 10} for k, v in exp.variants.items()}
    return replace(exp, base=exp.base | {"task.N": 16, "train.steps": 20, "eval.every": 10}, variants=variants)


@pytest.fixture(scope="module")
def shrunk(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpt-presets")
    run_all([small(REGISTRY[n]) for n in GPT_PRESETS], out, workers=1, seeds=2, quiet=True)
    return out


@pytest.mark.parametrize("name", GPT_PRESETS)
def test_each_failing_claim_has_a_difference_built_from_the_claims(shrunk, name):
    claims = json.loads((shrunk / name / "claims.json").read_text())
    diffs = json.loads((shrunk / name / "differences.json").read_text())
    ids = {c["id"] for c in claims}
    covered = {i for d in diffs for i in d["claims"]}
    assert set(FAILING[name]) <= covered <= ids
    for d in diffs:
        assert all(d[k] and isinstance(d[k], str) for k in ("title", "paper", "ours", "control"))
    m = {c["id"]: c["measured"] for c in claims}
    first = {"l2g-fig4": lambda: describe(m["anti-aligned-reaches-bigram"]["test_loss"]),
             "awm-tying": lambda: describe(m["p0.5-q0.8-tied-layernorm-unigram"]["test_loss"]),
             "awm-grid": lambda: f"{m['untied-learns-p']['worst_cell']['abs_error']:.3f}",
             "awm-depth": lambda: describe(m["2-layers-bigram"]["test_loss"]),
             "l2g-rank-one": lambda: describe(m["W_V-rank-one-at-end"]["final"])}[name]()
    assert first in diffs[0]["ours"]


def test_differences_follow_the_numbers_they_are_given(shrunk):
    """Change one measured number and the text changes with it (nothing is hard-coded)."""
    for name, key in (("l2g-fig4", ("good-init-start", "versions")), ("awm-depth", ("2-layers-bigram-longer", "test_loss")),
                      ("l2g-rank-one", ("W_V-rank-one-at-end", "control")), ("awm-tying",
                      ("p0.5-q0.8-tied-layernorm-unigram", "control")), ("awm-grid", ("slow-cells-learn-p", "abs_error"))):
        claims = json.loads((shrunk / name / "claims.json").read_text())
        exp = REGISTRY[name]
        before = json.dumps(exp.differences(claims, shrunk), ensure_ascii=False)
        c = next(c for c in claims if c["id"] == key[0])
        node = c["measured"][key[1]]
        stats = [node] if "mean" in node else [v for v in node.values() if isinstance(v, dict) and "mean" in v]
        for s in stats:
            s.update(mean=7.777, min=7.0, max=8.0, std=0.5)
        after = json.dumps(exp.differences(claims, shrunk), ensure_ascii=False)
        assert after != before and "7.78 ± 0.50 (7.00–8.00" in after, name


def test_tied_deviation_criterion_passes_the_papers_cells_and_can_fail():
    """awm-grid's tied-deviates-above: the paper's own printed cells pass it (the old
    "closer to π₁ than to p" failed its (0.8, 0.8) = 0.726), and an estimate at p, or on the
    far side of p from π₁, fails it."""
    from walkformer.experiments.markov_grid import PAPER_TIED, deviates_toward

    assert all(deviates_toward(v, p, p / (p + q)) for (p, q), v in PAPER_TIED.items())
    assert deviates_toward(0.726, 0.8, 0.5)  # the paper's (0.8, 0.8) passes
    assert abs(0.726 - 0.5) > abs(0.726 - 0.8)  # ... which the old criterion failed
    assert not deviates_toward(0.8, 0.8, 0.5)  # at p: no deviation
    assert not deviates_toward(0.81, 0.8, 0.5)  # away from π₁
    assert not deviates_toward(0.79, 0.8, 0.5)  # toward π₁ but within MIN_DEVIATION
