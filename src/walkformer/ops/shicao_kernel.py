"""The Shi & Cao step as one C call (``shicao_kernel.c``): what ``ShiCao`` and
``metrics.evaluate`` run by default.

``ShiCao._separable`` + ``ShiCao._grads`` in torch are ~100 small operations per step
(3–15 µs each) around two passes over the tokens. The kernel does the same maths with
one call per step: for each sequence the scatter C[k] = Σ_{j: s_j = k} E_pos[j], Z, h,
f, the loss and its gradient, then the gather into the shared column sums, while the
sequence's tokens are in L1 (see the C file for the summation orders). A second call
computes what ``metrics.evaluate`` needs of a held-out batch (accuracy, KL terms, the
cosines' inner products, the logit spread, var h).

The acceleration ``shicao_step`` (``ops/__init__.py``): it runs where a C compiler is
found (built once per machine, see ``ckernel.py``) unless ``WALKFORMER_OPS`` turns it
off; else ``ShiCao``'s torch code runs (the reference the tests compare against).

Agreement with the torch path: the same formulas, and the same summation order where
torch's is a plain loop (C[k] over positions, Z over tokens, dL/dV over sequences), so
those are bitwise equal in float64; the sums that torch vectorises or hands to BLAS
(V h, the column sums, dL/dũ, the loss) and exp/log (libm vs Sleef) differ in the last
bits (tests/test_shicao_kernel.py states the tolerances).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch

from . import enabled
from .ckernel import Kernel, simd_flags

_SUF = {torch.float32: "f32", torch.float64: "f64"}


def _flags() -> list[str]:
    # -ffp-contract=off: no fused multiply-adds (each product is rounded, as in torch); no
    # -ffast-math, so no sum is reordered; -fno-trapping-math lets branch-free selects vectorise
    return ["-O3", "-fPIC", "-shared", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=off", *simd_flags()]


def _declare(lib) -> None:
    i64, ptr, dbl = ctypes.c_int64, ctypes.c_void_p, ctypes.c_double
    for suf in _SUF.values():
        fn = getattr(lib, "sc_step_" + suf)
        fn.argtypes = [i64] * 4 + [ptr] * 5 + [i64] + [ptr] * 3 + [dbl] + [ptr] * 5 + [i64] + [ptr] * 4
        fn.restype = ctypes.c_int
        fn = getattr(lib, "sc_metrics_" + suf)
        fn.argtypes = [i64] * 4 + [ptr] * 4 + [dbl] + [ptr] * 5
        fn.restype = ctypes.c_int
        getattr(lib, "sc_scores_" + suf).argtypes = [i64, i64, ptr, dbl] + [ptr] * 7
        getattr(lib, "sc_update_" + suf).argtypes = [dbl, i64, ptr, ptr]
        getattr(lib, "sc_finite_" + suf).argtypes = [i64, ptr]
        getattr(lib, "sc_finite_" + suf).restype = ctypes.c_int


_kernel = Kernel(Path(__file__).with_name("shicao_kernel.c"), _flags, _declare,
                 "using the torch implementation of the Shi & Cao step")


def library():
    """The compiled kernel, or None where it cannot be built (one warning)."""
    return _kernel.library()


def usable(dtype: torch.dtype, device: torch.device | None = None) -> bool:
    """Whether the kernel runs tensors of this dtype (and device, default the CPU)."""
    return enabled("shicao_step") and dtype in _SUF and (device is None or device.type == "cpu") and library() is not None


def _p(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _tokens(b) -> torch.Tensor:
    """The batch's tokens as contiguous int32 (B, N-1), cached on the batch."""
    t = b.__dict__.get("_tok32")
    if t is None:
        t = b._tok32 = b.tokens.to(torch.int32).contiguous()
    return t


def scores(model) -> tuple[torch.Tensor, torch.Tensor]:
    """ShiCao.scores: ũ = (W0 x̃_N + ‖x̃_N‖² Rk)_{<K} / n_0 (K,) and c = c0 + a Γ (N,)."""
    g = model.geo
    K, N = g.K, g.N
    out = torch.empty(K + N, dtype=g.dtype)
    getattr(library(), "sc_scores_" + _SUF[g.dtype])(
        K, N, model.W0q.data_ptr(), g.qq, model.Rk.data_ptr(), g.n.data_ptr(), model.c0.data_ptr(),
        model.a.data_ptr(), g.gram.data_ptr(), out.data_ptr(), out.data_ptr() + K * out.element_size())
    return out[:K], out[K:]


