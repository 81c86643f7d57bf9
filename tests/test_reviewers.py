"""The reviewers' presets (experiments/reviewers.py): the two exact identities, and each
preset's claim logic on a reduced run, with a case built to fail."""

import json
from dataclasses import replace

import pytest

from walkformer.experiments import REGISTRY, describe, load_run, run_all
from walkformer.experiments import reviewers as rv

SMALL = {"task.K": 6, "task.N": 13, "model.M": 50, "train.n_train": 200, "eval.n_test": 200, "train.eta": 1.0}


@pytest.mark.parametrize("init", [{"init.scheme": "zero"}, {"init.scheme": "gaussian", "init.sigma": 0.01}])
def test_sqrt_scaling_is_w_step_divided_by_D(init):
    """scale=sqrt with step η == scale=none with W's step η/D (W/√D against W), and the
    preset's runs (walkformer.train) are that same sqrt model."""
    r = rv.slow_w_check(SMALL | {"task.p": 0.8} | init, steps=15)
    assert r["D"] == 6 + 50
    assert r["max_W_scale"] > 1e-3  # W moved: the comparison is not 0 == 0
    assert r["max_W_difference"] <= 1e-12 * r["max_W_scale"] + 1e-15
    assert r["max_V_difference"] <= 1e-12 and r["max_loss_difference"] <= 1e-12
    assert r["max_difference_to_training"] == 0.0


def test_sqrt_scaling_check_fails_with_the_wrong_step():
    r = rv.slow_w_check(SMALL | {"task.p": 0.8, "init.scheme": "zero"}, steps=15, w_step=1.0)
    assert r["max_W_difference"] > 1e-4


def _save(over: dict, path):
    import walkformer as wf

    wf.train(over).save(path, figures=False)
    return load_run(path)


def test_residual_is_bit_identical_in_the_slot_layout(tmp_path):
    """The authors' answer, exactly: every logged metric and every parameter equal."""
    base = SMALL | {"task.p": 0.5, "init.scheme": "zero", "train.steps": 8}
    a = _save(base | {"model.residual": True}, tmp_path / "res")
    b = _save(base | {"model.residual": False, "train.path": "reference"}, tmp_path / "nores")
    same = rv.bit_identical(a, b)
    assert same["metrics"] and same["params"] and same["n_logged_steps"] == 9
    assert a["summary"]["parent_attention"] > 0.9  # it learned something: equal is not trivially 0 == 0
    # built to fail: the next-token layout's residual changes the read-out (accuracy), not the parameters
    causal = base | {"model.layout": "causal", "task.p": 1.0}
    c = _save(causal | {"model.residual": True}, tmp_path / "c-res")
    d = _save(causal | {"model.residual": False}, tmp_path / "c-nores")
    other = rv.bit_identical(c, d)
    assert other["params"] and not other["metrics"]
    assert c["summary"]["test_accuracy"] == 0.0  # the one-hot lands on the current state, never the target
    seed = _save(base | {"model.residual": True, "seed": 1}, tmp_path / "seed1")
    assert not rv.bit_identical(a, seed)["params"]


def _reduced(name: str, variants: dict, **base) -> object:
    e = REGISTRY[name]
    return replace(e, variants={k: v | base.get("each", {}) for k, v in variants.items()},
                   base=e.base | base.get("base", {}), seeds=2)


def test_rev_scaling_claim_logic(tmp_path):
    small = SMALL | {"train.steps": 12}
    e = _reduced("rev-scaling", rv.SCALING, base=small)
    claims = {c["id"]: c for c in run_all([e], tmp_path, workers=1, quiet=True)["rev-scaling"]}
    assert sorted(claims) == sorted(f"{k}-p{p}" for p in rv.PS for k in ("same-end-point", "slower"))
    for p in rv.PS:
        m = claims[f"same-end-point-p{p}"]["measured"]
        assert claims[f"same-end-point-p{p}"]["holds"] == (m["sqrt"]["near_opt"] and
                                                          m["sqrt"]["parent_attention"]["min"] >= rv.PARENT)
        assert m["none"]["near_opt"]  # the paper's model reaches OPT in 12 steps at N = 13
    q = json.loads((tmp_path / "rev-scaling" / "questions.json").read_text())
    assert [x["id"] for x in q] == ["scaling"] and set(q[0]["claims"]) == set(claims)
    steps = claims["slower-p0.5"]["measured"]["steps_to_optimal_none"]
    assert f"against {describe(steps)} without" in q[0]["ours"]
    # built to fail: sqrt and none swapped, the "sqrt" runs are never slower
    swapped = replace(e, variants={f"{s}-p{p}": rv.SCALING[f"{t}-p{p}"] for p in rv.PS
                                   for s, t in (("none", "sqrt"), ("sqrt", "none"))})
    bad = {c["id"]: c for c in run_all([swapped], tmp_path / "swapped", workers=1, quiet=True)["rev-scaling"]}
    assert all(bad[f"slower-p{p}"]["holds"] is False for p in rv.PS)


def test_rev_residual_claim_logic(tmp_path):
    small = {"train.n_train": 200, "eval.n_test": 200, "train.steps": 10}
    variants = {k: v | ({"task.N": 13, "model.M": 50} if "model.M" in v else {"task.N": 13}) for k, v in
                (rv.SLOT | rv.CAUSAL).items()}
    e = _reduced("rev-residual", variants, base=small)
    claims = {c["id"]: c for c in run_all([e], tmp_path, workers=1, quiet=True)["rev-residual"]}
    assert claims["slot-identical"]["holds"] is True
    assert claims["causal-linear-same-params"]["holds"] is True
    assert claims["causal-linear-deterministic-fails"]["holds"] is True  # 0 (res) or 1/K (no res) at p in {0, 1}
    assert claims["causal-unembed-deterministic-fails"]["holds"] is False  # the residual read-out solves p = 1
    assert claims["authors-no-easier"]["holds"] is False
    diff = json.loads((tmp_path / "rev-residual" / "differences.json").read_text())
    assert [d["id"] for d in diff] == ["residual-gives-parent-away"]
    q = {x["id"]: x for x in json.loads((tmp_path / "rev-residual" / "questions.json").read_text())}
    assert q["residual-slot"]["claims"] == ["slot-identical"] and "parameters in 2 of 2" in q["residual-slot"]["ours"]
    assert "authors-no-easier" in q["residual-next-token"]["claims"]
    # built to fail: "without the residual" replaced by another seed's residual run
    seeded = replace(e, variants=variants | {"slot-nores": variants["slot-res"] | {"init.scheme": "gaussian"}})
    bad = {c["id"]: c for c in run_all([seeded], tmp_path / "bad", workers=1, quiet=True)["rev-residual"]}
    assert bad["slot-identical"]["holds"] is False
