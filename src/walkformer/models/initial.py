"""Initial parameters of the reference transformer (``transformer.py``): zero, gaussian(σ)
(drawn as the Shi & Cao acceleration draws them) and the binary papers' standard,
anti-aligned and rank-one schemes (drawn as ``gpt.init_gpt`` draws them)."""

from __future__ import annotations

import torch

from .transformer import Transformer


def init_transformer(model: Transformer, scheme: str, sigma: float, c: float, gen: torch.Generator) -> None:
    """In place. ``zero``: every weight 0; ``gaussian``: N(0, σ²) drawn in float64 (head.V
    first and head.A last, so the paper's configuration draws V, W, A as
    models.shicao.init_params does); biases 0 and LayerNorm gains 1 in both.
    ``standard`` | ``anti-aligned`` | ``rank-one``: models.gpt.init_gpt (the same names, so
    the gpt configuration draws what GPT draws), then every bias but b_U set to 0."""
    from .gpt import init_gpt

    sp, params = model.spec, dict(model.named_parameters())
    is_bias = lambda n: n.rsplit(".", 1)[-1].startswith("b_") or n.endswith("head.b")  # noqa: E731
    if scheme in ("zero", "gaussian"):
        with torch.no_grad():
            for name in sorted(params, key=lambda n: (n != "head.V", n == "head.A")):
                p = params[name]
                if name.endswith(".w"):
                    p.fill_(1.0)
                elif scheme == "gaussian" and sigma > 0 and not is_bias(name):
                    p.copy_(sigma * torch.randn(*p.shape, generator=gen, dtype=torch.float64))
                else:
                    p.zero_()
        return
    needs = {"standard": True, "anti-aligned": sp.mlp == "relu" and sp.head == "unembed",
             "rank-one": (sp.embed, sp.pos, sp.attention, sp.mlp, sp.head) == ("scalar", "learned", "split", "relu", "unembed")}
    if scheme not in needs:
        raise ValueError(f"init.scheme={scheme!r}: expected zero, gaussian, standard, anti-aligned or rank-one")
    if not needs[scheme]:
        raise ValueError(f"init.scheme={scheme} needs the gpt structure (scalar tokens, learned positions, split "
                         "attention, mlp=relu, head=unembed)" if scheme == "rank-one" else
                         f"init.scheme={scheme} needs mlp=relu and head=unembed")
    init_gpt(model, scheme, c, gen)
    with torch.no_grad():
        for name, p in params.items():
            if is_bias(name) and name != "unembed.b_U":
                p.zero_()
