"""Train many ``gpt`` runs (binary Markov chains) in one process as one
:class:`walkformer.models.batched_gpt.BatchedGPT`; ``multirun.train_all`` dispatches
here on ``model.name``.

Each run keeps what ``loop.run`` gives it alone: its own seeded init,
data and test streams (every step draws run r's batch from run r's generator), its
own chain (p, q), init, lr, momentum and tying; the same loss, update, schedule,
metrics and summary; and its own failure (a non-finite loss stops that run only, at
that step). Equal to the runs trained alone to round-off (tested to 1e-6 in float64).
"""

from __future__ import annotations

import math
import time

import torch

from ..config import Config
from ..models.batched_gpt import BatchedGPT, BatchedOptimizer
from ..tasks.binary import sample_many
from ..training import PARAM_BOUND, unbounded
from ..metrics import binary_metrics
from ..train_binary import build_gpt, gpt_summary, make_binary_task, nonfinite

# what must be equal for runs to share a batch (p, q, seed, init, lr, momentum, tie may differ)
GPT_SHAPE_KEYS = ("task.name", "task.N", "model.name", "model.d", "model.layers", "model.heads",
                  "model.layernorm", "train.batch", "train.steps", "train.optimizer", "eval.n_test",
                  "eval.every", "dtype")


def _stack_samples(tasks, n: int, gens, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Each run's ``task.sample_next_token(n, its generator)``, stacked: (R, n, N) twice."""
    s = sample_many(tasks, n, gens).to(device)  # (R, n, N+1)
    return s[..., :-1], s[..., 1:]


def train_gpt_group(cfgs: list[Config], keep_metrics: bool = True, device: str = "cpu") -> list:
    """Train compatible gpt runs (equal ``multirun.shape_key``) as one batched model;
    one ``training.Result`` per run, in order."""
    from ..training import Result, generator

    c0, R = cfgs[0], len(cfgs)
    tr, ev = c0.train, c0.eval
    tasks = [make_binary_task(c) for c in cfgs]
    model = BatchedGPT([build_gpt(c, generator(c.seed, "init")) for c in cfgs], device)
    dtype = model.params["embed.W_E"].dtype
    opt = BatchedOptimizer(model, tr.optimizer, [c.train.lr for c in cfgs], tr.steps,
                           [c.train.momentum for c in cfgs])
    data_gens = [generator(c.seed, "data") for c in cfgs]
    x_test, _ = _stack_samples(tasks, ev.n_test, [generator(c.seed, "test") for c in cfgs], device)
    metrics, errors, last = [[] for _ in cfgs], [None] * R, [tr.steps] * R
    active = torch.ones(R, dtype=torch.bool, device=device)
    t0 = time.perf_counter()
    for step in range(tr.steps + 1):
        x, y = _stack_samples(tasks, tr.batch, data_gens, device)  # (R, B, N) each
        loss_t = model.losses(x, y)  # (R,)
        loss = loss_t.detach().cpu().tolist()
        finite = torch.tensor([math.isfinite(v) for v in loss], device=device)
        big = torch.stack([p.detach().abs().reshape(R, -1).amax(1) for p in model.params.values()]).amax(0)  # (R,)
        blown = finite & (big > PARAM_BOUND)  # training.PARAM_BOUND
        due = step % ev.every == 0 or step == tr.steps
        log = (active & (~finite | blown | due)).cpu()
        if bool(log.any()):
            idx = torch.nonzero(log).flatten()
            with torch.no_grad():
                f = torch.sigmoid(model.forward(x_test).double())  # (R, n, N)
            mats = {k: M[idx.to(M.device)] for k, M in model.matrices().items()}
            lines = binary_metrics(f[idx.to(f.device)], x_test[idx.to(x_test.device)], [tasks[r] for r in idx],
                                   mats, full=step == tr.steps)
            lrs = opt.lr_at(step)
            for r, line in zip(idx.tolist(), lines):
                metrics[r].append({"step": step, "train_loss": loss[r], "lr": lrs[r]} | line)
        for r in torch.nonzero((active & ~finite).cpu()).flatten().tolist():
            errors[r], last[r] = nonfinite(step, loss[r]), step
        for r in torch.nonzero((active & blown).cpu()).flatten().tolist():
            errors[r], last[r] = unbounded(step, loss[r], float(big[r]), "train.lr", "init.c or init.scheme"), step
        active = active & finite & ~blown
        if step == tr.steps or not bool(active.any()):
            break
        torch.where(active, loss_t, torch.zeros_like(loss_t)).sum().backward()
        opt.step(step, active)
    seconds = (time.perf_counter() - t0) / R  # each run's share of the batch
    return [Result(c, gpt_summary(t, metrics[r], last[r], seconds, errors[r]), metrics[r], model.single(r), t,
                   errors[r]) for r, (c, t) in enumerate(zip(cfgs, tasks))]
