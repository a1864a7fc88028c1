"""The study in the report of a tuned run: spaces as people write them, importance, parallel
coordinates with the zoom boxes, rounds counted from 1, the final model's curves."""

from __future__ import annotations

import json
import re

import pytest

from deeprecipe.report._tuning import space_text


@pytest.mark.parametrize(("name", "spec", "text"), [
    ("learning_rate", {"dist": "log_uniform", "low": 1e-4, "high": 1e-1}, "α ~ 10^U(−4, −1)"),
    ("beta", {"dist": "one_minus_log_uniform", "low": 0.9, "high": 0.999},
     "1−β ~ 10^U(−3, −1)"),
    ("keep_prob", {"dist": "uniform", "low": 0.5, "high": 1.0}, "keep_prob ~ U(0.5, 1)"),
    ("n_layers", {"dist": "int_uniform", "low": 1, "high": 3, "log": False},
     "n_layers ~ U{1, …, 3}"),
    ("batch_size", {"dist": "choice", "choices": [32, 64]}, "batch_size ∈ {32, 64}"),
    ("hidden_layer_sizes", {"dist": "choice", "choices": [[64], [128, 64]]},
     "hidden_layer_sizes ∈ {[64], [128, 64]}"),
    ("l2", {"dist": "log_uniform", "low": 10 ** -2.5, "high": 1.0}, "λ ~ 10^U(−2.5, 0)")])
def test_spaces_are_written_as_people_write_them(name, spec, text):
    assert space_text(name, spec) == text


def test_a_tuned_run_s_report_shows_the_study_and_the_final_model(tmp_path):
    import deeprecipe as dr
    from deeprecipe.runs.config import config_from_dict

    config = config_from_dict({
        "data": {"dataset": "moons", "n_samples": 200}, "model": {"hidden_layer_sizes": [8]},
        "training": {"epochs": 3, "early_stopping": False},
        "tuning": {"n_trials": 5, "rounds": 2, "space": {
            "learning_rate": {"dist": "log_uniform", "low": 1e-3, "high": 1e-1},
            "l2": {"dist": "log_uniform", "low": 1e-3, "high": 1.0},
            "hidden_units": {"dist": "int_uniform", "low": 2, "high": 16}}}})
    result = dr.tune(config, tmp_path / "run")  # the workflow: search, then the best model
    assert result.tuning["rounds"] == 2 and len(result.tuning["trials"]) == 10
    assert set(result.tuning["importance"]) == {"learning_rate", "l2", "hidden_units"}
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "fig-tuning-parallel" in html and "fig-tuning-importance" in html
    assert "α ~ 10^U(−3, −1)" in html and "λ ~ 10^U(−3, 0)" in html
    rounds = set(re.findall(r"round (\d+)", html))
    assert rounds == {"1", "2"}, rounds  # counted from 1 everywhere
    assert "no tuning study" not in html
    assert 'id="fig-epoch-error"' in html and 'id="fig-tuning-curves"' in html  # final + trials
    saved = json.loads((tmp_path / "run" / "tuning.json").read_text(encoding="utf-8"))
    assert saved["best"]["number"] == result.tuning["best"]["number"]
    assert result.metrics["dev_error"] is not None
