"""The preset rev-pretrain (experiments/rev_pretrain.py) and the core fix it needed."""

import json
from dataclasses import replace

import numpy as np
import pytest

import walkformer as wf
from walkformer.experiments import REGISTRY, run_all
from walkformer.experiments import rev_pretrain as rp
from walkformer.tasks.qa import APPLE, ORANGE


def test_reference_path_evaluates_the_qa_tasks():
    """The QA tasks have no parent (parent_index None): the reference transformer's metrics
    read x_(N-1), as the Shi & Cao acceleration's do (before the fix: a ValueError, so no QA
    run could start from init.from, which only the reference serves)."""
    over = {"task.name": "qa2", "init.scheme": "gaussian", "init.sigma": 0.01, "model.M": 40,
            "model.normalize": True, "train.eta": 0.1, "train.steps": 3, "train.n_train": 50, "eval.n_test": 50}
    fast, ref = wf.train(over), wf.train(over | {"train.path": "reference"})
    for a, b in zip(fast.metrics, ref.metrics):
        assert abs(a["parent_attention"] - b["parent_attention"]) < 1e-12
        assert a["test_accuracy"] == b["test_accuracy"]
    assert abs(ref.metrics[-1]["parent_attention"] - ref.metrics[-1]["attention"][17]) == 0.0  # x_(N-1) = slot 18 of 19


# ---- the preset -----------------------------------------------------------------------------


def test_bigram_table_of_the_qa_sentences():
    """Row-stochastic, and the apple and orange rows are the same (the qa1 lists are uniform, qa2
    swaps the two): next-token statistics of the QA corpus do not tell the two fruits apart."""
    P = rp.bigram_table()
    assert np.allclose(P.sum(1), 1.0) and (P >= 0).all()
    assert np.array_equal(P[APPLE], P[ORANGE]) and P[APPLE, APPLE] == P[APPLE, ORANGE] > 0


def test_pretraining_at_another_length_leaves_the_query_column_bit_zero(tmp_path):
    """W = R x̃_N'ᵀ: pretrained at N' = 25 only column K + 24 of W is not 0.0 and W x̃_19 == 0.0;
    at N' = 19 W x̃_19 is not zero (the check can fail)."""
    for n_pre, zero in ((25, True), (19, False)):
        over = rp.COMMON | rp.WALK | {"task.N": n_pre, "train.steps": 5, "train.n_train": 100, "eval.n_test": 50}
        wf.train(over).save(tmp_path / f"N{n_pre}", figures=False)
        c = rp.carried(tmp_path / f"N{n_pre}")
        assert c["W_columns"] == [rp.K + n_pre - 1]
        assert (c["W_query_norm"] == 0.0) is zero and c["V_norm"] > 0


SMALL_FT = {"train.steps": 12, "eval.n_test": 50}


def _reduced(variants=None):
    e = REGISTRY["rev-pretrain"]
    v = {k: o | {"train.steps": 15, "train.n_train": 200} if k.startswith("pre-") else o
         for k, o in (variants or e.variants).items()}
    return replace(e, variants=v, base=e.base | SMALL_FT, seeds=2)


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    out = tmp_path_factory.mktemp("rev-pretrain")
    workers, rp.WORKERS = rp.WORKERS, 1  # the fine-tuning phase in this process too
    try:
        yield out, {c["id"]: c for c in run_all([_reduced()], out, workers=1, quiet=True)["rev-pretrain"]}
    finally:
        rp.WORKERS = workers


