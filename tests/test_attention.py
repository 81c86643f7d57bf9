"""causal_attention (ops/causal_attention.py) equals the explicit masked softmax,
forward and gradients, in float32 and float64, for each backend; same inputs, same bits."""

import math

import pytest
import torch
import torch.nn.functional as F

from walkformer import ops
from walkformer.ops import causal_attention as ca
from walkformer.models.gpt import GPT, init_gpt

# max |difference| allowed, relative to the largest reference entry (outputs and gradients
# are O(1) here): float64 round-off is ~1e-16 per operation; float32 ~1e-7 (the C kernel's
# exp is accurate to ~2e-7)
TOL = {torch.float64: 1e-12, torch.float32: 2e-5}
BACKENDS = ["c", "sdpa"]  # the acceleration, and torch's fused kernel it replaces (WALKFORMER_OPS=reference)


def explicit(q, k, v):
    """softmax(q kᵀ/√dh with −∞ above the diagonal) v, written out."""
    N = q.shape[-2]
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (..., N, N)
    s = s.masked_fill(torch.ones(N, N, dtype=torch.bool).triu(1), -math.inf)
    return s.softmax(-1) @ v


@pytest.fixture
def backend(request, monkeypatch):
    if request.param == "c" and ca.library() is None:
        pytest.skip("no C compiler: the C kernel cannot be built here")
    monkeypatch.setenv("WALKFORMER_OPS", "auto" if request.param == "c" else "-causal_attention")
    return request.param


def outputs_and_grads(fn, q, k, v, w):
    q, k, v = (t.clone().requires_grad_(True) for t in (q, k, v))
    o = fn(q, k, v)
    return [o.detach(), *torch.autograd.grad((o * w).sum(), (q, k, v))]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", [(2, 1, 37, 8), (3, 2, 5, 3), (1, 2, 40, 16), (2, 1, 20, 1)])
def test_equals_explicit_softmax(backend, dtype, shape):
    g = torch.Generator().manual_seed(sum(shape))
    q, k, v, w = (torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype) for _ in range(4))
    q = q * 3  # peaked rows as well as flat ones
    assert ca.backend_for(q) == backend
    got = outputs_and_grads(ca.causal_attention, q, k, v, w)
    ref = outputs_and_grads(explicit, q.double(), k.double(), v.double(), w.double())
    for name, a, b in zip(("o", "dq", "dk", "dv"), got, ref):
        assert a.dtype == dtype and a.shape == b.shape
        err = float((a.double() - b).abs().max()) / float(b.abs().max())
        assert err <= TOL[dtype], (name, err)


@pytest.mark.parametrize("backend", ["c"], indirect=True)
def test_rows_are_independent_and_deterministic(backend):
    """A sequence's result does not depend on its batch (batched gpt == runs alone), and
    the same call gives the same bits; also with scores in the hundreds (exp underflows)."""
    g = torch.Generator().manual_seed(0)
    q, k, v, w = (torch.randn(5, 1, 33, 8, generator=g) for _ in range(4))
    q[2] *= 100  # scores in the hundreds: most weights underflow
    full = outputs_and_grads(ca.causal_attention, q, k, v, w)
    again = outputs_and_grads(ca.causal_attention, q, k, v, w)
    one = outputs_and_grads(ca.causal_attention, q[2:3], k[2:3], v[2:3], w[2:3])
    for a, b, c in zip(full, again, one):
        assert torch.equal(a, b) and torch.equal(a[2:3], c)
    ref = outputs_and_grads(explicit, q.double(), k.double(), v.double(), w.double())
    for a, b in zip(full, ref):
        assert float((a[2].double() - b[2]).abs().max()) <= TOL[torch.float32] * float(b[2].abs().max())


