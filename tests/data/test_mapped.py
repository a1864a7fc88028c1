"""Tests for deeprecipe.data.mapped and the memory-mapped loading of .npy files."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from deeprecipe.data import convert, load_file
from deeprecipe.data.mapped import check_finite, npz_as_float32, npz_nbytes
from deeprecipe.errors import DataError, DeepRecipeError


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(250, 4)).astype(np.float32)
    return X, (X[:, 0] > 0).astype(np.int64)


def test_an_npy_pair_is_memory_mapped_not_copied(tmp_path, arrays):
    X, y = arrays
    np.save(tmp_path / "X_big.npy", X)
    np.save(tmp_path / "y_big.npy", y)
    ds = load_file(tmp_path / "X_big.npy")
    assert isinstance(ds.X, np.memmap) and str(ds.X.filename) == str(tmp_path / "X_big.npy")
    assert np.array_equal(ds.X, X) and np.array_equal(ds.y, y)
    assert "memory-mapped" in ds.description


def test_convert_an_npz_with_its_test_part(tmp_path, arrays):
    X, y = arrays
    np.savez_compressed(tmp_path / "d.npz", X_train=X[:200], y_train=y[:200], X_test=X[200:],
                        y_test=y[200:])
    written = convert(tmp_path / "d.npz", tmp_path / "out")
    assert sorted(p.name for p in written) == ["X_test.npy", "X_train.npy", "y_test.npy",
                                               "y_train.npy"]
    ds = load_file(tmp_path / "out")
    assert isinstance(ds.X, np.memmap) and np.array_equal(ds.X, X[:200])
    assert np.array_equal(ds.X_test, X[200:]) and np.array_equal(ds.y_test, y[200:])
    assert npz_nbytes(tmp_path / "d.npz") > X.nbytes


def test_convert_joins_shards_in_numeric_order(tmp_path, arrays):
    X, y = arrays
    (tmp_path / "shards").mkdir()
    for i, start in enumerate(range(0, 250, 100)):  # 10 > 9: numeric, not text, order
        np.save(tmp_path / "shards" / f"X_{i * 5}.npy", X[start:start + 100])
        np.save(tmp_path / "shards" / f"y_{i * 5}.npy", y[start:start + 100])
    convert(tmp_path / "shards", tmp_path / "joined")
    ds = load_file(tmp_path / "joined")
    assert np.array_equal(ds.X, X) and np.array_equal(ds.y, y)
    mapped = load_file(tmp_path / "shards")  # the shards themselves: mapped, same rows
    assert np.array_equal(np.asarray(mapped.X), X) and np.array_equal(mapped.y, y)


def test_shards_that_differ_in_columns_are_refused(tmp_path, arrays):
    X, _ = arrays
    np.save(tmp_path / "X_0.npy", X)
    np.save(tmp_path / "X_1.npy", X[:, :3])
    with pytest.raises(DataError, match="shards must differ in rows only"):
        convert(tmp_path, tmp_path / "out")


def test_an_npz_of_objects_is_refused_without_unpickling(tmp_path):
    np.savez(tmp_path / "o.npz", X=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="Python objects"):
        convert(tmp_path / "o.npz", tmp_path / "out")


def test_check_finite_names_the_first_bad_row_across_chunks(tmp_path):
    X = np.ones((70_000, 300), np.float32)  # three chunks of the scan
    check_finite(tmp_path / "ok.npy", X)
    X[60_001, 7] = np.inf
    X[65_000, 1] = np.nan
    with pytest.raises(DataError, match="first at row 60001"):
        check_finite(tmp_path / "bad.npy", X)


@pytest.mark.parametrize("dtype", [np.float64, np.uint8, np.int16])
def test_an_npz_x_is_converted_to_float32_block_by_block(tmp_path, arrays, dtype):
    X, y = arrays
    X = (X * 40 + 100).astype(dtype)
    np.savez_compressed(tmp_path / "d.npz", X=X, y=y)
    ds = load_file(tmp_path / "d.npz")
    assert ds.X.dtype == np.float32 and np.array_equal(ds.X, X.astype(np.float32))
    assert npz_as_float32(tmp_path / "d.npz", "y") is not None  # int64 labels: converted too
    np.savez(tmp_path / "f.npz", X=X.astype(np.float32), y=y)
    assert npz_as_float32(tmp_path / "f.npz", "X") is None  # float32: np.load reads it as is


def _npz_with_member(path: Path, name: str, header_shape: tuple, data: bytes) -> None:
    """An .npz whose member ``name`` has a float32 .npy header of ``header_shape`` followed by
    ``data``, whatever its length: what a damaged or hostile archive may hold."""
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f4", "fortran_order": False,
                                                "shape": header_shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, head.getvalue() + data)


def test_convert_refuses_arrays_the_disk_cannot_hold_before_writing(tmp_path):
    src = tmp_path / "huge.npz"
    _npz_with_member(src, "X.npy", (2**40,), b"")  # 4 TiB declared, nothing inside
    with pytest.raises(DataError, match=r"need 4096\.00 GiB on disk, .* GiB free"):
        convert(src, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written, not even the folder


def test_convert_cuts_off_a_member_longer_than_its_header(tmp_path):
    src = tmp_path / "bomb.npz"
    _npz_with_member(src, "X.npy", (10,), bytes(40 + 10 * 2**20))  # 10 MiB past 10 floats
    with pytest.raises(DataError, match="holds more bytes than its header declares"):
        convert(src, tmp_path / "out")
    assert (tmp_path / "out" / "X.npy").stat().st_size <= 128 + 40 + (1 << 20)


@pytest.mark.parametrize("x, y", [("X", "y"), ("X_train", "y_train"), ("X_test", "y_test")])
def test_convert_refuses_labels_that_do_not_match_the_rows_before_writing(tmp_path, x, y):
    np.savez(tmp_path / "d.npz", **{x: np.ones((10, 3), np.float32), y: np.arange(9)})
    with pytest.raises(DataError, match=f"{x} has 10 rows but {y} has 9"):
        convert(tmp_path / "d.npz", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written, not even the folder
    np.savez(tmp_path / "only_x.npz", X=np.ones((10, 3), np.float32))  # no labels: no pair
    assert [p.name for p in convert(tmp_path / "only_x.npz", tmp_path / "x")] == ["X.npy"]


@pytest.mark.parametrize("bad", [None, 3, ""])
def test_convert_refuses_paths_that_are_not_paths(tmp_path, bad):
    with pytest.raises(DeepRecipeError, match=r"source must (be a path|not be empty)"):
        convert(bad, tmp_path)
    with pytest.raises(DeepRecipeError, match=r"out_dir must (be a path|not be empty)"):
        convert(tmp_path, bad)
