"""The progress bar of `walkformer reproduce` / `sweep` (executors.Progress): its total and
its updates are run costs, not run counts, and it still counts the runs (no timing here)."""

import dataclasses
from pathlib import Path

from walkformer.runs import executors
from walkformer.runs.executors import Progress, cost, execute
from walkformer.experiments import REGISTRY

SMALL = {"task.K": 4, "task.N": 13, "model.M": 30, "train.n_train": 100, "eval.n_test": 100, "train.steps": 5}


def test_every_preset_run_has_a_positive_cost_and_the_bar_totals_them(tmp_path):
    jobs = [j for e in REGISTRY.values() for j in e.jobs(tmp_path)]
    weights = [cost(c) for c, _ in jobs]
    assert jobs and all(isinstance(w, int) and w > 0 for w in weights)
    bar = Progress(jobs, [p for _, p in jobs], "reproduce")
    assert bar.bar.total == sum(weights) and bar.bar.n == 0 and bar.counted() == f"runs 0/{len(jobs)}"
    bar.close()
    gpt = next(c for c, _ in jobs if c.model.name == "gpt")
    shicao = next(c for c, _ in jobs if c.model.name == "shi-cao")
    tokens = lambda c: c.train.steps * (c.train.batch * c.task.N if c.model.name == "gpt"  # noqa: E731
                                        else c.train.n_train * (c.task.N - 1))
    assert cost(shicao) == tokens(shicao)  # steps × sequences × length
    assert cost(gpt) == tokens(gpt) * executors.GPT_WEIGHT * gpt.model.layers  # a gpt token-step weighs hundreds


def test_bar_starts_at_the_finished_runs_and_advances_by_their_cost(tmp_path):
    e = dataclasses.replace(REGISTRY["fig5"], base=SMALL, seeds=3)
    jobs = list(e.jobs(tmp_path))
    w = {p: cost(c) for c, p in jobs}
    bar = Progress(jobs, [p for _, p in jobs[2:]], "reproduce")  # the first two are done
    assert bar.bar.n == w[jobs[0][1]] + w[jobs[1][1]] and bar.counted() == f"runs 2/{len(jobs)}"
    bar.advance([jobs[2][1], jobs[3][1]])
    assert bar.bar.n == sum(w[jobs[i][1]] for i in range(4)) and bar.counted() == f"runs 4/{len(jobs)}"
    bar.close()


def test_execute_fills_the_bar_exactly(tmp_path, monkeypatch):
    e = dataclasses.replace(REGISTRY["fig5"], base=SMALL, seeds=2)
    jobs = list(e.jobs(tmp_path))
    seen = []

    class Spy(Progress):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            seen.append(self)

    monkeypatch.setattr(executors, "Progress", Spy)
    execute(jobs[:1], workers=1)
    execute(jobs, workers=1)
    first, second = seen
    assert first.bar.n == first.bar.total == cost(jobs[0][0])
    assert second.bar.total == sum(cost(c) for c, _ in jobs) == second.bar.n
    assert second.counted() == f"runs {len(jobs)}/{len(jobs)}"
    assert all((Path(p) / "summary.json").exists() for _, p in jobs)
