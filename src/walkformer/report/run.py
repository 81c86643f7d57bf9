"""The page of one run directory and the page of a sweep (a table of runs plus the
sweep's phase diagrams). A run that is not ok shows its status and why (``failure``,
``failures.py``); a sweep's means over seeds use the ok runs only and count the others."""

from __future__ import annotations

import shlex
from pathlib import Path

from .. import failures
from ..config import flatten
from . import figures, html
from .html import esc
from .load import Run, load_run, results_table, run_dirs

# summary keys shown first (the rest follow in file order)
FIRST = ("status", "failure", "test_accuracy", "optimal_accuracy", "random_guess_accuracy", "steps_to_optimal",
         "parent_attention", "value_cosine", "value_cosine_sqrt", "value_ones_cosine", "kl", "train_loss",
         "bayes_loss", "unigram_loss", "bigram_loss", "steps", "seconds", "ms_per_step", "error")


def rerun_command(cmd: str, out: str) -> str:
    """``cmd`` with its ``--out`` replaced (the original directory exists, so train would refuse it)."""
    try:
        args = shlex.split(cmd)
    except ValueError:
        return cmd
    if "--out" in args and args.index("--out") + 1 < len(args):
        args[args.index("--out") + 1] = out
    return shlex.join(args)


def scalars(d: dict | None) -> dict:
    d = d or {}
    order = [k for k in FIRST if k in d] + [k for k in d if k not in FIRST]
    return {k: d[k] for k in order if d[k] is None or isinstance(d[k], (int, float, str, bool))}


def run_figures(r: Run, animate: bool = True) -> str:
    if not r.metrics:
        return ""
    K = (r.config or {}).get("task", {}).get("K")
    out = []
    for data, cap, id in ((figures.curves(r.metrics, r.summary, K), "Training curves over GD iterations, with "
                           "the reference lines the run records (optimal accuracy, 1/K, reference losses; the Shi & Cao "
                           "loss −log(e_yᵀf + ε) of an unnormalised f can go below the Bayes loss).", "fig-curves"),
                          (figures.structure(r.metrics, r.Pi_T), "V beside Πᵀ and the attention by position at the "
                           "last logged step.", "fig-structure"),
                          (figures.token_statistics(r.metrics), "Weighted-average token statistics (Fig. 13).",
                           "fig-tokens")):
        if data:
            out.append(html.figure(data, cap, id))
    if animate:
        gif = figures.animation([(r.label, r.metrics)])
        if gif:
            out.append(html.figure(gif, "Attention by position and V over training (animated).", "fig-animation",
                                   "image/gif"))
    return "".join(out)


def run_page(path: Path) -> str:
    r = load_run(path)
    body = [f"<h1>Run {esc(path.name)}</h1>", f'<p class="muted">{esc(path.resolve())}</p>',
            html.missing(r.problems, "Missing or unreadable, so this page shows less")]
    s = r.summary or {}
    if s.get("status") == "failed" or s.get("error"):
        why = failures.of(s)
        body.append(f'<p class="card differs"><b>The run failed ({esc(failures.LABELS.get(why, why))}):</b> '
                    f'{esc(s.get("error"))}<br><span class="small">Its numbers are those of the step it stopped '
                    f'at, not results.</span></p>')
    if r.config and r.config.get("command"):
        body += ["<h2>Reproduce it</h2>", html.command(rerun_command(r.config["command"], f"{path.name}-again"))]
    if r.summary:
        rows = [[html.td(k), html.td(v)] for k, v in scalars(r.summary).items()]
        body += ["<h2>Summary</h2>", html.table(["key", "value"], rows, cls="")]
    figs = run_figures(r)
    if figs:
        body += ["<h2>Figures</h2>", figs]
    if r.config:
        cfg = {k: v for k, v in r.config.items() if k not in ("versions", "command")}
        body += ["<h2>Resolved configuration</h2>", html.pretty_json(cfg)]
        if r.config.get("versions"):
            body.append(f'<p class="small">Versions: {esc(", ".join(f"{k} {v}" for k, v in r.config["versions"].items()))}</p>')
    return html.page(f"walkformer run {path.name}", "".join(body))


