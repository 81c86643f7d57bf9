"""Sweeps: a TOML spec -> a grid of resolved configs -> content-addressed run
directories -> ``results.parquet``.

A spec (see ``examples/sweep_p_sigma.toml``)::

    preset = "fig4"            # optional: a reproduction preset's base config
    variant = "p0.5"           # optional: and one of its variants
    seeds = 3                  # or a list of seeds, e.g. [0, 1, 2]
    [base]                     # any `walkformer train` keys (dotted, or as sub-tables)
    "train.steps" = 30
    [grid]                     # every combination of these values is run, for every seed
    "task.p" = [0.5, 1.0]
    "init.sigma" = [0.0, 0.01]

The run of a grid point lives in ``DIR/runs/<id>``, ``id`` a hash of its resolved
config (seed included), so re-running a spec skips what is finished, and two specs that
share a point share its run. Every point is resolved and validated before anything
runs: a bad spec costs one line (``ConfigError``), not a half-done sweep. A spec must
be UTF-8 TOML; a key given twice (``"task.p"`` and ``[base.task] p``) is an error,
values repeated in a grid list (``[0.5, 0.5]``, ``[1, 1.0]`` for a float key) are
merged with a note (``Spec.notes``). A grid of more than ``limits.MAX_RUNS`` runs
(counted from its shape, before anything is expanded) is refused unless
``Spec.max_runs`` is lifted (``walkformer sweep --yes``); every single value is checked
before the full product, so a bad value costs one line within a second.
``DIR/results.parquet`` has one row per grid point, rebuilt from the run directories
at the end of every sweep (written atomically), with ``status`` (ok, failed, error,
missing), ``failure`` (why not ok: ``failures.py``) and ``repaired`` (how many times
the run's directory was found damaged, set aside to ``runs/.damaged/`` and trained
again). One sweep at a time per ``DIR`` (``rundir.lock``); a run directory counts only
when it verifies (``rundir.damage``). A failed run's numbers are
those of the step it stopped at, not results: :func:`aggregate` (means over seeds)
uses ``status == "ok"`` runs only and counts the others by failure.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import math
import tomllib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import failures, limits
from ..config import MAX_SEED, Config, ConfigError, _leaves, _parse, apply_overrides, resolve

TOP = ("preset", "variant", "seeds", "base", "grid")
EXTRAS = {"sweep": ("pandas", "pyarrow"), "ray": ("pandas", "pyarrow", "ray")}  # pip extra -> its modules


def require(extra: str, what: str) -> None:
    """One-line ``ConfigError`` naming the pip extra to install when a module of
    ``extra`` (pyproject.toml's optional dependencies) cannot be imported."""
    import importlib

    for name in EXTRAS[extra]:
        try:
            importlib.import_module(name)
        except ImportError:
            raise ConfigError(f"{what} needs {name}, which is not installed: "
                              f"pip install 'walkformer[{extra}]'") from None


@dataclass
class Spec:
    base: dict  # dotted key -> value (preset's base, its variant, then [base])
    grid: dict  # dotted key -> non-empty list of distinct values
    seeds: list
    notes: list = field(default_factory=list)  # what parsing merged (repeated grid values), for the user
    max_runs: int | None = limits.MAX_RUNS  # most runs expand() accepts (None: no ceiling)

    @property
    def n_runs(self) -> int:
        """Grid points × seeds, from the grid's shape (nothing expanded)."""
        return math.prod(len(v) for v in self.grid.values()) * len(self.seeds)


def _check_type(key: str, value, where: str) -> None:
    """TOML values are typed: a string for a numeric key (or a number for a string key) is an error."""
    leaves = _leaves(Config())
    if key == "seed":
        raise ConfigError(f"{where}: key 'seed' is not allowed here; list seeds in the top-level `seeds`")
    if key not in leaves:
        apply_overrides(Config(), {key: value})  # raises the usual unknown-key message (did you mean ...)
    typ = leaves[key][1]
    if isinstance(value, (list, dict)) or (typ is str) != isinstance(value, str):
        raise ConfigError(f"{where}: {key}={value!r} has the wrong type: expected {typ.__name__}")
    apply_overrides(Config(), {key: value})  # int for float ok; float for int, bool for int: errors


def _flatten(d: dict, where: str, prefix: str = "") -> dict:
    """``config.flatten`` that refuses a key given twice (``"task.p" = 1`` and ``[task] p = 2``)."""
    out = {}
    for k, v in d.items():
        for kk, vv in (_flatten(v, where, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v}).items():
            if kk in out:
                raise ConfigError(f"{where}: {kk} is given twice ({out[kk]!r} and {vv!r}): give each key once")
            out[kk] = vv
    return out


def _distinct(key: str, vals: list, notes: list) -> list:
    """``vals`` with repeats (equal once parsed: 1 and 1.0 for a float key) dropped, noted in ``notes``."""
    typ, out = _leaves(Config())[key][1], {}
    for v in vals:
        out.setdefault(_parse(key, v, typ), v)
    if len(out) < len(vals):
        notes.append(f"grid {key}: {len(vals)} values, {len(out)} distinct ({', '.join(map(repr, vals))}); "
                     f"repeats merged")
    return list(out.values())


def parse(text: str, name: str = "spec") -> Spec:
    """Parse and type-check a spec (no grid point is resolved yet: see :func:`expand`)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{name}: not valid TOML: {e}") from None
    for k in raw:
        if k not in TOP:
            raise ConfigError(f"{name}: unknown top-level key {k!r}; allowed: {', '.join(TOP)}")
    for k in ("preset", "variant"):
        if k in raw and not isinstance(raw[k], str):
            raise ConfigError(f"{name}: {k}={raw[k]!r} is not allowed: a name in quotes")
    base = {}
    if "preset" in raw:
        from ..experiments import REGISTRY

        exp = REGISTRY.get(raw["preset"])
        if exp is None:
            raise ConfigError(f"preset={raw['preset']!r} is not allowed: one of {', '.join(REGISTRY)}")
        base = dict(exp.base)
        if "variant" in raw:
            if raw["variant"] not in exp.variants:
                raise ConfigError(f"variant={raw['variant']!r} is not allowed for preset {exp.name}: one of "
                                  f"{', '.join(exp.variants) or '(none)'}")
            base |= exp.variants[raw["variant"]]
    elif "variant" in raw:
        raise ConfigError(f"{name}: variant={raw['variant']!r} needs a preset")
    if not isinstance(raw.get("base", {}), dict):
        raise ConfigError(f"{name}: base must be a table of key = value")
    extra = _flatten(raw.get("base", {}), "base")
    for k, v in extra.items():
        _check_type(k, v, "base")
    grid = raw.get("grid")
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"{name}: the grid is empty; give at least one key = [values] under [grid]")
    grid, notes = _flatten(grid, "grid"), []
    for k, vals in grid.items():
        if not isinstance(vals, list) or not vals:
            raise ConfigError(f"grid: {k}={vals!r} is not allowed: a non-empty list of values")
        for v in vals:
            _check_type(k, v, "grid")
        grid[k] = _distinct(k, vals, notes)
    seeds = raw.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 1:
        seeds = range(seeds)  # not materialised: the run ceiling is checked first
    return Spec(base | extra, grid, check_seeds(seeds), notes)


def check_seeds(seeds):
    """``seeds`` (a list, or ``range(n)`` for a count), or a ConfigError: distinct
    integers in [0, MAX_SEED], the range the random generators take."""
    if isinstance(seeds, range) and seeds.start == 0 and seeds.step == 1 and 1 <= len(seeds) <= MAX_SEED + 1:
        return seeds
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) and not isinstance(s, bool)
                                                      and 0 <= s <= MAX_SEED for s in seeds)
            and len(set(seeds)) == len(seeds)):
        shown = len(seeds) if isinstance(seeds, range) else seeds
        raise ConfigError(f"seeds={shown!r} is not allowed: a count in [1, {MAX_SEED + 1}] or a list of distinct "
                          f"seeds in [0, {MAX_SEED}] (the range the random generators take)")
    return seeds


def load(path: Path | str) -> Spec:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as e:
        raise ConfigError(f"SPEC={str(path)!r} is not allowed: cannot read it ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"SPEC={str(path)!r} is not allowed: not UTF-8 text (byte {e.start}: {e.reason}); "
                          f"a spec is a UTF-8 TOML file") from None
    return parse(text, path.name)


def _point(spec: Spec, point: dict) -> Config:
    """The resolved config of one grid point (seed 0), or a ConfigError naming the point."""
    over = spec.base | point
    try:
        return resolve(apply_overrides(Config(), over), explicit=set(over))
    except ConfigError as e:
        at = ", ".join(f"{k}={v!r}" for k, v in point.items())
        raise ConfigError(f"grid point {at}: {e}") from None


def expand(spec: Spec) -> list[Config]:
    """Every grid point × seed, resolved and validated, in grid order (duplicates dropped).

    First the size, from the grid's shape (``spec.max_runs``); then every single value
    (the other keys at their first value: Σ len, not Π len, configs), so that a bad value
    fails fast; then the full product. Seeds share their point's resolved config (only
    ``seed`` differs, and the spec's seeds are checked by :func:`parse`)."""
    keys, seeds = list(spec.grid), check_seeds(spec.seeds)
    if spec.max_runs is not None and spec.n_runs > spec.max_runs:
        shape = " × ".join(f"{len(spec.grid[k])} {k}" for k in keys)
        raise ConfigError(f"grid: {shape} × {len(spec.seeds)} seeds = {spec.n_runs} runs is not allowed: at most "
                          f"{spec.max_runs} runs (check the grid; pass --yes to run more)")
    first = {k: spec.grid[k][0] for k in keys}
    for k in keys:
        for v in spec.grid[k][1:]:
            _point(spec, first | {k: v})
    out, seen = [], set()
    for values in itertools.product(*(spec.grid[k] for k in keys)):
        cfg = _point(spec, dict(zip(keys, values)))
        for s in seeds:
            c = replace(cfg, seed=s)
            if (rid := run_id(c)) not in seen:
                seen.add(rid)
                out.append(c)
    return out


# Keys that came with the reference transformer and chain tasks: a run that holds its
# family's value in each hashes as before they existed, so older sweep directories resume.
# The gpt family then recorded the shared defaults model.pos=sin and model.head=linear
# (its own learned positions and read-out were implicit).
ADDED = ("task.graph", "task.matrix", "task.stay", "task.degree", "task.alpha", "task.graph_seed", "task.lag",
         "task.order", "task.init_law", "model.attention", "model.d_head", "model.scale", "model.residual",
         "model.bias", "model.mlp", "model.embed", "model.layout", "model.loss", "init.from")
RECORDED_BEFORE = {"gpt": {"model.pos": "sin", "model.head": "linear"}}


def run_id(cfg: Config) -> str:
    """16 hex digits of the SHA-256 of the resolved config (canonical JSON). ``init.seed``
    is left out while unset (-1), and the keys in ``ADDED`` while they hold their family's
    value, so run ids from before those keys existed stay valid."""
    from ..config import get, implied

    d = cfg.to_dict()
    if d["init"]["seed"] == -1:
        del d["init"]["seed"]
    family, default = implied(cfg.model.name, cfg.task.name), Config()
    for key in ADDED:
        if get(cfg, key) == family.get(key, get(default, key)):
            section, name = key.split(".")
            del d[section][name]
    for key, before in RECORDED_BEFORE.get(cfg.model.name, {}).items():
        if get(cfg, key) == family[key]:
            section, name = key.split(".")
            d[section][name] = before
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def table(cfgs: list[Config], runs: Path):
    """One row per run: run_id, every config key, the scalar summary fields, status,
    failure (None when ok), error, repaired (damaged copies set aside in ``runs/.damaged``)."""
    import pandas as pd

    from ..config import get, keys
    from .rundir import DAMAGED

    aside = Counter(d.name.split("-", 1)[0] for d in (runs / DAMAGED).glob("*-*"))  # <run id>-<time>
    rows = []
    for c in cfgs:
        rid = run_id(c)
        row = {"run_id": rid} | {k: get(c, k) for k in keys()}
        try:
            s = json.loads((runs / rid / "summary.json").read_text())
            status = s["status"]
        except (OSError, ValueError, KeyError, TypeError):  # absent, or damaged after the sweep checked it
            s = None
        if s is not None:
            row |= {k: v for k, v in s.items() if not isinstance(v, (list, dict)) and k not in (
                "status", "failure", "error", "traceback")}
            row |= {"status": status, "failure": failures.of(s), "error": s.get("error")}
        else:
            row |= {"status": "missing", "failure": "missing", "error": None}
        rows.append(row | {"repaired": aside.get(rid, 0)})
    return pd.DataFrame(rows)


RESULTS = ("test_accuracy", "parent_attention", "value_cosine", "test_loss", "kl")  # averaged by aggregate
COUNTS = {f"n_{k.replace('-', '_')}": k for k in failures.FAILURES + ("missing",)}  # column -> failure


def grid_keys(df) -> list[str]:
    """The config keys that vary across the rows of a results table, the seed left out."""
    from ..config import keys

    return [k for k in keys() if k in df and k not in ("seed", "init.seed") and df[k].nunique(dropna=False) > 1]


def failure_column(df):
    """Each row's failure (None: ok); inferred (``failures.of``) for tables written
    before the column existed."""
    if "failure" in df:
        return df["failure"]
    return df.apply(lambda r: failures.of(r.to_dict()), axis=1)


def aggregate(df, by: list[str] | None = None):
    """One row per grid point (``by``: default :func:`grid_keys`): the mean and sd
    (ddof 0) over seeds of each result column over the runs with ``status == "ok"``
    only; ``n_runs``, ``n_ok`` and the other runs counted by failure (``COUNTS``). A
    point whose every run failed has NaN means: a failed run never counts as a result."""
    import pandas as pd

    by = grid_keys(df) if by is None else list(by)
    cols = [c for c in RESULTS if c in df and pd.api.types.is_numeric_dtype(df[c])]
    fail = failure_column(df)
    rows = []
    for key, g in (df.groupby(by, dropna=False, sort=False) if by else [((), df)]):
        ok = g[g["status"] == "ok"]
        n = failures.counts(fail[g.index])
        row = dict(zip(by, key if isinstance(key, tuple) else (key,))) | {"n_runs": len(g), "n_ok": len(ok)}
        row |= {col: n.get(k, 0) for col, k in COUNTS.items()}
        for c in cols:
            row |= {f"{c}_mean": ok[c].mean(), f"{c}_std": ok[c].std(ddof=0)}
        rows.append(row)
    return pd.DataFrame(rows)


def counts_line(df) -> str:
    """``27 runs: 18 ok, 9 failed (9 log-loss undefined at init)``: the statuses of a
    results table, the runs that are not ok counted by failure."""
    ok = int((df["status"] == "ok").sum())
    why = failures.counts_text(failures.counts(failure_column(df)))
    fixed = int((df["repaired"] > 0).sum()) if "repaired" in df else 0
    return (f"{len(df)} runs: {ok} ok" + (f", {len(df) - ok} failed ({why})" if len(df) > ok else "")
            + (f"; {fixed} trained again after damage (runs/.damaged)" if fixed else ""))


def write_table(df, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_parquet(tmp, index=False)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def sweep(spec: Spec, out: Path | str, executor: str = "local", workers: int = 1, address: str | None = None,
          quiet: bool = False, max_models: int = 64, device: str = "auto"):
    """Run every missing point of ``spec`` under ``out``; returns the results DataFrame."""
    from .executors import EXECUTORS, execute
    from .multirun import DEVICES
    from .rundir import clean_staging, lock

    if executor not in EXECUTORS:
        raise ConfigError(f"--executor={executor!r} is not allowed: one of {', '.join(EXECUTORS)}")
    require("ray" if executor == "ray" else "sweep", f"a sweep with executor={executor!r}")
    if device not in DEVICES:
        raise ConfigError(f"--device={device!r} is not allowed: one of {', '.join(DEVICES)}")
    if workers < 1:
        raise ConfigError(f"--workers={workers} is not allowed: workers >= 1")
    if max_models < 1:
        raise ConfigError(f"--max-models={max_models} is not allowed: max-models >= 1")
    cfgs = expand(spec)  # everything is validated before anything runs
    out = Path(out)
    runs = out / "runs"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out={str(out)!r} is not allowed: cannot create it ({e.strerror})") from None
    with lock(out):
        runs.mkdir(exist_ok=True)
        clean_staging([out])  # a results table a killed sweep was writing
        execute([(c, runs / run_id(c)) for c in cfgs], executor, workers, address, quiet, max_models, desc="sweep",
                device=device)
        df = table(cfgs, runs)
        write_table(df, out / "results.parquet")
    return df
