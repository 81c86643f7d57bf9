"""Train one model and look at its attention (Shi & Cao, Fig. 4 at a smaller N).

Run it as a script (`python examples/attention.py`) or cell by cell (`# %%`) in an editor
that knows the cell marker. The test suite executes it (tests/test_examples.py).
"""

# %% Train: the random walk on a circle, K = 6 states, p = 0.8, from zero initialisation
import walkformer as wf

run = wf.train({"task.p": 0.8, "task.N": 21, "model.M": 50, "train.steps": 100})
print(run)  # accuracy against the Bayes optimum max(p, 1 - p)

# %% Where the prediction slot looks: the direct parent x_{N-1} takes almost all the weight
x = run.test_tokens()[:3]  # three held-out sequences, states of x_1 .. x_{N-1}
pattern = run.attention(x)  # (layers, sequences, heads, query slots, key slots)
row = pattern[0, :, 0, -1]  # (3, N): the prediction slot's attention over the N slots
print("weight on the parent x_{N-1}:", row[:, -2].tolist())
print("largest weight elsewhere:    ", row[:, :-2].max(1).values.tolist())

# %% V against the transition matrix. Theorem 3.1 states V ∝ Πᵀ; under the ε-log-loss we
# measure that V tends to the elementwise square root (Πᵀ)^∘½ instead (docs/value-law.md)
import torch

V, PiT = run.V, torch.from_numpy(run.task.Pi.T.copy())
cos = lambda A, B: float((A * B).sum() / (A.norm() * B.norm()))  # noqa: E731
print(f"cos(V, Πᵀ) = {cos(V, PiT):.3f}, cos(V, (Πᵀ)^∘½) = {cos(V, PiT.sqrt()):.3f};  V =\n{V.numpy().round(2)}")
assert row[:, -2].min() > 0.5 and cos(V, PiT) > 0.9, "the example should show a trained parent-attending model"