# ---- sweeps ----------------------------------------------------------------------------
def runs_table(root: Path, paths: list[Path], link_base: Path) -> tuple[list[str], list[list[str]]]:
    """One row per run: the config keys that vary across the runs, then the summary scalars."""
    runs = [load_run(p, metrics=False) for p in paths]
    cfgs = [{k: v for k, v in flatten(r.config or {}).items() if k not in ("command",) and not k.startswith("versions.")}
            for r in runs]
    keys = list(dict.fromkeys(k for c in cfgs for k in c))
    varying = [k for k in keys if len({repr(c.get(k)) for c in cfgs}) > 1]
    summ = list(dict.fromkeys(k for r in runs for k in scalars(r.summary) if k != "error"))
    rows = []
    for r, c in zip(runs, cfgs):
        rel = r.path.relative_to(link_base).as_posix()
        link = f'<a href="{esc(rel)}/">{esc(r.path.relative_to(root).as_posix())}</a>'
        if (r.path / "report.html").exists():
            link += f' (<a href="{esc(rel)}/report.html">page</a>)'
        cells = [html.td(link, raw=True)] + [html.td(c.get(k)) for k in varying]
        cells += [html.td((r.summary or {}).get(k)) for k in summ]
        rows.append(cells)
    return ["run"] + varying + summ, rows


def mean_table(cols: list[str], records: list[dict]) -> str:
    """``sweep.aggregate`` of a results table as HTML: means over seeds of the ok runs,
    the failed runs counted (never averaged)."""
    import pandas as pd

    from ..runs.sweep import aggregate

    if "status" not in cols:
        return '<p class="small">results.parquet has no status column: no means over seeds.</p>'
    agg = aggregate(pd.DataFrame(records, columns=cols))
    agg = agg[[c for c in agg.columns if not (c.startswith("n_") and c not in ("n_runs", "n_ok") and
                                              not agg[c].any())]]  # failure kinds that occur
    rows = [[html.td(None if isinstance(v, float) and v != v else v) for v in r] for r in agg.itertuples(index=False)]
    return ('<h2>Means over seeds</h2><p class="small">Mean and sd (ddof 0) over the runs that finished '
            '(status ok) only. A failed run stopped early: its numbers are not results, so it is left out and counted '
            'by failure (n_undefined_at_init: the log-loss is undefined at the initial parameters; n_diverged: it '
            'became non-finite later; see docs/failures.md).</p>' + html.table(list(agg.columns), rows))


def _is_dir(root: Path, name: str) -> bool:
    """``root / name`` is a directory (False for any cell text that cannot be a file name,
    such as a long error message)."""
    try:
        return bool(name) and (root / name).is_dir()
    except (OSError, ValueError):
        return False


FIRST_COLS = ("run_id", "run")  # a results table's run column, always shown first
LAST_COLS = ("status", "failure")  # after the grid keys, before the results
ERROR_CHARS = 80  # an error's cell: its first line, cut here; the whole text on hover


def _plain(v):
    """A parquet cell as a Python value (numpy scalars unwrapped, NaN as None)."""
    v = v.item() if hasattr(v, "item") and getattr(v, "size", 1) == 1 else v
    return None if isinstance(v, float) and v != v else v


