"""The preset rev-bias (experiments/rev_bias.py): the reference transformer trains the QA
tasks (it crashed in its metrics), the exact small trainer against the project's two paths,
ReLU homogeneity (A's step against a rescaled init), and the claim logic with a case built
to fail."""

import json
from dataclasses import replace

import pytest
import torch

import walkformer as wf
from walkformer.experiments import REGISTRY, run_all
from walkformer.experiments import rev_bias as rb

SMALL = rb.FIG10 | {"model.M": 40, "train.n_train": 64, "eval.n_test": 64, "train.steps": 4}


@pytest.mark.parametrize("task", ["qa1", "qa2"])
def test_reference_path_trains_the_qa_tasks(task):
    """metrics/reference.py read task.parent_index, None for the QA tasks (no parent): the
    reference path crashed at its first evaluation. It now reports the weight on the last
    token, as the fast path does (metrics/shicao.py)."""
    r = wf.train(SMALL | {"task.name": task, "model.bias": True, "train.steps": 2})
    fast = wf.train(SMALL | {"task.name": task, "train.steps": 2})
    assert r.error is None and 0.0 <= r.summary["parent_attention"] <= 1.0
    assert abs(fast.summary["parent_attention"] - r.metrics[-1]["parent_attention"]) < 0.5
