"""The reference transformer (models/transformer.py) against the straightforward models.

1. The paper's Fig. 4 configuration (K, N from the config defaults = the fig4 runs: K=6,
   N=97; M=1000, 1000 sequences, float64, one torch thread, full-batch GD with η = 1):
   a GD step (forward + backward + update) of the reference model against
   ``models/dense.DenseShiCao`` (the dense (B, K+M, N) X̃, autograd) and, for scale,
   the fast path ``models/shicao.ShiCao`` (C step). The three start from the same
   parameters (a gaussian draw) and must end at the same loss.
2. A 2-layer, 2-head split-attention model on the circle task (K=6, N=97, concatenated
   sin positions, M=1000, 1000 sequences, residual, 1/√d_head, the paper's linear
   read-out): a training step of the reference model against ``Straightforward`` below,
   the same model as an nn.Module that builds the dense X̃ and a dense residual stream.
   Both start from the same parameters; their losses and gradients must agree.

Times are the best of the timed steps (the machine may be shared), in this one run.

    python bench/bench_transformer.py [--steps 10] [--dense-steps 3] [--d-head 8]
"""

import argparse
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from walkformer.config import Config
from walkformer.models.dense import DenseShiCao
from walkformer.models.shicao import Batch, Geometry, ShiCao, init_params
from walkformer.models.initial import init_transformer
from walkformer.models.transformer import Transformer, TransformerSpec
from walkformer.tasks import circle_walk


class Straightforward(nn.Module):
    """The model of line 2 written the obvious way (the reference's parameter names):

        h⁰ = X̃ = [X; P] (B, N, K+M);  per layer and head  q = h W_Q, k = h W_K,
        S = softmax(q kᵀ/√d_head + causal mask), y = S h[:, :, :K],
        h ← h + Σ_k (y_k W_V,k) W_O,k  (not the last layer);   f = Σ_k V_k y_k + h[:K] at slot N.
    """

    def __init__(self, ref: Transformer):
        super().__init__()
        self.sp, self.P = ref.spec, ref.P  # P: (N, M)
        self.names = list(ref.tensors())
        for i, (k, v) in enumerate(ref.tensors().items()):
            self.register_parameter(f"p{i}", nn.Parameter(v.clone()))

    def p(self, name):
        return getattr(self, f"p{self.names.index(name)}")

    def forward(self, tokens):
        sp = self.sp
        B, N, K = tokens.shape[0], sp.N, sp.K
        s = torch.cat([tokens, tokens.new_full((B, 1), K)], 1)  # (B, N): slot N is empty
        X = F.one_hot(s, K + 1)[..., :K].to(sp.dtype)  # (B, N, K)
        h = torch.cat([X, self.P.expand(B, N, -1)], -1)  # (B, N, K+M): the dense X̃
        mask = torch.ones(N, N, dtype=torch.bool).triu(1)
        for l in range(sp.layers):
            q = torch.einsum("bnd,hde->bhne", h, self.p(f"blocks.{l}.attn.W_Q"))  # (B, H, N, dh)
            k = torch.einsum("bnd,hde->bhne", h, self.p(f"blocks.{l}.attn.W_K"))  # (B, H, N, dh)
            z = (q @ k.transpose(-1, -2) / math.sqrt(sp.dh)).masked_fill(mask, float("-inf"))
            y = torch.softmax(z, -1) @ h[:, None, :, :K]  # (B, H, N, K)
            if l < sp.layers - 1:
                v = y @ self.p(f"blocks.{l}.attn.W_V")  # (B, H, N, dh)
                h = h + v.transpose(1, 2).reshape(B, N, -1) @ self.p(f"blocks.{l}.attn.W_O").reshape(-1, h.shape[-1])
        return torch.einsum("bhk,hck->bc", y[:, :, -1], self.p("head.V")) + h[:, -1, :K]  # (B, K), + the residual


def best_step(step, n):
    times, out = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        out = step()
        times.append(time.perf_counter() - t0)
    return min(times), out


def gd_step(model, b, eta=1.0, eps=0.1):
    model.zero_grad(set_to_none=True)
    loss = model.loss(model(b.tokens), b.y, b.w, eps) if hasattr(model, "loss") else paper_loss(model(b.tokens), b)
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(p.grad, alpha=-eta)
    return float(loss.detach())


def paper_loss(f, b, eps=0.1):
    return -(b.w * torch.log(f.gather(1, b.y[:, None])[:, 0] + eps)).sum()


