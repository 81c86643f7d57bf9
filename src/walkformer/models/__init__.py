"""Models.

- ``transformer.py`` (below) is the reference: one model for every configuration. The others
  are accelerations of the papers' own configurations (``paths.py`` chooses), equal to it:

- ``shicao.py``: the one-layer transformer of Shi & Cao eq. (2.1) with exact
  hand-written gradients and the rank-one structure of W (the fast path).
- ``dense.py``: the same model written the straightforward way (dense X̃, autograd),
  kept to check the fast path and as the benchmark baseline.
- ``gpt.py``: the transformer of "Attention with Markov" §2 on binary chains
  (TransformerLens names and hook points; trained through ``loop.GPTAdapter``).
- ``batched.py``: R fast-path models with a leading model axis (sweeps; the same numbers
  to round-off).
- ``transformer.py`` (+ ``stream.py``, ``positions.py``, ``initial.py``): the reference transformer, every
  configuration (both papers' models and the reviewers' variants), plain torch and autograd.

The C accelerations these models call live in ``../ops/`` (``ops/__init__.py``).
"""

__all__ = ["Batch", "Geometry", "ShiCao", "DenseShiCao", "init_params", "positional", "build_model",
           "geometry", "initial_params", "init_generator"]


def init_generator(cfg, gen):
    """The stream the initial parameters are drawn from: ``gen`` (the run's seed), or
    the stream of ``init.seed`` when it is set (same data, another initialisation)."""
    if cfg.init.seed < 0:
        return gen
    from ..training import generator

    return generator(cfg.init.seed, "init")


def geometry(cfg, task):
    """The :class:`Geometry` of a Shi & Cao run (positions, query, scales)."""
    import torch

    from .shicao import Geometry

    m = cfg.model
    return Geometry(task.K, task.N, m.pos, m.M, m.normalize, torch.float64 if cfg.dtype == "float64" else torch.float32)


def initial_params(cfg, geo, gen) -> dict:
    """The run's initial parameters (see :func:`init_params`), drawn from :func:`init_generator`."""
    from .shicao import init_params

    return init_params(geo, cfg.init.scheme, cfg.init.sigma, cfg.model.head, cfg.model.m, init_generator(cfg, gen))


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
    from .dense import DenseShiCao
    from .shicao import ShiCao

    geo = geometry(cfg, task)
    cls = ShiCao if cfg.train.path == "fast" else DenseShiCao
    return cls(geo, initial_params(cfg, geo, gen))
