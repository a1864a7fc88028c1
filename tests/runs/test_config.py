"""Tests for deeprecipe.config: validation, defaults, TOML round trip."""

from __future__ import annotations

import os
import tomllib

import pytest

from deeprecipe.errors import ConfigError, DeepRecipeError
from deeprecipe.runs.config import (
    EXAMPLE_CONFIG,
    Config,
    config_from_dict,
    config_to_dict,
    dump_config,
    load_config,
)


def test_defaults_fill_every_section():
    cfg = config_from_dict({})
    assert cfg == Config()
    assert cfg.optimizer.name == "adam" and cfg.optimizer.beta2 == 0.999
    assert cfg.training.batch_size == 128


def test_example_config_is_valid_and_round_trips(tmp_path):
    cfg = config_from_dict(tomllib.loads(EXAMPLE_CONFIG))
    assert cfg.tuning.space["learning_rate"]["dist"] == "log_uniform"
    path = tmp_path / "c.toml"
    path.write_text(dump_config(cfg))
    assert load_config(path) == cfg


def test_dump_is_complete_and_reruns_identically(tmp_path):
    cfg = config_from_dict({"model": {"hidden_layer_sizes": [5]}, "optimizer": {"name": "gd"}})
    text = dump_config(cfg)
    for section in ("data", "split", "model", "regularization", "optimizer", "schedule",
                    "training", "tuning"):
        assert f"[{section}]" in text
    assert config_from_dict(tomllib.loads(text)) == cfg
    assert "label" not in config_to_dict(cfg)["data"]  # None is omitted (TOML has no null)


@pytest.mark.parametrize("data, match", [
    ({"modle": {}}, r"unknown key 'modle'.*did you mean 'model'"),
    ({"model": {"activaton": "relu"}}, r"model.activaton.*did you mean 'activation'"),
    ({"optimizer": {"learning_rate": "fast"}}, r"optimizer.learning_rate = 'fast'.*float"),
    ({"optimizer": {"learning_rate": -1.0}}, r"optimizer.learning_rate must be > 0.0"),
    ({"optimizer": {"beta": 1.0}}, r"beta must be in \[0.0, 1.0\)"),
    ({"optimizer": {"name": "sgdx"}}, r"name must be one of 'gd', 'momentum'"),
    ({"model": {"keep_prob": 1.5}}, r"keep_prob must be in \(0.0, 1.0\]"),
    ({"model": {"hidden_layer_sizes": [3, 0]}}, r"hidden_layer_sizes\[1\] must be >= 1"),
    ({"model": {"hidden_layer_sizes": 3}}, r"must be a list"),
    ({"training": {"epochs": 0}}, r"training.epochs must be >= 1"),
    ({"training": {"keep_checkpoints": -1}}, r"training.keep_checkpoints must be >= 0"),
    ({"training": {"batch_size": "huge"}}, r"batch_size must be one of 'auto', 'full'"),
    ({"training": {"early_stopping": "yes"}}, r"early_stopping = 'yes'.*bool"),
    ({"data": {"human_error": 2.0}}, r"human_error must be in \[0.0, 1.0\]"),
    ({"schedule": {"name": "cosine"}}, r"schedule.name must be one of"),
    ({"model": 3}, r"\[model\] must be a table"),
])
def test_bad_values_name_the_key_and_what_is_allowed(data, match):
    with pytest.raises(ConfigError, match=match) as info:
        config_from_dict(data)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, DeepRecipeError) and isinstance(info.value, ValueError)


def test_missing_file_and_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nx = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_int_accepted_where_float_expected():
    cfg = config_from_dict({"regularization": {"l2": 1}})
    assert cfg.regularization.l2 == 1.0 and isinstance(cfg.regularization.l2, float)


def test_a_relative_data_file_is_found_next_to_the_config(tmp_path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "points.csv").write_text("a,b,target\n1,2,0\n")
    (tmp_path / "cfg" / "c.toml").write_text('[data]\ndataset = "points.csv"\nlabel = "target"\n')
    monkeypatch.chdir(tmp_path)
    cfg = load_config("cfg/c.toml")
    assert cfg.data.dataset == str((tmp_path / "cfg" / "points.csv").resolve())


