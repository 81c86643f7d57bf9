"""The reference transformer (models/transformer.py): the paper's configuration equals the
Shi & Cao fast path and the dense model, the gpt configuration equals models/gpt.GPT, and
the reviewers' answers (split attention from zero, residual in the slot layout) hold."""

import pytest
import torch

from walkformer.models import gpt as gpt_mod
from walkformer.models.dense import DenseShiCao
from walkformer.models.shicao import Batch, Geometry, ShiCao, init_params
from walkformer.models.stream import Factorised
from walkformer.models.initial import init_transformer
from walkformer.models.transformer import Transformer, TransformerSpec, spec_from_config
from walkformer.tasks import circle_walk

K, N, M, B = 5, 9, 12, 60


def data(gen, B=B):
    return Batch(*circle_walk(K, N, 0.5).sample(B, gen), None, K, torch.float64)


def gd(model, b, eta=1.0, eps=0.1):
    """One full-batch GD step θ ← θ − η∇L; returns the loss before it."""
    model.zero_grad(set_to_none=True)
    loss = model.loss(model(b.tokens), b.y, b.w, eps)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(p.grad, alpha=-eta)
    return float(loss.detach())


def paper_model(prm, **kw):
    """The paper's configuration with the parameters of models.shicao.init_params."""
    sp = TransformerSpec(K=K, N=N, M=M, m=4, **kw)
    model = Transformer(sp)
    W0 = prm.get("W0", torch.zeros(sp.D, sp.D, dtype=torch.float64))
    model.load_tensors({"blocks.0.attn.W": W0[None], "head.V": prm["V"][None]} | ({"head.A": prm["A"]} if "A" in prm else {}))
    return model


@pytest.mark.parametrize("backend", ["auto", "torch"])
@pytest.mark.parametrize("scheme", ["zero", "gaussian"])
@pytest.mark.parametrize("head", ["linear", "relu"])
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("pos", ["sin", "onehot", "none"])
def test_paper_configuration_equals_the_fast_path_and_the_dense_model(pos, normalize, head, scheme, backend, gen, monkeypatch):
    """Loss, gradients (W's densely) and 50 GD steps, to 1e-10 in float64."""
    monkeypatch.setenv("WALKFORMER_OPS", "auto" if backend == "auto" else "-shicao_step")
    b = data(gen)
    geo = Geometry(K, N, pos, M, normalize)
    prm = init_params(geo, scheme, 0.3, head, 4, gen)
    if scheme == "gaussian":  # f_y + ε > 0 at the start
        prm = {k: v.abs() for k, v in prm.items()}
    fast, dense, ref = ShiCao(geo, prm), DenseShiCao(geo, prm), paper_model(prm, pos=pos, normalize=normalize, head=head)
    W_start = ref.blocks[0].attn.W.detach().clone()
    for step in range(50):
        ref.zero_grad(set_to_none=True)
        loss = ref.loss(ref(b.tokens), b.y, b.w, 0.1)
        loss.backward()
        loss = float(loss.detach())
        (lf, gf), (ld, gdn) = fast.grads(b, 0.1), dense.grads(b, 0.1)
        assert abs(loss - lf) < 1e-10 and abs(loss - ld) < 1e-10, step
        gW = ref.blocks[0].attn.W.grad[0]
        assert (gW - fast.grad_W(gf)).abs().max() < 1e-10 and (gW - gdn["W"]).abs().max() < 1e-10, step
        assert (ref.head.V.grad[0] - gf["V"]).abs().max() < 1e-10 and (ref.head.V.grad[0] - gdn["V"]).abs().max() < 1e-10
        if head == "relu":
            assert (ref.head.A.grad - gf["A"]).abs().max() < 1e-10
        with torch.no_grad():
            for p in ref.parameters():
                p.add_(p.grad, alpha=-1.0)
        fast.step(gf, 1.0)
        dense.step(gdn, 1.0)
    with torch.no_grad():
        assert (ref.blocks[0].attn.W[0] - fast.W).abs().max() < 1e-10 and (ref.head.V[0] - dense.V).abs().max() < 1e-10
    moved = float((ref.blocks[0].attn.W.detach() - W_start).abs().max())
    # not vacuous; a zero ReLU head stays zero, and without positions the query x̃_N = 0 leaves W alone
    assert moved > 1e-6 or (head, scheme) == ("relu", "zero") or pos == "none"
    assert float(ref.head.V.detach().abs().max()) > 1e-3 or (head, scheme) == ("relu", "zero")


