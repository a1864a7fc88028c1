"""_io: atomic writes that respect the umask, one-line OSErrors, and hostile-file-safe reads
(.npz/.npy headers checked before anything is inflated, JSON size and depth limits)."""

from __future__ import annotations

import errno
import io
import json
import os
import re
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import deeprecipe as dr
from deeprecipe._io import (
    check_npy,
    check_npz,
    check_regular_file,
    load_json,
    load_npz,
    os_error_message,
    write_text_atomic,
)
from deeprecipe.errors import CheckpointError, DataError
from _timeouts import GUARD


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_writes_respect_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == mode


@pytest.mark.parametrize("folder", ["/proc/self", "file"])
def test_a_failed_atomic_write_names_the_file_asked_for_not_its_temporary(tmp_path, folder):
    (tmp_path / "file").write_text("")  # a file where a folder should be
    target = (tmp_path / folder if folder == "file" else Path(folder)) / "preds.csv"
    with pytest.raises(OSError) as info:
        write_text_atomic(target, "x")
    assert info.value.filename == str(target)
    assert ".tmp" not in os_error_message(info.value)
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_atomic_write_never_replaces_a_folder_or_a_special_file(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "folder").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "pipe")
    for name, what in (("pipe", "named pipe"), ("folder", "folder"), ("link", "named pipe")):
        with pytest.raises(OSError, match=f"is a {what}.*refusing to replace"):
            write_text_atomic(tmp_path / name, "x")
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode) and (tmp_path / "folder").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "link", "pipe"]


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
                f.write(bytes(16_000_000))  # exactly the 400 MB the header claims


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
    with pytest.raises(DataError, match="would need 381 MiB once inflated, more than the 1 MiB "
                                        "allowed"):
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


def _lying_npz(path, shape, data_bytes, name="X", others=None):
    """An .npz whose member ``name`` has an .npy header claiming ``shape`` (float32) followed
    by ``data_bytes`` zero bytes (deflated: a zip bomb when that is large)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(f"{name}.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            for start in range(0, data_bytes, 16 << 20):
                f.write(bytes(min(16 << 20, data_bytes - start)))
        for key, value in (others or {}).items():
            buf = io.BytesIO()
            np.save(buf, value)
            zf.writestr(f"{key}.npy", buf.getvalue())


@pytest.mark.parametrize("shape, data_bytes", [((10, 2), 300 << 20), ((10**6, 10), 4000)],
                         ids=["more data than the header says", "less data than it says"])
def test_a_member_whose_header_lies_about_its_size_is_refused(tmp_path, shape, data_bytes):
    _lying_npz(tmp_path / "lie.npz", shape, data_bytes, others={"y": np.zeros(10)})
    with pytest.raises(DataError, match=r"member 'X.npy' claims shape .* but the zip declares "
                                        f"{data_bytes} bytes of data"):
        check_npz(tmp_path / "lie.npz", error=DataError)
    with pytest.raises(CheckpointError, match="claims shape"):
        load_npz(tmp_path / "lie.npz", {"X": shape})  # the right shape, the wrong size


def test_the_zips_declared_size_is_checked_before_any_member_is_opened(tmp_path, monkeypatch):
    np.savez_compressed(tmp_path / "z.npz", X=np.zeros((1000, 300), np.float32),
                        y=np.zeros(1000))
    monkeypatch.setenv("DEEPRECIPE_MAX_BYTES", str(1 << 20))  # 1.15 MiB declared, 1 MiB allowed
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("opened"))
    with pytest.raises(DataError, match=r"its arrays would need 1.15 MiB once inflated, more "
                                        r"than the 1 MiB allowed"):
        check_npz(tmp_path / "z.npz", error=DataError)


# A fresh interpreter loads the bomb and reports its peak-memory growth (ru_maxrss, KiB).
_PEAK = """
import resource, sys
import numpy as np
import deeprecipe as dr
from deeprecipe.errors import DeepRecipeError
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    {call}
    message = "loaded"
