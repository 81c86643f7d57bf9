"""The preset rev-jumps (experiments/rev_jumps.py): the replay is the run, the staircase and
spike measures on built series (one built to fail), the hinted Task 2 family's bag-of-words
accuracy, and the claim logic on a reduced run."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from walkformer.api import train
from walkformer.experiments import REGISTRY, run_all
from walkformer.experiments import rev_jumps as rj

SMALL = {"task.N": 13, "model.M": 50, "train.n_train": 200, "eval.n_test": 200, "train.steps": 40}


def test_replay_gives_the_logged_run_exactly():
    over = rj.BASE | SMALL | {"task.p": 1.0, "seed": 3}
    run = train(over)
    x = rj.trace(over)
    assert len(x["acc"]) == over["train.steps"] + 1
    assert all(x["acc"][m["step"]] == m["test_accuracy"] for m in run.metrics)
    assert np.allclose(x["top_att"][-1], max(run.metrics[-1]["attention"]))
    # the margin decides the accuracy: acc = share of sequences with m > 0 (no exact ties here)
    assert x["class_share"].sum() == pytest.approx(1.0)


@pytest.mark.parametrize("q", [0.0, 0.3, 1.0])
def test_hint_family_bag_accuracy_is_half_plus_half_q(q, gen):
    t = rj.HintQA(q)
    assert rj.bag_of_words_accuracy(t) == pytest.approx((1 + q) / 2)
    tokens, y = t.sample(4000, gen)
    assert torch.equal(t.label(tokens), y)  # the answer is still the word after "an" (position 7)
    hinted = (tokens[:, 2] != t._tokens[0, 2]).double().mean()
    assert abs(float(hinted) - q) < 0.03


def test_staircase_and_smooth_margin():
    K = rj.K
    acc = np.r_[0.15, 0.16, np.repeat([1 / K, 2 / K, 3 / K, 4 / K, 5 / K, 1.0], 30)]
    margin = np.r_[0.0, np.linspace(-1, 4, len(acc) - 1)]
    s = rj.staircase({"acc": acc, "margin": margin}, 1000)
    assert s["multiples_of_1_over_K"] and s["share_of_rise"] > 0.99  # all but the 0.16 → 1/6 wobble
    assert len(s["big_steps"]) == 5 and all(r == pytest.approx(1.0) for r in s["margin_spike"])


def test_staircase_built_to_fail():
    """A smooth accuracy ramp (no steps) and a margin that jumps with the accuracy."""
    K = rj.K
    ramp = np.r_[0.15, np.linspace(1 / K, 1.0, 200)]
    s = rj.staircase({"acc": ramp, "margin": np.linspace(0, 1, 201)}, 1000)
    assert s["big_steps"] == [] and s["share_of_rise"] == 0.0
    acc = np.r_[0.15, 0.16, np.repeat([1 / K, 0.5], 40)]
    margin = np.r_[0.0, np.linspace(0, 1, 41), np.linspace(3, 4, 40)]
    s = rj.staircase({"acc": acc, "margin": margin}, 1000)
    assert s["big_steps"] == [42] and s["margin_spike"][0] > rj.SPIKE
    assert not rj.staircase({"acc": np.r_[0.1, 0.1, 0.1 + 0.6 / K, 0.1 + 0.6 / K], "margin": np.arange(4.0)},
                            1000)["multiples_of_1_over_K"]


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    out = tmp_path_factory.mktemp("rev-jumps")
    e = replace(REGISTRY["rev-jumps"], base=REGISTRY["rev-jumps"].base | SMALL, seeds=2)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rj, "QA_SEEDS", 2)
        mp.setattr(rj, "QS", (0.0, 1.0))
        mp.setitem(rj.QA, "train.steps", 15)
        mp.setitem(rj.QA, "model.M", 50)
        claims = run_all([e], out, workers=1, quiet=True)["rev-jumps"]
    return e, out, {c["id"]: c for c in claims}


def test_rev_jumps_claim_logic(reduced):
    e, out, c = reduced
    assert sorted(c) == sorted(["replay-exact", "p1-steps-of-1/K", "p1-margin-smooth", "p1-opt-after-selection",
                                "p1-arbitrary-token", "qa-not-beyond-average", "qa-rises-with-average",
                                "qa-control-raw-beyond"])
    assert c["replay-exact"]["holds"] is True and c["replay-exact"]["kind"] == "identity"
    sp = c["p1-margin-smooth"]["measured"]["spike_ratios"]
    assert c["p1-margin-smooth"]["holds"] == (all(r <= rj.SPIKE for s in sp for r in s) if any(sp) else None)
    qa = c["qa-not-beyond-average"]["measured"]
    assert set(qa) == {"q0.0", "q1.0"} and qa["q0.0"]["bag"] == 0.5 and qa["q1.0"]["bag"] == 1.0
    assert c["qa-not-beyond-average"]["holds"] == all(
        v["accuracy"]["max"] <= v["bag"] + rj.tolerance(v["bag"], 1000) for v in qa.values())
    q = json.loads((out / "rev-jumps" / "questions.json").read_text())
    assert [x["id"] for x in q] == ["sudden-jumps", "token-average"] and all(x["reviewer"] == "yFLc" for x in q)
    assert json.loads((out / "rev-jumps" / "qa.json").read_text())["bag_accuracy"] == {"0.0": 0.5, "1.0": 1.0}


def test_rev_jumps_qa_claim_built_to_fail(reduced, tmp_path, monkeypatch):
    """With the bag-of-words accuracy replaced by 0, every seed 'beats the average'."""
    from walkformer.experiments import load_run

    e, out, _ = reduced
    runs = {label: [load_run(p) for cfg, p in e.jobs(out) if p.parent.name == label] for label in e.variants}
    monkeypatch.setattr(rj, "QA_SEEDS", 1)
    monkeypatch.setattr(rj, "QS", (0.0, 1.0))
    monkeypatch.setitem(rj.QA, "train.steps", 5)
    monkeypatch.setitem(rj.QA, "model.M", 50)
    monkeypatch.setattr(rj, "bag_of_words_accuracy", lambda task: 0.0)
    claims = {x["id"]: x for x in rj._analyse(runs, tmp_path, e)}
    assert claims["qa-not-beyond-average"]["holds"] is False
    assert claims["qa-control-raw-beyond"]["holds"] is True  # every accuracy is above a bag of 0