def update(x: torch.Tensor, g: torch.Tensor, eta: float) -> None:
    """x -= eta * g in place (x, g contiguous), bit for bit as torch does it."""
    getattr(library(), "sc_update_" + _SUF[x.dtype])(eta, x.numel(), x.data_ptr(), g.data_ptr())


def finite(x: torch.Tensor) -> bool:
    x = x.contiguous()  # named: a temporary's memory would be freed before the call reads it
    return bool(getattr(library(), "sc_finite_" + _SUF[x.dtype])(x.numel(), x.data_ptr()))


def step(model, b, eps: float, probe):
    """``(rc, loss, grads, fw)`` of ``model`` (a ShiCao) on the training batch ``b`` and
    the held-out ``probe`` (either may be None); rc = 1 (training) or 2 (probe): some
    sequence underflows, the rest is meaningless (the caller falls back to torch)."""
    g, (ut, c) = model.geo, model.scores()
    V, A, dt = model.V.contiguous(), (model.A.contiguous() if model.A is not None else None), g.dtype
    K, N, R = g.K, g.N, V.shape[0]
    m = A.shape[1] if A is not None else 0
    B, Bp = (len(b) if b is not None else 0), (len(probe) if probe is not None else 0)
    # every torch call costs a few µs here, so: one tensor per output, h and f as the two
    # (B, K) views of one (2, K, B) tensor (sequence-last, as the torch path's)
    gV, gRk, ga = torch.empty(R, K, dtype=dt), torch.empty(K, dtype=dt), torch.empty(N, dtype=dt)
    gA = torch.empty(K, m, dtype=dt) if m else None
    hf, att = (torch.empty(2, K, Bp, dtype=dt), torch.empty(N, dtype=dt)) if Bp else (None, None)
    loss = ctypes.c_double()
    y, w = (b.y.contiguous(), b.w.contiguous()) if b is not None else (None, None)  # (B,) int64, (B,) T
    args = (None, None, None, 0.0) if b is None else (_p(_tokens(b)), _p(y), _p(w), float(eps))
    rc = getattr(library(), "sc_step_" + _SUF[dt])(
        K, N, R, m, _p(ut), _p(c), _p(g.n), _p(V), _p(A), B, *args,
        ctypes.byref(loss), _p(gV), _p(gA), _p(gRk), _p(ga),
        Bp, _p(_tokens(probe)) if Bp else None, _p(hf), _p(hf) + K * Bp * hf.element_size() if Bp else None, _p(att))
    if rc == 3:
        raise MemoryError("shicao_kernel: out of memory")
    grads = {"V": gV} | ({"A": gA} if m else {}) | {"Rk": gRk, "a": ga}
    if not Bp:
        return rc, loss.value, grads, None
    h, f = hf.mT.unbind(0)  # (B, K) each
    return rc, loss.value, grads, {"h": h, "f": f, "attention": att}


def _kb(x: torch.Tensor) -> torch.Tensor:
    """x (B, K) as the (K, B) contiguous tensor it is a view of (or a copy)."""
    return x.T if x.stride(0) == 1 and x.stride(1) == x.shape[0] else x.T.contiguous()


def metrics(f: torch.Tensor, h: torch.Tensor, y: torch.Tensor, truth: torch.Tensor | None, eps: float,
            V: torch.Tensor, pi: torch.Tensor | None, ut: torch.Tensor, c: torch.Tensor) -> list[float]:
    """[#correct, Σ t log q, Σ_b log Σ_k q, Σ V², Σ V, ⟨V, Πᵀ⟩, logit spread, var_b h (K)]
    of a held-out batch: f, h (B, K), truth (K, B) float64 contiguous (see metrics.evaluate)."""
    B, K = f.shape
    out = torch.empty(7 + K, dtype=torch.float64)
    y = y.contiguous()
    V = V.contiguous()
    fk, hk = _kb(f), _kb(h)  # bound: a copy passed as _p(_kb(f)) is freed before the C call reads it
    if getattr(library(), "sc_metrics_" + _SUF[f.dtype])(
            K, B, len(c), V.numel(), _p(fk), _p(hk), _p(y), _p(truth), float(eps), _p(V), _p(pi), _p(ut),
            _p(c), _p(out)):
        raise MemoryError(f"sc_metrics: cannot allocate {5 * K * B} doubles")
    return out.tolist()
