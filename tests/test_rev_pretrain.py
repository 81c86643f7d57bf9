"""The preset rev-pretrain (experiments/rev_pretrain.py) and the core fix it needed."""

import walkformer as wf


def test_reference_path_evaluates_the_qa_tasks():
    """The QA tasks have no parent (parent_index None): the reference transformer's metrics
    read x_(N-1), as the Shi & Cao acceleration's do (before the fix: a ValueError, so no QA
    run could start from init.from, which only the reference serves)."""
    over = {"task.name": "qa2", "init.scheme": "gaussian", "init.sigma": 0.01, "model.M": 40,
            "model.normalize": True, "train.eta": 0.1, "train.steps": 3, "train.n_train": 50, "eval.n_test": 50}
    fast, ref = wf.train(over), wf.train(over | {"train.path": "reference"})
    for a, b in zip(fast.metrics, ref.metrics):
        assert abs(a["parent_attention"] - b["parent_attention"]) < 1e-12
        assert a["test_accuracy"] == b["test_accuracy"]
    assert abs(ref.metrics[-1]["parent_attention"] - ref.metrics[-1]["attention"][17]) == 0.0  # x_(N-1) = slot 18 of 19
