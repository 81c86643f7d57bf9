"""Binary Markov chains: the sampler, the closed-form losses, the gpt model, optimisers, CLI."""

import json
import math

import numpy as np
import pytest
import torch

from walkformer.cli import main
from walkformer.config import Config, apply_overrides, resolve
from walkformer.models.gpt import GPT, energy_share, init_gpt
from walkformer.optim import one_cycle
from walkformer.tasks.binary import BinaryChain, binary_entropy

CHI2_99_9 = {1: 10.83, 2: 13.82}  # chi-square quantiles at 0.999 (df 1, 2)


def chi2(counts, probs):
    counts, probs = np.asarray(counts, float), np.asarray(probs, float)
    expected = counts.sum() * probs
    return float(((counts - expected) ** 2 / expected).sum())


@pytest.mark.parametrize("p,q", [(0.5, 0.8), (0.2, 0.3), (0.9, 0.05)])
def test_sampler_transitions_and_first_symbol(p, q, gen):
    task = BinaryChain(p, q, 64)
    s = task.sample_states(4000, gen).numpy()  # (4000, 65)
    assert s.shape == (4000, 65) and set(np.unique(s)) <= {0, 1}
    # first symbol ~ π (one chi-square, df 1)
    first = np.bincount(s[:, 0], minlength=2)
    assert chi2(first, [q / (p + q), p / (p + q)]) < CHI2_99_9[1]
    # transitions from each state ~ the row of P (df 1 each)
    prev, nxt = s[:, :-1].ravel(), s[:, 1:].ravel()
    for a, row in ((0, [1 - p, p]), (1, [q, 1 - q])):
        assert chi2(np.bincount(nxt[prev == a], minlength=2), row) < CHI2_99_9[1]
    # stationarity: the marginal at a late position is still π
    assert chi2(np.bincount(s[:, -1], minlength=2), [q / (p + q), p / (p + q)]) < CHI2_99_9[1]


def test_sampler_would_catch_a_wrong_law(gen):
    """The chi-square above has power: the law of (0.5, 0.8) fails the test for (0.5, 0.7)."""
    s = BinaryChain(0.5, 0.8, 64).sample_states(4000, gen).numpy()
    prev, nxt = s[:, :-1].ravel(), s[:, 1:].ravel()
    assert chi2(np.bincount(nxt[prev == 1], minlength=2), [0.7, 0.3]) > CHI2_99_9[1]


def test_sampler_edge_cases_and_determinism():
    g = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    alt = BinaryChain(1.0, 1.0, 50).sample_states(10, g())  # deterministic alternation
    assert (alt[:, 1:] != alt[:, :-1]).all()
    stuck = BinaryChain(0.0, 0.4, 50).sample_states(200, g())  # 0 absorbing; π = (1, 0)
    assert (stuck == 0).all()
    a, b = BinaryChain(0.3, 0.6, 100), BinaryChain(0.3, 0.6, 100)
    assert torch.equal(a.sample_states(16, g()), b.sample_states(16, g()))


def test_next_token_pairs_are_shifted(gen):
    x, y = BinaryChain(0.5, 0.8, 32).sample_next_token(8, gen)
    assert x.shape == y.shape == (8, 32) and torch.equal(x[:, 1:], y[:, :-1])


@pytest.mark.parametrize("p,q", [(0.5, 0.8), (0.2, 0.3), (0.7, 0.9)])
def test_closed_form_losses_match_monte_carlo(p, q, gen):
    """H(π) and the entropy rate vs Monte-Carlo BCE of the constant-π₁ and Bayes predictors
    on 2000 × 256 sampled tokens; tolerance 5 standard errors (of sequence means)."""
    task = BinaryChain(p, q, 256)
    x, y = task.sample_next_token(2000, gen)
    y = y.double()
    pi1 = torch.full_like(y, task.pi1)
    bayes = task.prob_one(x)
    for pred, exact in ((pi1, task.unigram_loss), (bayes, task.bigram_loss)):
        per_seq = -(y * pred.log() + (1 - y) * (1 - pred).log()).mean(1)  # (2000,)
        se = float(per_seq.std()) / math.sqrt(len(per_seq))
        assert abs(float(per_seq.mean()) - exact) < 5 * se, (exact, float(per_seq.mean()), se)
    assert task.unigram_loss == pytest.approx(0.6663, abs=1e-4) if (p, q) == (0.5, 0.8) else True


def test_reference_values_from_the_papers():
    assert BinaryChain(0.5, 0.8, 8).unigram_loss == pytest.approx(0.6663, abs=5e-5)
    assert BinaryChain(0.5, 0.8, 8).bigram_loss == pytest.approx(0.6190, abs=5e-5)
    assert BinaryChain(0.2, 0.3, 8).bigram_loss == pytest.approx(0.5446, abs=5e-5)
    assert binary_entropy(0.5) == pytest.approx(math.log(2))
    # at p + q = 1 the chain is i.i.d.: unigram = bigram
    t = BinaryChain(0.3, 0.7, 8)
    assert t.unigram_loss == pytest.approx(t.bigram_loss, abs=1e-15)


