"""walkformer: how small transformers learn random walks and Markov chains.

The Python API (``api.py``; the README shows it in ten lines)::

    import walkformer as wf
    run = wf.train({"task.p": 0.8})   # a Run: summary, metrics, model, attention(...)
    run = wf.load("runs/r1")          # any run directory

Layout (docs/architecture.md; each module's docstring says more):

- ``keys``        the registry of every key (description, allowed values, who uses it)
- ``config``      typed run configuration, dotted overrides, validation
- ``tasks/``      what a sequence is and its Bayes-optimal answer (any finite Markov source)
- ``models/``     the reference transformer (``transformer.py``) and the papers' accelerated models
- ``paths``       which implementation trains a config (reference or an acceleration)
- ``loop``        the one training loop of every transformer; the reference's and the gpt
                  acceleration's adapters (what differs per implementation)
- ``training``    the Shi & Cao acceleration's adapter; ``Result``, ``PARAM_BOUND``, run directories (``save``)
- ``train_binary`` the gpt model's summary; the canonical model's closed-form run
- ``ops/``        the C accelerations behind one switch (``WALKFORMER_OPS``)
- ``metrics/``    every metric, each formula once (``formulas``), for R models at once: the Shi & Cao
                  model's (one, with the C kernel, or batched), the reference's, the binary chain's
- ``plots``       figures
- ``experiments/`` one named preset per paper figure, with claims; phase diagrams
- ``runs/``       run directories (``rundir``), many runs at once (``multirun``), where they run
                  (``executors``: local pool / Ray), sweeps (``sweep``: TOML grids, results.parquet)
- ``cli``         the ``walkformer`` command
"""

__version__ = "0.1.0"
__all__ = ["configure", "train", "load", "Run", "ConfigError"]


def __getattr__(name):
    """The API, imported on first use (importing the package does not import torch)."""
    if name in ("configure", "train", "load", "Run"):
        from . import api

        return getattr(api, name)
    if name == "ConfigError":
        from .config import ConfigError

        return ConfigError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
