"""The ``gpt`` MLP as one C kernel per pass (what ``models/gpt.py``'s ``MLP`` calls when
nothing listens on its hooks, and ``models/batched_gpt.py`` for its R models at once).

    h = ReLU(x W_in),  out = h W_out                 x (M, d), W_in (d, 4d), W_out (4d, d)
    backward, with g = ∂L/∂out:  dh = (g W_outᵀ) ⊙ [h > 0],  dx = dh W_inᵀ,
                                 dW_in = xᵀ dh,  dW_out = hᵀ g

Why: at d = 8 the four products are (16384, 8) @ (8, 32)-shaped; with one thread torch
runs them at about a third of the core's FMA rate (an MLP forward + backward took ~8 ms
of a ~70 ms step at the papers' setting). The kernel (``mlp_fwd``/``mlp_bwd`` in
``causal_attention.c``, which shares that file's build) puts the tokens in the vector
lanes, so every multiply-add is one FMA over 8 (float32) or 4 (float64) tokens; the two
weight gradients stay torch matmuls, in their fast (d, ·) orientation. Same maths as the
torch path, the sums in another order (round-off). Backends: ``BACKEND`` or the
``WALKFORMER_MLP`` environment variable, ``auto`` (the kernel where it can be built) or
``torch``.
"""

from __future__ import annotations

import ctypes
import os

import torch

from .causal_attention import _ptr, library

BACKEND = os.environ.get("WALKFORMER_MLP", "auto")  # auto | torch
_typed: set[str] = set()


def _fn(name: str):
    lib = library()
    f = getattr(lib, name)
    if name not in _typed:
        f.argtypes = [ctypes.c_int64] * 4 + [ctypes.c_void_p] * 5
        _typed.add(name)
    return f


class _FusedMLP(torch.autograd.Function):
    """x (R, M, d) contiguous, W_in (R, d, 4d), W_out (R, 4d, d) -> (R, M, d): R models."""

    @staticmethod
    def forward(ctx, x, W_in, W_out):
        (R, M, d), suf = x.shape, "f32" if x.dtype == torch.float32 else "f64"
        Mp = -(-M // 8) * 8
        hT, out = x.new_empty(R, 4 * d, Mp), torch.empty_like(x)  # (R, 4d, Mp), (R, M, d)
        W_in, W_out = W_in.contiguous(), W_out.contiguous()
        if _fn("mlp_fwd_" + suf)(R, d, M, Mp, *map(_ptr, (x, W_in, W_out, hT, out))):
            raise MemoryError("fused MLP kernel failed")
        ctx.save_for_backward(x, hT, W_in, W_out)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g):
        x, hT, W_in, W_out = ctx.saved_tensors
        (R, M, d), Mp = x.shape, hT.shape[2]
        g = g.contiguous()
        dx, dhT = torch.empty_like(x), torch.empty_like(hT)  # (R, M, d), (R, 4d, Mp)
        if _fn("mlp_bwd_" + ("f32" if g.dtype == torch.float32 else "f64"))(
                R, d, M, Mp, *map(_ptr, (g, hT, W_in, W_out, dx, dhT))):
            raise MemoryError("fused MLP kernel failed")
        dW_in = x.mT @ dhT[..., :M].mT  # (R, d, 4d)
        dW_out = (g.mT @ hT[..., :M].mT).mT  # (R, 4d, d), computed as (d, 4d): the fast orientation
        return dx, dW_in, dW_out


def usable(x: torch.Tensor) -> bool:
    """Whether :func:`fused_mlp` runs the kernel for x (else the caller's torch path)."""
    return (BACKEND != "torch" and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
            and x.shape[-1] <= 16 and library() is not None)


def fused_mlp(x: torch.Tensor, W_in: torch.Tensor, W_out: torch.Tensor) -> torch.Tensor:
    """ReLU(x W_in) W_out through the C kernel: x (..., d) with W_in (d, 4d), W_out (4d, d)
    (one model), or x (R, M, d) with W_in (R, d, 4d), W_out (R, 4d, d) (R models) ->
    x's shape."""
    if W_in.dim() == 2:
        return _FusedMLP.apply(x.reshape(1, -1, x.shape[-1]).contiguous(), W_in[None], W_out[None]).view(x.shape)
    return _FusedMLP.apply(x.contiguous(), W_in, W_out)