# ---- the gpt model -------------------------------------------------------------------------
def test_gpt_shapes_and_hook_names():
    m = GPT(d=8, N=16, layers=2, heads=2, tie=False, layernorm=True)
    init_gpt(m, "standard", 1.0, torch.Generator().manual_seed(0))
    x = torch.randint(0, 2, (3, 16))
    logits, cache = m.run_with_cache(x)
    assert logits.shape == (3, 16)
    shapes = {
        "hook_embed": (3, 16, 8), "hook_pos_embed": (16, 8),
        "blocks.0.hook_resid_pre": (3, 16, 8), "blocks.1.hook_resid_post": (3, 16, 8),
        "blocks.0.attn.hook_q": (3, 16, 2, 4), "blocks.0.attn.hook_z": (3, 16, 2, 4),
        "blocks.0.attn.hook_attn_scores": (3, 2, 16, 16), "blocks.0.attn.hook_pattern": (3, 2, 16, 16),
        "blocks.0.hook_attn_out": (3, 16, 8), "blocks.0.mlp.hook_pre": (3, 16, 32),
        "blocks.0.mlp.hook_post": (3, 16, 32), "blocks.0.hook_mlp_out": (3, 16, 8), "hook_logits": (3, 16),
    }
    for name, shape in shapes.items():
        assert tuple(cache[name].shape) == shape, name
    pat = cache["blocks.0.attn.hook_pattern"]
    assert torch.allclose(pat.sum(-1), torch.ones(3, 2, 16)) and (pat.triu(1) == 0).all()  # causal rows
    params = {k: tuple(v.shape) for k, v in m.tensors().items()}
    assert params["embed.W_E"] == (8,) and params["pos_embed.W_pos"] == (16, 8)
    assert params["blocks.0.attn.W_Q"] == (2, 8, 4) and params["blocks.0.attn.W_O"] == (2, 4, 8)
    assert params["blocks.0.mlp.W_in"] == (8, 32) and params["blocks.0.mlp.W_out"] == (32, 8)
    assert params["unembed.W_U"] == (8,) and params["unembed.b_U"] == () and "blocks.1.ln2.w" in params


def test_fused_attention_equals_explicit_pattern_and_is_causal():
    m = GPT(d=8, N=20, layers=1, heads=1).double()
    init_gpt(m, "standard", 1.0, torch.Generator().manual_seed(1))
    x = torch.randint(0, 2, (4, 20), generator=torch.Generator().manual_seed(2))
    fused = m(x)
    explicit, _ = m.run_with_cache(x, ["blocks.0.attn.hook_pattern"])
    assert torch.allclose(fused, explicit, atol=1e-12)
    x2 = x.clone()
    x2[:, 10:] = 1 - x2[:, 10:]  # changing the future must not change earlier outputs
    assert torch.equal(m(x2)[:, :10], fused[:, :10])


def test_tied_model_has_no_separate_output_vector():
    m = GPT(d=4, N=8, tie=True)
    assert "unembed.W_U" not in dict(m.named_parameters()) and m.W_U is m.embed.W_E


def test_inits():
    g = torch.Generator().manual_seed(3)
    m = GPT(d=8, N=32, layers=1)
    init_gpt(m, "standard", 1.0, g)
    assert 0.01 < float(m.blocks[0].attn.W_Q.detach().std()) < 0.03
    init_gpt(m, "anti-aligned", 0.7, g)
    assert (m.blocks[0].mlp.W_in == 0.7).all() and (m.blocks[0].mlp.W_out == -0.7).all()
    init_gpt(m, "rank-one", 1.0, g)
    mats = m.matrices()
    for k in ("W_V.0", "W_1.0", "W_pos"):
        assert energy_share(mats[k]) == pytest.approx(1.0, abs=1e-6), k
    assert energy_share(torch.eye(4)) == pytest.approx(0.25)


def test_one_cycle_matches_torch():
    for total in (500, 37):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2e-3)
        sch = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=total, pct_start=0.02,
                                                  anneal_strategy="cos", cycle_momentum=False, div_factor=100,
                                                  final_div_factor=0.05)
        for t in range(total):
            assert one_cycle(t, total, 2e-3) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9), (total, t)
            opt.step()
            sch.step()
    assert one_cycle(499, 500, 2e-3) == pytest.approx(4e-4)


def _cfg(**over):
    over = {"task.name": "binary", "model.name": "gpt"} | over
    return resolve(apply_overrides(Config(), over), set(over))


