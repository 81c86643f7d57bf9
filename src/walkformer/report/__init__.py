"""The reproduction report: one self-contained HTML page per run, sweep, experiment and
reproduction, built only from what is on disk.

    walkformer report DIR

- a run directory      -> DIR/report.html (config as a train command, curves, V beside Πᵀ,
                          attention by position, Fig. 13 statistics, animation)
- an experiment        -> DIR/report.html (claims, differences, figures, animation, runs)
- a reproduction       -> DIR/index.html, the front page (papers, one line per experiment
                          with its claims on a click, where we differ), DIR/NAME/report.html
                          for every experiment and every sweep (DIR/NAME/results.parquet)
                          beside them, and DIR/results/*.md, the results in markdown, one
                          page per paper (``walkformer report DIR --markdown DEST``: only those)
- a sweep              -> DIR/report.html (phase diagrams, sortable table of runs)

Modules: load (reading, kinds), html (page, tables, CSS/JS), figures (figures drawn
from metrics.jsonl, animations), run (run and sweep pages), reproduction (experiment and
front pages), markdown (the results pages), papers (the papers and what they claim).
"""

from __future__ import annotations

from pathlib import Path

from ..runs.rundir import atomic_write
from .load import kind


def _experiment(path: Path, animate: bool) -> Path:
    from .reproduction import experiment_page

    atomic_write(path / "report.html", experiment_page(path, animate))
    return path / "report.html"


def build(path: Path | str, animate: bool = True, quiet: bool = False, workers: int = 2,
          names: list[str] | None = None) -> list[Path]:
    """Write the page(s) for ``path``; returns them, the main page first. A reproduction's
    experiment pages are drawn by ``workers`` processes (each page is its own file); with
    ``names`` only those experiments' pages are redrawn (the front page always covers all)."""
    from .reproduction import experiment_page, experiments_in, front_page, sweeps_in
    from .run import run_page, sweep_page

    path = Path(path)
    k = kind(path)
    if k == "reproduction":
        from tqdm import tqdm

        exps = experiments_in(path)
        todo = [e for e in exps if names is None or e.name in names]
        bar = tqdm(total=len(todo), desc="report", unit="experiment", disable=quiet, leave=False)
        if workers > 1 and len(todo) > 1:
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=workers) as pool:
                futs = [pool.submit(_experiment, e.path, animate) for e in todo]
                for f in futs:
                    f.result()
                    bar.update()
        else:
            for e in todo:
                _experiment(e.path, animate)
                bar.update()
        bar.close()
        written = [e.path / "report.html" for e in todo]
        for sweep in sweeps_in(path):
            atomic_write(sweep / "report.html", sweep_page(sweep))
            written.append(sweep / "report.html")
        front = front_page(path, exps)
        atomic_write(path / "index.html", front)  # one front page file
        from .markdown import write_results

        write_results(path, path / "results", exps)  # the results pages, one per paper (markdown)
        (path / "report.html").unlink(missing_ok=True)  # the duplicate that earlier versions wrote
        return [path / "index.html"] + written
    page = {"run": lambda p: run_page(p), "experiment": lambda p: experiment_page(p, animate),
            "sweep": sweep_page}[k](path)
    atomic_write(path / "report.html", page)
    return [path / "report.html"]
