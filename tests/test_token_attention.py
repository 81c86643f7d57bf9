"""token_attention (ops/token_attention.py), the first layer's attention on (2, N) query
key and value tables, equals the explicit masked softmax on the gathered q, k and v, forward and
gradients (dQ, dK, dV summed per token as the gather's backward does); rows whose stabiliser
is too loose take the exact path and stay exact; the gpt model gives the same logits and
gradients with it as without, and skips it when a hook could edit layer 1's input."""

import math

import pytest
import torch

from walkformer.ops import token_attention as ta
from walkformer.ops.causal_attention import causal_attention
from walkformer.models.gpt import GPT, init_gpt

TOL = {torch.float64: 1e-12, torch.float32: 2e-5}  # as tests/test_attention.py, relative to the largest entry (or 1)

pytestmark = pytest.mark.skipif(ta.library() is None, reason="no C compiler: the token kernel cannot be built here")


def gather(T, x):
    """T (H, 2, N, dh) tables -> (B, H, N, dh): row n of sequence b is T[:, x[b, n], n]."""
    return T[:, x, torch.arange(x.shape[1])].transpose(0, 1)


def explicit(Q, K, V, x):
    """q_n = Q[:, x_n, n], k_i = K[:, x_i, i], v_i = V[:, x_i, i]; softmax(q kᵀ/√dh, causal) v."""
    N = V.shape[-2]
    q, k, v = gather(Q, x), gather(K, x), gather(V, x)  # (B, H, N, dh)
    s = q @ k.transpose(-1, -2) / math.sqrt(v.shape[-1])
    s = s.masked_fill(torch.ones(N, N, dtype=torch.bool).triu(1), -math.inf)
    return s.softmax(-1) @ v


def outputs_and_grads(fn, Q, K, V, x, w):
    Q, K, V = (t.clone().requires_grad_(True) for t in (Q, K, V))
    o = fn(Q, K, V, x)
    return [o.detach(), *torch.autograd.grad((o * w).sum(), (Q, K, V))]


def close(got, ref, dtype):
    for name, a, b in zip(("o", "dQ", "dK", "dV"), got, ref):
        assert a.dtype == dtype and a.shape == b.shape
        err = float((a.double() - b).abs().max()) / max(float(b.abs().max()), 1.0)  # N = 1: dQ = dK = 0
        assert err <= TOL[dtype], (name, err)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", [(3, 1, 37, 8), (2, 2, 70, 4), (4, 1, 21, 3), (2, 1, 1, 8), (2, 2, 40, 16),
                                   (5, 1, 33, 1)])