def test_rev_pretrain_claim_logic(reduced):
    out, claims = reduced
    assert sorted(claims) == sorted(["carries-exactly", "only-V-carries-N37", "zero-init-stuck", "noise-breaks-bigram"]
                                    + [f"attention-blocks-{s}" for s in rp.SAME_N]
                                    + [f"{k}-{s}" for s in rp.SOURCES for k in ("learnable", "structure")])
    assert claims["carries-exactly"]["holds"] and claims["only-V-carries-N37"]["holds"]
    assert claims["zero-init-stuck"]["holds"]  # exact: holds in any reduced run
    avg = claims["noise-breaks-bigram"]["measured"]["averaged"]  # the invariant, exact on a pretrained V too
    assert avg["seeds_V_columns_equal"] == avg["seeds_fruit_slots_equal_every_step"] == 2
    assert claims["noise-breaks-bigram"]["holds"] == (avg["seeds_never_above_one_answer"] == 2 and claims[
        "noise-breaks-bigram"]["measured"]["as_pretrained"]["learned"] > 0)
    for s in rp.SAME_N:
        m = claims[f"attention-blocks-{s}"]["measured"]
        assert claims[f"attention-blocks-{s}"]["holds"] == (m["V_only"]["learned"] > m["with_W"]["learned"])
    assert claims["carries-exactly"]["measured"]["walk-N37"]["W_columns_not_zero"] == [[rp.K + 36]]
    for s in rp.SOURCES:  # holds recomputed from what each claim shows
        m = claims[f"learnable-{s}"]["measured"]
        got, n = map(int, m["learned"].split(" of "))
        assert n == 2 and claims[f"learnable-{s}"]["holds"] == (got == n)
        assert (m["accuracy"]["min"] >= rp.LEARNED) == (got == n)
        st = claims[f"structure-{s}"]["measured"]
        a, b = st["pretrained"], st["matched_random"]
        assert claims[f"structure-{s}"]["holds"] == (a["learned"] > b["learned"] or (
            a["learned"] == b["learned"] == 2 and a["steps_to_learned"]["mean"] < b["steps_to_learned"]["mean"]))
    d = out / "rev-pretrain"
    q = json.loads((d / "questions.json").read_text())
    assert [x["id"] for x in q] == ["pretrain-finetune"]
    assert set(q[0]["claims"]) == {f"learnable-{s}" for s in rp.SOURCES}
    diff = json.loads((d / "differences.json").read_text())
    assert {x["claims"][0] for x in diff} == {f"learnable-{s}" for s in rp.SOURCES
                                              if claims[f"learnable-{s}"]["holds"] is False}
    assert (d / rp.FIG).is_file()
    # the random controls keep the loss defined at init (non-negative V), and a re-run resumes: nothing retrained
    runs = d / "runs"
    assert all(json.loads((p / "summary.json").read_text())["status"] == "ok" for p in runs.glob("ft-random-*/seed*"))
    before = {p: p.stat().st_mtime_ns for p in runs.glob("*/seed*/summary.json")}
    run_all([_reduced()], out, workers=1, quiet=True)
    assert {p: p.stat().st_mtime_ns for p in runs.glob("*/seed*/summary.json")} == before


def test_rev_pretrain_built_to_fail(tmp_path, monkeypatch):
    """Built to fail: the zero-init variant starts from a Gaussian init, and the N' = 37 source is
    pretrained at N' = 19, so its W reaches the query (not bit-identical to V only, not W x̃_N = 0)."""
    monkeypatch.setattr(rp, "WORKERS", 1)
    e = _reduced()
    bad_v = dict(e.variants) | {"ft-zero": e.variants["ft-zero"] | {"init.scheme": "gaussian", "init.sigma": 0.01},
                                "pre-walk-N37": e.variants["pre-walk-N37"] | {"task.N": rp.N}}
    out = {c["id"]: c for c in run_all([replace(e, variants=bad_v, seeds=1)], tmp_path, workers=1,
                                        quiet=True)["rev-pretrain"]}
    assert out["zero-init-stuck"]["holds"] is False
    assert out["zero-init-stuck"]["measured"]["seeds_V_columns_equal"] == 0
    assert out["carries-exactly"]["holds"] is False and out["only-V-carries-N37"]["holds"] is False
