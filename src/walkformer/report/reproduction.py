"""The page of one experiment (DIR/NAME: claims.json, differences.json, figures, runs/)
and the front page of a whole reproduction (DIR/index.html).

Both are computed from the files: every number shown comes from claims.json (whose
``holds`` the presets compute from measurements) or differences.json (whose text the
presets compute from the same claims), never from this module.
"""

from __future__ import annotations

import datetime
import io
from pathlib import Path

from . import figures, html
from .html import esc
from .load import load_run, read_json, run_dirs
from .papers import PAPERS, paper_of
from .run import rerun_command, runs_table
from ..experiments import counted, is_identity
from ..experiments import tally as claim_tally


class ExperimentDir:
    """What one experiment directory holds (problems listed, nothing raised)."""

    def __init__(self, path: Path):
        from ..experiments import REGISTRY

        self.path, self.name, self.problems = path, path.name, []
        reg = REGISTRY.get(self.name)
        self.figure = reg.figure if reg else ""
        self.title = reg.title if reg else ""
        self.claims = read_json(path / "claims.json", self.problems) or []
        if not isinstance(self.claims, list) or not all(isinstance(c, dict) for c in self.claims):
            self.problems.append("claims.json is not a list of claims")
            self.claims = [c for c in self.claims if isinstance(c, dict)] if isinstance(self.claims, list) else []
        self.differences = read_json(path / "differences.json", self.problems if (path / "differences.json").exists()
                                     else [], "") or []
        if not isinstance(self.differences, list) or not all(isinstance(d, dict) for d in self.differences):
            self.problems.append("differences.json is not a list of differences")
            self.differences = []
        self.questions = read_json(path / "questions.json", self.problems if (path / "questions.json").exists()
                                   else [], "") or []
        if not isinstance(self.questions, list) or not all(isinstance(q, dict) for q in self.questions):
            self.problems.append("questions.json is not a list of questions")
            self.questions = []
        named = list(dict.fromkeys(c.get("figure") for c in self.claims if isinstance(c, dict) and c.get("figure")))
        rank = {f: i for i, f in enumerate(named)}  # figures in the order the claims name them, then the rest
        self.pngs = sorted(path.glob("*.png"), key=lambda p: (rank.get(p.name, len(rank)), p.name))
        self.runs = run_dirs(path / "runs", depth=3)
        if not self.pngs:
            self.problems.append("no figure (*.png) beside claims.json")
        if (path / "runs").is_dir() and not self.runs:  # no runs/ at all: an experiment without training
            self.problems.append("runs/ holds no run directory")

    @property
    def measured(self) -> list[dict]:
        """The claims that count (see experiments.counted)."""
        return counted(self.claims)

    @property
    def held(self) -> int:
        return sum(c.get("holds") is True for c in self.measured)

    def short(self) -> str:
        """'4/5 hold', '3 identities' or '1/7 hold, 1 untested' for the papers' lists."""
        ids, untested = sum(map(is_identity, self.claims)), len(self.claims) - len(self.measured)
        parts = [f"{self.held}/{len(self.measured)} hold"] if self.measured else []
        parts += [f"{ids} identit{'y' if ids == 1 else 'ies'}"] if ids and not self.measured else []
        return ", ".join(parts + ([f"{untested - ids} untested"] if untested - ids else []))

    def tally(self) -> str:
        """'4/5 claims hold', plus the identities checked and the claims not tested, if any."""
        return tally([self])

    def heading(self) -> str:
        return " — ".join(x for x in (self.figure, self.title) if x) or self.name


def tally(exps: list["ExperimentDir"]) -> str:
    return claim_tally([c for e in exps for c in e.claims])


def figure_link(e: ExperimentDir, c: dict, prefix: str) -> str:
    fig = c.get("figure") or (e.pngs[0].name if len(e.pngs) == 1 else None)
    if fig is None:
        return f'<a href="{prefix}report.html#figures">figures</a>' if e.pngs else "—"
    if not (e.path / fig).exists():
        return f'<span class="no">{esc(fig)} missing</span>'
    return f'<a href="{prefix}report.html#fig-{esc(Path(fig).stem)}">{esc(fig)}</a>'


