"""The ``walkformer`` command.

    walkformer train --out DIR [key=value ...]
    walkformer reproduce NAME|all|extended --out DIR [--seeds S] [--workers W] [--no-report]
    walkformer reproduce --list
    walkformer report DIR [--no-animation]
    walkformer sweep SPEC --out DIR [--executor local|ray] [--workers N] [--address ADDR] [--device auto|cpu|cuda] [--yes]
    walkformer keys [--json]

Bad input is reported in one line naming the key, the value and what is allowed,
with exit status 2, before anything is trained or written (docs/reliability.md); so is
an output directory that another sweep or reproduce holds (``rundir.lock``). A run
whose loss turns non-finite, or whose parameters diverge, exits with status 1 and its
directory says why.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .config import Config, ConfigError, apply_overrides, resolve


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, like every other bad input
        raise ConfigError(message)


def out_dir(value: str, own: bool) -> str:
    """``--out`` must name a directory: not empty, not an existing file; a run's own
    directory (``own``: ``train``, which replaces it on success) must have a name of its
    own, so not ``.``, ``..`` or ``/`` (a sweep or reproduction writes inside ``.``)."""
    from pathlib import Path

    p = Path(value)
    if not value.strip():
        raise ConfigError(f"--out={value!r} is not allowed: a directory name (it is empty)")
    if p.exists() and not p.is_dir():
        raise ConfigError(f"--out={value!r} is not allowed: a directory, and it is an existing file")
    if own and p.name in ("", ".", ".."):
        raise ConfigError(f"--out={value!r} is not allowed: a new or empty directory with a name of its own "
                          f"(e.g. --out runs/r1); {value!r} names no run directory")
    return value


def _train(args) -> int:
    import torch

    from .runs.rundir import check_out, clean_staging
    from .loop import run
    from .training import save

    out_dir(args.out, own=True)
    cfg = apply_overrides(Config(), args.overrides)
    explicit = {o.split("=", 1)[0].strip() for o in args.overrides}
    cfg = resolve(cfg, explicit)
    out = check_out(args.out)
    clean_staging([out.absolute().parent])  # what killed runs left beside --out (.NAME.tmp-PID of dead pids)
    torch.set_num_threads(1)
    result = run(cfg, progress=not args.quiet)
    save(result, out)
    s = result.summary
    if result.error:
        print(f"walkformer: run failed: {result.error} (recorded in {out}/summary.json)", file=sys.stderr)
        return 1
    if not args.quiet and "test_accuracy" not in s:  # binary chains: losses
        print(f"test loss {s['test_loss']:.4f} (unigram {s['unigram_loss']:.4f}, bigram {s['bigram_loss']:.4f}), "
              f"{s['ms_per_step']:.2f} ms/step -> {out}")
    elif not args.quiet:
        print(f"test accuracy {s['test_accuracy']:.4f} (optimal {s['optimal_accuracy']:.4f}), parent attention "
              f"{s['parent_attention']:.4f}, {s['ms_per_step']:.2f} ms/step -> {out}")
    return 0


def _reproduce(args) -> int:
    from pathlib import Path

    from .experiments import REGISTRY, is_identity, run_all, selection, tally

    if args.list or not args.name:
        wn, wf = (max(len(x) for x in xs) for xs in (REGISTRY, [e.figure for e in REGISTRY.values()]))
        for name, e in REGISTRY.items():
            tier = "  (extended)" if e.tier == "extended" else ""
            print(f"{name:{wn}s}  {e.figure:{wf}s}  {e.title}{tier}")
        return 0
    if args.out is None:
        raise ConfigError("--out is required: walkformer reproduce NAME --out DIR")
    if args.name in ("all", "extended") or args.name in REGISTRY:
        exps = selection(args.name)
    else:
        import difflib

        near = difflib.get_close_matches(args.name, list(REGISTRY), n=1)
        hint = f" (did you mean {near[0]}?)" if near else ""
        raise ConfigError(f"reproduce NAME={args.name!r} is not allowed: one of all, extended, {', '.join(REGISTRY)}{hint}")
    if args.seeds is not None and args.seeds < 1:
        raise ConfigError(f"--seeds={args.seeds} is not allowed: seeds >= 1")
    if args.seeds is not None:
        from .limits import MAX_RUNS

        n = sum(min(args.seeds, e.variant_seeds.get(v, args.seeds)) for e in exps for v in e.variants)
        if n > MAX_RUNS:
            raise ConfigError(f"--seeds={args.seeds} is not allowed: it makes {n} runs, at most {MAX_RUNS} "
                              f"(a sweep spec with --yes runs more)")
    if args.workers < 1:
        raise ConfigError(f"--workers={args.workers} is not allowed: workers >= 1")
    out = Path(out_dir(args.out, own=False))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out={args.out!r} is not allowed: cannot create it ({e.strerror})") from None
    claims = run_all(exps, out, workers=args.workers, seeds=args.seeds, quiet=args.quiet)
    wn = max(map(len, claims), default=0)
    for name, cs in claims.items():
        for c in cs:
            mark = {True: "holds ", False: "FAILS ", None: "untested"}[c["holds"]]
            print(f"{mark:8s} {name:{wn}s} {c['id']}" + (" (identity)" if is_identity(c) else ""))
    print(f"{tally([c for cs in claims.values() for c in cs])}; claims.json and figures under {out}/")
    if not args.no_report:  # the pages of what ran, and the front page of everything under --out
        from .report import build

        pages = build(out, quiet=args.quiet, names=[e.name for e in exps])
        print(f"report: {pages[0]}")
    return 0


def _report(args) -> int:
    from .report import build

    if args.markdown:  # only the markdown results pages
        from .report.markdown import write_results

        print("\n".join(map(str, write_results(args.dir, args.markdown))))
        return 0
    pages = build(args.dir, animate=not args.no_animation, quiet=args.quiet)
    if len(pages) > 1 and not args.quiet:
        print(f"{len(pages) - 1} experiment and sweep pages: {pages[1].parent.parent}/NAME/report.html")
    print(f"report: {pages[0]}")
    return 0


def _sweep(args) -> int:
    from .runs.sweep import counts_line, load, sweep

    out_dir(args.out, own=False)
    spec = load(args.spec)
    if spec.notes:  # also with --quiet: the grid is not what the spec lists
        print(f"walkformer: note: {'; '.join(spec.notes)}", file=sys.stderr)
    if args.yes:
        spec.max_runs = None
    df = sweep(spec, args.out, executor=args.executor, workers=args.workers, address=args.address,
               quiet=args.quiet, max_models=args.max_models, device=args.device)
    print(f"{counts_line(df)} -> {args.out}/results.parquet")
    return 0


def _keys(args) -> int:
    from .config import key_records, key_rows
    from .keys import text_table

    print(json.dumps(key_records(), indent=1) if args.json else text_table(key_rows()), end="\n" if args.json else "")
    return 0


def parser() -> argparse.ArgumentParser:
    """The ``walkformer`` argument parser (every option has a help line: tests/test_keys.py)."""
    p = _Parser(prog="walkformer", description="How one-layer transformers learn random walks.")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train one model")
    t.add_argument("--out", required=True, help="run directory (must not exist, or be empty)")
    t.add_argument("--quiet", action="store_true", help="print nothing but errors")
    t.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config keys to change, e.g. task.p=0.3 model.pos=onehot (walkformer keys lists them)")
    r = sub.add_parser("reproduce", help="run a named paper reproduction over several seeds")
    r.add_argument("name", nargs="?", help="a preset (see --list), all (the core presets: make reproduce) or extended (every preset)")
    r.add_argument("--out", help="output directory: DIR/NAME/claims.json, figures and runs (resumes)")
    r.add_argument("--list", action="store_true", help="list the presets with their paper figures and exit")
    r.add_argument("--seeds", type=int, default=None, help="seeds per variant (default: the preset's)")
    r.add_argument("--workers", type=int, default=2, help="parallel worker processes (default: 2)")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.add_argument("--no-report", action="store_true", help="do not write the HTML pages (walkformer report DIR does)")
    rp = sub.add_parser("report", help="write the HTML report of a run, sweep, experiment or reproduction DIR")
    rp.add_argument("dir", help="a run, sweep, experiment or reproduction directory")
    rp.add_argument("--no-animation", action="store_true", help="skip the animated GIFs (faster)")
    rp.add_argument("--quiet", action="store_true", help="print only the front page's path")
    rp.add_argument("--markdown", metavar="DEST", help="write only the results pages in markdown, one per paper, to DEST")
    w = sub.add_parser("sweep", help="run a grid of configs (a TOML spec), batched, resumable")
    w.add_argument("spec", help="TOML file: preset/base, [grid], seeds (see examples/)")
    w.add_argument("--out", required=True, help="sweep directory (re-running skips finished runs)")
    w.add_argument("--executor", default="local", help="local (process pool) or ray")
    w.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes / Ray CPUs (default: all)")
    w.add_argument("--address", default=None, help="Ray cluster to join (default: start a local Ray)")
    w.add_argument("--max-models", type=int, default=64, help="most runs trained together in one batch")
    w.add_argument("--device", default="auto", help="auto (a GPU if there is one), cpu or cuda")
    w.add_argument("--yes", action="store_true", help="run a grid of more than 100,000 runs")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    k = sub.add_parser("keys", help="every config key: default, allowed values, which model/task uses it, meaning")
    k.add_argument("--json", action="store_true", help="the registry as a JSON list of objects")
    return p


def main(argv=None) -> int:
    p = parser()
    try:
        args = p.parse_args(argv)
        if args.cmd == "train":
            return _train(args)
        if args.cmd == "reproduce":
            return _reproduce(args)
        if args.cmd == "report":
            return _report(args)
        if args.cmd == "sweep":
            from .runs.sweep import require  # the optional extras, before any work

            require("ray" if args.executor == "ray" else "sweep",
                    "--executor=ray" if args.executor == "ray" else "walkformer sweep")
            if args.executor == "ray":  # a Ray address that does not answer: one line in seconds, nothing written
                from .runs.executors import check_ray_address

                check_ray_address(args.address)
            return _sweep(args)
        return _keys(args)
    except ConfigError as e:
        print(f"walkformer: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("walkformer: interrupted; finished runs are kept, re-run to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