@pytest.mark.parametrize("shifted", [False, True])
def test_equals_explicit_softmax_on_the_gathered_tables(dtype, shape, shifted):
    """shifted: K[:, 1] = K[:, 0] + kd and the kernel told so (its half-the-exps path)."""
    B, H, N, dh = shape
    g = torch.Generator().manual_seed(sum(shape))
    Q, K = (torch.randn(H, 2, N, dh, generator=g, dtype=torch.float64) * 2 for _ in range(2))  # peaked and flat rows
    kd = torch.randn(H, dh, generator=g, dtype=torch.float64) * 2
    if shifted:
        K[:, 1] = K[:, 0] + kd[:, None]
    v = torch.randn(H, 2, N, dh, generator=g, dtype=torch.float64)
    w = torch.randn(B, H, N, dh, generator=g, dtype=torch.float64)
    x = torch.randint(0, 2, (B, N), generator=g)
    x[0] = 1  # a sequence with one token only (c_0 = 0)
    fn = lambda Q, K, V, x: ta.token_attention(Q, K, V, x, kd.to(dtype) if shifted else None)  # noqa: E731
    got = outputs_and_grads(fn, *(t.to(dtype) for t in (Q, K, v)), x, w.to(dtype))
    close(got, outputs_and_grads(explicit, Q, K, v, x, w), dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shifted", [False, True])
def test_loose_stabiliser_rows_are_recomputed_exactly(dtype, shifted):
    """Four tables: key 0 scores 60 with token 1 but ~0 with token 0, so in sequences where
    x_0 = 0 the shared maximum M^{a1} = 60 is far above the row's true one and the fast
    weights would lose everything to underflow. Shifted (K^1 = K^0 + kd, s^{a1} = s^{a0} + 30):
    key 0 scores 60 with token 0, so M^{a1} = 90 while a sequence with x_0 = 0 and only small
    token-1 scores has a true maximum of 60. Those rows are flagged exact and still match."""
    B, H, N, dh = 4, 1, 50, 8
    g = torch.Generator().manual_seed(3)
    Q = torch.zeros(H, 2, N, dh, dtype=torch.float64)
    Q[..., 0] = 1.0
    K = torch.randn(H, 2, N, dh, generator=g, dtype=torch.float64) * 0.1
    kd = torch.zeros(H, dh, dtype=torch.float64)
    if shifted:
        K[:, 0, 0, 0] = 60 * math.sqrt(dh)  # s^{a0}_{n,0} = 60
        kd[:, 0] = 30 * math.sqrt(dh)
        K[:, 1] = K[:, 0] + kd[:, None]
    else:
        K[:, 1, 0, 0] = 60 * math.sqrt(dh)  # s^{a1}_{n,0} = 60
    v = torch.randn(H, 2, N, dh, generator=g, dtype=torch.float64)
    w = torch.randn(B, H, N, dh, generator=g, dtype=torch.float64)
    x = torch.randint(0, 2, (B, N), generator=g)
    x[:, 0] = torch.tensor([0, 0, 1, 1])
    x[:, 1:4] = 1  # token 1 present: M^{a1} is in play
    args = (Q.to(dtype), K.to(dtype), v.to(dtype), x.to(torch.int32))
    o = torch.empty(B, H, N, dh, dtype=dtype)
    R = torch.empty(B, H, N, 4, dtype=dtype)
    lib, suf = ta.library(), "f32" if dtype == torch.float32 else "f64"
    kdt = kd.to(dtype) if shifted else None
    ptrs = map(ta._ptr, (*args[:3], kdt, args[3], o, R, None))  # no saved tiles
    assert getattr(lib, "tok_fwd_" + suf)(1, B, H, N, dh, 1 / math.sqrt(dh), *ptrs) == 0
    exact = R[..., 3] != 0  # (B, H, N)
    assert exact[:2, :, 1:].all() and not exact[:, :, 0].any() and not exact[2:].any()  # x_0 = 0, n ≥ 1 only
    got = outputs_and_grads(lambda *a: ta.token_attention(*a, kdt), *args[:3], x, w.to(dtype))
    ref = outputs_and_grads(explicit, Q, K, v, x, w)
    if dtype == torch.float64:
        close(got, ref, dtype)
    else:  # scores of 60-90 in float32 put dQ ~2e-4 off float64 in every kernel: no worse than the causal one
        gathered = lambda Q, K, V, x: causal_attention(gather(Q, x), gather(K, x), gather(V, x))  # noqa: E731
        base = outputs_and_grads(gathered, *args[:3], x, w.to(dtype))
        for name, a, c, b in zip(("o", "dQ", "dK", "dV"), got, base, ref):
            err, err_c = (float((t.double() - b).abs().max()) / max(float(b.abs().max()), 1.0) for t in (a, c))
            assert err <= 2 * err_c + TOL[dtype], (name, err, err_c)


def test_deterministic_and_one_backward_only():
    g = torch.Generator().manual_seed(0)
    Q, K, V = (torch.randn(1, 2, 64, 8, generator=g) for _ in range(3))
    w = torch.randn(3, 1, 64, 8, generator=g)
    x = torch.randint(0, 2, (3, 64), generator=g)
    a = outputs_and_grads(ta.token_attention, Q, K, V, x, w)
    b = outputs_and_grads(ta.token_attention, Q, K, V, x, w)
    assert all(torch.equal(s, t) for s, t in zip(a, b))
    Q.requires_grad_(True)
    o = ta.token_attention(Q, K, V, x).sum()
    o.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second backward"):
        o.backward()


def run(model, x, monkeypatch, backend):
    monkeypatch.setenv("WALKFORMER_OPS", "auto" if backend == "auto" else "-token_attention")
    model.zero_grad()
    y = model(x)
    y.sin().sum().backward()
    return [y.detach()] + [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("layers,heads,layernorm", [(1, 1, False), (2, 2, True)])
def test_gpt_same_with_and_without_token_attention(monkeypatch, layers, heads, layernorm):
    g = torch.Generator().manual_seed(1)
    model = GPT(8, 90, layers, heads, tie=False, layernorm=layernorm).double()
    init_gpt(model, "standard", 1.0, g)
    x = torch.randint(0, 2, (4, 90), generator=g)
    calls = []
    monkeypatch.setattr(ta, "token_attention", lambda *a, f=ta.token_attention: calls.append(1) or f(*a))
    got = run(model, x, monkeypatch, "auto")
    assert calls == [1]  # layer 1 only
    ref = run(model, x, monkeypatch, "off")
    for a, b in zip(got, ref):
        assert float((a - b).abs().max()) <= 1e-12 * max(1.0, float(b.abs().max()))


def test_gpt_hook_on_the_embedding_bypasses_token_attention(monkeypatch):
    """A hook that edits the embedding changes layer 1's input: the tables would not see it."""
    g = torch.Generator().manual_seed(2)
    model = GPT(8, 40, 1, 1).double()
    init_gpt(model, "standard", 1.0, g)
    x = torch.randint(0, 2, (3, 40), generator=g)
    with model.hooks({"hook_embed": lambda t: t * 3}):
        got = run(model, x, monkeypatch, "auto")
        ref = run(model, x, monkeypatch, "off")
    assert all(torch.equal(a, b) for a, b in zip(got, ref))
    plain = run(model, x, monkeypatch, "auto")
    assert not torch.allclose(plain[0], got[0])
