"""Tests for deeprecipe.data.datasets: embedded data sets and loading user files."""

from __future__ import annotations

import numpy as np
import pytest

from deeprecipe.data import DATASETS, Dataset, load_dataset, load_file
from deeprecipe.data.datasets import encode_labels
from deeprecipe.errors import DataError, DeepRecipeError


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_embedded_datasets(name):
    d = load_dataset(name)
    assert isinstance(d, Dataset) and d.name == name and d.description
    assert d.X.ndim == 2 and d.X.dtype == np.float32 and len(d.X) == len(d.y)
    assert d.task == "classification" and d.n_classes == len(np.unique(d.y))
    assert np.isfinite(d.X).all()


def test_digits_keeps_image_shape():
    d = load_dataset("digits")
    assert d.X.shape == (1797, 64) and d.image_shape == (8, 8) and d.n_classes == 10
    assert load_dataset("digits", n_samples=100).X.shape == (100, 64)


def test_generated_sets_are_seeded():
    a = load_dataset("moons", random_state=1, n_samples=60)
    b = load_dataset("moons", random_state=1, n_samples=60)
    c = load_dataset("moons", random_state=2, n_samples=60)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    f = load_dataset("flower")
    assert f.X.shape == (400, 2) and np.bincount(f.y).tolist() == [200, 200]


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(DataError, match="digits.*flower"):
        load_dataset("mnist-huge")


def _xy(rng, m=20):
    return rng.normal(size=(m, 3)), rng.integers(0, 2, m)


def test_npz_plain_and_train_keys(tmp_path):
    rng = np.random.default_rng(0)
    X, y = _xy(rng)
    np.savez(tmp_path / "plain.npz", X=X, y=y)
    d = load_file(tmp_path / "plain.npz")
    np.testing.assert_allclose(d.X, X.astype(np.float32))
    assert d.task == "classification" and d.n_classes == 2 and d.name == "plain"
    imgs = rng.integers(0, 256, (12, 4, 5), dtype=np.uint8)
    np.savez(tmp_path / "imgs.npz", X_train=imgs, y_train=np.arange(12) % 3,
             X_test=imgs[:4], y_test=np.arange(4) % 2)
    d = load_file(tmp_path / "imgs.npz")
    assert d.X.shape == (12, 20) and d.image_shape == (4, 5) and d.n_classes == 3
    assert load_file(tmp_path / "imgs.npz", part="test").X.shape == (4, 20)


def test_npy_pairs(tmp_path):
    rng = np.random.default_rng(1)
    X, _ = _xy(rng)
    y = rng.normal(size=len(X))
    np.save(tmp_path / "X_train.npy", X)
    np.save(tmp_path / "y_train.npy", y)
    d = load_file(tmp_path / "X_train.npy")
    assert d.task == "regression" and d.n_classes is None and d.y.dtype == np.float64
    np.save(tmp_path / "labels.npy", np.arange(len(X)) % 2)
    assert load_file(tmp_path / "X_train.npy", y=tmp_path / "labels.npy").n_classes == 2


