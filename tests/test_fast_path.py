"""The fast path's bookkeeping: the fused training+evaluation pass, eval-frequency
invariance, and the argmax tie rule."""

import pytest
import torch

from walkformer.config import Config, apply_overrides, resolve
from walkformer.metrics import evaluate
from walkformer.models import Batch, Geometry, ShiCao, init_params
from walkformer.tasks import circle_walk
from walkformer.loop import run


@pytest.mark.parametrize("head", ["linear", "relu"])
@pytest.mark.parametrize("B,B_test", [(200, 150), (37, 5), (64, 64)])
def test_fused_pass_equals_separate_calls_bit_for_bit(head, B, B_test, gen):
    """grads_and_forward(b, probe) == (grads(b), forward(probe)) exactly: a sequence's
    numbers must not depend on what it is batched with."""
    task = circle_walk(6, 25, 0.5)
    b = Batch(*task.sample(B, gen), None, 6, torch.float64)
    probe = Batch(*task.sample(B_test, gen), None, 6, torch.float64)
    geo = Geometry(6, 25, "sin", 100, True)
    params = {k: v.abs() for k, v in init_params(geo, "gaussian", 0.3, head, 5, gen).items()}  # f_y + eps > 0
    model = ShiCao(geo, params)
    loss, g = model.grads(b, 0.1)
    loss2, g2, fw = model.grads_and_forward(b, 0.1, probe)
    fw_alone = model.forward(probe)
    assert loss == loss2
    assert g.keys() == g2.keys() and all(torch.equal(g[k], g2[k]) for k in g)
    assert all(torch.equal(fw[k], fw_alone[k]) for k in ("h", "f", "attention"))
    assert float(g["a"].abs().max()) > 0  # not vacuous


@pytest.mark.parametrize("pos", ["sin", "onehot"])
def test_evaluation_frequency_does_not_change_training(pos):
    """eval.every = 1 fuses evaluation into every step; eval.every = 7 does not. The
    trajectories must be identical, and so must the metrics at the steps both log."""
    base = {"task.K": 6, "task.N": 25, "task.p": 0.5, "model.M": 100, "train.steps": 30, "train.n_train": 200,
            "eval.n_test": 150, "model.pos": pos, "init.scheme": "gaussian", "init.sigma": 0.01,
            "model.normalize": True}
    a = run(resolve(apply_overrides(Config(), base | {"eval.every": 1})))
    b = run(resolve(apply_overrides(Config(), base | {"eval.every": 7})))
    assert torch.equal(a.model.V, b.model.V) and torch.equal(a.model.R, b.model.R)
    by_step = {m["step"]: m for m in a.metrics}
    assert len(b.metrics) == 6
    for m in b.metrics:
        assert m == by_step[m["step"]]


def test_argmax_ties_go_to_the_smallest_label(gen):
    """Def. 2.1: at zero initialisation f = 0, every label ties, and the prediction is 0."""
    task = circle_walk(5, 9, 0.5)
    tokens, y = task.sample(500, gen)
    b = Batch(tokens, y, None, 5, torch.float64)
    geo = Geometry(5, 9, "sin", 12, False)
    model = ShiCao(geo, init_params(geo, "zero", 0.0, "linear", 0, gen))
    acc = evaluate(model, task, b, 0.1)["test_accuracy"]
    assert acc == pytest.approx(float((y == 0).double().mean()), abs=0)
    assert 0.1 < acc < 0.3  # label 0 is about 1/5 of the data
