"""The preset rev-depth (experiments/rev_depth.py): the exact zero-init statements of its
docstring as tests in their own right (deeper without residual: every gradient 0; with
residual: the lower layers frozen and the model the one-layer model; two heads: one head with
V's step 2η and W's step η/2), each with a case built to fail, and the claim logic on a
reduced run with a case built to fail."""

import json
import shutil
from dataclasses import replace

import pytest
import torch

from walkformer.experiments import REGISTRY, run_all
from walkformer.experiments import rev_depth as rd

SMALL = {"task.K": 6, "task.N": 13, "model.pos": "onehot", "model.M": 13, "train.n_train": 60, "eval.n_test": 60,
         "train.eta": 1.0, "train.path": "reference"}
ZERO = {"init.scheme": "zero"}
GAUSS = {"init.scheme": "gaussian", "init.sigma": 0.01}


def _model(over):
    from walkformer.api import configure
    from walkformer.loop import Data, build

    cfg = configure(SMALL | over)
    task, m = build(cfg)
    return cfg, m, Data(cfg, task).train(0)


def _gd(m, data, eps, steps, rate=lambda name: 1.0):
    """Plain GD with step rate(name); yields (f, grads) before each step."""
    x, y, w = data
    for _ in range(steps):
        m.zero_grad()
        f = m(x)
        m.loss(f, y, w, eps).backward()
        grads = {k: p.grad.detach().clone() for k, p in m.named_parameters()}
        yield f.detach(), grads
        with torch.no_grad():
            for k, p in m.named_parameters():
                p -= rate(k) * p.grad


@pytest.mark.parametrize("over", [{"model.layers": 2}, {"model.layers": 3, "model.heads": 2, "model.mlp": "relu"}])
def test_zero_init_without_residual_nothing_moves(over):
    cfg, m, data = _model(over | ZERO | {"task.p": 0.5, "model.residual": False})
    for f, g in _gd(m, data, cfg.train.eps, 3):
        assert float(f.abs().max()) == 0.0
        assert all(float(v.abs().max()) == 0.0 for v in g.values())


def test_no_residual_check_fails_from_a_random_init():
    cfg, m, data = _model({"model.layers": 2, "model.residual": False, "task.p": 0.5} | GAUSS)
    f, g = next(_gd(m, data, cfg.train.eps, 1))
    assert max(float(v.abs().max()) for v in g.values()) > 1e-8


@pytest.mark.parametrize("over", [{"model.layers": 2}, {"model.layers": 3, "model.mlp": "relu"}])
def test_zero_init_with_residual_is_the_one_layer_model(over):
    """Layers below the last get exactly 0 gradient at every step, and f equals the one-layer
    model's f at every step (to round-off), while the last layer trains."""
    cfg, deep, data = _model(over | ZERO | {"task.p": 0.5, "model.residual": True})
    _, one, _ = _model(ZERO | {"task.p": 0.5})
    L = cfg.model.layers
    for (fd, gd), (f1, _) in zip(_gd(deep, data, cfg.train.eps, 8), _gd(one, data, cfg.train.eps, 8)):
        assert all(float(v.abs().max()) == 0.0 for k, v in gd.items() if not k.startswith((f"blocks.{L - 1}", "head")))
        assert float((fd - f1).abs().max()) <= 1e-12
    assert float(deep.blocks[L - 1].attn.W.detach().abs().max()) > 1e-3  # the last layer moved: not 0 == 0


def test_one_layer_equivalence_fails_from_a_random_init():
    cfg, deep, data = _model({"model.layers": 2, "model.residual": True, "task.p": 0.5} | GAUSS)
    _, g = next(_gd(deep, data, cfg.train.eps, 1))
    assert float(g["blocks.0.attn.W_V"].abs().max()) > 1e-10


