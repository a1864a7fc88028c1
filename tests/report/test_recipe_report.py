"""The recipe section: each architecture search's trials and how the recipe judged its changes,
read from a real recipe run (5-fold cross-validation, a search in round 2) and damaged copies."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from deeprecipe.basic_recipe import rounds, steps
from deeprecipe.basic_recipe.loop import recipe
from deeprecipe.report import build_report
from deeprecipe.runs.config import (
    Config,
    DataConfig,
    ModelConfig,
    OptimizerConfig,
    TrainingConfig,
)
from deeprecipe.runs.prepare import prepare_data

SEARCH = Path("rounds") / "02" / "search.json"
JUDGED_CV = "<b>How changes were judged:</b> 5-fold cross-validation over train + dev"
CONFIG = Config(name="recipe-report", seed=0,
                data=DataConfig(dataset="moons", n_samples=150),
                model=ModelConfig(hidden_layer_sizes=[8]),
                optimizer=OptimizerConfig(name="adam", learning_rate=0.01),
                training=TrainingConfig(epochs=20, batch_size="full", early_stopping=False))


def _recipe_run(run_dir: Path, max_rounds: int) -> Path:
    """A real recipe on 150 moons (30 dev examples: judged by 5-fold cross-validation); with
    the problem's own steps spent, round 2 trains the pick of a 5-trial architecture search."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(steps, "BIAS_ACTIONS", ())
        mp.setattr(steps, "VARIANCE_ACTIONS", ())
        mp.setattr(rounds, "ARCHITECTURE_TRIALS", 4)
        recipe(CONFIG, run_dir, data=prepare_data(CONFIG, check_distribution=False),
               max_rounds=max_rounds, folds="auto")
    return run_dir


@pytest.fixture(scope="module")
def searched(tmp_path_factory) -> Path:
    return _recipe_run(tmp_path_factory.mktemp("recipe") / "run", max_rounds=2)


@pytest.fixture
def run(searched, tmp_path) -> Path:
    """A copy of the real run that a test may damage."""
    return Path(shutil.copytree(searched, tmp_path / "run"))


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _edit_recipe(run: Path, edit) -> None:
    doc = _json(run / "recipe.json")
    edit(doc)
    (run / "recipe.json").write_text(json.dumps(doc), encoding="utf-8")


def _recipe_section(html: str) -> str:
    start = html.index('<section id="recipe">')
    return html[start:html.index("</section>", start)]


def _search_rows(section: str, n: int) -> list[tuple[str, list[str]]]:
    """(row class, cell texts) of the trials table of round ``n``'s search."""
    start = section.index(f"<h3>Architecture search, round {n}</h3>")
    body = section[section.index("<tbody>", start):section.index("</tbody>", start)]
    return [(cls, [re.sub(r"<[^>]+>", "", c).strip() for c in
                   re.findall(r"<td>(.*?)</td>", cells)])
            for cls, cells in re.findall(r'<tr(?: class="([^"]*)")?>(.*?)</tr>', body)]


def test_a_search_round_shows_its_trials_ranked_with_the_pick_marked(searched):
    found = _json(searched / SEARCH)
    html = build_report(searched)
    section = _recipe_section(html)
    rows = _search_rows(section, 2)
    assert len(rows) == len(found["trials"]) == 5
    # the pick: the trial whose units x layers, keep_prob and α are search.json's "picked"
    picked = found["picked"]
    (winner,) = [i for i, t in enumerate(found["trials"]) if t["params"] and
                 [t["params"]["hidden_units"]] * t["params"]["n_layers"] ==
                 picked["hidden_layer_sizes"] and
                 t["params"]["learning_rate"] == picked["learning_rate"]]
    assert [cells[1] for cls, cells in rows if cls == "best"] == [f"{winner} picked"]
    assert rows[0][0] == "best"  # the pick has the lowest cv error (ties: lower cv cost)
    headers = re.findall(r"<th>(.*?)</th>", section[section.index(
        "<h3>Architecture search, round 2</h3>"):])[:11]
    assert headers == ["rank", "trial", "α", "units", "layers", "keep_prob", "cv error",
                       "dev error", "dev cost", "train error", "status"]
    # 5-fold cross-validation judged the recipe (30 dev moons): it ranked the search too
    assert found["ranked_by"] == "cv_error"
    cv = [float(cells[6].rstrip("%")) for _, cells in rows if cells[6] != "—"]
    assert cv == sorted(cv) == sorted(round(100 * t["cv_error"], 2) for t in found["trials"]
                                      if t["cv_error"] is not None)  # a diverged one: last
    assert [cells[6] for _, cells in rows][len(cv):] == ["—"] * (len(rows) - len(cv))
    n_cv = sum(t["cv_error"] is not None for t in found["trials"])
    assert f"ranked by 5-fold cross-validated error over train + dev ({n_cv} trials " \
        "cross-validated, the best on dev first)" in section
    by_trial = {cells[1].removesuffix(" picked"): cells for _, cells in rows}
    assert by_trial["0 (unchanged model)"][2:6] == ["current"] * 4
    t1 = found["trials"][1]["params"]
    assert by_trial["1"][2:6] == [f"{t1['learning_rate']:.2e}", str(t1["hidden_units"]),
                                  str(t1["n_layers"]), f"{t1['keep_prob']:.4g}"]
    assert re.fullmatch(r"\d\.\d\de-0\d", by_trial["1"][2])  # α in scientific notation
    assert "trial 0 is the model unchanged" in section
    assert f"Picked: trial {winner} (α {picked['learning_rate']:.2e}" in section
    assert "trained in full as round 2: " + ("kept" if _json(searched / "recipe.json")[
        "rounds"][1]["helped"] else "not kept") in section
    assert 'id="fig-search-2"><svg' in section and "the cross-validated error of each" in section
    assert "rounds/02/search.json" in html[html.index('id="omitted"'):]  # named as read


