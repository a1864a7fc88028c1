"""_io: atomic writes that respect the umask, one-line OSErrors, and hostile-file-safe reads
(.npz/.npy headers checked before anything is inflated, JSON size and depth limits)."""

from __future__ import annotations

import errno
import io
import os
import zipfile

import numpy as np
import pytest

from deeprecipe._io import (
    check_npy,
    check_npz,
    load_json,
    load_npz,
    os_error_message,
    write_text_atomic,
)
from deeprecipe.errors import CheckpointError, DataError


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_respect_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == mode


def test_os_error_message_names_the_path():
    exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/runs/x/model.npz")
    assert os_error_message(exc) == "/runs/x/model.npz: No space left on device"
    assert os_error_message(OSError(errno.EROFS, "Read-only file system")) == \
        "Read-only file system"


def _bomb(path, shape=(50_000_000,)):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("a.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            for _ in range(25):
                f.write(bytes(16 << 20))


def test_npz_headers_are_checked_before_inflating(tmp_path, monkeypatch):
    _bomb(tmp_path / "bomb.npz")
    assert (tmp_path / "bomb.npz").stat().st_size < 2 << 20  # 400 MB of zeros, compressed
    headers = check_npz(tmp_path / "bomb.npz")
    assert headers["a"][0] == (50_000_000,)
    with pytest.raises(CheckpointError, match="more than the 1000 such a file can need"):
        load_npz(tmp_path / "bomb.npz", max_bytes=1000)
    with pytest.raises(CheckpointError, match=r"has shape \(50000000,\), expected \(3,\)"):
        load_npz(tmp_path / "bomb.npz", {"a": (3,)})
    monkeypatch.setenv("DEEPRECIPE_MAX_BYTES", str(1 << 20))
    with pytest.raises(DataError, match="would need 381 MiB, more than the 1 MiB allowed"):
        check_npz(tmp_path / "bomb.npz", error=DataError)


def test_npy_header_claiming_a_huge_shape(tmp_path):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (10**12, 10)})
    (tmp_path / "X.npy").write_bytes(header.getvalue())
    with pytest.raises(DataError, match="would need"):
        check_npy(tmp_path / "X.npy", DataError)
    np.save(tmp_path / "ok.npy", np.zeros((4, 2), np.float32))
    assert check_npy(tmp_path / "ok.npy") == ((4, 2), np.dtype(np.float32))
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(CheckpointError, match="not a readable .npy file"):
        check_npy(tmp_path / "empty.npy")


def test_object_arrays_are_refused_from_the_header(tmp_path):
    np.savez(tmp_path / "o.npz", a=np.array([{"x": 1}], dtype=object))
    with pytest.raises(CheckpointError, match="holds Python objects"):
        load_npz(tmp_path / "o.npz")


def test_json_depth_size_and_directory(tmp_path, monkeypatch):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match="nested too deeply"):
        load_json(tmp_path / "deep.json")
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(CheckpointError, match="is a directory"):
        load_json(tmp_path / "dir.json")
    monkeypatch.setattr("deeprecipe._io.MAX_JSON_BYTES", 10)
    (tmp_path / "big.json").write_text('{"a": "0123456789"}')
    with pytest.raises(CheckpointError, match="too large for a run file"):
        load_json(tmp_path / "big.json")