def _two_heads_vs_one(init: dict, steps: int = 10) -> float:
    """Two heads (zero init) against one head with V' = V_1 + V_2, V's step 2η, W's step η/2:
    the largest difference of f over the steps."""
    cfg, two, data = _model({"model.heads": 2, "task.p": 0.5} | init)
    _, one, _ = _model({"task.p": 0.5} | ZERO)
    with torch.no_grad():
        one.blocks[0].attn.W.copy_(two.blocks[0].attn.W[:1])
        one.head.V.copy_(two.head.V.sum(0, keepdim=True))
    rate = lambda k: 2.0 if k == "head.V" else 0.5  # noqa: E731
    gap = 0.0
    for (ft, _), (fo, _) in zip(_gd(two, data, cfg.train.eps, steps), _gd(one, data, cfg.train.eps, steps, rate)):
        gap = max(gap, float((ft - fo).abs().max()))
    assert float(one.blocks[0].attn.W.detach().abs().max()) > 1e-3
    return gap


def test_two_heads_from_zero_are_one_head_with_steps_2eta_and_eta_over_2():
    assert _two_heads_vs_one(ZERO) <= 1e-12


def test_two_heads_equivalence_fails_from_a_random_init():
    assert _two_heads_vs_one(GAUSS) > 1e-6


def _reduced(variants: dict, base: dict):
    e = REGISTRY["rev-depth"]
    v = {k: o | {"train.steps": 4} for k, o in variants.items()}
    return replace(e, variants=v, base=e.base | base, seeds=2)


def test_rev_depth_claim_logic(tmp_path):
    small = {"train.n_train": 60, "eval.n_test": 100}
    e = _reduced(rd.VARIANTS, small)
    claims = {c["id"]: c for c in run_all([e], tmp_path, workers=1, quiet=True)["rev-depth"]}
    ids = ["zero-deep-p1-fails", "zero-deep-p0.5-learned-res", "zero-deep-p0.5-learned-nores", "zero-nores-frozen",
           "zero-res-lower-layers-stay", "zero-heads-identical", "random-p0.5-learned", "random-p1.0-learned",
           "random-p0.5-parent", "random-nores-p0.5-learned", "random-paper-loss-p0.5-learned"]
    assert sorted(claims) == sorted(ids)
    for k in ("zero-nores-frozen", "zero-res-lower-layers-stay", "zero-heads-identical"):  # exact, whatever the steps
        assert claims[k]["holds"] is True and claims[k]["kind"] == "identity"
    assert all(v == 0.0 for v in claims["zero-nores-frozen"]["measured"].values())
    for p in rd.PS:  # holds recomputed from what the claim shows
        m = claims[f"random-p{p}-learned"]["measured"]
        assert claims[f"random-p{p}-learned"]["holds"] == all(v["near_opt"] for v in m.values())
        assert set(m) == set(rd.ARCHS)
    m = claims["zero-deep-p1-fails"]["measured"]
    assert claims["zero-deep-p1-fails"]["holds"] in (None, all(abs(v["p1"]["max"] - 1 / 6) <= m["tolerance"] and
                                                              abs(v["p1"]["min"] - 1 / 6) <= m["tolerance"]
                                                              for k, v in m.items() if k != "tolerance"))
    out = tmp_path / "rev-depth"
    q = json.loads((out / "questions.json").read_text())
    assert [x["reviewer"] for x in q] == ["5AGb", "yFLc"] and all(set(x["claims"]) <= set(ids) for x in q)
    diff = json.loads((out / "differences.json").read_text())
    assert {d["claims"][0] for d in diff} <= {k for k, c in claims.items() if c["holds"] is False}
    assert all((out / f).exists() for f in (rd.ACC_FIG, rd.ATT_FIG, rd.FULL_FIG))
    # built to fail: the no-residual "zero init" models start from a random init (the other runs reused)
    bad_v = {k: (o | GAUSS if k.startswith("zero-L2H1-nores") else o) for k, o in rd.VARIANTS.items()}
    bad = _reduced(bad_v, small)
    shutil.copytree(out / "runs", tmp_path / "bad" / "rev-depth" / "runs",
                    ignore=lambda d, names: [n for n in names if n.startswith("zero-L2H1-nores")])
    out2 = {c["id"]: c for c in run_all([bad], tmp_path / "bad", workers=1, quiet=True)["rev-depth"]}
    assert out2["zero-nores-frozen"]["holds"] is False
    assert out2["zero-nores-frozen"]["measured"]["zero-L2H1-nores-p0.5"] > 0
