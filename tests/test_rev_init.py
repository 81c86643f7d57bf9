"""The preset rev-init-scale (experiments/rev_init.py): OPT_ℓ and the solution classes from
synthetic runs, the claim logic on a reduced run, and a case built to fail."""

import json
from dataclasses import replace

import numpy as np
import pytest

from walkformer.experiments import REGISTRY, run_all
from walkformer.experiments import rev_init as ri
from walkformer.experiments.rev_init import _analyse

SMALL = {"task.N": 13, "model.M": 50, "train.n_train": 200, "eval.n_test": 200, "train.steps": 12}


def _fake(p: float, att_lag: int, top: float, acc: float = 0.5, V=None, N: int = 13) -> dict:
    """A finished run whose mean attention puts ``top`` on x_{N−att_lag}, the rest spread."""
    from walkformer.api import configure

    att = np.full(N, (1 - top) / (N - 1))
    att[N - 1 - att_lag] = top
    cfg = configure({"task.p": p, "task.N": N, "model.M": 50}).to_dict()
    V = np.eye(6) if V is None else V
    return {"config": cfg, "metrics": [{"attention": att.tolist(), "V": np.asarray(V).tolist()}],
            "summary": {"status": "ok", "failure": None, "test_accuracy": acc, "optimal_accuracy": max(p, 1 - p),
                        "parent_attention": float(att[N - 2]), "value_cosine": 0.5}}


def test_lag_opt_is_the_best_accuracy_from_one_ancestor():
    r8, r5 = _fake(0.8, 1, 1.0), _fake(0.5, 1, 1.0)
    assert ri.lag_opt(r8, 1) == pytest.approx(0.8) and ri.lag_opt(r8, 2) == pytest.approx(0.64)
    assert ri.lag_opt(r8, 3) == pytest.approx(0.52)  # 0.512 + 0.008: +3 ≡ −3 on 6 states
    assert ri.lag_opt(r5, 2) == pytest.approx(0.5)
    T = ri.lag_transition(r8, 2)  # (Π²)ᵀ: columns are laws of y given x_{N−2}
    assert np.allclose(T.sum(0), 1) and T.max() == pytest.approx(0.64)


@pytest.mark.parametrize("lag,top,cls", [(1, 0.95, "parent"), (2, 0.7, "grandparent"), (5, 0.6, "other lag"),
                                         (1, 0.3, "no clear selection")])
def test_solution_classes(lag, top, cls):
    assert ri.solution(_fake(0.8, lag, top))["class"] == cls


def test_v_law_distances_prefer_the_square_root():
    """V = ((Π²)ᵀ)^∘½ at lag 2, p = 0.8: nearer the square-root target; V = (Π²)ᵀ: the other way."""
    r = _fake(0.8, 2, 1.0)
    T = ri.lag_transition(r, 2)
    s = ri.solution(_fake(0.8, 2, 1.0, V=np.sqrt(T)))
    assert s["laws_differ"] and s["d_sqrt"] < 1e-12 < s["d_plain"]
    s = ri.solution(_fake(0.8, 2, 1.0, V=T))
    assert s["d_plain"] < 1e-12 < s["d_sqrt"]
    assert not ri.solution(_fake(0.5, 1, 1.0))["laws_differ"]  # p = ½, lag 1: the laws coincide, not tested


def test_v_law_is_not_fooled_by_an_all_ones_part():
    """V = (Π²)ᵀ + 3·1 1ᵀ (the law Πᵀ plus what the token average writes) is nearer the flat square
    root in plain distances; centred, it is correctly nearer (Π²)ᵀ."""
    from walkformer.experiments.value_law import direction_distance

    T = ri.lag_transition(_fake(0.8, 2, 1.0), 2)
    V = T + 3 * np.ones_like(T)
    assert direction_distance(V, np.sqrt(T)) < direction_distance(V, T)  # the confound
    s = ri.solution(_fake(0.8, 2, 1.0, V=V))
    assert s["d_plain"] < 1e-12 < s["d_sqrt"]