def test_gaussian_init_draws_what_init_params_draws():
    sp = TransformerSpec(K=K, N=N, M=M, head="relu", m=4)
    model = Transformer(sp)
    init_transformer(model, "gaussian", 0.1, 1.0, torch.Generator().manual_seed(5))
    prm = init_params(Geometry(K, N, "sin", M, False), "gaussian", 0.1, "relu", 4, torch.Generator().manual_seed(5))
    t = model.tensors()
    assert torch.equal(t["head.V"][0], prm["V"]) and torch.equal(t["blocks.0.attn.W"][0], prm["W0"])
    assert torch.equal(t["head.A"], prm["A"])


def test_split_attention_from_zero_stays_uniform(gen):
    """W_Q = W_K = 0: q = k = 0, so every gradient of W_Q and W_K is exactly zero and the
    pattern stays uniform over the visible slots (the authors' answer to a reviewer)."""
    b = data(gen)
    model = Transformer(TransformerSpec(K=K, N=N, M=M, attention="split", d_head=3, heads=2, layers=2, residual=True))
    init_transformer(model, "zero", 0.0, 1.0, gen)
    uniform = torch.tril(torch.ones(N, N, dtype=torch.float64)) / torch.arange(1, N + 1, dtype=torch.float64)[:, None]
    for _ in range(20):
        gd(model, b)
        for blk in model.blocks:
            assert torch.equal(blk.attn.W_Q.grad, torch.zeros_like(blk.attn.W_Q))
            assert torch.equal(blk.attn.W_K.grad, torch.zeros_like(blk.attn.W_K))
        assert (model.patterns(b.tokens) - uniform).abs().max() < 1e-15
    assert model.head.V.abs().max() > 0.01  # something was learned


def test_residual_trains_bit_identically_in_the_paper_configuration(gen):
    """The query slot's token block is zero, so the residual adds exact zeros."""
    b = data(gen)
    prm = {k: v.abs() for k, v in init_params(Geometry(K, N, "sin", M, False), "gaussian", 0.3, "linear", 4, gen).items()}
    a, r = paper_model(prm), paper_model(prm, residual=True)
    for _ in range(20):
        assert gd(a, b) == gd(r, b)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), r.parameters()))


def test_hook_pattern_changes_nothing_and_patterns_are_what_it_sees(gen):
    b = data(gen)
    sp = TransformerSpec(K=K, N=N, M=M, attention="split", d_head=20, heads=2, layers=2, residual=True, mlp="relu", bias=True)
    model = Transformer(sp)
    init_transformer(model, "gaussian", 0.3, 1.0, gen)
    f0 = model(b.tokens)
    seen = []
    handles = [blk.attn.hook_pattern.register_forward_hook(lambda m, i, o: seen.append(o.detach())) for blk in model.blocks]
    f1 = model(b.tokens)
    for h in handles:
        h.remove()
    assert torch.equal(f0, f1)
    pats = model.patterns(b.tokens)  # (L, B, H, N, N)
    assert pats.shape == (2, B, 2, N, N)
    assert torch.equal(pats[0], seen[0])
    assert torch.equal(pats[1][:, :, -1:], seen[1])  # the forward's last layer: the query slot only


@pytest.mark.parametrize("attention", ["merged", "split"])
def test_gram_path_equals_direct_reads(attention, gen, monkeypatch):
    """The (C, C) table of the factorised stream gives the scores of explicit q, k."""
    b = data(gen)
    sp = TransformerSpec(K=K, N=N, M=M, attention=attention, heads=2, layers=2, residual=True, mlp="relu", bias=True)
    model = Transformer(sp)
    init_transformer(model, "gaussian", 0.2, 1.0, gen)
    f = model(b.tokens)
    monkeypatch.setattr(Factorised, "factorised", False)  # every score through explicit q, k
    assert (f - model(b.tokens)).abs().max() < 1e-12 and f.abs().max() > 1e-3