def test_the_judged_by_line_says_cross_validation_or_the_dev_set(run):
    doc = _json(run / "recipe.json")
    section = _recipe_section(build_report(run))
    assert doc["folds"] == 5 and JUDGED_CV + " (120 examples pooled)" in section
    assert "the examples it fixes outnumber those it breaks" in section  # classes: paired
    assert f"The recipe: {doc['judged_by']}." in section  # the recipe's own words as well
    _edit_recipe(run, lambda d: d.update(folds=None, judged_by=""))
    section = _recipe_section(build_report(run))
    assert "<b>How changes were judged:</b> the dev set (30 examples);" in section
    assert "5-fold" not in section[:section.index("</p>")]


def test_the_round_table_shows_the_cross_validated_error_that_decided(run):
    rounds_ = _json(run / "recipe.json")["rounds"]
    section = _recipe_section(build_report(run))
    table = section[section.index("<th>round</th>"):]
    headers = re.findall(r"<th>(.*?)</th>", table)[:6]
    assert headers == ["round", "α", "train error", "dev error", "cross-validated error",
                       "± noise"]
    body = table[table.index("<tbody>"):table.index("</tbody>")]
    rows = [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body)]
    assert [row[4] for row in rows] == [f"{r['evidence']['cv_error']:.1%}" for r in rounds_]
    _edit_recipe(run, lambda d: [r["evidence"].pop("cv_error") for r in d["rounds"]])
    section = _recipe_section(build_report(run))  # judged on the dev set: no such column
    assert "cross-validated error</th>" not in section


def test_the_judged_by_line_states_the_paired_rule_when_examples_were_paired(run):
    """A real cross-validated recipe on classes compares models example by example; an older
    recipe.json without the counts keeps the error-noise wording."""
    rounds_ = _json(run / "recipe.json")["rounds"]
    assert any(isinstance(r["evidence"].get("paired"), dict) for r in rounds_)
    section = _recipe_section(build_report(run))
    assert "the examples it fixes outnumber those it breaks by more than √(fixed + broke)" \
        in section
    _edit_recipe(run, lambda d: [r["evidence"].pop("paired", None) for r in d["rounds"]])
    section = _recipe_section(build_report(run))
    assert "√(fixed + broke)" not in section
    assert "when it lowers the cross-validated error by more than its noise" in section


@pytest.mark.parametrize("folds, judged_by, expected", [
    ("five", "", None),                     # wrongly typed, nothing to say: no line
    (True, 3, None),
    ([5], "judged by the moon", "judged by the moon"),  # the recipe's words stand alone
    (1, None, "the dev set (30 examples)"),
])
def test_the_judged_by_line_reads_its_keys_defensively(run, folds, judged_by, expected):
    _edit_recipe(run, lambda d: d.update(folds=folds, judged_by=judged_by))
    section = _recipe_section(build_report(run))
    line = re.search(r"<b>How changes were judged:</b> (.*?);", section)
    assert (line and line[1]) == expected
    _edit_recipe(run, lambda d: [d.pop("folds"), d.pop("judged_by")])
    assert "How changes were judged" not in build_report(run)  # an older recipe.json