def test_failed_runs_are_counted_not_classified():
    r = _fake(0.8, 1, 1.0)
    r["summary"] |= {"status": "failed", "failure": "undefined-at-init"}
    assert ri.solution(r) == {"class": "failed", "failure": "undefined-at-init"}
    assert ri.counts([ri.solution(r)])["failed"] == 1


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    out = tmp_path_factory.mktemp("rev-init")
    e = replace(REGISTRY["rev-init-scale"], base=REGISTRY["rev-init-scale"].base | SMALL, seeds=2)
    claims = run_all([e], out, workers=1, quiet=True)["rev-init-scale"]
    return e, out, {c["id"]: c for c in claims}


def test_rev_init_claim_logic(reduced):
    e, out, claims = reduced
    assert sorted(claims) == sorted([f"parent-{n}-s{s:g}" for n in ri.NORMS for s in ri.SIGMAS]
                                    + [f"v-recovers-{n}" for n in ri.NORMS] + [f"v-law-{n}" for n in ri.NORMS]
                                    + ["k-step", "v-offset-dilutes-norm", "norm-eta1-stays"])
    for n in ri.NORMS:
        for s in ri.SIGMAS:  # holds recomputed from what the claim shows
            c = claims[f"parent-{n}-s{s:g}"]
            met, of = map(int, c["measured"]["runs_on_parent"].split(" of "))
            assert c["holds"] == ((met == of) if of else None)
            assert of + sum(v["solutions"]["failed"] for k, v in c["measured"].items() if k.startswith("p")) == 4
        v = claims[f"v-law-{n}"]["measured"]
        assert claims[f"v-law-{n}"]["holds"] == ((v["nearer_sqrt"] == v["runs_tested"]) if v["runs_tested"] else None)
        vr = claims[f"v-recovers-{n}"]
        runs_on = sum(v["runs"] for v in vr["measured"].values())
        assert vr["holds"] == (all(v["value_cosine"]["min"] >= ri.FIG11_COS for v in vr["measured"].values()
                                   if v["runs"]) if runs_on else None)
    k = claims["k-step"]["measured"]
    assert claims["k-step"]["holds"] in ((None,) if not k["off_parent_runs"] else (True, False))
    q = json.loads((out / "rev-init-scale" / "questions.json").read_text())
    assert [x["reviewer"] for x in q] == ["5AGb"] and "parent-raw-s0" in q[0]["claims"]
    assert "Runs that meet A3" in q[0]["ours"]
    diff = json.loads((out / "rev-init-scale" / "differences.json").read_text())
    failing = {c for c in claims if c.startswith("parent-") and claims[c]["holds"] is False}
    assert {x for d in diff if d["id"].startswith("off-parent") for x in d["claims"]} == failing


def test_rev_init_built_to_fail(reduced, tmp_path):
    """The control 'normalised x̃ at η = 1 selects no token' fed the Fig. 4 zero-init runs at
    N = 97 (which select the parent by step 2) must fail."""
    from walkformer.experiments import load_run

    e, out, _ = reduced
    runs = {label: [load_run(p) for c, p in e.jobs(out) if p.parent.name == label] for label in e.variants}
    from walkformer.api import train

    fig4 = train({"task.N": 97, "model.M": 1000, "train.steps": 3, "init.scheme": "zero", "task.p": 0.8})
    fig4_run = {"config": fig4.cfg.to_dict(), "metrics": fig4.metrics, "summary": fig4.summary}
    runs["norm-eta1"] = [fig4_run]
    claims = {c["id"]: c for c in _analyse(runs, tmp_path, e)}
    assert claims["norm-eta1-stays"]["holds"] is False
    assert claims["norm-eta1-stays"]["measured"]["solutions"]["parent"] == 1