def test_tied_one_layer_gpt_reaches_bigram_at_02_03():
    """AwM: for p + q < 1 the tied single-layer model learns the bigram (0.5446)."""
    from walkformer.loop import run

    r = run(_cfg(**{"task.p": 0.2, "task.q": 0.3, "task.N": 64, "train.steps": 250, "eval.every": 50}))
    s = r.summary
    assert s["status"] == "ok" and s["test_loss"] <= s["bigram_loss"] + 0.01, s
    assert abs(s["p_hat"] - 0.2) < 0.03


def test_gpt_training_is_deterministic():
    from walkformer.loop import run

    c = _cfg(**{"task.N": 16, "train.steps": 5, "eval.every": 5, "seed": 4})
    a, b = run(c).summary, run(c).summary
    assert a["test_loss"] == b["test_loss"] and a["train_loss"] == b["train_loss"]


# ---- CLI ----------------------------------------------------------------------------------
BIN = ["task.name=binary", "model.name=gpt"]
BAD = [
    (BIN + ["task.q=1.5"], "task.q"), (BIN + ["task.p=-0.1"], "task.p"), (BIN + ["task.p=0", "task.q=0"], "task.q"),
    (BIN + ["model.d=0"], "model.d"), (BIN + ["model.layers=0"], "model.layers"),
    (BIN + ["model.heads=3"], "model.heads"),
    (["task.name=binary"], "model.name"),
    (BIN + ["train.optimizer=adam"], "train.optimizer"), (BIN + ["train.lr=0"], "train.lr"),
    (BIN + ["train.batch=0"], "train.batch"), (BIN + ["task.K=3"], "task.K"),
    (["task.name=binary", "model.name=canonical", "init.scheme=rank-one"], "init.scheme"),
]


@pytest.mark.parametrize("args,needle", BAD)
def test_bad_binary_input_one_line(tmp_path, capsys, args, needle):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err and "Traceback" not in err
    assert not out.exists()


def test_cli_train_gpt_writes_summary(tmp_path):
    out = tmp_path / "run"
    assert main(["train", "--out", str(out), "--quiet", *BIN, "task.N=16", "train.steps=3", "eval.every=1"]) == 0
    s = json.loads((out / "summary.json").read_text())
    for k in ("test_loss", "unigram_loss", "bigram_loss", "train_loss", "steps", "seconds", "ms_per_step", "status"):
        assert k in s
    assert s["steps"] == 3 and s["unigram_loss"] == pytest.approx(0.66628, abs=1e-4)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["task"]["N"] == 16 and cfg["train"]["optimizer"] == "adamw" and "model.name=gpt" in cfg["command"]
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [0, 1, 2, 3] and len(lines[-1]["p_hat_by_position"]) == 16


def test_cli_train_canonical_is_wired(tmp_path):
    """model.name=canonical runs models/canonical.py's exact training from init.scheme's point."""
    out = tmp_path / "run"
    args = ["task.name=binary", "model.name=canonical", "init.scheme=anti-aligned", "train.steps=300"]
    assert main(["train", "--out", str(out), "--quiet", *args]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert (s["e0"], s["w0"]) == (1.0, -1.0) and s["steps"] == 300
    assert s["test_loss"] <= s["bigram_loss"] + 1e-3  # (1, -1) lies in the global basin at (0.5, 0.8)
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert {"e", "w", "b", "test_loss"} <= set(lines[-1])


def test_recorded_command_reproduces_the_config():
    """A key set to the base default (train.steps=50) must survive model.name's implied defaults."""
    import shlex

    from walkformer.runs.rundir import command_for

    cfg = _cfg(**{"train.steps": 50, "task.N": 16})
    over = [a for a in shlex.split(command_for(cfg, "x")) if "=" in a]
    again = resolve(apply_overrides(Config(), over), {o.split("=", 1)[0] for o in over})
    assert again == cfg and again.train.steps == 50


def test_adamw_decays_only_the_weight_matrices():
    """With zero gradients an AdamW step is pure weight decay: W ← W (1 − lr·wd) on W_Q..W_out,
    W_U; embeddings, positions and b unchanged."""
    from walkformer.optim import WEIGHT_DECAY, Optimizer

    m = GPT(d=4, N=8, tie=False).double()
    init_gpt(m, "standard", 1.0, torch.Generator().manual_seed(5))
    before = {k: v.detach().clone() for k, v in m.named_parameters()}
    opt = Optimizer(m, "adamw", 0.1, total=10)
    for p in m.parameters():
        p.grad = torch.zeros_like(p)
    lr = opt.lr_at(0)
    opt.step(0)
    for k, v in m.named_parameters():
        decayed = k.endswith(("W_Q", "W_K", "W_V", "W_O", "W_in", "W_out", "W_U"))
        want = before[k] * (1 - lr * WEIGHT_DECAY) if decayed else before[k]
        assert torch.allclose(v, want, rtol=0, atol=1e-15), k
