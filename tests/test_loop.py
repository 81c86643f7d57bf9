"""The one training loop (loop.run): every transformer implementation trains in it, so
its schedule and its failure detection hold for each; the Shi & Cao adapter shares the
train + test pass exactly on the logged steps."""

import pytest

from walkformer import loop
from walkformer.api import configure
from walkformer.models.shicao import ShiCao
from walkformer.paths import acceleration

SMALL = {"task.K": 4, "task.N": 8, "model.M": 12, "train.n_train": 30, "eval.n_test": 20}
CASES = {  # implementation -> a small config it trains
    "shi-cao": SMALL | {"init.scheme": "gaussian", "init.sigma": 0.1},
    "gpt": {"model.name": "gpt", "task.name": "binary", "task.N": 12, "eval.n_test": 8},
    None: SMALL | {"model.attention": "split", "init.scheme": "gaussian"},  # the reference transformer
}


@pytest.mark.parametrize("path", list(CASES), ids=str)
def test_every_implementation_logs_the_same_schedule(path):
    """eval.every=3 over 7 steps logs 0, 3, 6 and the last step, whatever the implementation."""
    cfg = configure(CASES[path] | {"train.steps": 7, "eval.every": 3})
    assert acceleration(cfg) == path
    r = loop.run(cfg)
    assert r.summary["status"] == "ok" and r.summary["steps"] == 7
    assert [m["step"] for m in r.metrics] == [0, 3, 6, 7]
    assert type(loop.adapter(cfg, path)).__name__ == {"shi-cao": "ShiCaoAdapter", "gpt": "GPTAdapter",
                                                      None: "ReferenceAdapter"}[path]


@pytest.mark.parametrize("path", list(CASES), ids=str)
def test_one_bound_stops_every_implementation(path, monkeypatch):
    """The parameter bound lives in the loop: lowered there, it stops each implementation
    at step 0, logged, with its own advice."""
    monkeypatch.setattr(loop, "PARAM_BOUND", 1e-3)
    r = loop.run(configure(CASES[path] | {"train.steps": 5}))
    s = r.summary
    assert s["status"] == "failed" and s["steps"] == 0 and "max |θ|" in s["error"], s["error"]
    assert [m["step"] for m in r.metrics] == [0]
    assert ("init.c or init.scheme" if path == "gpt" else "init.sigma") in s["error"]


def test_shicao_shares_the_test_pass_on_logged_steps_only(monkeypatch):
    """As training.run did: grads_and_forward (train + test in one pass) on each logged
    step, grads alone on the others; the test batch is the loop's own."""
    calls = []
    fused, alone = ShiCao.grads_and_forward, ShiCao.grads

    def spy_fused(self, b, eps, probe):
        calls.append("fused")
        return fused(self, b, eps, probe)

    def spy_alone(self, b, eps):
        calls.append("alone")
        return alone(self, b, eps)

    monkeypatch.setattr(ShiCao, "grads_and_forward", spy_fused)
    monkeypatch.setattr(ShiCao, "grads", spy_alone)
    loop.run(configure(CASES["shi-cao"] | {"train.steps": 5, "eval.every": 2}))
    assert calls == ["fused", "alone", "fused", "alone", "fused", "fused"]  # steps 0..5: 0, 2, 4, 5 logged
