"""HTML pieces of the report: one self-contained page (inline CSS, a few lines of inline
JS for sortable tables and copy buttons, images as data: URIs), readable on a laptop
and printable. Nothing is fetched from the network."""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from typing import Callable

from ..experiments import describe

CSS = """
:root { --ok: #17663a; --ok-bg: #e3f4e8; --bad: #a4161a; --bad-bg: #fbe4e4; --note: #6b5900; --note-bg: #fff5cc;
        --muted: #5b6270; --line: #d9dde3; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2127; margin: 0;
       background: #fff; }
main { max-width: 1200px; margin: 0 auto; padding: 1.2rem 1.5rem 3rem; }
h1 { font-size: 1.8rem; margin: .4rem 0 .2rem; } h2 { font-size: 1.35rem; margin-top: 2.2rem;
  border-bottom: 2px solid var(--line); padding-bottom: .2rem; } h3 { font-size: 1.1rem; margin-bottom: .3rem; }
a { color: #0b57a4; } .muted, .small { color: var(--muted); } .small { font-size: .86rem; }
nav { font-size: .92rem; margin-bottom: .6rem; } nav a { margin-right: .8rem; }
table { border-collapse: collapse; width: 100%; margin: .6rem 0 1rem; font-size: .93rem; }
th, td { border: 1px solid var(--line); padding: .35rem .5rem; vertical-align: top; text-align: left; }
th { background: #f3f5f8; position: sticky; top: 0; overflow-wrap: break-word; }
.scroll { overflow-x: auto; }
table.sortable th { cursor: pointer; user-select: none; } table.sortable th:after { content: " \\2195"; color: #aab; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.holds { font-weight: 600; white-space: nowrap; text-align: center; }
.yes { color: var(--ok); background: var(--ok-bg); } .no { color: var(--bad); background: var(--bad-bg); }
.note { color: var(--note); background: var(--note-bg); }
.badge { display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: .85rem; font-weight: 600; }
.summary { display: flex; gap: 1rem; flex-wrap: wrap; margin: .8rem 0; }
.summary div { border: 1px solid var(--line); border-radius: .4rem; padding: .4rem .8rem; }
.summary b { font-size: 1.3rem; display: block; }
.card { border: 1px solid var(--line); border-left: 5px solid var(--note); border-radius: .3rem;
        padding: .5rem .9rem; margin: .8rem 0; page-break-inside: avoid; }
.card.differs { border-left-color: var(--bad); } .card.agrees { border-left-color: var(--ok); }
.card p { margin: .3rem 0; }
.missing { border: 1px solid #e0b400; background: var(--note-bg); padding: .5rem .9rem; border-radius: .3rem; }
.missing li { margin: .15rem 0; }
figure { margin: 1rem 0 1.6rem; page-break-inside: avoid; } figure img { max-width: 100%; height: auto;
  border: 1px solid var(--line); } figcaption { color: var(--muted); font-size: .9rem; }
.thumbs { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: .8rem; }
.thumbs figcaption { font-size: .85rem; } .thumbs img { width: 100%; height: 170px; object-fit: contain; }
details.exp { border-bottom: 1px solid var(--line); padding: .25rem 0; } details.exp > summary { cursor: pointer; }
details.exp .badge { min-width: 7.5rem; text-align: center; }
details.card > summary { cursor: pointer; } details.card > summary h3 { display: inline; font-size: 1rem; }
details.card { padding: .3rem .9rem; margin: .35rem 0; }
.thumbs figure { margin: 0; }
pre.cmd { background: #f3f5f8; border: 1px solid var(--line); padding: .5rem .7rem; white-space: pre-wrap;
          word-break: break-all; font-size: .85rem; margin: .2rem 0; }
button.copy { font-size: .8rem; padding: .1rem .5rem; cursor: pointer; }
details.measured summary { cursor: pointer; color: var(--muted); } details.measured { margin-left: 1rem; }
ul.claims { padding-left: 1.1rem; font-size: .93rem; } ul.claims li { margin: .3rem 0; }
.papers { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1rem; }
.paper { border: 1px solid var(--line); border-radius: .4rem; padding: 0 .9rem; }
@media print {
  body { font-size: 11pt; } main { max-width: none; padding: 0; } nav, button.copy { display: none; }
  th { position: static; } a { color: inherit; text-decoration: none; }
  .scroll { overflow: visible; } .scroll table { font-size: 7.5pt; } td.num { white-space: normal; } th { overflow-wrap: anywhere; }
  h2 { page-break-after: avoid; } tr, .card, figure { page-break-inside: avoid; }
  .yes, .no, .note { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""

JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var dir = th.dataset.dir === 'asc' ? -1 : 1; th.dataset.dir = dir === 1 ? 'asc' : 'desc';
      function key(r) { var c = r.cells[col]; var v = (c.dataset.sort !== undefined ? c.dataset.sort : c.textContent).trim();
        var n = Number(v); return (v !== '' && !isNaN(n)) ? n : v.toLowerCase(); }
      rows.sort(function (a, b) { var x = key(a), y = key(b);
        if (typeof x === typeof y) { return x < y ? -dir : x > y ? dir : 0; }
        return typeof x === 'number' ? -dir : dir; });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
document.querySelectorAll('button.copy').forEach(function (b) {
  b.addEventListener('click', function () {
    var pre = b.previousElementSibling, range = document.createRange();
    range.selectNodeContents(pre); var sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
    try { document.execCommand('copy'); b.textContent = 'copied'; } catch (e) { b.textContent = 'selected'; }
  });
});
"""


