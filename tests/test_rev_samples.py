"""The preset rev-samples (experiments/rev_samples.py): the depth-0 baseline's closed form
against GD on its ε-log-loss, the sample-complexity fit, and the claim logic on a reduced
run with a case built to fail."""

import json
import math
from dataclasses import replace

import pytest
import torch

from walkformer.experiments import REGISTRY, run_all
from walkformer.experiments import rev_samples as rs


@pytest.mark.parametrize("eta,eps", [(1.0, 0.1), (100.0, 0.1), (0.01, 1e-3), (1.0, 10.0)])
def test_baseline_gd_predicts_the_count_argmax(eta, eps):
    """GD from V = 0 keeps the order of the counts in every column at every step (the
    module docstring's induction), ties included; any η, ε."""
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        c = torch.randint(0, 6, (6, 6), generator=g).double()
        c[0] = 0.0  # a state never seen: label 0 both ways
        c[1, 2] = c[1, 4] = c[1].max() + 1  # a tie: the first maximum both ways
        for steps in (1, 7, 60):
            V = rs.baseline_gd(c, 50, eta, eps, steps)
            assert torch.equal(V.argmax(0), rs.baseline_predict(c))
    assert not torch.equal(rs.baseline_gd(c, 50, eta, eps, 0).argmax(0), rs.baseline_predict(c))  # built to fail


def test_counts_and_threshold():
    x = torch.tensor([[0, 1], [0, 1], [0, 2]])
    y = torch.tensor([2, 2, 3])
    c = rs.counts(x, y, 4)
    assert c[1, 2] == 2 and c[2, 3] == 1 and c.sum() == 3
    ns = [10, 100, 1000]
    assert rs.threshold_n(ns, [0.2, 0.5, 0.9], 0.7) == pytest.approx(math.exp(math.log(100) + 0.5 * math.log(10)))
    assert rs.threshold_n(ns, [0.8, 0.9, 0.9], 0.7) == 10 and rs.threshold_n(ns, [0.1, 0.2, 0.3], 0.7) is None
    assert rs.slope([25, 50, 100], [5.0, 10.0, 20.0]) == pytest.approx(1.0)
    assert rs.slope([25, 50], [5.0, None]) is None


SUB = ("N25-n10", "N25-n100", "N25-n1000", "N49-n10", "N49-n100", "N49-n1000", "N25-online", "N49-online")


def test_rev_samples_claim_logic(tmp_path):
    e = REGISTRY["rev-samples"]
    small = replace(e, seeds=2, variants={k: e.variants[k] | ({"train.n_train": 300} if "online" in k else {})
                                         for k in SUB}, base=e.base | {"train.steps": 5, "eval.n_test": 300})
    claims = {c["id"]: c for c in run_all([small], tmp_path, workers=1, quiet=True)["rev-samples"]}
    assert claims["baseline-gd-is-count-argmax"]["holds"] is True
    assert claims["baseline-gd-is-count-argmax"]["measured"]["cells_equal"] == "12 of 12"
    t, b = claims["transformer-n-grows-with-N"], claims["baseline-n-flat-in-N"]
    assert t["measured"]["N"] == [25, 49]
    assert t["holds"] == (t["measured"]["slope"] is not None and t["measured"]["slope"] >= rs.GROWS
                          and None not in t["measured"]["n_star"])
    assert b["holds"] == (b["measured"]["slope"] is not None and abs(b["measured"]["slope"]) <= rs.FLAT
                          and None not in b["measured"]["n_star"])
    f = claims["fixed-matches-online"]
    assert f["holds"] == all(g <= f["measured"]["tolerance"] for g in f["measured"]["largest_gap_over_steps"].values())
    assert all(g >= abs(f["measured"]["online_minus_fixed_accuracy"][N]) for N, g in
               f["measured"]["largest_gap_over_steps"].items())
    diff = json.loads((tmp_path / "rev-samples" / "differences.json").read_text())
    assert {d["claims"][0] for d in diff} == {k for k in ("transformer-n-grows-with-N", "fixed-matches-online")
                                              if claims[k]["holds"] is False}
    q = json.loads((tmp_path / "rev-samples" / "questions.json").read_text())
    assert q[0]["reviewer"] == "ki3b" and "transformer-n-grows-with-N" in q[0]["claims"]
    # built to fail: the N = 49 labels carry the N = 25 runs, so n* cannot grow with N
    from walkformer.experiments import load_run

    runs = {k: [load_run(tmp_path / "rev-samples" / "runs" / k.replace("N49", "N25") / f"seed{s}") for s in range(2)]
            for k in SUB}
    (tmp_path / "bad").mkdir()
    out = {c["id"]: c for c in rs._analyse(runs, tmp_path / "bad", small)}
    assert out["transformer-n-grows-with-N"]["holds"] is False
    assert out["transformer-n-grows-with-N"]["measured"]["slope"] in (None, pytest.approx(0.0, abs=1e-12))
