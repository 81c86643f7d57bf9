"""The fused C MLP (models/fused_mlp.py) equals the torch MLP ReLU(x W_in) W_out, forward
and gradients, in float32 and float64, for one model and for a model axis (batched_gpt);
the gpt model takes it only where no hook listens."""

import math

import pytest
import torch
import torch.nn.functional as F

from walkformer.models import fused_mlp as fm
from walkformer.models.gpt import GPT, init_gpt

TOL = {torch.float64: 1e-13, torch.float32: 2e-6}  # relative to the largest reference entry

pytestmark = pytest.mark.skipif(fm.library() is None, reason="no C compiler: the kernel cannot be built here")


def torch_mlp(x, W_in, W_out):
    return F.relu(x @ W_in) @ W_out


def outputs_and_grads(fn, x, W_in, W_out, w):
    x, W_in, W_out = (t.clone().requires_grad_(True) for t in (x, W_in, W_out))
    o = fn(x, W_in, W_out)
    return [o.detach(), *torch.autograd.grad((o * w).sum(), (x, W_in, W_out))]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", [(2, 37, 8), (3, 5, 3), (1, 20, 16), (4, 64, 8)])
def test_equals_torch_mlp(dtype, shape):
    """Token counts that are not a multiple of the vector width, odd and even d."""
    g = torch.Generator().manual_seed(sum(shape))
    d = shape[-1]
    x, w = (torch.randn(*shape, generator=g, dtype=torch.float64) for _ in range(2))
    W_in = torch.randn(d, 4 * d, generator=g, dtype=torch.float64) / math.sqrt(d)
    W_out = torch.randn(4 * d, d, generator=g, dtype=torch.float64) / math.sqrt(4 * d)
    assert fm.usable(x.to(dtype))
    got = outputs_and_grads(fm.fused_mlp, *(t.to(dtype) for t in (x, W_in, W_out, w)))
    ref = outputs_and_grads(torch_mlp, *(t.to(dtype).double() for t in (x, W_in, W_out, w)))
    for name, a, b in zip(("out", "dx", "dW_in", "dW_out"), got, ref):
        assert a.dtype == dtype and a.shape == b.shape
        err = float((a.double() - b).abs().max()) / float(b.abs().max())
        assert err <= TOL[dtype], (name, err)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_models_axis_uses_each_models_weights(dtype):
    """x (R, M, d) with weights (R, d, 4d), (R, 4d, d), as batched_gpt calls it: model r's
    output and gradients are those of ReLU(x_r W_in,r) W_out,r alone."""
    g = torch.Generator().manual_seed(7)
    R, M, d = 3, 21, 8
    x, w = (torch.randn(R, M, d, generator=g, dtype=torch.float64) for _ in range(2))
    W_in = torch.randn(R, d, 4 * d, generator=g, dtype=torch.float64) / math.sqrt(d)
    W_out = torch.randn(R, 4 * d, d, generator=g, dtype=torch.float64) / math.sqrt(4 * d)
    got = outputs_and_grads(fm.fused_mlp, *(t.to(dtype) for t in (x, W_in, W_out, w)))
    for r in range(R):
        ref = outputs_and_grads(torch_mlp, *(t[r].to(dtype).double() for t in (x, W_in, W_out, w)))
        for name, a, b in zip(("out", "dx", "dW_in", "dW_out"), got, ref):
            err = float((a[r].double() - b).abs().max()) / float(b.abs().max())
            assert err <= TOL[dtype], (r, name, err)


def test_nan_propagates_as_in_torch():
    """ReLU keeps NaN (a diverged run must stay visibly non-finite), and a token's NaN
    reaches only its own output row."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(11, 8, generator=g)
    x[3, 2] = math.nan
    W_in, W_out = torch.randn(8, 32, generator=g), torch.randn(32, 8, generator=g)
    got, ref = fm.fused_mlp(x, W_in, W_out), torch_mlp(x, W_in, W_out)
    assert torch.equal(got.isnan(), ref.isnan()) and bool(got[3].isnan().all())
    assert not got[torch.arange(11) != 3].isnan().any()


def test_gpt_uses_the_torch_path_when_hooks_listen(monkeypatch):
    """Same logits with the kernel (no listener) and with a listener on hook_post (the torch
    path, which it sees the (B, N, 4d) activations of); and with WALKFORMER_MLP=torch."""
    model = GPT(8, 24, layers=2, heads=2, tie=False).double()
    init_gpt(model, "standard", 1.0, torch.Generator().manual_seed(1))
    x = torch.randint(0, 2, (3, 24), generator=torch.Generator().manual_seed(2))
    calls = []
    orig = fm.fused_mlp
    monkeypatch.setattr(fm, "fused_mlp", lambda *a: calls.append(1) or orig(*a))
    fast = model(x).detach()
    assert len(calls) == 2  # one per layer
    logits, cache = model.run_with_cache(x, ["blocks.1.mlp.hook_post"])
    assert len(calls) == 3 and cache["blocks.1.mlp.hook_post"].shape == (3, 24, 32)  # layer 1 on torch
    monkeypatch.setattr(fm, "BACKEND", "torch")
    plain = model(x).detach()
    assert len(calls) == 3
    assert float((fast - logits.detach()).abs().max()) < 1e-13 and float((fast - plain).abs().max()) < 1e-13
