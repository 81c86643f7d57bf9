"""A small sweep from Python and its table: accuracy over p and the initial scale σ.

Needs the sweep extra (`pip install -e '.[sweep]'`; `make` installs it). Run it as a script
or cell by cell (`# %%`); the test suite executes it into a temporary directory.
"""

# %% The spec: the same TOML that `walkformer sweep SPEC --out DIR` reads
import sys
import tempfile

from walkformer.runs import sweep

spec = sweep.parse("""
seeds = 2
[base]
"task.N" = 21
"model.M" = 50
"init.scheme" = "gaussian"
"train.steps" = 60
[grid]
"task.p" = [0.5, 1.0]
"init.sigma" = [0.0, 0.01]
""")
out = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="walkformer-sweep-")

# %% Run it (resumable: run again and only missing runs train) and read the table
df = sweep.sweep(spec, out, quiet=True)
print(df[["task.p", "init.sigma", "seed", "test_accuracy", "optimal_accuracy", "status"]].to_string(index=False))

# %% Means over seeds, failed runs left out (the sweep's report page shows the same)
print(sweep.aggregate(df))
print(f"runs and results.parquet in {out}")
