"""The preset rev-positions (experiments/rev_positions.py): the exact zero-init sequence of a
learned position table, RoPE's empty query slot (uniform attention for any W_Q, W_K), and the
claim logic on a reduced run, with cases built to fail."""

import json
from dataclasses import replace

import pytest
import torch

from walkformer.api import configure
from walkformer.experiments import REGISTRY, run_all
from walkformer.experiments import rev_positions as rp
from walkformer.loop import Data, build

SMALL = {"task.K": 6, "task.N": 13, "train.n_train": 200, "eval.n_test": 200, "train.eta": 1.0, "task.p": 0.5}


def test_learned_table_moves_as_one_common_shift_through_step_3():
    """The module docstring's algebra, step by step: step 1 moves only V; step 2 moves every
    row of W_pos by the same vector (W still 0); step 3 moves W, rows still equal; step 4
    separates the rows."""
    s = rp.learned_position_steps(SMALL | {"model.pos": "learned", "init.scheme": "zero"}, steps=5)
    assert s[0]["max_abs_W"] == 0.0 and s[0]["max_abs_W_pos"] == 0.0
    assert s[1]["max_abs_W"] == 0.0 and s[1]["max_abs_W_pos"] > 1e-3
    assert s[2]["max_abs_W"] > 1e-5
    for t in s[1:3]:  # equal rows up to round-off (the batch sums run per row)
        assert t["row_spread"] <= 1e-14 * t["max_abs_W_pos"]
    assert s[3]["row_spread"] > 1e-8 * s[3]["max_abs_W_pos"] and s[4]["row_spread"] > s[3]["row_spread"]


def test_common_shift_check_fails_from_a_random_init():
    s = rp.learned_position_steps(SMALL | {"model.pos": "learned", "init.scheme": "gaussian", "init.sigma": 0.1},
                                  steps=2)
    assert s[0]["row_spread"] > 1e-3


def _patterns(over: dict, b_Q: float = 0.0):
    cfg = configure(SMALL | over)
    task, m = build(cfg)
    x, _, _ = Data(cfg, task).train(0)
    if b_Q:
        with torch.no_grad():
            m.blocks[0].attn.b_Q.fill_(b_Q)
    with torch.no_grad():
        return m.forward_with_patterns(x)[1][0]


@pytest.mark.parametrize("bias", [False, True])
def test_rope_in_the_slot_layout_attends_uniformly_for_any_W(bias):
    """x̃_N = 0, so q_N = R_N(W_Qᵀ 0) = 0: every score is 0, exactly, whatever W_Q, W_K (and
    b_K) are; the keys are not zero (the check is not 0 = 0 on a zero model)."""
    over = {"model.pos": "rope", "model.attention": "split", "init.scheme": "gaussian", "init.sigma": 0.5,
            "model.bias": bias}
    att = _patterns(over)
    assert float((att - 1 / 13).abs().max()) <= 1e-15
    cfg = configure(SMALL | over)
    assert float(build(cfg)[1].blocks[0].attn.W_K.detach().abs().max()) > 0.1


def test_rope_with_a_query_bias_is_not_uniform():
    """Built to fail: give the empty query slot content (b_Q ≠ 0) and RoPE acts."""
    att = _patterns({"model.pos": "rope", "model.attention": "split", "init.scheme": "gaussian", "init.sigma": 0.5,
                     "model.bias": True}, b_Q=1.0)
    assert float((att - 1 / 13).abs().max()) > 1e-3


def _reduced(variants=None):
    e = REGISTRY["rev-positions"]
    v = {k: o | ({"model.M": 50} if "model.M" in o else {}) | ({"train.steps": 24} if "train.steps" in o else {})
         for k, o in (variants or e.variants).items()}
    return replace(e, seeds=2, variants=v,
                   base=e.base | {"task.N": 13, "train.n_train": 200, "eval.n_test": 200, "train.steps": 12})


def test_rev_positions_claim_logic(tmp_path):
    e = _reduced()
    claims = {c["id"]: c for c in run_all([e], tmp_path, workers=1, quiet=True)["rev-positions"]}
    assert sorted(claims) == sorted([f"authors-none-p{p}" for p in rp.PS] + ["rope-is-none", "free-bounded-by-bag",
                                    "learned-stays-uniform", "constant-predictor", "sinusoidal-long-p0.5",
                                    "sinusoidal-long-p1.0"] + [f"p1-random-{s}" for s in rp.SCHEMES]
                                    + [f"{k}-{s}" for s in rp.POSITIONAL for k in ("solves", "uses-positions")])
    for p in rp.PS:  # holds recomputed from what the claims show
        m = claims[f"authors-none-p{p}"]["measured"]
        assert claims[f"authors-none-p{p}"]["holds"] == (m["accuracy"]["mean"] <= m["random_guess"] + m["random_tolerance"])
    r = claims["rope-is-none"]
    assert r["holds"] is True  # exact: rope = none seed for seed at N = 13 too
    assert all(v["uniform_attention_gap"] <= 1e-12 for v in r["measured"].values())
    for s in rp.POSITIONAL:
        m = claims[f"solves-{s}"]["measured"]
        assert claims[f"solves-{s}"]["holds"] == all(v["solves"] for v in m.values())
        assert all(v["solves"] <= (v["parent_attention"]["min"] >= rp.PARENT) for v in m.values())
    assert claims["solves-sin"]["holds"] is True and claims["solves-onehot"]["holds"] is True
    f = claims["free-bounded-by-bag"]["measured"]
    assert claims["free-bounded-by-bag"]["holds"] == all(v["mean_accuracy"] <= v["limit"] for v in f.values())
    k = claims["constant-predictor"]["measured"]
    assert claims["constant-predictor"]["holds"] == all(v >= 0.9 for v in k["smallest_top_label_share"].values())
    assert all(1 <= n <= rp.K for v in k["distinct_labels_per_seed"].values() for n in v)
    for s in rp.SCHEMES:
        m = claims[f"p1-random-{s}"]["measured"]
        assert claims[f"p1-random-{s}"]["holds"] == m["at_random_guess"]
    q = json.loads((tmp_path / "rev-positions" / "questions.json").read_text())
    assert [x["id"] for x in q] == ["positions"] and set(q[0]["claims"]) <= set(claims)
    diff = json.loads((tmp_path / "rev-positions" / "differences.json").read_text())
    assert all(claims[d["claims"][0]]["holds"] is False for d in diff)
    # built to fail: the "none" variants get the paper's sin positions, so the model learns and beats
    # 1/K at p = 0.5, and rope is no longer equal to "none"
    v = REGISTRY["rev-positions"].variants
    bad = _reduced({k: (v[k.replace("none-", "sin-")] if k.startswith("none-") else o) for k, o in v.items()})
    out = {c["id"]: c for c in run_all([replace(bad, seeds=1)], tmp_path / "bad", workers=1, quiet=True)["rev-positions"]}
    assert out["authors-none-p0.5"]["holds"] is False
    assert out["rope-is-none"]["holds"] is False
    assert out["constant-predictor"]["holds"] is False  # the "none" runs now solve the walk
