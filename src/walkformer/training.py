"""Gradient descent on the Shi & Cao model, eq. (2.3), and what every training run shares.

    θ^(t+1) = θ^(t) − η ∇_θ L(θ^(t)),     θ^(0) = 0 or N(0, σ²)

with L the weighted mean of −log(e_y^T f + ε) over

- ``fixed``: one training set of ``n_train`` sequences, full batch (the paper's setting);
- ``online``: ``n_train`` fresh sequences every step;
- ``population``: every sequence with its probability (small K and N), so ∇L is the
  exact expected gradient of the theory.

A single run trains in the one loop, ``loop.run``, through :class:`ShiCaoAdapter`; many
at once in ``multirun.train_group``. Both share from here the Shi & Cao pieces
(:func:`datasets`, :func:`summarise`, the failure messages) and, with every other
implementation, :class:`Result`, :func:`generator`, :data:`PARAM_BOUND` and :func:`save`.

Metrics at step t are those of θ^(t) (step 0 is the initialisation). A run stops as
failed (``failures.py``) when its loss or a gradient is not finite, or when a parameter
exceeds :data:`PARAM_BOUND` in absolute value (float64 can hold θ ~ 1e300 with a finite,
meaningless loss). Same config and seed give bit-identical results: three seeded generators (data, test, init) are
derived from ``seed``; one torch thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import failures

from .runs import rundir
from .config import Config, stream_seed
from .criteria import steps_to_optimal, tolerance  # noqa: F401  (tolerance: re-exported)
from .metrics import evaluate
from .models import Batch, build_model
from .models.shicao import all_finite
from .tasks import make_task

# |θ| beyond which a run has diverged even if its loss is finite. For the linear head
# |e_yᵀf| ≤ max|V| (h = X S is a sub-probability vector), and one GD step moves V by at most
# η/ε per sequence (|∂L/∂z| = 1/(z + ε) ≤ 1/ε for z ≥ 0), so even η = 10³, ε = 10⁻⁶ and
# 10⁹ steps (limits.MAX_STEPS) stay below 10¹⁸; a run at 10¹⁰⁰ predicts f ~ 10¹⁰⁰ (a loss
# below −230 nats). float32 overflows (3.4e38) first, which the finiteness check catches.
PARAM_BOUND = 1e100


def param_max(tensors) -> float:
    """max |θ| over ``tensors`` (None and empty ones skipped)."""
    return max((float(t.abs().max()) for t in tensors if t is not None and t.numel()), default=0.0)


def shicao_params(model) -> list:
    """The trained tensors of a Shi & Cao model: V, A and W's factors Rk, a (fast path), or V, W, A (dense)."""
    return [getattr(model, k, None) for k in (("V", "A", "Rk", "a") if hasattr(model, "Rk") else ("V", "_W", "A"))]


def shicao_rate(cfg: Config) -> str:
    """What sets the size of a Shi & Cao step: η, and ε through |∂L/∂z| = 1/(z + ε) ≤ 1/ε."""
    return f"train.eta (now {cfg.train.eta:g}) or raise train.eps (now {cfg.train.eps:g})"


def shicao_scale(cfg: Config) -> str:
    """What sets the size of a Shi & Cao model's initial parameters."""
    return f"init.sigma (now {cfg.init.sigma:g})"


def unbounded(step: int, loss: float, big: float, rate: str, scale: str) -> str:
    """The message of a run whose parameters left ``PARAM_BOUND`` at θ^(step) (``failures.at_step``)."""
    where = (f"at the initial parameters; change {scale}" if step == 0 else f"the parameters diverged; lower {rate}")
    return (f"step {step}: max |θ| = {big:.3g} > {PARAM_BOUND:.0e} (train loss {loss:.4g} is finite but "
            f"meaningless): {where}")


def generator(seed: int, stream: str) -> torch.Generator:
    return torch.Generator().manual_seed(stream_seed(seed, stream))


def torch_dtype(cfg: Config):
    return torch.float64 if cfg.dtype == "float64" else torch.float32


@dataclass
class Result:
    cfg: Config
    summary: dict
    metrics: list = field(default_factory=list)
    model: object = None
    task: object = None
    error: str | None = None

    @property
    def failure(self) -> str | None:
        """Why the run failed (``failures.py``), None when it did not."""
        return self.summary.get("failure")


def _failure(cfg: Config, model, batch, step: int, loss) -> tuple[str, str]:
    """``(failure, message)`` for a loss or gradient that is not finite at θ^(step)
    (``failures.py``). At step 0 no step has been taken, so the cause is the initial
    point (init.sigma) or ε, never the learning rate; later it is the step size."""
    eps = cfg.train.eps
    fy = model.forward(batch)["f"][torch.arange(len(batch)), batch.y]
    bad = fy + eps <= 0
    kind = failures.at_step(step)
    why = (f"e_y^T f + eps <= 0 for {int(bad.sum())} of {len(batch)} training sequences (smallest e_y^T f = "
           f"{float(fy.min()):.3g}), where the log-loss is undefined" if bool(bad.any())
           else "the loss or its gradient overflows")
    if kind == failures.UNDEFINED_AT_INIT:
        cure = (f"raise train.eps above {-float(fy.min()):.3g} or lower {shicao_scale(cfg)}"
                if bool(bad.any()) else f"lower {shicao_scale(cfg)}")
        return kind, (f"step 0: train loss is {loss}: at the initial parameters {why}; {cure} "
                      f"(train.eta plays no part before the first step)")
    cure = f"lower train.eta (now {cfg.train.eta:g})" + (" or raise train.eps" if bool(bad.any()) else "")
    return kind, f"step {step}: train loss is {loss}: the loss diverged ({why}); {cure}"