def gpt_spec(layers, heads, tie, layernorm, n=12):
    return TransformerSpec(K=2, N=n, attention="split", scale="sqrt", residual=True, mlp="relu", embed="scalar", d=8,
                           pos="learned", layout="causal", head="unembed", loss="bce", every=True, layers=layers,
                           heads=heads, tie=tie, layernorm=layernorm)


@pytest.mark.parametrize("layernorm", [False, True])
@pytest.mark.parametrize("tie", [True, False])
@pytest.mark.parametrize("layers,heads", [(1, 1), (2, 2), (1, 2)])
def test_gpt_configuration_equals_gpt(layers, heads, tie, layernorm):
    g = gpt_mod.GPT(8, 12, layers, heads, tie, layernorm).double()
    gpt_mod.init_gpt(g, "standard", 1.0, torch.Generator().manual_seed(3))
    ref = Transformer(gpt_spec(layers, heads, tie, layernorm))
    init_transformer(ref, "standard", 0.0, 1.0, torch.Generator().manual_seed(3))
    assert ref.tensors().keys() == g.tensors().keys()
    assert all(torch.equal(ref.tensors()[k], v) for k, v in g.tensors().items())  # init_gpt's draws
    x = torch.randint(0, 2, (16, 12), generator=torch.Generator().manual_seed(4))
    y = torch.randint(0, 2, (16, 12), generator=torch.Generator().manual_seed(5))
    fg, fr = g(x), ref(x)
    assert (fg - fr).abs().max() < 1e-10
    lg = torch.nn.functional.binary_cross_entropy_with_logits(fg, y.double())
    lr = ref.loss(fr, y)
    assert abs(float(lg.detach()) - float(lr.detach())) < 1e-10
    lg.backward()
    lr.backward()
    gr = dict(ref.named_parameters())
    for k, p in g.named_parameters():
        assert (p.grad - gr[k].grad).abs().max() < 1e-10, k


def test_load_tensors_names_a_mismatch():
    model = Transformer(TransformerSpec(K=K, N=N, M=M))
    t = model.tensors()
    with pytest.raises(ValueError, match=r"parameter head.V has shape \(1, 4, 5\)"):
        model.load_tensors(t | {"head.V": torch.zeros(1, 4, 5, dtype=torch.float64)})
    with pytest.raises(ValueError, match="missing"):
        model.load_tensors({})


VARIANTS = [dict(), dict(attention="split", scale="sqrt"), dict(layers=2, heads=2, residual=True, mlp="relu"),
            dict(layernorm=True, layers=2, attention="split", residual=True),
            dict(embed="learned", pos="learned", head="unembed", loss="softmax-ce", layout="causal", attention="split"),
            dict(embed="learned", pos="sinusoidal", head="unembed", loss="softmax-ce", tie=False, bias=True),
            dict(pos="rope", attention="split", d_head=4, layers=2, residual=True),
            dict(pos="rope"), dict(head="relu", bias=True, layout="causal")]


@pytest.mark.parametrize("kw", VARIANTS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "paper")
def test_every_variant_trains(kw, gen):
    """Each variant runs, keeps shapes, and a few GD steps lower the loss."""
    b = data(gen)
    tokens = b.tokens
    model = Transformer(TransformerSpec(K=K, N=N, M=M, d=6, m=4, **kw))
    init_transformer(model, "gaussian", 0.1, 1.0, gen)
    if model.spec.loss == "log-eps":
        with torch.no_grad():
            for p in model.parameters():
                p.abs_()
    assert model(tokens).shape == (B, K)
    assert model.patterns(tokens).shape == (model.spec.layers, B, model.spec.heads, N - (model.spec.layout == "causal"),
                                            N - (model.spec.layout == "causal"))
    losses = [gd(model, b, eta=0.5) for _ in range(10)]
    assert losses[-1] < losses[0]


def test_spec_from_config_families():
    from walkformer.config import Config, apply_overrides, resolve

    sp = spec_from_config(resolve(Config()), 6, 97)
    assert (sp.attention, sp.pos, sp.layout, sp.loss, sp.M) == ("merged", "sin", "slot", "log-eps", 1000)
    sp = spec_from_config(resolve(apply_overrides(Config(), {"model.name": "gpt", "task.name": "binary"})), 2, 64)
    assert (sp.attention, sp.embed, sp.pos, sp.head, sp.loss, sp.every) == ("split", "scalar", "learned", "unembed", "bce", True)