def line1(args):
    cfg = Config()  # the defaults are the paper's Fig. 4 setting
    K, N, M = cfg.task.K, cfg.task.N, cfg.model.M
    gen = torch.Generator().manual_seed(0)
    b = Batch(*circle_walk(K, N, 0.5).sample(1000, gen), None, K, torch.float64)
    geo = Geometry(K, N, "sin", M, False)
    prm = {k: v.abs() for k, v in init_params(geo, "gaussian", 0.01, "linear", 19, gen).items()}
    ref = Transformer(TransformerSpec(K=K, N=N, M=M))
    ref.load_tensors({"blocks.0.attn.W": prm["W0"][None], "head.V": prm["V"][None]})
    dense, fast = DenseShiCao(geo, prm), ShiCao(geo, prm)

    def shicao_step(model):
        loss, g = model.grads(b, 0.1)
        model.step(g, 1.0)
        return loss

    n = args.dense_steps
    t_dense, l_dense = best_step(lambda: shicao_step(dense), n)
    t_ref, l_ref = best_step(lambda: gd_step(ref, b), n)
    t_fast, l_fast = best_step(lambda: shicao_step(fast), n)
    more = args.steps - n  # the cheap models go on; the last loss of the first n steps is compared
    t_ref = min(t_ref, best_step(lambda: gd_step(ref, b), more)[0]) if more > 0 else t_ref
    t_fast = min(t_fast, best_step(lambda: shicao_step(fast), more)[0]) if more > 0 else t_fast
    print(f"1. paper Fig. 4 (K={K}, N={N}, M={M}, 1000 sequences, float64, 1 thread), ms per GD step:")
    print(f"   dense X~ autograd (DenseShiCao) {1e3 * t_dense:9.1f}")
    print(f"   reference transformer           {1e3 * t_ref:9.1f}   {t_dense / t_ref:7.0f}x faster than dense")
    print(f"   fast path ShiCao (C step)       {1e3 * t_fast:9.2f}   ({t_ref / t_fast:.1f}x faster than the reference)")
    print(f"   loss after step {n}: dense {l_dense:.15f}, reference {l_ref:.15f}, fast {l_fast:.15f} "
          f"(|diff| {max(abs(l_dense - l_ref), abs(l_fast - l_ref)):.1e})")
    assert abs(l_dense - l_ref) < 1e-10 and abs(l_fast - l_ref) < 1e-10


def line2(args):
    K, N, M = 6, 97, 1000
    gen = torch.Generator().manual_seed(0)
    b = Batch(*circle_walk(K, N, 0.5).sample(1000, gen), None, K, torch.float64)
    sp = TransformerSpec(K=K, N=N, M=M, attention="split", d_head=args.d_head, heads=2, layers=2, residual=True,
                         scale="sqrt")
    ref = Transformer(sp)
    init_transformer(ref, "gaussian", 0.05, 1.0, gen)
    with torch.no_grad():
        ref.head.V.abs_()  # f_y + ε > 0
    straight = Straightforward(ref)
    # agreement first, on the same parameters
    fr, fs = ref(b.tokens), straight(b.tokens)
    lr, ls = ref.loss(fr, b.y, b.w, 0.1), paper_loss(fs, b)
    gr = torch.autograd.grad(lr, list(ref.parameters()))
    gs = torch.autograd.grad(ls, list(straight.parameters()))
    gdiff = max(float((x - y).abs().max()) for x, y in zip(gr, gs))
    print(f"2. 2 layers, 2 heads, split (d_head={sp.dh}), residual, sin positions concatenated (K={K}, N={N}, "
          f"M={M}, 1000 sequences, float64, 1 thread): |loss diff| {abs(float((lr - ls).detach())):.1e}, "
          f"max |grad diff| {gdiff:.1e}")
    assert abs(float((lr - ls).detach())) < 1e-10 and gdiff < 1e-10
    t_straight, _ = best_step(lambda: gd_step(straight, b), args.dense_steps)
    t_ref, _ = best_step(lambda: gd_step(ref, b), args.steps)
    print(f"   straightforward nn.Module (dense X~) {1e3 * t_straight:9.1f} ms per training step")
    print(f"   reference transformer                {1e3 * t_ref:9.1f} ms   {t_straight / t_ref:7.1f}x faster")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--dense-steps", type=int, default=3)
    ap.add_argument("--d-head", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(1)
    line1(args)
    line2(args)
