"""The README, docs/*.md and the generated docs/results/*.md: every local link resolves (file and #anchor), the README keeps
the two commands and stays a short guide."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "docs" / "results").glob("*.md")),
         *sorted((ROOT / "docs" / "reviewers").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """The text outside fenced code blocks and inline code spans."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a markdown file (repeats get -1, -2, ... as on GitHub)."""
    text = re.sub(r"^```.*?^```", "", path.read_text(), flags=re.S | re.M)
    seen: dict[str, int] = {}
    out = set()
    for m in re.finditer(r"^#{1,6} +(.+?) *#*$", text, flags=re.M):
        s = slug(m.group(1))
        n = seen.get(s, 0)
        out.add(s if n == 0 else f"{s}-{n}")
        seen[s] = n + 1
    return out


def broken_links(page: Path) -> list[str]:
    """The local links of ``page`` whose file or #anchor does not exist."""
    bad = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target}: no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target}: no heading with anchor #{anchor} in {dest.name}")
    return bad


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_local_links_resolve(page):
    assert broken_links(page) == []


def test_broken_links_are_found(tmp_path):
    (tmp_path / "a.md").write_text("# Title here\n\n## Sub (`x.py`)\n")
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md) [ok](a.md#sub-xpy) [ok](#own) [web](https://x.org/y) `[code](nope.md)`\n"
                    "# Own\n[bad](missing.md) [bad](a.md#nope) ![bad](img.png)\n")
    bad = broken_links(page)
    assert [b.split(":")[0] for b in bad] == ["missing.md", "a.md#nope", "img.png"]


def test_slug_matches_github():
    assert slug("The report (`out/index.html`)") == "the-report-outindexhtml"
    assert slug("Where we differ from the paper, and why") == "where-we-differ-from-the-paper-and-why"
    assert slug("Ray clusters (`walkformer sweep --executor ray`, `executors._ray`)") == \
        "ray-clusters-walkformer-sweep---executor-ray-executors_ray"


def test_readme_is_a_short_guide_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "make reproduce" in text and "make test" in text
    assert len(text.splitlines()) <= 150, "README.md is a guide: move details to docs/"