def progress_bar(show: bool, total: int):
    """A tqdm bar over training steps, or None."""
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="train", unit="step", leave=False)


class ShiCaoAdapter:
    """The Shi & Cao acceleration in the one loop (``loop.run``): ``models/shicao.py``'s
    exact gradients and GD step, eq. (2.3) (or ``models/dense.py``'s autograd model with
    ``train.path=autograd``), metrics from ``metrics.evaluate``. On a logged step the
    gradient and the test batch's forward pass share one pass (``grads_and_forward``)."""

    def __init__(self, cfg: Config):
        self.cfg, self.task = cfg, make_task(cfg)
        self.model = build_model(cfg, self.task, generator(cfg.seed, "init"))
        self.rate, self.scale = shicao_rate(cfg), shicao_scale(cfg)
        self._dtype = torch_dtype(cfg)
        self._batch = self._grads = self._fw = None

    def batch(self, tokens, y, w) -> Batch:
        return Batch(tokens, y, w, self.task.K, self._dtype)

    def loss(self, batch: Batch, probe: Batch | None = None) -> float:
        m, eps = self.model, self.cfg.train.eps
        self._batch = batch
        if probe is not None and hasattr(m, "grads_and_forward"):  # one pass over training and test sequences
            loss, self._grads, self._fw = m.grads_and_forward(batch, eps, probe)
        else:
            (loss, self._grads), self._fw = m.grads(batch, eps), None
        return loss

    def finite(self, loss: float) -> bool:
        m = self.model
        return m.finite(loss, self._grads) if hasattr(m, "finite") else all_finite(loss, self._grads)

    def params_max(self) -> float:
        return param_max(shicao_params(self.model))

    def step(self, t: int) -> None:
        self.model.step(self._grads, self.cfg.train.eta)

    def evaluate(self, step: int, test: Batch, full: bool) -> dict:
        return evaluate(self.model, self.task, test, self.cfg.train.eps, full=full, fw=self._fw,
                        directions=self.cfg.eval.f_distance)

    def failure(self, step: int, loss: float) -> tuple[str, str]:
        return _failure(self.cfg, self.model, self._batch, step, loss)

    def summary(self, metrics: list, step: int, seconds: float, error, failure) -> dict:
        return summarise(self.cfg, self.task, metrics, step, seconds, error, failure)


def datasets(cfg: Config, task):
    """``(sample_train, test)``: a function giving the next training batch (the same one
    every call for ``fixed``) and the held-out test batch, from the seeded streams."""
    dtype, K, tr = torch_dtype(cfg), task.K, cfg.train
    data_gen = generator(cfg.seed, "data")

    def sample_train() -> Batch:
        if tr.data == "population":
            tokens, y, w = task.population()
            return Batch(tokens, y, w, K, dtype)
        return Batch(*task.sample(tr.n_train, data_gen), None, K, dtype)

    return sample_train, Batch(*task.sample(cfg.eval.n_test, generator(cfg.seed, "test")), None, K, dtype)


def summarise(cfg: Config, task, metrics: list, step: int, seconds: float, error: str | None,
              failure: str | None = None) -> dict:
    """summary.json of a run from its logged metrics (the last line is the final model);
    a failed run (``error``) says why in ``failure`` (``failures.py``)."""
    last = metrics[-1]
    summary = {"optimal_accuracy": task.optimal_accuracy, "bayes_loss": task.bayes_loss,
               "random_guess_accuracy": 1.0 / task.K}
    summary |= {k: last[k] for k in ("test_accuracy", "parent_attention", "value_cosine", "value_cosine_sqrt",
                                     "value_ones_cosine", "token_logit_spread", "kl", "train_loss")}
    summary |= {k: last[k] for k in ("f_opt_distance", "f_sqrt_distance") if k in last}  # eval.f_distance
    summary |= failures.run_status(step, seconds, error, failure)
    summary["steps_to_optimal"] = steps_to_optimal(metrics, task.optimal_accuracy, cfg.eval.n_test)
    if cfg.model.pos == "none":  # the best any position-free predictor can do (cached per task)
        from .tasks.bag import bag_fields

        summary |= bag_fields(task)
    return summary


def save(result: Result, out: Path | str, command: str | None = None, figures: bool = True,
         dense_W: bool = True) -> Path:
    """Write a run directory atomically: config, summary, metrics, params, figures.

    ``dense_W=False`` (reproductions and sweeps: hundreds of runs) writes the Shi & Cao W
    as its factors W_R, W_q (W = W0 + W_R W_qᵀ) rather than 8 MB of (D, D) floats;
    :func:`walkformer.runs.rundir.load_params` rebuilds W either way."""
    from safetensors.torch import save_file

    out = Path(out)
    with rundir.Staging(out) as tmp:
        cfg = result.cfg.to_dict() | {"versions": rundir.versions(),
                                      "command": command or rundir.command_for(result.cfg, str(out))}
        rundir.write_json(tmp / "config.json", cfg)
        rundir.atomic_write(tmp / "metrics.jsonl", "".join(rundir.dumps(m) + "\n" for m in result.metrics))
        from .paths import acceleration

        factored = not dense_W and acceleration(result.cfg) == "shi-cao"
        tensors = result.model.tensors(dense=False) if factored else result.model.tensors()
        tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
        tensors["Pi_T"] = torch.from_numpy(result.task.Pi.T.copy()) if result.task.Pi is not None else torch.zeros(0)
        save_file(tensors, str(tmp / "params.safetensors"))
        if figures:
            from .plots import plot_binary_run, plot_run

            (plot_binary_run if result.cfg.task.name == "binary" else plot_run)(result, tmp / "run.png")
        rundir.write_json(tmp / "summary.json", result.summary)
    return out
