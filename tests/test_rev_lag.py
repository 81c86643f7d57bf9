"""rev-lag (experiments/rev_lag.py): the analogue of N = rK + 1 at lag k against sampled
sequences, and the preset's claim logic on a reduced run, with a case built to fail."""

import json
from dataclasses import replace

import pytest

from walkformer.experiments import REGISTRY, run_all
from walkformer.experiments import rev_lag as rl


@pytest.mark.parametrize("lag", [1, 2, 3])
def test_analogue_matches_sampled_token_averages(lag):
    """x̄ is the same vector for every sequence exactly when analogue() says so, and its
    label-conditional mean is uniform (up to sampling) exactly in the "in expectation" cases."""
    seen = set()
    for N in range(lag + 2, 3 * lag * rl.K + 3):
        a = rl.analogue(N, lag)
        t = rl.token_average(lag, N, 1.0, n=1200)
        assert (t["spread_over_sequences"] == 0.0) == a["every_sequence"], (lag, N, a, t)
        # informative: some state of E[x̄ | y] is off 1/K by ≥ ½/(N−1) (a partial cycle); sampling noise ≲ 0.15/(N−1)
        assert (t["conditional_deviation"] < 0.3 / (N - 1)) == a["in_expectation"], (lag, N, a, t)
        seen.add((a["every_sequence"], a["in_expectation"]))
        if lag == 1:
            assert a["every_sequence"] == ((N - 1) % rl.K == 0)  # the paper's N = rK + 1
    assert (True, True) in seen and (False, False) in seen and ((False, True) in seen) == (lag > 1)


def test_the_presets_traps():
    assert rl.analogue(97, 2)["every_sequence"] and rl.analogue(91, 3)["every_sequence"]
    assert rl.analogue(98, 2) == {"sub_chain_counts": [49, 48], "parent_count": 48, "every_sequence": False,
                                  "in_expectation": True}
    assert not rl.analogue(97, 3)["in_expectation"] and rl.analogue(92, 3)["in_expectation"]


# the reduced preset: N 97 -> 25 (= 2·2·6 + 1, lag 2's trap; informative at lag 3), 98 -> 26, 91 -> 19 (lag 3's
# trap), 92 -> 20: the same analogue classes as the full run at a twentieth of the cost
SMALL_N = {97: 25, 98: 26, 91: 19, 92: 20}
SMALL = {"model.M": 30, "train.n_train": 200, "eval.n_test": 200, "train.steps": 20}


def _reduced(variants=None):
    e = REGISTRY["rev-lag"]
    v = variants or e.variants
    return replace(e, variants={k: o | {"task.N": SMALL_N[o["task.N"]]} for k, o in v.items()},
                   base=e.base | SMALL, seeds=2)


def test_analogue_classes_are_kept_by_the_reduction():
    for k, o in rl.VARIANTS.items():
        lag = o.get("task.lag", 1)
        big, small = rl.analogue(o["task.N"], lag), rl.analogue(SMALL_N[o["task.N"]], lag)
        assert (big["every_sequence"], big["in_expectation"]) == (small["every_sequence"], small["in_expectation"]), k


def test_rev_lag_claim_logic(tmp_path):
    e = _reduced()
    claims = {c["id"]: c for c in run_all([e], tmp_path, workers=1, quiet=True)["rev-lag"]}
    for k in rl.LAGS:
        for p in rl.PS:
            for N in rl.NS:
                c = claims[f"parent-lag{k}-p{p}-N{N}"]
                m = c["measured"]
                assert c["holds"] == (m["near_opt"] and all(t == k for t in m["top_lag"])
                                      and m["attention_on_x_(N-k)"]["min"] >= rl.PARENT)
        trap = claims[f"trap-lag{k}-p1.0"]
        assert trap["holds"] is True, trap  # the exact symmetric point, onehot positions
        assert trap["measured"]["attention_spread"]["max"] < rl.SYMMETRIC
    assert claims["trap-lag2-p0.0"]["holds"] and claims["trap-lag3-p0.0"]["holds"]
    assert claims["learns-lag3-N97"]["holds"] and claims["rk1-lag3-N97"]["holds"] is False
    assert claims["parent-lag2-p0.8-N97"]["holds"]  # lag 2 learns its parent at N = 25 in 20 steps
    d = json.loads((tmp_path / "rev-lag" / "differences.json").read_text())
    assert "trap-is-rkK+1" in [x["id"] for x in d]
    q = json.loads((tmp_path / "rev-lag" / "questions.json").read_text())
    assert [x["id"] for x in q] == ["lag"] and all(i in claims for i in q[0]["claims"])
    assert (tmp_path / "rev-lag" / rl.FIG).exists()


def test_rev_lag_built_to_fail(tmp_path):
    """The trap variants replaced by informative ones (lag 3 at N = 97 -> 25): the trap
    claims must fail, and a lag-2 chain read as lag 3 must miss its parent."""
    v = dict(rl.VARIANTS)
    v["onehot-lag3-p1.0-N91"] = v["onehot-lag3-p1.0-N97"]
    v["onehot-lag3-p0.0-N91"] = v["onehot-lag3-p1.0-N97"] | {"task.p": 0.0}
    v["lag3-p0.8-N97"] = v["lag2-p0.8-N97"]
    keep = ("onehot-lag3-p1.0-N91", "onehot-lag3-p0.0-N91", "lag3-p0.8-N97")
    e = _reduced(v)
    e = replace(e, variants={k: (o if k in keep else o | {"train.steps": 1}) for k, o in e.variants.items()})
    claims = {c["id"]: c for c in run_all([e], tmp_path, workers=1, quiet=True)["rev-lag"]}
    assert claims["trap-lag3-p1.0"]["holds"] is False and claims["trap-lag3-p0.0"]["holds"] is False
    assert claims["parent-lag3-p0.8-N97"]["holds"] is False
    assert claims["parent-lag3-p0.8-N97"]["measured"]["top_lag"] == [2, 2]