except DeepRecipeError as exc:
    message = str(exc)
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(grown, message, sep="\\n")
"""


def _peak_and_message(call: str, tmp_path, max_bytes: int) -> tuple[int, str]:
    env = dict(os.environ, DEEPRECIPE_MAX_BYTES=str(max_bytes), OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-c", _PEAK.format(call=call)], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=GUARD)
    assert res.returncode == 0, res.stderr
    grown, message = res.stdout.strip().split("\n")
    return int(grown) << 10, message


def test_a_zip_bomb_data_file_is_refused_in_small_memory(tmp_path):
    """Zeros that inflate to 600 MB (a 600 KB file) and a hand-made member whose header lies:
    both refused from the zip's declared sizes and the .npy header, in one line, without
    the memory growing."""
    np.savez_compressed(tmp_path / "bomb.npz", X=np.zeros((150_000, 1000), np.float32),
                        y=np.zeros(150_000))
    assert (tmp_path / "bomb.npz").stat().st_size < 2 << 20
    _lying_npz(tmp_path / "lie.npz", (10, 2), 500 << 20, others={"y": np.zeros(10)})
    for name, limit, match in (
            ("bomb.npz", 64 << 20, "would need 573 MiB once inflated, more than the 64 MiB"),
            ("lie.npz", 4 << 30, "claims shape (10, 2) of float32 (80 bytes) but the zip "
                                 "declares 524288000 bytes")):
        grown, message = _peak_and_message(f"dr.data.load_file({name!r})", tmp_path, limit)
        assert match in message and "\n" not in message, message
        assert grown < 32 << 20, f"{name}: the peak memory grew by {grown >> 20} MiB"


def test_a_zip_bomb_model_npz_is_refused_in_small_memory(tmp_path):
    """A saved model whose model.npz holds the right names and shapes, but one member's data
    inflates to 500 MB: refused before it is read (the memory limit itself would allow it)."""
    net = dr.Sequential([dr.layers.Dense(3), dr.layers.Tanh(), dr.layers.Dense(1),
                         dr.layers.Sigmoid()], input_dim=2, random_state=0)
    (tmp_path / "m").mkdir()
    dr.persistence.save(net, tmp_path / "m")
    arrays = dict(np.load(tmp_path / "m" / "model.npz"))
    doc = json.loads((tmp_path / "m" / "model.json").read_text())
    doc.pop("npz_sha256", None)  # the checksum would catch a replaced file first
    (tmp_path / "m" / "model.json").write_text(json.dumps(doc))
    name = next(k for k, a in arrays.items() if a.shape == (2, 3))
    _lying_npz(tmp_path / "m" / "model.npz", (2, 3), 500 << 20, name=name,
               others={k: a for k, a in arrays.items() if k != name})
    grown, message = _peak_and_message("dr.persistence.load('m')", tmp_path, 4 << 30)
    assert f"member '{name}.npy' claims shape (2, 3) of float32 (24 bytes)" in message, message
    assert "model.npz" in message and "\n" not in message
    assert grown < 32 << 20, f"the peak memory grew by {grown >> 20} MiB"


def _special_file(tmp_path, kind):
    """(path, what the error calls it): a FIFO (opening it blocks until a writer comes) or a
    character device (/dev/null here: /dev/zero would be read until memory runs out)."""
    if kind == "fifo":
        path = tmp_path / "special"
        os.mkfifo(path)
        return path, "a named pipe (FIFO)"
    path = tmp_path / "special"
    path.symlink_to(os.devnull)
    return path, "a character device"


@pytest.mark.timeout(300)  # a hang guard only: the refusal is immediate
@pytest.mark.parametrize("kind", ["fifo", "device"])
@pytest.mark.parametrize("read", [load_json, check_npy, check_npz, load_npz],
                         ids=lambda f: f.__name__)
def test_a_fifo_or_a_device_is_refused_before_it_is_opened(tmp_path, kind, read):
    path, what = _special_file(tmp_path, kind)
    with pytest.raises(CheckpointError, match=re.escape(f"{path}: is {what}, not a regular file")):
        read(path)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_check_regular_file_passes_files_and_directories_through(tmp_path, kind):
    (tmp_path / "f").write_text("x")
    check_regular_file(tmp_path / "f", DataError)
    check_regular_file(tmp_path, DataError)  # a directory: the caller says what it wanted
    check_regular_file(tmp_path / "missing", DataError)  # as is a missing file
    path, what = _special_file(tmp_path, kind)
    with pytest.raises(DataError, match=re.escape(f"is {what}, not a regular file")):
        check_regular_file(path, DataError)