def claims_rows(exps: list[ExperimentDir], front: bool, name_column: bool | None = None) -> str:
    """The claims table; ``front``: links from the front page; ``name_column`` (default
    ``front``): a first column naming each row's experiment."""
    named = front if name_column is None else name_column
    rows, attrs = [], []
    for e in exps:
        prefix = f"{e.name}/" if front else ""
        for c in e.claims:
            cells = [html.td(f'<a href="{prefix}report.html">{esc(e.name)}</a>', raw=True)] if named else []
            cells += [html.td(f'<span id="claim-{esc(e.name)}-{esc(c.get("id", ""))}">{esc(c.get("claim", "?"))}</span>'
                              f'<div class="small">criterion: {esc(c.get("criterion", "not recorded"))}</div>', raw=True),
                      html.td(c.get("paper", "—")), html.td(html.measured(c.get("measured")), raw=True),
                      html.holds_cell(c.get("holds"), identity=is_identity(c)),
                      html.td(figure_link(e, c, prefix), raw=True)]
            rows.append(cells)
            cls = "identity" if is_identity(c) else "fail" if c.get("holds") is False else "untested" if c.get(
                "holds") is None else "pass"
            attrs.append(f' class="claim {cls}" data-claim="{esc(c.get("id", ""))}"')
    heads = (["experiment"] if named else []) + ["claim", "paper", "measured (mean ± sd over seeds)", "holds", "figure"]
    return html.table(heads, rows, cls="sortable claims", row_attrs=attrs)


def difference_status(e: ExperimentDir, d: dict) -> tuple[str, str]:
    """(differs | agrees | note, the badge's words) of one difference of ``e``: it differs
    while one of its claims fails."""
    status = {c.get("id"): c.get("holds") for c in e.claims}
    ids = d.get("claims") or []
    if not ids:
        return "note", "note on how we read the paper"
    if any(i not in status for i in ids):
        return "note", f"claim {', '.join(i for i in ids if i not in status)} not in claims.json"
    if any(status[i] is False for i in ids):
        return "differs", "differs: " + ", ".join(i for i in ids if status[i] is False) + " fails"
    return "agrees", "agrees in this run"


def question_status(e: ExperimentDir, q: dict) -> tuple[str, str]:
    """(agrees | differs | partly | untested, the words) of one reviewer's question of
    ``e``: from the ``holds`` of the claims that test the authors' answer."""
    status = {c.get("id"): c.get("holds") for c in e.claims}
    ids = q.get("claims") or []
    gone = [i for i in ids if i not in status]
    if not ids or gone:
        return "untested", f"claim {', '.join(gone)} not in claims.json" if gone else "no claim named"
    held = [status[i] for i in ids if status[i] is not None]
    if not held:
        return "untested", "not tested in this run"
    if all(held):
        return "agrees", "agrees"
    bad = [i for i in ids if status[i] is False]
    failed = f"{', '.join(bad)} fail{'s' * (len(bad) == 1)}" if len(bad) <= 2 else f"{len(bad)} of {len(ids)} claims fail"
    return ("differs", f"differs ({failed})") if not any(held) else ("partly", f"partly ({failed})")


def questions_table(exps: list[ExperimentDir], front: bool) -> str:
    """The reviewers' questions (questions.json of each preset), one row each."""
    rows, attrs = [], []
    for e in exps:
        for q in e.questions:
            cls, words = question_status(e, q)
            where = f'<a href="{e.name + "/" if front else ""}report.html">{esc(e.name)}</a>'
            rows.append([html.td(f'<b>{esc(q.get("reviewer", "?"))}</b>: “{esc(q.get("asked", "?"))}”', raw=True),
                         html.td(q.get("authors", "—")), html.td(q.get("ours", "—")),
                         html.td(f'<span class="badge {"yes" if cls == "agrees" else "no" if cls in ("differs", "partly") else "note"}">'
                                 f'{esc(words)}</span>', raw=True), html.td(where, raw=True)])
            attrs.append(f' class="question {cls}" data-question="{esc(q.get("id", ""))}"')
    if not rows:
        return "<p>No experiment here answers a reviewer's question (no questions.json).</p>"
    return html.table(["question (reviewer)", "authors' answer", "our measurement", "agrees", "preset"], rows,
                      cls="sortable questions", row_attrs=attrs)


def difference_cards(exps: list[ExperimentDir], front: bool) -> str:
    out = []
    for e in exps:
        for d in e.differences:
            cls, badge = difference_status(e, d)
            where = f'<a href="{e.name + "/" if front else ""}report.html">{esc(e.name)}</a>'
            title = d.get("title", d.get("id", ""))
            if front:  # several presets share one difference (fig5, fig9): say which one each card is about
                title = f"{e.figure or e.name}: {title}"
            # the front page lists every difference on one line each, the text on a click
            out.append(f'<details class="card {cls}"{"" if front else " open"}><summary><h3>{esc(title)} '
                       f'<span class="badge {"no" if cls == "differs" else "yes" if cls == "agrees" else "note"}">'
                       f'{esc(badge)}</span></h3></summary><p class="small">experiment {where}</p>'
                       f'<p><b>Paper:</b> {esc(d.get("paper", "—"))}</p>'
                       f'<p><b>We measure:</b> {esc(d.get("ours", "—"))}</p>'
                       f'<p><b>Controlled experiment:</b> {esc(d.get("control") or "none yet")}</p></details>')
    return "".join(out) or "<p>No experiment records a difference (no differences.json).</p>"