@pytest.mark.parametrize("damage", ["{not json", "[1, 2]", "", "\xff\xfe"])
def test_a_damaged_search_json_falls_back_to_recipe_json_then_says_so(run, damage):
    (run / SEARCH).write_bytes(damage.encode("latin-1"))
    html = build_report(run)
    section = _recipe_section(html)
    assert len(_search_rows(section, 2)) == 5  # recipe.json's copy of the trials
    assert "rounds/02/search.json could not be read; these trials are recipe.json&#x27;s " \
        "copy." in section
    assert "<b>Unreadable:</b> rounds/02/search.json" in html
    _edit_recipe(run, lambda d: d["rounds"][1]["evidence"].pop("architecture_search"))
    section = _recipe_section(build_report(run))
    assert "Round 2&#x27;s architecture search: rounds/02/search.json could not be read, " \
        "and recipe.json holds no copy; its trials are not shown." in section
    assert "<h3>Architecture search" not in section and "fig-search" not in section
    assert JUDGED_CV in section and "<th>decision</th>" in section  # the rest still there


def test_a_missing_search_json_is_named(run):
    (run / SEARCH).unlink()
    section = _recipe_section(build_report(run))
    assert len(_search_rows(section, 2)) == 5  # recipe.json's copy, nothing to say
    assert "could not be read" not in section
    _edit_recipe(run, lambda d: d["rounds"][1]["evidence"].pop("architecture_search"))
    section = _recipe_section(build_report(run))
    assert "Round 2&#x27;s architecture search: rounds/02/search.json is missing" in section
    assert "<h3>Architecture search" not in section


def _dev_ranked(found: dict) -> dict:
    """``found`` as a search ranked by dev error saved it (before cross-validation)."""
    found.pop("ranked_by")
    found["trials"] = [{k: v for k, v in t.items() if k not in ("cv_error", "cv_cost")}
                       for t in found["trials"]]
    return found


def test_a_search_ranked_by_dev_error_has_no_cv_column(run):
    found = _dev_ranked(_json(run / SEARCH))
    found["picked"] = {}
    (run / SEARCH).write_text(json.dumps(found), encoding="utf-8")
    section = _recipe_section(build_report(run))
    rows = _search_rows(section, 2)
    assert "<th>cv error</th>" not in section and "cross-validated error over" not in section
    dev = [float(cells[6].rstrip("%")) for _, cells in rows]
    assert dev == sorted(dev) == sorted(round(100 * t["dev_error"], 2) for t in found["trials"])


def test_wrongly_typed_cv_errors_are_ranked_last(run):
    found = _json(run / SEARCH)
    found["picked"] = {}
    found["trials"][1]["cv_error"] = "low"
    found["trials"][2]["cv_error"] = None
    (run / SEARCH).write_text(json.dumps(found), encoding="utf-8")
    rows = _search_rows(_recipe_section(build_report(run)), 2)
    assert [cells[1] for _, cells in rows][-2:] == ["1", "2"]
    assert [cells[6] for _, cells in rows][-2:] == ["—", "—"]


def test_wrongly_typed_fields_of_a_search_are_skipped(run):
    found = _dev_ranked(_json(run / SEARCH))
    found["trials"] = [None, {"params": "x", "dev_error": "low", "status": 3},
                       {"params": {"learning_rate": "fast", "hidden_units": -3},
                        "dev_error": 0.25, "status": "complete"},
                       {**found["trials"][1], "dev_error": float("nan")}]
    found.update(space=[1], epochs="ten", picked={"hidden_layer_sizes": "wide"})
    (run / SEARCH).write_text(json.dumps(found), encoding="utf-8")
    section = _recipe_section(build_report(run))
    rows = _search_rows(section, 2)
    assert [cells[1] for _, cells in rows] == ["2 picked", "1", "3"]  # no error: last
    assert rows[0][1][2:4] == ["fast", "-3"] and rows[1][1][6] == "—"
    (run / SEARCH).write_text(json.dumps({"trials": "many"}), encoding="utf-8")
    section = _recipe_section(build_report(run))
    assert "Round 2&#x27;s search holds no readable trials." in section


def test_the_unchanged_model_can_be_the_pick(run):
    found = _json(run / SEARCH)
    found["picked"] = {}
    (run / SEARCH).write_text(json.dumps(found), encoding="utf-8")
    section = _recipe_section(build_report(run))
    assert [cells[1] for cls, cells in _search_rows(section, 2) if cls == "best"] == \
        ["0 (unchanged model) picked"]
    assert "The unchanged model stayed best: the search found nothing better." in section


def test_a_recipe_without_a_search_has_no_search_table(tmp_path):
    run = _recipe_run(tmp_path / "run", max_rounds=1)
    assert not list((run / "rounds").glob("*/search.json"))
    html = build_report(run)
    section = _recipe_section(html)
    assert "Architecture search" not in section and "fig-search" not in section
    assert "<th>units</th>" not in section and "search.json" not in html
    assert JUDGED_CV in section and "<th>decision</th>" in section
