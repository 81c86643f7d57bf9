"""What a directory holds, read without trusting it.

Every reader returns what it could read and appends one human line per problem to a
``problems`` list (a missing file, a line that is not JSON, a table that needs pandas),
so a page can say what is missing instead of crashing. :func:`kind` says which of the
four kinds a directory is:

- ``run``: a run directory (config.json, summary.json, metrics.jsonl, params.safetensors);
- ``experiment``: one reproduction, DIR/claims.json beside its figures and runs/;
- ``reproduction``: a directory of experiments, DIR/NAME/claims.json;
- ``sweep``: DIR/results.parquet and/or run directories below DIR.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..config import ConfigError

RUN_FILES = ("config.json", "summary.json", "metrics.jsonl", "params.safetensors")


def read_json(path: Path, problems: list[str], what: str = ""):
    if not path.exists():
        problems.append(f"{path.name} is missing{what}")
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        problems.append(f"{path.name} could not be read ({type(e).__name__}: {e})")
        return None


def read_jsonl(path: Path, problems: list[str]) -> list[dict] | None:
    if not path.exists():
        problems.append(f"{path.name} is missing: no curves, attention or V over training")
        return None
    lines, bad = [], 0
    for i, line in enumerate(path.read_text().splitlines()):
        try:
            lines.append(json.loads(line))
        except ValueError:
            bad += 1
            if bad == 1:
                problems.append(f"{path.name}: line {i + 1} is not JSON (skipped, with any others like it)")
    if not lines:
        problems.append(f"{path.name} has no readable line")
        return None
    return lines


@dataclass
class Run:
    path: Path
    config: dict | None = None
    summary: dict | None = None
    metrics: list[dict] | None = None
    Pi_T: object = None  # numpy array or None
    problems: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.path.name


def load_run(path: Path, metrics: bool = True) -> Run:
    r = Run(Path(path))
    r.config = read_json(r.path / "config.json", r.problems, ": no config, no train command")
    r.summary = read_json(r.path / "summary.json", r.problems, ": the run did not finish, or was not saved")
    if metrics:
        r.metrics = read_jsonl(r.path / "metrics.jsonl", r.problems)
        p = r.path / "params.safetensors"
        if p.exists():
            try:
                from safetensors.numpy import load_file

                t = load_file(str(p)).get("Pi_T")
                r.Pi_T = t if t is not None and t.size else None
            except Exception as e:  # a truncated file must not stop the page
                r.problems.append(f"params.safetensors could not be read ({type(e).__name__}: {e})")
        else:
            r.problems.append("params.safetensors is missing: no Π^T to draw beside V")
    return r


def run_dirs(root: Path, depth: int = 4) -> list[Path]:
    """Run directories at most ``depth`` levels below ``root`` (sorted; staging dirs skipped)."""
    found = []
    if depth < 0 or not root.is_dir():
        return found
    for d in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if any((d / f).exists() for f in RUN_FILES[:3]):
            found.append(d)
        else:
            found += run_dirs(d, depth - 1)
    return found


def kind(path: Path) -> str:
    path = Path(path)
    if not path.is_dir():
        raise ConfigError(f"report DIR={str(path)!r} is not allowed: it is not a directory")
    if (path / "claims.json").exists():
        return "experiment"
    subs = [p for p in path.iterdir() if p.is_dir()]
    if any((p / "claims.json").exists() for p in subs):
        return "reproduction"
    if (path / "results.parquet").exists():
        return "sweep"
    if any((path / f).exists() for f in RUN_FILES):
        return "run"
    if run_dirs(path):
        return "sweep"
    raise ConfigError(f"report DIR={str(path)!r} is not allowed: it holds none of {', '.join(RUN_FILES)}, "
                      f"claims.json (an experiment), NAME/claims.json (a reproduction), results.parquet or run "
                      f"directories (a sweep)")


def results_table(path: Path, problems: list[str]):
    """DIR/results.parquet as (columns, rows), or None (with the reason in ``problems``)."""
    p = path / "results.parquet"
    if not p.exists():
        return None
    try:
        import pandas as pd

        df = pd.read_parquet(p)
    except ImportError as e:
        problems.append(f"results.parquet needs pandas and pyarrow to be read (pip install 'walkformer[sweep]'); the table below is "
                        f"built from the run directories instead")
        return None
    except Exception as e:
        problems.append(f"results.parquet could not be read ({type(e).__name__}: {e})")
        return None
    return list(map(str, df.columns)), df.to_dict("records")