def variant_runs(e: ExperimentDir) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for p in e.runs:
        label = p.parent.name if p.parent != e.path / "runs" else p.name
        out.setdefault(label, []).append(p)
    return out


def experiment_page(path: Path, animate: bool = True) -> str:
    e = ExperimentDir(path)
    body = ['<nav><a href="../index.html">&larr; all experiments</a><a href="#claims">claims</a>'
            '<a href="#figures">figures</a><a href="#runs">runs</a></nav>',
            f"<h1>{esc(e.heading())}</h1>", f'<p class="muted">{esc(path.resolve())}</p>',
            html.missing(e.problems, "Missing or unreadable")]
    body.append(f'<div class="summary"><div><b>{e.held}/{len(e.measured)}</b>claims hold</div>'
                f'<div><b>{len(e.runs)}</b>runs</div></div><p class="small">{esc(e.tally())}</p>')
    body += ['<h2 id="claims">Claims</h2>', claims_rows([e], front=False)]
    if e.differences:
        body += ["<h2>Where we differ from the paper</h2>", difference_cards([e], front=False)]
    body.append('<h2 id="figures">Figures</h2>')
    body += [html.figure(p.read_bytes(), p.name, f"fig-{p.stem}") for p in e.pngs]
    groups = variant_runs(e)
    if animate and groups:
        seeds0 = [(label, load_run(ps[0]).metrics or []) for label, ps in groups.items()]
        gif = figures.animation(seeds0)
        if gif:
            body.append(html.figure(gif, "Attention by position and V over training, first seed of "
                                    + ", ".join(label for label, _ in seeds0[:4]) + " (animated).",
                                    "fig-animation", "image/gif"))
    if groups:
        body.append('<h2 id="runs">Variants, as train commands</h2>')
        for label, ps in groups.items():
            r = load_run(ps[0], metrics=False)
            cmd = (r.config or {}).get("command")
            body.append(f"<h3>{esc(label)} <span class=\"small\">({len(ps)} seeds; the command is the first "
                        f"seed's, change seed= for the others)</span></h3>")
            body.append(html.command(rerun_command(cmd, f"runs/{e.name}-{label}")) if cmd
                        else html.missing(r.problems, "No command"))
        cols, rows = runs_table(path / "runs", e.runs, path)
        body += ["<h2>Every run</h2><p class=\"small\">Click a column header to sort.</p>", html.table(cols, rows)]
    return html.page(f"walkformer {e.name}", "".join(body))


def experiment_line(e: ExperimentDir) -> str:
    """One line for the front page: 'k/n hold', the experiment and its paper figure; its
    claims table opens on a click."""
    cls = "no" if any(c.get("holds") is False for c in e.measured) else "yes" if e.measured else "note"
    return (f'<details class="exp" id="exp-{esc(e.name)}"><summary><span class="badge {cls}">{esc(e.short())}'
            f'</span> <a href="{esc(e.name)}/report.html">{esc(e.name)}</a> <span class="small">{esc(e.heading())}'
            f'</span></summary>{claims_rows([e], front=True, name_column=False)}</details>')


def thumbnail(png: Path, width: int = 640) -> bytes:
    from PIL import Image

    im = Image.open(png)
    if im.width > width:
        im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
    buf = io.BytesIO()
    im.convert("RGB").save(buf, format="PNG", compress_level=3)  # the same pixels as optimize=True, 6x faster
    return buf.getvalue()


def experiments_in(path: Path) -> list[ExperimentDir]:
    from ..experiments import REGISTRY

    order = {n: i for i, n in enumerate(REGISTRY)}
    dirs = [p for p in path.iterdir() if p.is_dir() and (p / "claims.json").exists()]
    return [ExperimentDir(p) for p in sorted(dirs, key=lambda p: (order.get(p.name, len(order)), p.name))]