def test_csv_with_label_column(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b,target\n1,2,0\n3,4.5,1\n5,6,1\n")
    d = load_file(path, label="target")
    np.testing.assert_allclose(d.X, [[1, 2], [3, 4.5], [5, 6]])
    assert d.y.tolist() == [0, 1, 1]


def _bad_files(tmp_path):
    rng = np.random.default_rng(2)
    X, y = _xy(rng)
    csv = tmp_path / "labels.csv"
    csv.write_text("a,b,target\n1,2,0\n3,4,1\n")
    text = tmp_path / "text.csv"
    text.write_text("a,target\n1,0\nhello,1\n")
    np.savez(tmp_path / "mismatch.npz", X=X, y=y[:-1])
    Xn = X.copy()
    Xn[3, 1] = np.nan
    np.savez(tmp_path / "nan.npz", X=Xn, y=y)
    np.savez(tmp_path / "one_class.npz", X=X, y=np.zeros(len(X), dtype=int))
    np.savez(tmp_path / "keys.npz", features=X, labels=y)
    np.save(tmp_path / "X_alone.npy", X)
    return [
        (lambda: load_file(tmp_path / "missing.npz"), "missing.npz", "not found"),
        (lambda: load_file(csv, label="label"), "labels.csv", "columns are: a, b, target"),
        (lambda: load_file(csv), "labels.csv", "label="),
        (lambda: load_file(text, label="target"), "text.csv",
         "every value must be numeric; 'hello'"),
        (lambda: load_file(tmp_path / "mismatch.npz"), "mismatch.npz", "20 samples but y has 19"),
        (lambda: load_file(tmp_path / "nan.npz"), "nan.npz", "NaN or inf"),
        (lambda: load_file(tmp_path / "one_class.npz"), "one_class.npz", "single class"),
        (lambda: load_file(tmp_path / "keys.npz"), "keys.npz", "features, labels"),
        (lambda: load_file(tmp_path / "X_alone.npy"), "X_alone.npy", "y_alone.npy"),
    ]


def test_bad_files_name_the_file_and_problem(tmp_path):
    for load, filename, problem in _bad_files(tmp_path):
        with pytest.raises(DeepRecipeError) as info:
            load()
        message = str(info.value)
        assert filename in message and problem in message, message
        assert "\n" not in message


def test_no_pickle(tmp_path):
    np.save(tmp_path / "X.npy", np.array([{"a": 1}, {"b": 2}], dtype=object))
    np.save(tmp_path / "y.npy", np.array([0, 1]))
    with pytest.raises(DataError, match="X.npy"):
        load_file(tmp_path / "X.npy")


def test_csv_with_text_labels_and_quoted_cells(tmp_path):
    path = tmp_path / "pets.csv"
    path.write_text('weight,height,name\n4.5,30,"cat"\n30, 60 ,dog\n\n5,25,"cat"\n')
    d = load_file(path, label="name")
    np.testing.assert_allclose(d.X, [[4.5, 30], [30, 60], [5, 25]])
    assert d.y.tolist() == ["cat", "dog", "cat"]
    assert (d.task, d.n_classes) == ("classification", 2)


@pytest.mark.parametrize(("text", "problem"), [
    ("a,b,target\n1,2,x\n3,4\n", "rows have different numbers of values"),
    ("a,b,target\n", "no rows of values (only a header row)"),
    ("a,b,target\n1,2,x\n3,4,x\n", "single class (x)"),
    ("a,b,target\n1,two,x\n3,4,y\n", "every value must be numeric; 'two' at line 2, column 'b'"),
])
def test_bad_csv_files(tmp_path, text, problem):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        load_file(path, label="target")
    assert "bad.csv" in str(info.value) and problem in str(info.value), str(info.value)


def test_npz_train_part_brings_its_test_part_along(tmp_path):
    rng = np.random.default_rng(4)
    np.savez(tmp_path / "parts.npz", X_train=rng.normal(size=(30, 3)), y_train=np.arange(30) % 2,
             X_test=rng.normal(size=(10, 3)), y_test=np.arange(10) % 2)
    d = load_file(tmp_path / "parts.npz")
    assert (len(d.X), len(d.X_test), d.n_classes) == (30, 10, 2)
    assert "own test set" in d.description
    only_test = load_file(tmp_path / "parts.npz", part="test")
    assert len(only_test.X) == 10 and only_test.X_test is None
    np.savez(tmp_path / "bad.npz", X_train=rng.normal(size=(30, 3)), y_train=np.arange(30) % 2,
             X_test=rng.normal(size=(10, 4)), y_test=np.arange(10) % 2)
    with pytest.raises(DataError, match="bad.npz: X_test has 4 features, X_train 3"):
        load_file(tmp_path / "bad.npz")


def test_npz_regression_train_part_makes_its_test_part_regression_too(tmp_path):
    rng = np.random.default_rng(5)
    np.savez(tmp_path / "reg.npz", X_train=rng.normal(size=(20, 2)), y_train=rng.normal(size=20),
             X_test=rng.normal(size=(5, 2)), y_test=np.arange(5))  # integral by chance
    d = load_file(tmp_path / "reg.npz")
    assert d.task == "regression" and d.y_test.dtype == np.float64 and d.n_classes is None
    np.savez(tmp_path / "mixed.npz", X_train=rng.normal(size=(20, 2)), y_train=np.arange(20) % 2,
             X_test=rng.normal(size=(5, 2)), y_test=rng.normal(size=5))
    with pytest.raises(DataError, match="y_train holds class labels, y_test other values"):
        load_file(tmp_path / "mixed.npz")


@pytest.mark.parametrize("dtype", ["int8", "int16", "uint8", "uint64"])
def test_encode_labels_of_a_narrow_integer_type_does_not_wrap(dtype):
    """Found by the deeper API fuzz: int8 labels [0, -128] were shifted in int8 (0 - -128 wraps
    to -128) and np.bincount raised a raw ValueError."""
    info = np.iinfo(dtype)
    labels = np.array([0, info.min, info.min, info.max], dtype=dtype)
    classes, codes = encode_labels(labels)
    expected_classes, expected_codes = np.unique(labels, return_inverse=True)
    assert classes.tolist() == expected_classes.tolist()
    assert codes.tolist() == expected_codes.tolist()
