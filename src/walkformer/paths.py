"""Which implementation trains a configuration: the reference transformer or an acceleration.

Every one trains in the one loop, ``loop.run``, through its adapter. The reference
transformer (``models/transformer.py``, ``loop.ReferenceAdapter``) serves every
configuration of ``model.name=shi-cao`` and ``gpt``. Two accelerations serve the papers'
own configurations with the same numbers (``tests/test_transformer.py`` compares them):

- ``shi-cao``: eq. (2.1) exactly as the paper writes it (one merged W, one head, one layer,
  concatenated positions, no residual, the −log(e_yᵀf + ε) loss), trained through
  ``training.ShiCaoAdapter`` by ``models/shicao.py``'s rank-one step (one C call per step, ``shicao_kernel``)
  and, for sweeps, ``models/batched.py``;
- ``gpt``: the "Attention with Markov" transformer on binary chains (``models/gpt.py`` with
  its causal-attention C kernel, ``loop.GPTAdapter``; sweeps ``runs/multirun_gpt.py``).

:func:`acceleration` names the one that serves ``cfg`` (None: the reference). The choice is
automatic and never part of a model's signature; ``train.path=reference`` asks for the
reference model even where an acceleration applies (to check one against the other), and
``train.path=autograd`` for the dense Shi & Cao model of ``models/dense.py``.
"""

from __future__ import annotations

from .config import get

# Keys every accelerated configuration must have as written: the paper's model of each family.
SHICAO = {"model.attention": "merged", "model.scale": "none", "model.residual": False, "model.bias": False,
          "model.layers": 1, "model.heads": 1, "model.mlp": "none", "model.layernorm": False,
          "model.layout": "slot", "model.loss": "log-eps", "model.embed": "onehot", "init.from": "",
          "task.lag": 1, "task.order": 1}
SHICAO_ANY = {"model.pos": ("sin", "onehot", "none"), "model.head": ("linear", "relu"),
              "task.name": ("circle", "qa1", "qa2"), "init.scheme": ("zero", "gaussian"),
              "train.path": ("fast", "autograd")}
GPT = {"model.attention": "split", "model.scale": "sqrt", "model.residual": True, "model.bias": False,
       "model.mlp": "relu", "model.layout": "causal", "model.loss": "bce", "model.embed": "scalar",
       "model.pos": "learned", "model.head": "unembed", "model.d_head": 0, "init.from": "",
       "task.name": "binary", "train.path": "fast"}
GPT_ANY = {"init.scheme": ("standard", "anti-aligned", "rank-one")}


def _inside(cfg, exact: dict, anyof: dict) -> bool:
    return all(get(cfg, k) == v for k, v in exact.items()) and all(get(cfg, k) in v for k, v in anyof.items())


def acceleration(cfg) -> str | None:
    """``"shi-cao"``, ``"gpt"`` or ``"canonical"`` when that implementation trains ``cfg``,
    None when the reference transformer does."""
    name = cfg.model.name
    if name == "canonical":  # L2G's three-parameter model, trained in closed form (not a transformer)
        return "canonical"
    if name == "shi-cao" and _inside(cfg, SHICAO, SHICAO_ANY):
        return "shi-cao"
    if name == "gpt" and _inside(cfg, GPT, GPT_ANY):
        return "gpt"
    return None
