"""The Python API (walkformer.configure / train / load), the routing of a config to the
reference transformer or an acceleration (paths.py), and the reference training loop
(loop.py): its numbers equal the Shi & Cao acceleration's; init.from. (task.lag: test_chain.py.)"""

import json
import subprocess
import sys

import pytest
import torch

import walkformer as wf
from walkformer.config import ConfigError
from walkformer.paths import acceleration

SMALL = {"task.K": 4, "task.N": 9, "model.M": 16, "eval.n_test": 200, "train.n_train": 200}


def test_routing_names_the_implementation():
    assert acceleration(wf.configure({})) == "shi-cao"
    assert acceleration(wf.configure({"model.name": "gpt", "task.name": "binary"})) == "gpt"
    assert acceleration(wf.configure({"model.name": "canonical", "task.name": "binary"})) == "canonical"
    for variant in ({"model.layers": 2}, {"model.heads": 2}, {"model.attention": "split"},
                    {"model.scale": "sqrt"}, {"model.residual": True}, {"train.path": "reference"},
                    {"task.name": "chain", "task.graph": "circle"}):
        assert acceleration(wf.configure(variant)) is None, variant
    assert acceleration(wf.configure({"model.name": "gpt", "task.name": "binary", "model.pos": "rope"})) is None


@pytest.mark.parametrize("extra", [{}, {"init.scheme": "gaussian", "init.sigma": 0.05, "model.pos": "onehot"}])
def test_reference_loop_equals_the_shicao_acceleration(extra):
    """Same config, train.path=reference against the fast path: every logged metric to 1e-9."""
    base = SMALL | {"train.steps": 30, "train.eta": 2.0} | extra
    fast = wf.train(base)
    ref = wf.train(base | {"train.path": "reference"})
    assert acceleration(fast.cfg) == "shi-cao" and acceleration(ref.cfg) is None
    assert len(fast.metrics) == len(ref.metrics) == 31
    moved = 0.0
    for a, b in zip(fast.metrics, ref.metrics):
        for k in ("train_loss", "test_accuracy", "parent_attention", "kl", "value_cosine"):
            assert b[k] == pytest.approx(a[k], abs=1e-9, rel=1e-9), (a["step"], k)
        moved = max(moved, abs(b["parent_attention"] - ref.metrics[0]["parent_attention"]))
    assert moved > 1e-3  # it trained: the comparison is not of two initial points


def test_same_seed_same_numbers_and_load_round_trip(tmp_path):
    cfg = SMALL | {"model.attention": "split", "init.scheme": "gaussian", "init.sigma": 0.1, "train.steps": 20}
    a, b = wf.train(cfg), wf.train(cfg)
    assert a.metrics == b.metrics
    a.save(tmp_path / "r")
    back = wf.load(tmp_path / "r")
    x = a.test_tokens()[:5]
    assert torch.equal(back.attention(x), a.attention(x))
    assert back.summary == json.loads((tmp_path / "r" / "summary.json").read_text())
    pat = a.attention(x)  # (L, B, H, Nq, Nk)
    assert pat.shape[:3] == (1, 5, 1) and torch.allclose(pat.sum(-1)[..., -1], torch.ones(1, 5, 1, dtype=pat.dtype))


def test_accelerated_runs_answer_attention_through_the_reference():
    run = wf.train(SMALL | {"train.steps": 10, "init.scheme": "gaussian", "init.sigma": 0.2})
    x = run.test_tokens()
    row = run.attention(x)[0, :, 0, -1, :].mean(0)  # (N,) mean attention of the prediction slot
    assert row.tolist() == pytest.approx(run.metrics[-1]["attention"], abs=1e-12)
    assert run.V.shape == (4, 4) and torch.allclose(run.V, run.model.V)


def test_init_from_continues_a_run(tmp_path):
    first = wf.train(SMALL | {"train.steps": 15})
    first.save(tmp_path / "pre")
    more = wf.train(SMALL | {"train.steps": 5, "init.from": str(tmp_path / "pre")})
    assert more.metrics[0]["test_accuracy"] == first.metrics[-1]["test_accuracy"]
    assert more.metrics[0]["parent_attention"] == pytest.approx(first.metrics[-1]["parent_attention"], abs=1e-12)


