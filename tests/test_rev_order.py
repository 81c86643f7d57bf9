"""rev-order (experiments/rev_order.py): the two second-order tables, the one-head bound on
the xor chain (one head's prediction is unate in the tokens), the hand-set constructions, and
the preset's claim logic on a reduced run, with cases built to fail."""

import itertools
import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from walkformer.experiments import REGISTRY, run_all
from walkformer.experiments import rev_order as ro


def test_tables_are_the_chains():
    T = ro.persist_table()
    assert T.shape == (36, 6) and np.allclose(T.sum(1), 1)
    assert T[6 * 2 + 3, 4] == ro.RHO and T[6 * 2 + 3, 2] == pytest.approx(1 - ro.RHO)  # 2 -> 3: step +1 repeats
    assert T[6 * 0 + 5, 4] == ro.RHO  # 0 -> 5 is the step −1 on the circle
    X = ro.xor_table()
    assert [int(np.argmax(r)) for r in X] == [0, 1, 1, 0]


def _unate(pred: dict, n: int) -> bool:
    for i in range(n):
        d = [pred[x[:i] + (1,) + x[i + 1:]] - pred[x[:i] + (0,) + x[i + 1:]] for x in pred if x[i] == 0]
        if not (all(v >= 0 for v in d) or all(v <= 0 for v in d)):
            return False
    return True


def _predictions(model, n: int) -> dict:
    x = torch.tensor(list(itertools.product((0, 1), repeat=n)))
    with torch.no_grad():
        f = model(x)
    return {tuple(r.tolist()): int(p) for r, p in zip(x, f.argmax(-1))}


@pytest.mark.parametrize("seed", range(4))
def test_one_head_predictions_are_unate_two_heads_need_not_be(seed):
    """The bound's premise, on random weights of the real model: one head's prediction on
    K = 2 is unate in the tokens; the hand-set two-head model's is not (built to fail)."""
    from walkformer.api import configure
    from walkformer.loop import build

    over = ro.BASE | ro.chain_over("xor") | ro.ARCHS["1L1H"] | {"init.sigma": 3.0, "seed": seed}
    _, model = build(configure(over))
    pred = _predictions(model, ro.N["xor"] - 1)
    assert _unate(pred, 4)
    cfg, task, two, _ = ro._built("xor", "1L2H", 10)
    ro.set_xor_two_heads(two, cfg.task.N, cfg.model.M)
    two_pred = _predictions(two, 4)
    assert not _unate(two_pred, 4)
    assert all(two_pred[x] == x[-1] ^ x[-2] for x in two_pred)


def test_unate_bound_and_constructions():
    u = ro.unate_bound()
    assert u["best_any"] == pytest.approx(u["optimal_accuracy"]) == pytest.approx(ro.RHO)
    assert 0.5 < u["best_unate"] < u["optimal_accuracy"] - 0.05
    assert ro.reaches(ro.persist_one_head(n_test=2000)) and ro.reaches(ro.xor_two_heads(n_test=2000))
    # built to fail: equal attention on x_(N−1), x_(N−2) ties the optimum with m − 2d
    assert not ro.reaches(ro.persist_one_head(share=0.5, n_test=2000))
    with pytest.raises(ValueError, match="> 4"):
        ro.unate_bound(N=7)


SMALL = {"train.n_train": 100, "eval.n_test": 200, "train.steps": 40}


def test_rev_order_claim_logic(tmp_path):
    e = REGISTRY["rev-order"]
    e = replace(e, base=e.base | SMALL, seeds=2)
    claims = {c["id"]: c for c in run_all([e], tmp_path, workers=1, quiet=True)["rev-order"]}
    for c in ro.N:
        one = claims[f"one-head-short-{c}"]
        m = one["measured"]["1L1H"]
        assert one["holds"] == (m["seeds_at_opt"] == 0 if m["trained"] else None)
        for a in ("1L2H", "2L1H"):
            r = claims[f"{a}-reaches-{c}"]
            m = r["measured"][a]
            assert r["holds"] == (m["seeds_at_opt"] > 0 if m["trained"] else None)
    assert claims["persist-one-head-cannot-express"]["holds"] is False and claims["xor-two-heads-expressible"]["holds"]
    b = claims["xor-one-head-bounded"]["measured"]
    assert claims["xor-one-head-bounded"]["holds"] is True and b["trained_1L1H_max"] < b["optimal_accuracy"]
    q = json.loads((tmp_path / "rev-order" / "questions.json").read_text())
    assert [x["id"] for x in q] == ["higher-order"] and all(i in claims for i in q[0]["claims"])
    d = json.loads((tmp_path / "rev-order" / "differences.json").read_text())
    assert [x["id"] for x in d] == ["one-head-expresses-persist"]
    assert (tmp_path / "rev-order" / ro.FIG).exists()
    # built to fail: a model that never trains (η tiny) tests nothing: the reach claims are "not tested"
    frozen = replace(e, variants={k: v | {"train.eta": 1e-9, "train.steps": 3} for k, v in e.variants.items()})
    still = {c["id"]: c for c in run_all([frozen], tmp_path / "frozen", workers=1, quiet=True)["rev-order"]}
    assert all(still[f"{k}-{c}"]["holds"] is None for c in ro.N for k in ("one-head-short", "1L2H-reaches",
                                                                           "2L1H-reaches"))
