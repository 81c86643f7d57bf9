"""Runs on disk and many runs at once.

- ``rundir.py``: the run directory (atomic, staged, verified, locked; provenance; ``load_params``);
- ``multirun.py``: many runs in one process (``train_all``: batched accelerations where they
  pay, else one at a time through the training loop), ``multirun_gpt.py`` its gpt batches;
- ``executors.py``: where batches run (a local process pool or Ray), resumable, with a progress bar;
- ``sweep.py``: TOML grids, content-addressed run directories, ``results.parquet``.
"""