def sweep_columns(cols: list[str], records: list[dict]) -> tuple[list[str], dict]:
    """(shown, fixed): the run column, the grid keys (config keys that vary), status and
    failure, the results (``sweep.RESULTS``), then any other column that varies; ``fixed``:
    key -> value of the columns with one value in every run (all-empty ones left out)."""
    from ..config import keys
    from ..runs.sweep import RESULTS

    def varies(c):
        return len({repr(r.get(c)) for r in records}) > 1

    always = [c for c in cols if c in FIRST_COLS or c in LAST_COLS or (c == "error" and varies(c))]
    fixed = {c: records[0].get(c) for c in cols if c not in always and not varies(c)
             and records and records[0].get(c) is not None}
    rest = [c for c in cols if c not in always and c not in fixed and varies(c)]
    cfg = set(keys())
    grid = [c for c in rest if c in cfg and c not in ("seed", "init.seed")]
    grid += [c for c in rest if c in ("seed", "init.seed")]  # the grid keys proper first
    res = [c for c in RESULTS if c in rest]
    other = [c for c in rest if c not in grid and c not in res]
    first = [c for c in cols if c in FIRST_COLS]
    last = [c for c in LAST_COLS if c in cols]
    shown = first + grid + last + res + [c for c in other if c != "error"] + (["error"] if "error" in always else [])
    return shown, fixed


def _cell(root: Path, col: str, v) -> str:
    if col == "error" and isinstance(v, str) and v:
        text = v.strip()
        line = text.splitlines()[0] if text else ""
        short = line[:ERROR_CHARS].rstrip() + ("…" if len(line) > ERROR_CHARS or "\n" in text else "")
        return f'<td class="error"><span style="white-space:nowrap" title="{esc(v)}">{esc(short)}</span></td>'
    if col == "failure" and isinstance(v, str):  # undefined-at-init on one line
        return f'<td><span style="white-space:nowrap">{esc(v)}</span></td>'
    if isinstance(v, str) and _is_dir(root, v):
        return html.td(f'<a href="{esc(v)}/">{esc(v)}</a>', raw=True)
    if isinstance(v, (bool, int, float, str)) or v is None:
        return html.td(v)
    return html.td(str(v))


def sweep_page(path: Path) -> str:
    problems: list[str] = []
    body = [f"<h1>Sweep {esc(path.name)}</h1>", f'<p class="muted">{esc(path.resolve())}</p>']
    pngs = sorted(path.glob("*.png"))
    paths = run_dirs(path)
    table = results_table(path, problems)
    if not (path / "results.parquet").exists():
        problems.append("results.parquet is missing: the table is built from the run directories")
    body.append(html.missing(problems, "Missing or unreadable"))
    why = failures.counts(failures.of(load_run(p, metrics=False).summary) for p in paths)
    n_bad = sum(why.values())
    body.append(f'<div class="summary"><div><b>{len(paths)}</b>run directories</div>'
                f'<div><b>{len(paths) - n_bad}</b>ok</div>'
                f'<div><b>{n_bad}</b>failed{": " + esc(failures.counts_text(why)) if n_bad else ""}</div>'
                f'<div><b>{len(pngs)}</b>figures</div></div>')
    if table is not None:
        body.append(mean_table(*table))
    if pngs:
        body.append("<h2>Phase diagrams</h2>")
        body += [html.figure(p.read_bytes(), p.name, f"fig-{p.stem}") for p in pngs]
    body.append("<h2>Runs</h2><p class=\"small\">Click a column header to sort.</p>")
    if table is not None:
        cols, records = table
        records = [{c: _plain(r[c]) for c in cols} for r in records]
        shown, fixed = sweep_columns(cols, records)
        if fixed:
            body.append('<p class="small"><b>fixed</b> (the same in every run): '
                        + esc(", ".join(f"{k}={html.number(v)}" for k, v in fixed.items())) + "</p>")
        rows = [[_cell(path, c, rec[c]) for c in shown] for rec in records]
        body.append(html.table(shown, rows))
    elif paths:
        cols, rows = runs_table(path, paths, path)
        body.append(html.table(cols, rows))
    else:
        body.append("<p>No run found.</p>")
    if paths:
        r0 = load_run(paths[0], metrics=False)
        if r0.config and r0.config.get("command"):
            body += ["<h3>One run of the sweep, as a train command</h3>",
                     html.command(rerun_command(r0.config["command"], f"{paths[0].name}-again"))]
    return html.page(f"walkformer sweep {path.name}", "".join(body))
