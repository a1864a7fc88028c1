"""Tests for deeprecipe.data._csv_numbers: the float32 fast path of CSV loading."""

from __future__ import annotations

import numpy as np

from deeprecipe.data import load_file
from deeprecipe.data._csv_numbers import read_numeric_csv


def test_numbers_are_read_straight_to_float32_with_text_labels(tmp_path):
    path = tmp_path / "pets.csv"
    path.write_text("w, kind ,h\n1.5, cat,2\n\n2.25,dog ,3e2\n")
    X, y = read_numeric_csv(path, 3, 1)
    assert X.dtype == np.float32 and X.tolist() == [[1.5, 2.0], [2.25, 300.0]]
    assert y.tolist() == ["cat", "dog"]
    ds = load_file(path, label="kind")
    assert ds.X.tolist() == X.tolist() and ds.y.tolist() == ["cat", "dog"]


def test_anything_unusual_is_left_to_the_text_path(tmp_path):
    cases = {"quoted.csv": 'a,b\n"1",0\n2,1\n', "ragged.csv": "a,b\n1,0\n2,1,5\n",
             "word.csv": "a,b\nx,0\n", "empty.csv": "a,b\n"}
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        assert read_numeric_csv(tmp_path / name, 2, 1) is None, name
    assert load_file(tmp_path / "quoted.csv", label="b").X.tolist() == [[1.0], [2.0]]
