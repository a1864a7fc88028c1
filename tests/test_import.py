"""Every name in every ``__all__`` imports (after Thinc's test_import__all__.py)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import deeprecipe


def _module_names() -> list[str]:
    names = ["deeprecipe"]
    for info in pkgutil.walk_packages(deeprecipe.__path__, "deeprecipe.",
                                      onerror=lambda name: names.append(name)):
        names.append(info.name)
    return sorted(set(names))


MODULES = _module_names()


ENGINE = ("layers", "layers.dense", "layers.activations", "layers.dropout", "layers.batchnorm",
          "layers.base", "initializers", "losses", "regularizers", "network", "gradcheck")


def test_the_engine_modules_are_found():
    expected = {f"deeprecipe.engine.{name}" for name in ENGINE} | {"deeprecipe.errors"}
    assert expected <= set(MODULES)


@pytest.mark.parametrize("module_name", MODULES)
def test_every_name_in_all_imports(module_name):
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:  # nothing to check beyond the import itself
        assert module.__name__ == module_name
        return
    assert len(names) == len(set(names)), f"{module_name}.__all__ has duplicates"
    namespace: dict = {}
    exec(f"from {module_name} import *", namespace)  # noqa: S102
    for name in names:
        assert hasattr(module, name), f"{module_name}.__all__ names missing {name!r}"
        assert name in namespace


def test_public_engine_modules_define_all():
    for name in ("deeprecipe", "deeprecipe.errors", *(f"deeprecipe.engine.{n}" for n in ENGINE)):
        assert isinstance(importlib.import_module(name).__all__, list), name


def test_top_level_api():
    for name in ("Sequential", "gradient_check", "DeepRecipeError", "layers", "losses",
                 "initializers", "regularizers"):
        assert name in deeprecipe.__all__
    assert deeprecipe.__version__


def test_dir_lists_the_lazy_names_and_no_helper_modules():
    names = dir(deeprecipe)
    assert set(deeprecipe.__all__) <= set(names)  # DeepClassifier, recipe, tune: tab-completed
    assert "importlib" not in names and not [n for n in names if n.startswith("_")
                                             and n != "__version__"]