def esc(x) -> str:
    return html.escape(str(x), quote=True)


def page(title: str, body: str, nav: str = "") -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>{esc(title)}</title><style>{CSS}</style></head>\n'
            f'<body><main>{nav}{body}</main><script>{JS}</script></body></html>\n')


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def figure(data: bytes, caption: str, id: str = "", mime: str = "image/png") -> str:
    anchor = f' id="{esc(id)}"' if id else ""
    return (f'<figure{anchor}><img src="{data_uri(data, mime)}" alt="{esc(caption)}">'
            f'<figcaption>{esc(caption)}</figcaption></figure>')


def command(cmd: str) -> str:
    return f'<pre class="cmd">{esc(cmd)}</pre><button class="copy" type="button">copy</button>'


def missing(problems: list[str], what: str = "This page is incomplete") -> str:
    if not problems:
        return ""
    items = "".join(f"<li>{esc(p)}</li>" for p in problems)
    return f'<div class="missing"><b>{esc(what)}:</b><ul>{items}</ul></div>'


def table(headers: list[str], rows: list[list[str]], cls: str = "sortable", row_attrs: list[str] | None = None) -> str:
    """``rows`` hold cells already rendered with :func:`td`."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    attrs = row_attrs or [""] * len(rows)
    body = "".join(f"<tr{a}>{''.join(r)}</tr>" for r, a in zip(rows, attrs))
    return f'<div class="scroll"><table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def td(value, raw: bool = False, cls: str = "") -> str:
    """A cell; numbers are right-aligned and sort numerically."""
    if isinstance(value, bool) or value is None:
        text = "—" if value is None else ("yes" if value else "no")
        return f'<td class="{cls}">{text}</td>'
    if isinstance(value, (int, float)):
        return f'<td class="num {cls}" data-sort="{value!r}">{esc(number(value))}</td>'
    return f'<td class="{cls}">{value if raw else esc(value)}</td>'


def number(x) -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int) or (math.isfinite(x) and float(x).is_integer() and abs(x) < 1e9):
        return str(int(x))
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}" if abs(x) < 1e-3 or abs(x) >= 1e4 else f"{x:.4g}"


def is_stat(v) -> bool:
    return isinstance(v, dict) and "n_seeds" in v and "mean" in v


LONG = 6  # a dict or list nested in a measured value with more entries than this is folded


@dataclass(frozen=True)
class Style:
    """How :func:`measured` marks up what it writes: the same numbers (``describe``,
    :func:`number`) as HTML for the pages or as one markdown table cell for the results
    pages (``report/markdown.py``)."""
    esc: Callable[[str], str]
    bold: Callable[[str], str]
    sub: Callable[[str], str]  # the numbers below a statistic
    br: str  # between the lines of a dict
    fold: Callable[[str, str], str]  # (one-line summary, the folded text) -> the folded block
    folds: str  # how a folded block ends: no line break after it (it ends its own line)


HTML = Style(esc, lambda s: f"<b>{s}</b>", lambda s: f'<div class="small">{s}</div>', "<br>",
             lambda summary, inner: f'<details class="measured"><summary>{summary}</summary>{inner}</details>',
             "</details>")


def measured(m, depth: int = 0, style: Style = HTML) -> str:
    """A claim's ``measured``: the main statistic (mean ± spread over seeds) first, the
    other numbers below it. A long dict or list (e.g. one number per grid cell) is folded
    (HTML: a ``<details>`` element) behind a one-line summary of its count and range."""
    e = style.esc
    if is_stat(m):
        extra = {k: v for k, v in m.items() if k not in ("mean", "std", "min", "max", "n_seeds", "n_never")}
        return style.bold(e(describe(m))) + (style.sub(measured(extra, depth + 1, style)) if extra else "")
    if isinstance(m, (dict, list)) and len(m) > (LONG if depth else 2 * LONG):
        return folded(m, depth, style)
    if isinstance(m, dict):  # a nested dict of plain numbers on one line: "p: 0.4, q: 0.2, abs error: 0.0785"
        sep = ", " if depth and not any(isinstance(v, (dict, list)) for v in m.values()) else style.br
        return lines([f"{e(k.replace('_', ' '))}: {measured(v, depth + 1, style)}" for k, v in m.items()], sep, style)
    if isinstance(m, list):
        return e(", ".join(number(v) for v in m)) if all(not isinstance(v, (dict, list)) for v in m) \
            else "; ".join(measured(v, depth + 1, style) for v in m)
    if isinstance(m, bool):
        return "yes" if m else "no"
    return e(number(m) if isinstance(m, (int, float)) else m)


def lines(items: list[str], sep: str = "<br>", style: Style = HTML) -> str:
    """Join with ``sep``, but no line break after a folded block (it ends its own line)."""
    return "".join(x + ("" if i == len(items) - 1 or style.folds and x.endswith(style.folds) else sep) for i, x in enumerate(items))


def folded(m: dict | list, depth: int, style: Style = HTML) -> str:
    """A folded block with a one-line summary: "25 values, 0.2–0.8" (numbers) or "25 entries"."""
    e = style.esc
    values = list(m.values()) if isinstance(m, dict) else m
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    span = f", {number(min(nums))}–{number(max(nums))}" if nums and len(nums) == len(values) else ""
    what = "values" if span else "entries"
    inner = (lines([f"{e(k.replace('_', ' '))}: {measured(v, depth + 1, style)}" for k, v in m.items()], style.br, style)
             if isinstance(m, dict) else e(", ".join(number(v) for v in m)) if span
             else "; ".join(measured(v, depth + 1, style) for v in m))
    return style.fold(f"{len(m)} {what}{span}", inner)


def holds_word(h, identity: bool = False) -> tuple[str, str, str]:
    """(class, data-holds, words) of a claim's ``holds``: the pages' cell and the markdown column."""
    if identity:  # a formula checked against another: a test, not a measurement
        return "note", "identity", ("\u2713" if h is True else "\u2717") + " identity"
    return {None: ("note", "untested", "not tested"), True: ("yes", "true", "\u2713 holds"),
            False: ("no", "false", "\u2717 fails")}.get(h, ("note", "unknown", "?"))


def holds_cell(h, identity: bool = False) -> str:
    cls, data, words = holds_word(h, identity)
    mark = esc(words).encode("ascii", "xmlcharrefreplace").decode()  # &#10003; holds
    return f'<td class="holds {cls}" data-holds="{data}">{mark}</td>'


def pretty_json(obj) -> str:
    return f'<pre class="cmd">{esc(json.dumps(obj, indent=1, ensure_ascii=False))}</pre>'
