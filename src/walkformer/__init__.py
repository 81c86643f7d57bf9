"""walkformer: how one-layer transformers learn random walks and Markov chains.

Layout (each module's docstring says more):

- ``config``      typed run configuration, dotted overrides, validation
- ``tasks/``      what a sequence is and its Bayes-optimal answer
- ``models/``     the transformer of Shi & Cao (fast exact path + dense reference)
- ``train``       gradient descent: fixed training set, online, exact population
- ``metrics``     accuracy, attention, value alignment, KL, Fig. 13 statistics
- ``rundir``      atomic run directories and provenance
- ``plots``       figures
- ``experiments/`` one named preset per paper figure, with claims; phase diagrams
- ``multirun``    many compatible runs trained as one batched model (``models/batched``)
- ``executors``   local process pool / Ray, resumable, with a progress bar
- ``sweep``       TOML grids, content-addressed run directories, results.parquet
- ``cli``         the ``walkformer`` command
"""

__version__ = "0.1.0"
