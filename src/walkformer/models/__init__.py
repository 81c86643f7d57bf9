"""Models.

- ``shicao.py``: the one-layer transformer of Shi & Cao eq. (2.1) with exact
  hand-written gradients and the rank-one structure of W (the fast path).
- ``dense.py``: the same model written the straightforward way (dense X̃, autograd),
  kept to check the fast path and as the benchmark baseline.
- ``gpt.py``: the transformer of "Attention with Markov" §2 on binary chains
  (TransformerLens names and hook points; trained by ``train_binary.py``).
- ``causal_attention.py`` (+ ``causal_attention.c``): the gpt models' causal attention,
  a C kernel that skips the masked triangle (torch fallbacks; ~3x faster than SDPA).
- ``batched.py``: R fast-path models with a leading model axis (sweeps; same numbers).
"""

__all__ = ["Batch", "Geometry", "ShiCao", "DenseShiCao", "init_params", "positional", "build_model"]


def __getattr__(name):
    """The torch models, imported on first use, so that ``models.canonical`` (numpy only)
    does not import torch with the package."""
    if name in ("Batch", "Geometry", "ShiCao", "init_params", "positional"):
        from . import shicao

        return getattr(shicao, name)
    if name == "DenseShiCao":
        from .dense import DenseShiCao

        return DenseShiCao
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_model(cfg, task, gen):
    """Geometry + initial parameters + the model object chosen by ``train.path``."""
    import torch

    from .dense import DenseShiCao
    from .shicao import Geometry, ShiCao, init_params

    dtype = torch.float64 if cfg.dtype == "float64" else torch.float32
    m = cfg.model
    geo = Geometry(task.K, task.N, m.pos, m.M, m.normalize, dtype)
    params = init_params(geo, cfg.init.scheme, cfg.init.sigma, m.head, m.m, gen)
    cls = ShiCao if cfg.train.path == "fast" else DenseShiCao
    return cls(geo, params)
