"""The markdown results pages (report/markdown.py) and the committed ones in docs/results/.

docs/results/*.md are generated (`make reproduce`, then `walkformer report out --markdown
docs/results`), never edited. Running every preset here would take minutes, so:

- the presets that train nothing (fig2, l2g-fig1, l2g-canonical: exact, seconds) run
  here, and their sections must equal the committed ones, character for character;
- every other section must carry the fingerprint of the preset as committed (its figure,
  seeds, base and variants): a preset changed, added or removed without regenerating
  the pages fails here;
- the hand-written docs/results-*.md carry no measured number: they explain and link.
"""

import json
import re
from pathlib import Path

import pytest

from walkformer.cli import main
from walkformer.experiments import REGISTRY, claim, describe, difference, run_all, stat
from walkformer.report.markdown import fingerprint, results_pages, sections
from walkformer.report.papers import paper_of
from walkformer.report.reproduction import front_page
from walkformer.runs.rundir import write_json

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "results"
EXACT = ("fig2", "l2g-fig1", "l2g-canonical")  # no training runs: the whole preset in seconds
REGENERATE = "regenerate: make reproduce && walkformer report out --markdown docs/results"


def committed() -> dict[str, str]:
    """Experiment name -> its section in the committed pages."""
    out = {}
    for page in sorted(RESULTS.glob("*.md")):
        out |= sections(page.read_text())
    return out


def test_exact_presets_reproduce_their_committed_sections(tmp_path):
    run_all([REGISTRY[n] for n in EXACT], tmp_path, workers=1, quiet=True)
    fresh = {}
    for text in results_pages(tmp_path).values():
        fresh |= sections(text)
    assert sorted(fresh) == sorted(EXACT)
    pages = committed()
    for name in EXACT:
        assert fresh[name] == pages.get(name), f"docs/results: section {name} is stale; {REGENERATE}"


def test_every_preset_has_a_section_of_its_current_definition():
    pages = committed()
    assert sorted(pages) == sorted(REGISTRY), f"docs/results lists other presets than the code; {REGENERATE}"
    for name, text in pages.items():
        assert f"<!-- preset {name} {fingerprint(name)} -->" in text, f"preset {name} changed; {REGENERATE}"
        page = (RESULTS / f"{paper_of(REGISTRY[name].figure).key}.md").read_text()
        assert f"## {name}\n" in page, f"{name} is on the wrong paper's page"


def test_fingerprint_follows_the_preset(monkeypatch):
    import dataclasses

    before = fingerprint("fig5")
    assert re.fullmatch(r"[0-9a-f]{12}", before) and fingerprint("no-such-preset") == ""
    monkeypatch.setitem(REGISTRY, "fig5", dataclasses.replace(REGISTRY["fig5"], seeds=3))
    assert fingerprint("fig5") != before


NUMBERS = [(re.compile(r"\d ?±|± ?\d"), "a spread (±)"), (re.compile(r"\d\.\d{3,}"), "a number with 3 or more decimals"),
           (re.compile(r"\b\d+ ?(/|of) ?\d+ (seeds|cells|runs|claims|hold)"), "a count like 8/10 seeds"),
           (re.compile(r"\d ?%"), "a percentage")]


def measurements(text: str) -> list[str]:
    """Measured-looking numbers in the prose of a hand-written page."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [f"{what}: {m.group(0)!r} in {text[max(0, m.start() - 40):m.end() + 20]!r}"
            for rx, what in NUMBERS for m in rx.finditer(text)]


@pytest.mark.parametrize("page", ["results-random-walks.md", "results-binary-chains.md"])
def test_handwritten_results_docs_copy_no_measurement(page):
    text = (ROOT / "docs" / page).read_text()
    assert measurements(text) == []
    assert "results/" in text  # the numbers are in the generated pages it links to


def test_measurements_are_found():
    found = measurements("accuracy 0.505 ± 0.013 in 8/10 seeds, 14 of 24 cells, 99.7% `0.9999` K = 6, p = 0.5, "
                         "T^{−1/2}, mean ± sd")
    assert [f.split(":")[0] for f in found] == ["a spread (±)"] + ["a number with 3 or more decimals"] * 2 + [
        "a count like 8/10 seeds"] * 2 + ["a percentage"]


def reproduction(tmp_path: Path) -> Path:
    """A reproduction directory with one Shi & Cao experiment: a statistic, a failure, an identity."""
    d = tmp_path / "fig4"
    d.mkdir(parents=True)
    acc = stat([0.5, 0.52, 0.49])
    write_json(d / "claims.json", [
        claim("acc", "accuracy | reaches OPT", "0.5", {"test_accuracy": acc, "grid": {f"c{i}": i / 10 for i in range(9)}},
              True, "every seed >= OPT - 3 sd"),
        claim("att", "attention on the parent", "1", {"parent": stat([0.2, 0.3])}, False, "mean >= 0.99"),
        claim("id", "OPT formula", "0.5", {"closed_form": 0.5}, True, "equal", kind="identity"),
    ])
    write_json(d / "differences.json", [difference("d1", "Attention stays spread", "parent", "0.25", "none", ("att",))])
    return tmp_path


def test_page_prints_what_the_html_report_prints(tmp_path):
    out = reproduction(tmp_path)
    pages = results_pages(out)
    assert list(pages) == ["shicao.md"]
    text = pages["shicao.md"]
    acc = describe(stat([0.5, 0.52, 0.49]))
    assert f"**{acc}**" in text and acc in front_page(out)  # one formatting of the number, on both
    assert "accuracy \\| reaches OPT" in text  # a | in a claim does not break the table
    assert "9 values, 0–0.8" in text  # a long dict folds into its summary, as on the page
    assert "| ✗ fails |" in text and "| ✓ identity |" in text and "| ✓ holds |" in text
    assert "**Attention stays spread** (differs: att fails)" in text
    assert "1/2 claims hold · 1 identity checked (1 ok)" in text
    sec = sections(text)
    assert list(sec) == ["fig4"] and sec["fig4"].startswith("## fig4\n") and "## " not in sec["fig4"][3:]
    assert f"<!-- preset fig4 {fingerprint('fig4')} -->" in sec["fig4"]


def test_cli_markdown_writes_the_pages_and_refuses_a_run(tmp_path, capsys):
    out = reproduction(tmp_path / "out")
    assert main(["report", str(out), "--markdown", str(tmp_path / "md")]) == 0
    assert (tmp_path / "md" / "shicao.md").read_text() == results_pages(out)["shicao.md"]
    assert not (out / "index.html").exists()  # --markdown writes only the pages
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({}))
    assert main(["report", str(run), "--markdown", str(tmp_path / "md2")]) == 2
    assert "--markdown" in capsys.readouterr().err.splitlines()[-1]