def front_page(path: Path, exps: list[ExperimentDir] | None = None) -> str:
    """``exps``: the experiments_in(path) the caller already read (they are read again if None)."""
    from ..experiments import REGISTRY

    exps = experiments_in(path) if exps is None else exps
    n = sum(len(e.measured) for e in exps)
    held = sum(e.held for e in exps)
    fails = n - held
    problems = [f"{e.name}: {p}" for e in exps for p in e.problems]
    not_run = [name for name, r in REGISTRY.items() if r.tier == "core" and not (path / name / "claims.json").exists()]
    if not_run:
        problems.append(f"not run here: {', '.join(not_run)} (walkformer reproduce NAME --out {path})")
    extended = [name for name, r in REGISTRY.items() if r.tier != "core" and not (path / name / "claims.json").exists()]
    versions = next(((load_run(r, metrics=False).config or {}).get("versions") for e in exps for r in e.runs[:1]), None)
    body = ['<nav><a href="#claims">claims</a><a href="#reviewers">reviewers\' questions</a>'
            '<a href="#differences">where we differ</a><a href="#papers">papers</a>'
            '<a href="#experiments">experiments</a></nav>',
            "<h1>walkformer: the reproduction</h1>",
            f'<p class="muted">{esc(path.resolve())} · page written '
            f'{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC'
            + (f' · {esc(", ".join(f"{k} {v}" for k, v in versions.items() if k != "platform"))}' if versions else "")
            + "</p>",
            f'<div class="summary"><div><b>{len(exps)}</b>experiments</div><div><b>{held}/{n}</b>claims hold</div>'
            f'<div class="{"no" if fails else "yes"}"><b>{fails}</b>claims fail</div></div>',
            f'<p class="small">{esc(tally(exps))}. Identities (one formula checked against another) and '
            "claims a run could not test are listed with the claims but not counted.</p>",
            html.missing(problems, "Missing or unreadable")]
    body += ['<h2 id="claims">Claims: the paper against our measurement</h2>',
             '<p class="small">One line per experiment; click it for its claims. Measured values are over seeds '
             '(mean ± standard deviation, range); "holds" is computed from them with the criterion under each '
             "claim. Click a column header to sort.</p>", "".join(experiment_line(e) for e in exps)]
    body += ['<h2 id="reviewers">The reviewers\' questions</h2>',
             '<p class="small">The random-walk paper\'s reviewers asked on OpenReview; the authors answered in words. '
             "One row per question: the authors' answer, what the preset measured (computed from its runs, "
             'questions.json) and whether the claims that test the answer hold.'
             + (f" Extended presets not run here: {esc(', '.join(extended))} (make reproduce-extended)." if extended
                else "") + "</p>", questions_table(exps, front=True)]
    body += ['<h2 id="differences">Where we differ from the paper</h2>',
             '<p class="small">One line per difference; click it for the numbers we measured and the controlled '
             "experiment that explains it, computed by the experiment from its claims (differences.json).</p>",
             difference_cards(exps, front=True)]
    body.append('<h2 id="papers">The papers and what they claim</h2>')
    body.append('<div class="papers">')
    for paper in PAPERS:
        mine = [e for e in exps if paper_of(e.figure) is paper]
        links = ", ".join(f'<a href="{esc(e.name)}/report.html">{esc(e.figure or e.name)}</a> '
                          f'({e.short()})' for e in mine) or "none run here yet"
        body.append(f'<div class="paper"><h3>{esc(paper.title)}</h3><p class="small">{esc(paper.authors)} · '
                    f'{esc(paper.venue)} · <a href="{esc(paper.url)}">{esc(paper.url)}</a></p><ul class="claims">'
                    + "".join(f"<li>{esc(c)}</li>" for c in paper.claims)
                    + f'</ul><p class="small">Experiments: {links}</p></div>')
    body.append("</div>")
    others = [e for e in exps if paper_of(e.figure) is None]
    if others:
        body.append("<h3>Other experiments</h3><p>" + ", ".join(
            f'<a href="{esc(e.name)}/report.html">{esc(e.heading())}</a>' for e in others) + "</p>")
    body.append('<h2 id="experiments">Experiments</h2><div class="thumbs">')
    for e in exps:
        thumb = f'<img src="{html.data_uri(thumbnail(e.pngs[0]))}" alt="{esc(e.pngs[0].name)}">' if e.pngs else ""
        runs = f" · {len(e.runs)} runs" if e.runs else ""
        body.append(f'<figure><a href="{esc(e.name)}/report.html">{thumb}</a><figcaption><a href="{esc(e.name)}'
                    f'/report.html"><b>{esc(e.name)}</b></a> · {esc(e.short())}{runs}</figcaption></figure>')
    body.append("</div>")
    sweeps = sweeps_in(path)
    if sweeps:
        body.append('<h2 id="sweeps">Sweeps</h2><ul>' + "".join(
            f'<li><a href="{esc(p.name)}/report.html">{esc(p.name)}</a> ({len(run_dirs(p))} runs)</li>' for p in sweeps)
            + "</ul>")
    return html.page("walkformer reproduction", "".join(body))


def sweeps_in(path: Path) -> list[Path]:
    """Sweep directories (DIR/NAME/results.parquet) beside the experiments."""
    return sorted(p for p in path.iterdir() if p.is_dir() and (p / "results.parquet").exists()
                  and not (p / "claims.json").exists())
