"""The sweep's page (report/run.py): no "Missing" box for an ordinary sweep, the grid keys
first and the constant columns listed once, a failed run's error on one line."""

import re

import pytest

from walkformer.cli import main

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

SPEC = """seeds = 2
[base]
"task.K" = 4
"task.N" = 13
"model.M" = 30
"train.steps" = 6
"train.n_train" = 100
"eval.n_test" = 100
[grid]
"task.p" = [0.5, 1.0]
"""
ERROR = "loss is not finite at step 3\nTraceback (most recent call last):\n  File x\n" + "y" * 300


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """A 4-run sweep whose last run is marked failed with a long multi-line error."""
    root = tmp_path_factory.mktemp("sweep-page")
    (root / "spec.toml").write_text(SPEC)
    out = root / "sw"
    assert main(["sweep", str(root / "spec.toml"), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    df = pd.read_parquet(out / "results.parquet")
    df["error"] = df["error"].astype(object)
    df.loc[len(df) - 1, ["status", "failure", "error"]] = ["failed", "diverged", ERROR]
    df.to_parquet(out / "results.parquet", index=False)
    assert main(["report", str(out), "--quiet", "--no-animation"]) == 0
    return (out / "report.html").read_text()


def runs_headers(page: str) -> list[str]:
    runs = page[page.index("<h2>Runs</h2>"):]
    return re.findall(r"<th>([^<]*)</th>", runs[:runs.index("</thead>")])


def test_ordinary_sweep_has_no_missing_box(page):
    assert "Missing or unreadable" not in page and 'class="missing"' not in page


def test_grid_keys_first_constant_columns_listed_once(page):
    heads = runs_headers(page)
    assert heads[0] == "run_id" and heads[1] == "task.p" and heads[2] == "seed", heads[:4]
    assert heads.index("status") < heads.index("test_accuracy")
    for constant in ("task.K", "task.N", "model.M", "train.steps", "model.name"):
        assert constant not in heads
    fixed = re.search(r"<b>fixed</b>[^<]*", page).group(0)
    assert fixed.count("task.K=4") == 1 and "train.steps=6" in fixed and "task.p=" not in fixed
    assert len(heads) < 25, heads  # not ~50 config columns


def test_failed_run_error_is_one_truncated_line(page):
    cells = re.findall(r'<td class="error"><span[^>]*title="([^"]*)"[^>]*>([^<]*)</span></td>', page)
    assert len(cells) == 1
    title, shown = cells[0]
    assert shown.startswith("loss is not finite at step 3") and shown.endswith("…")
    assert "\n" not in shown and len(shown) <= 90
    assert "y" * 300 in title  # the whole text on hover
    runs = page[page.index("<h2>Runs</h2>"):]
    assert "Traceback" not in re.sub(r'title="[^"]*"', "", runs)
