"""The one training loop (:func:`run`) of every transformer, and the reference transformer's part in it.

    θ^(t+1) = θ^(t) − η ∇_θ L(θ^(t)),    L(θ) = Σ_b w_b ℓ(f_θ(x_b), y_b)

with ℓ the model's loss (``model.loss``: −log(e_yᵀf + ε), softmax cross-entropy or the
binary cross-entropy of a sigmoid read-out) and w_b = 1/B, or the path probabilities of
``train.data=population``. ``train.optimizer`` is ``gd`` (step ``train.eta`` for the
Shi & Cao family, ``train.lr`` for the gpt family), ``sgd`` or ``adamw`` (``optim.py``:
torch.optim with the papers' one-cycle schedule).

:func:`run` owns what every implementation shares: the data (:class:`Data`), the
step/evaluation schedule (``config.logged``), failure detection (a non-finite loss, or
gradient where the implementation checks it; a parameter beyond ``training.PARAM_BOUND``)
and its messages, the progress bar, the timing and the ``training.Result``. What differs
per implementation (``paths.acceleration``) is an adapter with these methods:

- ``batch(tokens, targets, weights)``: its batch of a drawn sample (made once per sample);
- ``loss(batch, probe) -> float``: the training loss at θ^(t), gradient computed or kept
  for ``step``; ``probe`` is the test batch on a logged step (the Shi & Cao
  acceleration evaluates it in the same pass), else None;
- ``finite(loss)``, ``params_max()``, ``step(t)`` (θ^(t) → θ^(t+1));
- ``evaluate(step, test, full) -> dict``: the metrics of a logged line;
- ``failure(step, loss) -> (kind, message)`` of a non-finite loss; ``rate`` and ``scale``
  name what to change when the parameters diverge;
- ``summary(metrics, step, seconds, error, failure) -> dict``: summary.json;

and ``task``, ``model``. Here: :class:`ReferenceAdapter` (the reference transformer,
``models/transformer.py``) and :class:`GPTAdapter` (the gpt acceleration, ``models/gpt.py``),
both autograd with ``optim.Optimizer``; ``training.ShiCaoAdapter`` (the Shi & Cao
acceleration's exact gradients and GD step, next to the Shi & Cao pieces the batched
``multirun.py`` shares).

Data, from the three seeded streams of ``config.stream_seed``:

- next-state tasks (circle, qa, chain): ``fixed`` (one training set of ``n_train``
  sequences, full batch), ``online`` (fresh ones every step), ``population`` (every path
  with its probability: the exact expected gradient);
- the binary task: ``train.batch`` fresh sequences every step, a target at every
  position.

Metrics at step t are those of θ^(t) (step 0 is the initialisation), on ``eval.n_test``
held-out sequences (``metrics/``: the reference's ``evaluate_reference``). ``init.from=DIR`` starts
from another run's parameters (pretraining, then fine-tuning); a name or shape that does
not fit is a one-line ``ConfigError`` before any step.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch.nn.functional as F

from . import failures
from .config import Config, ConfigError, logged
from .criteria import steps_to_optimal
from .metrics import evaluate_gpt, evaluate_reference
from .models.initial import init_transformer
from .models.transformer import Transformer, spec_from_config
from .optim import Optimizer
from .paths import acceleration
from .tasks import make_task
from .training import PARAM_BOUND, Result, generator, param_max, progress_bar, torch_dtype, unbounded


def build(cfg: Config, task=None) -> tuple[object, Transformer]:
    """``(task, model)`` of ``cfg``: the initial parameters drawn from the ``init`` stream,
    or read from ``init.from``."""
    task = make_task(cfg) if task is None else task
    slots = cfg.task.N if cfg.task.name == "binary" else task.N  # binary: N inputs, a target after each
    model = Transformer(spec_from_config(cfg, task.K, slots))
    init_transformer(model, cfg.init.scheme, cfg.init.sigma, cfg.init.c, generator(cfg.seed, "init"))
    if cfg.init.from_:
        load_initial(model, cfg.init.from_)
    return task, model.to(torch_dtype(cfg))


def load_initial(model: Transformer, source: str) -> None:
    """Copy the parameters of run directory ``source`` into ``model`` (``init.from``)."""
    from .runs.rundir import load_params

    if not (Path(source) / "params.safetensors").is_file():
        raise ConfigError(f"init.from={source!r} is not allowed: a run directory with params.safetensors")
    try:
        load_tensors_into(model, load_params(source))
    except ValueError as e:
        raise ConfigError(f"init.from={source!r} does not fit this model: {e}") from None


# The Shi & Cao acceleration's tensor names (the paper's V, W, A) as the reference model's;
# the gpt acceleration already uses the reference names.
PAPER_NAMES = {"V": "head.V", "W": "blocks.0.attn.W", "A": "head.A"}


def load_tensors_into(model: Transformer, tensors: dict) -> None:
    """``model.load_tensors`` of any run's tensors: the reference's own names, or the Shi &
    Cao acceleration's (V (K|m, K), W (D, D) dense, A; its W factors and Πᵀ are dropped).
    A name or shape that does not fit: a one-line ValueError."""
    tensors = {k: v for k, v in tensors.items() if k not in ("Pi_T", "W_R", "W_q")}
    if "V" in tensors:  # the paper's matrices: one head, one layer
        tensors = {PAPER_NAMES.get(k, k): (v[None] if k in ("V", "W") else v) for k, v in tensors.items()}
    dtype = next(iter(model.parameters())).dtype
    model.load_tensors({k: v.to(dtype) for k, v in tensors.items()})


def learning_rate(cfg: Config) -> float:
    """The step size: ``train.eta`` for gradient descent on the Shi & Cao family (eq. 2.3),
    ``train.lr`` otherwise."""
    return cfg.train.eta if cfg.model.name == "shi-cao" and cfg.train.optimizer == "gd" else cfg.train.lr


class Data:
    """Training batches and the fixed test batch of a run, as ``batch(tokens, targets,
    weights or None)`` makes them (an adapter's own batch type; the tuple by default),
    each made once per drawn sample."""

    def __init__(self, cfg: Config, task, batch=lambda *sample: sample):
        self.cfg, self.task, self.batch = cfg, task, batch
        self.binary = cfg.task.name == "binary"
        self.gen = generator(cfg.seed, "data")
        if self.binary:
            self.test = batch(*task.sample_next_token(cfg.eval.n_test, generator(cfg.seed, "test")), None)
        else:
            self.test = batch(*task.sample(cfg.eval.n_test, generator(cfg.seed, "test")), None)
        self.current = None

    def _draw(self):
        tr = self.cfg.train
        if self.binary:
            return self.batch(*self.task.sample_next_token(tr.batch, self.gen), None)  # (B, N), (B, N)
        if tr.data == "population":
            return self.batch(*self.task.population())
        return self.batch(*self.task.sample(tr.n_train, self.gen), None)

    def train(self, step: int):
        """The batch of step ``step`` (called once per step, in order): fresh ones every
        step for online data and the binary task, the same one for fixed and population."""
        if self.current is None or (step > 0 and (self.binary or self.cfg.train.data == "online")):
            self.current = self._draw()
        return self.current


def run(cfg: Config, progress: bool = False, keep_metrics: bool = True) -> Result:
    """Train one model as ``cfg`` says, by the implementation ``paths.acceleration`` names;
    no files are written. Every transformer trains in this one loop; what differs per
    implementation is its adapter (:func:`adapter`). The canonical model is not a
    transformer and has no loop: ``train_binary.run_canonical`` trains it in closed form."""
    path = acceleration(cfg)
    if path == "canonical":
        from .train_binary import run_canonical

        return run_canonical(cfg, progress, keep_metrics)
    it = adapter(cfg, path)
    tr = cfg.train
    data = Data(cfg, it.task, it.batch)
    metrics, error, failure = [], None, None
    data.train(0)  # step 0's batch, drawn before the clock starts
    bar = progress_bar(progress, tr.steps)
    t0 = time.perf_counter()
    step = 0
    for step in range(tr.steps + 1):
        due = logged(cfg.eval, step, tr.steps)
        loss = it.loss(data.train(step), data.test if due else None)  # at θ^(step)
        finite = it.finite(loss)
        big = it.params_max() if finite else 0.0
        if due or not finite or big > PARAM_BOUND:
            line = it.evaluate(step, data.test, full=keep_metrics or step == tr.steps)
            metrics.append({"step": step, "train_loss": loss} | line)
        if not finite:
            failure, error = it.failure(step, loss)
            break
        if big > PARAM_BOUND:
            failure, error = failures.at_step(step), unbounded(step, loss, big, it.rate, it.scale)
            break
        if step == tr.steps:
            break
        it.step(step)  # θ^(step) → θ^(step+1)
        if bar is not None:
            bar.update()
    seconds = time.perf_counter() - t0
    if bar is not None:
        bar.close()
    return Result(cfg, it.summary(metrics, step, seconds, error, failure), metrics, it.model, it.task, error)


def adapter(cfg: Config, path: str | None):
    """The adapter of implementation ``path`` (``paths.acceleration``) for ``cfg``."""
    if path == "shi-cao":
        from .training import ShiCaoAdapter

        return ShiCaoAdapter(cfg)
    return GPTAdapter(cfg) if path == "gpt" else ReferenceAdapter(cfg)


class ReferenceAdapter:
    """The reference transformer in :func:`run`: autograd and ``optim.Optimizer``.

    ``loss`` keeps the graph, ``step`` differentiates it and updates, so a run
    differentiates only where it takes a step (never at its last or failed step)."""

    rate, scale = "train.eta or train.lr", "init.sigma"  # what a divergence message names

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.task, self.model = build(cfg)
        tr = cfg.train
        self.opt = Optimizer(self.model, tr.optimizer, learning_rate(cfg), tr.steps, tr.momentum)
        self._loss = None

    @staticmethod
    def batch(*sample):
        """The implementation's batch of a drawn ``(tokens, targets, weights)``: itself."""
        return sample

    def loss(self, batch, probe=None) -> float:
        """The training loss at the current θ (``probe``: the test batch of a logged step)."""
        x, y, w = batch
        self._loss = self.model.loss(self.model(x), y, w, self.cfg.train.eps)
        return float(self._loss.detach())

    def finite(self, loss: float) -> bool:
        return math.isfinite(loss)

    def params_max(self) -> float:
        return param_max([p.detach() for p in self.model.parameters()])

    def step(self, t: int) -> None:
        self._loss.backward()
        self.opt.step(t)

    def evaluate(self, step: int, test, full: bool) -> dict:
        return evaluate_reference(self.model, self.task, test, self.cfg, full=full)

    def failure(self, step: int, loss: float) -> tuple[str, str]:
        """``(kind, message)`` of a non-finite loss at θ^(step) (``failures.py``)."""
        tr = self.cfg.train
        return failures.at_step(step), (f"step {step}: train loss is {loss}: " + (
            "the loss is undefined at the initial parameters; change init.scheme or init.sigma" if step == 0 else
            f"the loss diverged; lower {'train.eta' if learning_rate(self.cfg) == tr.eta else 'train.lr'}"))

    def summary(self, metrics: list, step: int, seconds: float, error, failure) -> dict:
        return summarise(self.cfg, self.task, metrics, step, seconds, error, failure)


class GPTAdapter(ReferenceAdapter):
    """The gpt acceleration in :func:`run`: ``models/gpt.py``'s GPT with autograd and
    ``optim.Optimizer``, the mean next-token BCE, ``metrics.evaluate_gpt`` and ``train_binary``'s summary.
    A logged line adds the step's ``lr``; ``p_hat_by_position`` only in the last line
    (as in the batched ``multirun_gpt.py``)."""

    rate, scale = "train.lr", "init.c or init.scheme"

    def __init__(self, cfg: Config):
        from .train_binary import build_gpt, make_binary_task

        self.cfg, self.task = cfg, make_binary_task(cfg)
        self.model = build_gpt(cfg, generator(cfg.seed, "init"))
        tr = cfg.train
        self.opt = Optimizer(self.model, tr.optimizer, tr.lr, tr.steps, tr.momentum)
        self._loss = None

    def loss(self, batch, probe=None) -> float:
        x, y, _ = batch  # (B, N), (B, N)
        logits = self.model(x)  # (B, N)
        self._loss = F.binary_cross_entropy_with_logits(logits, y.to(self.model.embed.W_E.dtype))
        return float(self._loss.detach())

    def evaluate(self, step: int, test, full: bool) -> dict:
        self.model.eval()
        line = {"lr": self.opt.lr_at(step)} | evaluate_gpt(self.model, self.task, test[0],
                                                           full=step == self.cfg.train.steps)
        self.model.train()
        return line

    def failure(self, step: int, loss: float) -> tuple[str, str]:
        from .train_binary import nonfinite

        return failures.at_step(step), nonfinite(step, loss)

    def summary(self, metrics: list, step: int, seconds: float, error, failure) -> dict:
        from .train_binary import gpt_summary

        return gpt_summary(self.task, metrics, step, seconds, error, failure)


def summarise(cfg: Config, task, metrics: list, step: int, seconds: float, error: str | None,
              failure: str | None) -> dict:
    """summary.json of a reference run: the fields of the accelerated paths' summaries
    that apply, from the last logged line (the final model), and the Bayes references."""
    last = metrics[-1]
    if cfg.task.name == "binary":
        from .train_binary import gpt_summary

        return gpt_summary(task, metrics, step, seconds, error, failure)
    summary = {"optimal_accuracy": task.optimal_accuracy, "bayes_loss": task.bayes_loss,
               "random_guess_accuracy": 1.0 / task.K}
    bayes = getattr(task, "bayes_accuracy", task.optimal_accuracy)
    if bayes != task.optimal_accuracy:
        summary["bayes_accuracy"] = bayes
    summary |= {k: last.get(k) for k in ("test_accuracy", "test_loss", "parent_attention", "kl", "train_loss",
                                         "value_cosine", "value_cosine_sqrt", "value_ones_cosine")}
    summary |= failures.run_status(step, seconds, error, failure)
    summary["steps_to_optimal"] = steps_to_optimal(metrics, task.optimal_accuracy, cfg.eval.n_test)
    if cfg.model.pos == "none":  # the best any position-free predictor can do
        from .tasks.bag import bag_fields

        summary |= bag_fields(task)
    return summary
