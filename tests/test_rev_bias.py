"""The preset rev-bias (experiments/rev_bias.py): the reference transformer trains the QA
tasks (it crashed in its metrics), the exact small trainer against the project's two paths,
ReLU homogeneity (A's step against a rescaled init), and the claim logic with a case built
to fail."""

import json
from dataclasses import replace

import pytest
import torch

import walkformer as wf
from walkformer.experiments import REGISTRY, run_all
from walkformer.experiments import rev_bias as rb

SMALL = rb.FIG10 | {"model.M": 40, "train.n_train": 64, "eval.n_test": 64, "train.steps": 4}


@pytest.mark.parametrize("task", ["qa1", "qa2"])
def test_reference_path_trains_the_qa_tasks(task):
    """metrics/reference.py read task.parent_index, None for the QA tasks (no parent): the
    reference path crashed at its first evaluation. It now reports the weight on the last
    token, as the fast path does (metrics/shicao.py)."""
    r = wf.train(SMALL | {"task.name": task, "model.bias": True, "train.steps": 2})
    fast = wf.train(SMALL | {"task.name": task, "train.steps": 2})
    assert r.error is None and 0.0 <= r.summary["parent_attention"] <= 1.0
    assert abs(fast.summary["parent_attention"] - r.metrics[-1]["parent_attention"]) < 0.5


def _start(over):
    return rb.start(wf.configure(SMALL | over))


def test_trainer_is_the_fast_path_without_biases():
    """The exact small trainer from the run's own init and data: the project's fast-path
    run step for step (accuracy equal, loss to round-off)."""
    over = {"task.name": "qa1", "train.steps": 8}
    r = wf.train(SMALL | over)
    mine = rb.train_head(_start(over))
    assert mine["accuracy"] == [m["test_accuracy"] for m in r.metrics]
    assert max(abs(a - m["train_loss"]) for a, m in zip(mine["loss"], r.metrics)) < 1e-12
    assert abs(mine["loss"][-1] - mine["loss"][0]) > 1e-4  # it trained: not 0 == 0


def test_trainer_is_the_reference_transformer_with_biases():
    """model.bias=true, model.head=relu on the reference transformer is f = A ReLU(V X S + b) + b_A:
    the trainer's bias arm gives its losses (b, b_A move, so the biases are in play)."""
    over = {"task.name": "qa1", "train.steps": 3}
    r = wf.train(SMALL | over | {"model.bias": True})
    mine = rb.train_head(_start(over), bias=True)
    assert max(abs(a - m["train_loss"]) for a, m in zip(mine["loss"], r.metrics)) < 1e-10
    assert float(r.tensors()["head.b_A"].abs().max()) > 1e-3
    plain = rb.train_head(_start(over))  # built to fail: without the biases the losses differ
    assert max(abs(a - m["train_loss"]) for a, m in zip(plain["loss"], r.metrics)) > 1e-6


def test_a_step_is_a_balanced_rescaling_not_a_scale_of_A():
    """ReLU homogeneity: steps c²η on A, η/c² on V and b from (A₀, V₀) == one step η from
    (A₀/c, cV₀), mapped back; A's step alone (or A's scale alone) is something else."""
    s, c = _start({"task.name": "qa1", "train.steps": 12}), 3.0
    a = rb.train_head(s, bias=True, lr_A=c * c, lr_V=1 / c**2)
    b = rb.train_head(s, bias=True, rescale=c)
    for k in ("A", "V", "b"):
        assert torch.allclose(a["params"][k], b["params"][k], rtol=1e-9, atol=1e-12)
    assert max(abs(x - y) for x, y in zip(a["loss"], b["loss"])) < 1e-10
    only_a = rb.train_head(s, bias=True, lr_A=c * c)
    assert (only_a["params"]["A"] - b["params"]["A"]).abs().max() > 1e-6
    scaled = rb.train_head(s, bias=True, sigma_A=s["cfg"].init.sigma * c * c)
    assert (scaled["params"]["A"] - b["params"]["A"]).abs().max() > 1e-6


def test_solved_from():
    assert rb.solved_from([0.5, 1.0, 0.5, 1.0, 1.0]) == 3
    assert rb.solved_from([0.5, 1.0, 0.98]) is None and rb.solved_from([1.0, 1.0]) == 0


def _reduced(variants=None, seeds=2):
    e = REGISTRY["rev-bias"]
    return replace(e, base=SMALL | {"train.steps": 6}, seeds=seeds, variants=variants or e.variants)


def test_rev_bias_claim_logic(tmp_path):
    e = _reduced()
    claims = {c["id"]: c for c in run_all([e], tmp_path, workers=1, quiet=True)["rev-bias"]}
    assert claims["trainer-equals-fig10"]["holds"] is True
    assert claims["trainer-equals-fig10"]["measured"]["seeds_identical"] == "4 of 4"
    b = claims["rebuttal-task1-bias"]
    assert b["holds"] == all(x is not None and x <= 40 for x in b["measured"]["solved_from_per_seed"])
    g = claims["bias-explains-fig10"]["measured"]
    assert claims["bias-explains-fig10"]["holds"] == (g["mean_gain"] >= 0.25)
    t2 = claims["task2-stays-half"]
    learned = t2["measured"]["arms_learning_task1"]
    assert t2["holds"] == ((all(t2["measured"][a]["seeds_near_half"] == 2 - t2["measured"][a]["undefined_loss"]
                                for a in learned)) if learned else None)
    u = claims["fig10-learns-then-unlearns"]["measured"]
    tol = claims["task2-stays-half"]["measured"]["tolerance"]
    n = sum(p >= rb.SOLVED and abs(f - 0.5) <= tol for p, f in u["peak_and_final_per_seed"])
    assert u["seeds_peak_then_half"] == n and claims["fig10-learns-then-unlearns"]["holds"] == (n >= 2)
    for a in rb.A_ARMS:
        c = claims[f"{a}-solves-task1"]
        assert c["holds"] == (c["measured"]["no_bias"]["seeds_solved"] == 2)
    q = json.loads((tmp_path / "rev-bias" / "questions.json").read_text())
    assert q[0]["reviewer"] == "5AGb" and q[0]["claims"] == ["rebuttal-task1-bias", "task2-stays-half"]
    assert (tmp_path / "rev-bias" / rb.FIGURE).is_file()
    # built to fail: the trainer assumes x̃ normalised in the softmax; runs without it are another model
    bad = _reduced({k: v | {"model.normalize": False} for k, v in e.variants.items()}, seeds=1)
    out = {c["id"]: c for c in run_all([bad], tmp_path / "bad", workers=1, quiet=True)["rev-bias"]}
    assert out["trainer-equals-fig10"]["holds"] is False