def test_init_from_with_other_shapes_is_one_line_and_writes_nothing(tmp_path):
    wf.train(SMALL | {"train.steps": 2}).save(tmp_path / "pre")
    with pytest.raises(ConfigError, match="init.from"):
        wf.train(SMALL | {"task.K": 5, "init.from": str(tmp_path / "pre")})
    out = tmp_path / "new"
    cmd = [sys.executable, "-m", "walkformer.cli", "train", "--out", str(out), "--quiet", "task.K=5",
           "task.N=9", "model.M=16", f"init.from={tmp_path / 'pre'}"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "init.from" in p.stderr
    assert not out.exists()


def test_the_gpt_family_on_a_circle_trains_through_the_reference():
    """gpt's defaults off the binary task (learned embeddings, softmax-ce, causal layout):
    no acceleration serves them, and the reference model learns the walk."""
    run = wf.train({"model.name": "gpt", "task.K": 5, "task.N": 12, "task.p": 0.9, "train.steps": 150,
                    "train.n_train": 300, "eval.n_test": 300, "train.lr": 0.05})
    assert acceleration(run.cfg) is None and run.cfg.model.loss == "softmax-ce"
    assert run.summary["status"] == "ok"
    assert run.summary["test_accuracy"] > 0.8 > run.metrics[0]["test_accuracy"]


def test_every_variant_command_in_the_readme_builds_its_model(tmp_path):
    """Each `key=value ...` span of the README's reviewers' table resolves and builds its
    model (init.from pointing at a real run directory of the default shapes)."""
    import re
    from pathlib import Path

    from walkformer.loop import build

    text = (Path(__file__).parents[1] / "README.md").read_text()
    table = text[text.index("| question (reviewer) |"):]
    table = table[: table.index("\n\n")]
    spans = [s for row in table.splitlines()[2:] for s in re.findall(r"`([^`]+)`", row.split("|")[2])]
    assert len(spans) >= 14
    wf.train({"train.steps": 0}).save(tmp_path / "pre", figures=False)
    for span in spans:
        over = [o.replace("runs/pre", str(tmp_path / "pre")).replace('"', "") for o in span.split()]
        cfg = wf.configure(over)
        task, model = build(cfg)
        assert model(two_test_inputs(cfg, task)).shape[0] == 2, span


def two_test_inputs(cfg, task):
    from walkformer.loop import Data

    return Data(cfg, task).test[0][:2]


def test_a_gpt_acceleration_run_loads_as_the_reference_with_the_same_logits(tmp_path):
    over = {"model.name": "gpt", "task.name": "binary", "task.N": 16, "train.steps": 5, "dtype": "float64",
            "eval.n_test": 8}
    run = wf.train(over)
    assert acceleration(run.cfg) == "gpt"
    run.save(tmp_path / "g", figures=False)
    back = wf.load(tmp_path / "g")
    x = run.test_tokens()
    assert x.shape == (8, 16) and back.attention(x).shape == (1, 8, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(back.model(x), run.model(x), atol=1e-12, rtol=0)


def test_the_dense_autograd_path_logs_the_same_metrics_every_time():
    """train.path=autograd: its (B, K) outputs are no views of (K, B) tensors, so the C metrics
    read copies; those copies must live through the call (they were freed before it)."""
    over = SMALL | {"train.steps": 5, "train.path": "autograd", "init.scheme": "gaussian", "init.sigma": 0.05}
    first = wf.train(over).metrics
    for _ in range(3):
        junk = [torch.randn(4, 200) for _ in range(50)]  # reuse freed memory, as a later allocation would
        assert wf.train(over).metrics == first
        del junk
    ref = wf.train(SMALL | {"train.steps": 5, "init.scheme": "gaussian", "init.sigma": 0.05}).metrics
    assert [m["kl"] for m in first] == pytest.approx([m["kl"] for m in ref], abs=1e-10)


def test_a_chain_population_too_large_is_refused_before_any_work():
    with pytest.raises(ConfigError, match=r"^train.data='population' is not allowed: at most \d+ paths"):
        wf.configure({"task.name": "chain", "task.graph": "complete", "task.N": 12, "train.data": "population"})
    cfg = wf.configure({"task.name": "chain", "task.K": 4, "task.N": 6, "train.data": "population"})
    assert cfg.train.data == "population"


def test_reference_kl_uses_the_runs_eps():
    """The logged KL of a reference run equals the Shi & Cao acceleration's at any train.eps
    (both normalise q = (f⁺ + ε)/Σ with the loss's ε)."""
    base = SMALL | {"train.steps": 5, "train.eps": 0.01, "init.scheme": "gaussian", "init.sigma": 0.01}
    fast, ref = wf.train(base), wf.train(base | {"train.path": "reference"})
    assert [m["kl"] for m in ref.metrics] == pytest.approx([m["kl"] for m in fast.metrics], abs=1e-10)