def test_bad_spec_is_a_one_line_error():
    with pytest.raises(ValueError, match="model.attention='both'"):
        TransformerSpec(K=2, N=5, attention="both")
    with pytest.raises(ValueError, match=r"model.loss=bce: .* \(bce is for K = 2\)"):
        TransformerSpec(K=3, N=5, loss="bce", head="unembed")
    with pytest.raises(ValueError, match="every .* needs layout=causal"):
        TransformerSpec(K=2, N=5, every=True)


@pytest.mark.parametrize("scheme", ["anti-aligned", "rank-one"])
def test_binary_init_schemes_draw_what_init_gpt_draws(scheme):
    g = gpt_mod.GPT(8, 12, 2, 2).double()
    gpt_mod.init_gpt(g, scheme, 0.7, torch.Generator().manual_seed(9))
    ref = Transformer(gpt_spec(2, 2, True, False))
    init_transformer(ref, scheme, 0.0, 0.7, torch.Generator().manual_seed(9))
    assert all(torch.equal(ref.tensors()[k], v) for k, v in g.tensors().items())
    with pytest.raises(ValueError, match="init.scheme=rank-one needs the gpt structure"):
        init_transformer(Transformer(TransformerSpec(K=K, N=N, M=M)), "rank-one", 0.0, 1.0, torch.Generator())


def test_float32_follows_float64(gen):
    b = data(gen)
    models = [Transformer(TransformerSpec(K=K, N=N, M=M, attention="split", layers=2, heads=2, residual=True, dtype=dt))
              for dt in (torch.float64, torch.float32)]
    init_transformer(models[0], "gaussian", 0.3, 1.0, gen)
    models[1].load_tensors({k: v.float() for k, v in models[0].tensors().items()})
    f64, f32 = (m(b.tokens) for m in models)
    assert f32.dtype == torch.float32 and (f64 - f32.double()).abs().max() < 1e-5 and f64.abs().max() > 1e-2


def test_every_position_read_out_shapes(gen):
    sp = TransformerSpec(K=K, N=N, embed="learned", d=6, pos="learned", layout="causal", head="unembed",
                         loss="softmax-ce", every=True, attention="split", residual=True)
    model = Transformer(sp)
    init_transformer(model, "gaussian", 0.3, 1.0, gen)
    x = data(gen).tokens  # (B, N-1)
    f = model(x)
    assert f.shape == (B, N - 1, K)
    p = model.probs(f)
    assert torch.allclose(p.sum(-1), torch.ones(B, N - 1, dtype=torch.float64))
    assert model.loss(f, x).dim() == 0


def test_linear_head_at_every_position(gen):
    """The paper's read-out at every token of a causal layout: each row is the
    prediction of the model cut at that token."""
    b = data(gen)
    sp = TransformerSpec(K=K, N=N, M=M, layout="causal", every=True)
    model = Transformer(sp)
    init_transformer(model, "gaussian", 0.3, 1.0, gen)
    f = model(b.tokens)  # (B, N-1, K)
    last = Transformer(TransformerSpec(K=K, N=N, M=M, layout="causal"))
    last.load_tensors(model.tensors())
    assert f.shape == (B, N - 1, K) and (f[:, -1] - last(b.tokens)).abs().max() < 1e-12
    assert (f[:, 3] - last(b.tokens[:, :4])).abs().max() < 1e-12


def test_squared_loss():
    """model.loss=squared: Σ_b w_b ‖f_b − e_{y_b}‖² (uniform w here), and a run trains with it."""
    from walkformer.config import Config, apply_overrides, resolve
    from walkformer.loop import run

    model = Transformer(TransformerSpec(K=4, N=6, M=8, loss="squared"))
    f = torch.tensor([[0.5, 0.2, 0.0, 0.3], [1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    assert float(model.loss(f, torch.tensor([0, 2]))) == pytest.approx((0.38 + 2.0) / 2, abs=1e-12)
    over = {"model.loss": "squared", "task.K": 5, "task.N": 9, "model.M": 12, "train.steps": 10, "task.p": 0.7,
            "train.n_train": 100, "eval.n_test": 100}
    res = run(resolve(apply_overrides(Config(), over), set(over)))
    assert res.summary["status"] == "ok" and res.metrics[-1]["train_loss"] < res.metrics[0]["train_loss"]