def test_gpt_hooks_see_the_same_attention(monkeypatch):
    """The model's fast path (no listener) and its explicit path (a listener on
    hook_pattern, which then holds the (B, H, N, N) causal pattern) give the same logits."""
    torch.manual_seed(0)
    model = GPT(8, 24, layers=2, heads=2, tie=False).double()
    init_gpt(model, "standard", 1.0, torch.Generator().manual_seed(1))
    x = torch.randint(0, 2, (3, 24))
    fast = model(x)
    logits, cache = model.run_with_cache(x, ["blocks.1.attn.hook_pattern"])
    pat = cache["blocks.1.attn.hook_pattern"]
    assert pat.shape == (3, 2, 24, 24) and torch.allclose(pat.sum(-1), torch.ones(3, 2, 24, dtype=torch.float64))
    assert float(pat.triu(1).abs().max()) == 0.0
    assert float((fast - logits).abs().max().detach()) < 1e-12


def test_sdpa_reference_agrees_with_explicit():
    """The reference itself: torch's fused kernel equals the written-out softmax."""
    g = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, 1, 30, 8, generator=g, dtype=torch.float64) for _ in range(3))
    assert float((F.scaled_dot_product_attention(q, k, v, is_causal=True) - explicit(q, k, v)).abs().max()) < 1e-13


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_c_kernel_exp_is_accurate_and_underflows_to_zero(dtype):
    """The kernel's own exp, seen through p: with two keys, k_0 = 0 and k_1 = (1, 0, ..),
    s_{1,0} = 0 and s_{1,1} = s = q_{1,0}/√8 (rounded in the dtype, as the kernel does),
    one-hot values give o_{1,1} = p_{1,1} = e^s/(1 + e^s), whose relative error is exp's.
    Below the smallest normal exp (s < -87 in float32, -708 in float64) p is exactly 0,
    never a denormal."""
    if ca.library() is None:
        pytest.skip("no C compiler: the C kernel cannot be built here")
    lo = -87.0 if dtype == torch.float32 else -708.0
    a = torch.cat([torch.linspace(lo - 1, 0, 4001, dtype=torch.float64), torch.tensor([lo - 30, -1e30])])
    q, k, v = (torch.zeros(len(a), 1, 2, 8, dtype=dtype) for _ in range(3))
    q[:, 0, 1, 0] = (a * math.sqrt(8)).to(dtype)
    k[:, 0, 1, 0] = 1.0
    v[:, 0, 0, 0], v[:, 0, 1, 1] = 1.0, 1.0
    with ops.use("causal_attention"):
        p11 = ca.causal_attention(q, k, v)[:, 0, 1, 1].double()  # (S,)
    s = (q[:, 0, 1, 0] * torch.tensor(1 / math.sqrt(8), dtype=dtype)).double()  # the kernel's score
    exact = torch.exp(s) / (1 + torch.exp(s))
    inside = s >= lo
    rel = ((p11 - exact).abs() / exact)[inside].max()
    assert rel <= (3e-7 if dtype == torch.float32 else 1e-15), float(rel)
    assert (~inside).sum() >= 3 and torch.equal(p11[~inside], torch.zeros_like(p11[~inside]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_c_backward_reads_only_what_the_forward_wrote(dtype):
    """The backward takes query rows in groups and reads P's rows up to the group's last
    key, further than the earlier rows' own keys: it must only read what the forward wrote
    there (the zeros past a row's last key): a pooled P buffer full of NaN gives the
    same gradients as a fresh one."""
    if ca.library() is None:
        pytest.skip("no C compiler: the C kernel cannot be built here")
    g = torch.Generator().manual_seed(5)
    q, k, v, w = (torch.randn(3, 1, 45, 8, generator=g, dtype=dtype) for _ in range(4))
    with ops.use("causal_attention"):
        fresh = outputs_and_grads(ca.causal_attention, q, k, v, w)
        stride = getattr(ca.library(), "row_stride_" + ("f32" if dtype == torch.float32 else "f64"))(45)
        ca._free[:] = [torch.full((3, 45, stride), math.nan, dtype=dtype)]
        stale = outputs_and_grads(ca.causal_attention, q, k, v, w)
    for a, b in zip(fresh, stale):
        assert torch.equal(a, b)

