"""Any finite Markov source: your own transition matrix, a parent at lag 2, and the exact
Bayes-optimal accuracy it is measured against (docs/tasks.md).

Run it as a script or cell by cell (`# %%`); the test suite executes it.
"""

# %% A three-state chain whose next state depends on the state two steps back
import walkformer as wf

keys = {"task.name": "chain", "task.matrix": "0.8,0.1,0.1;0.1,0.8,0.1;0.1,0.1,0.8", "task.lag": 2,
        "task.N": 12, "model.pos": "onehot", "model.M": 12, "train.steps": 150, "train.eta": 5.0}
cfg = wf.configure(keys)
print(cfg.task)

# %% Train the paper's model on it (the reference transformer trains it: no acceleration covers a lag)
run = wf.train(cfg)
s = run.summary
print(f"accuracy {s['test_accuracy']:.3f}, Bayes-optimal {s['optimal_accuracy']:.3f} (exact), "
      f"random guessing {s['random_guess_accuracy']:.3f}")

# %% Its attention moved to the parent at lag 2, x_{N-2}
att = run.metrics[-1]["attention"]  # mean attention of the prediction slot over the N slots
best = max(range(len(att)), key=att.__getitem__)
print(f"most attended slot {best} (x_{best + 1}), the parent is slot {run.task.parent_index}")
assert best == run.task.parent_index and s["test_accuracy"] > s["optimal_accuracy"] - 0.1
