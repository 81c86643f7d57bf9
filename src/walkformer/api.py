"""The Python API: build a config, train, load a run directory (for notebooks).

    import walkformer as wf
    cfg = wf.configure({"task.p": 0.8, "model.attention": "split", "init.scheme": "gaussian"})
    run = wf.train(cfg)                    # no files written; run.save("runs/r1") writes them
    run.summary["test_accuracy"], run.metrics[-1]["parent_attention"]
    run.attention(run.test_tokens()[:4])   # (L, B, H, N, N) patterns of four test sequences
    run.V                                  # the paper's V (K, K), where the model has one
    old = wf.load("runs/r1")               # the same object from a run directory

``config`` takes a dict or ``["key=value", ...]`` exactly as the CLI does (the keys
given count as explicit: a key that does not apply to the chosen model or task is a
``ConfigError``). Any run, accelerated or not, answers ``attention`` and ``reference``
through the reference transformer (``models/transformer.py``), so per-sequence patterns
come from one place.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .config import Config, apply_overrides, from_dict, resolve


def configure(overrides: dict | list | None = None, **kw) -> Config:
    """A resolved, validated :class:`~walkformer.config.Config` from dotted overrides
    (``{"task.p": 0.8}`` or ``["task.p=0.8"]``); keyword arguments name top-level keys
    (``seed=3``, ``dtype="float32"``)."""
    if isinstance(overrides, (list, tuple)):
        pairs = dict(item.split("=", 1) for item in overrides)
    else:
        pairs = dict(overrides or {})
    pairs |= kw
    return resolve(apply_overrides(Config(), pairs), {k.strip() for k in pairs})


class Run:
    """A trained (or loaded) run: ``cfg``, ``summary``, ``metrics`` (one dict per logged
    step), ``model`` (the trained object of the path that trained it), ``task``,
    ``error`` (None unless it failed) and ``path`` (its directory, once saved or loaded)."""

    def __init__(self, cfg: Config, summary: dict, metrics: list, model, task, error=None, path=None):
        self.cfg, self.summary, self.metrics, self.model, self.task = cfg, summary, metrics, model, task
        self.error, self.path = error, path
        self._reference = None

    def __repr__(self) -> str:
        s = self.summary
        what = (f"test accuracy {s['test_accuracy']:.4f} of {s['optimal_accuracy']:.4f}" if "test_accuracy" in s
                else f"test loss {s.get('test_loss', float('nan')):.4f}")
        return f"<walkformer.Run {self.cfg.model.name} on {self.cfg.task.name}: {what}, {s['status']}>"

    def reference(self):
        """The run's model as the reference transformer (the same parameters; for an
        accelerated run, converted from its tensors)."""
        from .loop import build, load_tensors_into
        from .models.transformer import Transformer

        if isinstance(self.model, Transformer):
            return self.model
        if self._reference is None:
            _, ref = build(self.cfg, self.task)
            load_tensors_into(ref, self.tensors())
            self._reference = ref
        return self._reference

    def tensors(self) -> dict:
        """The trained parameters by name (what params.safetensors holds)."""
        t = self.model.tensors() if self.model is not None else {}
        return {k: v.detach() for k, v in t.items()}

    def test_tokens(self) -> torch.Tensor:
        """The run's held-out test inputs (its ``test`` stream), tokens (n, T)."""
        from .loop import Data

        return Data(self.cfg, self.task).test[0]

    @torch.no_grad()
    def attention(self, tokens: torch.Tensor) -> torch.Tensor:
        """Attention patterns of ``tokens`` (B, T), (L, B, H, Nq, Nk): layer, sequence,
        head, query slot, key slot."""
        return self.reference().patterns(tokens)

    @property
    def V(self):
        """The paper's value matrix V (K, K) where the model has one (one layer, one head,
        linear head), else None."""
        from .metrics import value_matrix

        return value_matrix(self.reference())

    def save(self, out, figures: bool = True) -> Path:
        """Write the run directory ``out`` (atomic; see ``training.save``)."""
        from .training import Result, save

        self.path = save(Result(self.cfg, self.summary, self.metrics, self.model, self.task, self.error), out,
                         figures=figures)
        return self.path


def train(cfg: Config | dict | list | None = None, progress: bool = False) -> Run:
    """Train one model (``cfg``, or overrides for :func:`configure`); no files are written."""
    from .loop import run

    if not isinstance(cfg, Config):
        cfg = configure(cfg)
    r = run(cfg, progress=progress)
    return Run(r.cfg, r.summary, r.metrics, r.model, r.task, r.error)


def load(path) -> Run:
    """The run in directory ``path`` (any ``walkformer train``, sweep or reproduce run),
    its model rebuilt as the reference transformer with the saved parameters."""
    from .loop import build, load_tensors_into
    from .runs.rundir import damage, load_params
    from .tasks import make_task

    path = Path(path)
    if (why := damage(path)) is not None:
        raise ValueError(f"{path}: not a whole run directory ({why})")
    cfg = from_dict(json.loads((path / "config.json").read_text()))
    summary = json.loads((path / "summary.json").read_text())
    metrics = [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines() if line]
    task = make_task(cfg)
    run = Run(cfg, summary, metrics, None, task, summary.get("error"), path)
    if cfg.model.name != "canonical":
        _, model = build(cfg, task)
        load_tensors_into(model, {k: v for k, v in load_params(path).items() if k != "Pi_T"})
        run.model = run._reference = model
    return run