def test_augmentation_options_are_validated_and_merged_over_the_defaults():
    cfg = config_from_dict({"regularization": {"augment": True,
                                               "augmentation": {"rotate": 10.0}}})
    assert cfg.regularization.augmentation_options() == {"flip": False, "crop": 1,
                                                         "noise": 0.05, "rotate": 10.0}
    with pytest.raises(ConfigError,
                       match=r"regularization.augmentation has an unknown key 'spin'"):
        config_from_dict({"regularization": {"augmentation": {"spin": 1}}})
    with pytest.raises(ConfigError, match=r"regularization.augmentation.rotate must be in"):
        config_from_dict({"regularization": {"augmentation": {"rotate": 500.0}}})


# -- #16 ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../../x", "/abs/path", "", "a/b", "a\0b"])
def test_a_run_name_is_one_folder(name):
    with pytest.raises(ConfigError, match="name must be one folder name"):
        config_from_dict({"name": name})


@pytest.mark.parametrize("data, match", [
    ({"seed": -1}, r"seed must be in \[0, 9223372036854775807\], got -1"),
    ({"seed": 2**63}, "seed = 9223372036854775808 is too large"),
    ({"model": {"hidden_layer_sizes": [2**64]}}, r"hidden_layer_sizes\[0\] = .* is too large"),
    ({"data": {"dataset": "x\0y"}}, "without NUL characters"),
])
def test_numbers_and_strings_beyond_their_limits(data, match):
    with pytest.raises(ConfigError, match=match):
        config_from_dict(data)


def test_integer_split_sizes_stay_counts_and_fractions_stay_fractions():
    counts = config_from_dict({"split": {"dev": 40, "test": 40}}).split
    assert (counts.dev, counts.test) == (40, 40) and isinstance(counts.dev, int)
    fractions = config_from_dict({"split": {"dev": 0.1, "test": 0.2}}).split
    assert (fractions.dev, fractions.test) == (0.1, 0.2) and isinstance(fractions.dev, float)


@pytest.mark.timeout(300)  # a hang guard: opening a FIFO blocks until a writer comes
def test_a_fifo_a_device_or_a_huge_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    os.mkfifo(tmp_path / "fifo.toml")
    with pytest.raises(ConfigError, match="fifo.toml: is a named pipe .FIFO., not a regular "
                                          "file; expected a TOML config file"):
        load_config(tmp_path / "fifo.toml")
    with pytest.raises(ConfigError, match="is a character device, not a regular file"):
        load_config(os.devnull)
    monkeypatch.setattr("deeprecipe.runs.config.MAX_CONFIG_BYTES", 100)
    (tmp_path / "big.toml").write_text("# " + "x" * 200 + "\n")
    with pytest.raises(ConfigError, match=r"big.toml: 203 bytes is too large for a config "
                                          r"file \(at most 100\)"):
        load_config(tmp_path / "big.toml")


def test_a_deeply_nested_config_is_one_error(tmp_path):
    (tmp_path / "deep.toml").write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(ConfigError, match="deep.toml: TOML nested too deeply for a config"):
        load_config(tmp_path / "deep.toml")


def test_n_trials_is_bounded_before_anything_is_drawn():
    """10**12 trials (a grid of that many points, a journal of that many trials) is refused."""
    with pytest.raises(ConfigError, match=r"tuning.n_trials must be in \[0, 100000\], got "
                                          r"1000000000000"):
        config_from_dict({"tuning": {"n_trials": 10**12}})
    assert config_from_dict({"tuning": {"n_trials": 100_000}}).tuning.n_trials == 100_000


@pytest.mark.parametrize("path", [None, 3, ""])
def test_load_config_needs_a_path(path):
    with pytest.raises(DeepRecipeError, match=r"path must (be a path|not be empty)"):
        load_config(path)
