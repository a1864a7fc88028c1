"""Atomic file writes (temporary name, then rename) and pickle-free array files.

Reading is hostile-input safe: an .npz member's header (shape, dtype) is checked against the
expected shapes and the memory limit before anything is inflated, JSON is size- and
depth-limited, and every failure is a one-line CheckpointError naming the file.
"""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

from deeprecipe.errors import CheckpointError, InvalidValueError

MAX_JSON_BYTES = 64 << 20  # a run file's JSON (history included) stays far below this


def memory_limit() -> int:
    """The most bytes one array (or one network) may take: $DEEPRECIPE_MAX_BYTES, else half of
    the physical memory (8 GiB where that cannot be read)."""
    env = os.environ.get("DEEPRECIPE_MAX_BYTES", "").strip()
    if env.isdigit():
        return int(env)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def format_bytes(n: float) -> str:
    """``n`` bytes in GiB, or in MiB below 1 GiB.

    >>> format_bytes(3 << 30), format_bytes(1 << 19)
    ('3 GiB', '0.5 MiB')
    """
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"


def check_size(what: str, shape, itemsize: int = 4, *, error: type = InvalidValueError) -> int:
    """Bytes of an array of ``shape`` x ``itemsize``, checked against memory_limit() before it
    is allocated; ``error`` (default InvalidValueError) names ``what`` and both sizes.

    >>> check_size("W", (1000, 10))
    40000
    """
    n = itemsize
    for s in shape:
        if s < 0:
            raise error(f"{what} has a negative size in its shape {tuple(shape)}")
        n *= int(s)
    limit = memory_limit()
    if n > limit:
        raise error(f"{what} of shape {tuple(int(s) for s in shape)} would need "
                    f"{format_bytes(n)}, more than the {format_bytes(limit)} allowed (half the "
                    "memory; DEEPRECIPE_MAX_BYTES sets it); use less data or a smaller network")
    return n


_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def check_regular_file(path: str | os.PathLike, error: type = CheckpointError, *,
                       expected: str = "") -> None:
    """Refuse ``path`` with ``error`` if it is a FIFO, a device or a socket (after symlinks),
    before it is opened: opening a FIFO blocks until a writer comes, /dev/zero never ends. A
    regular file, a directory or a missing path passes: the caller's own open says what it
    expected there (``expected`` ends the message: "a TOML config file").

    >>> check_regular_file("/dev/null")
    Traceback (most recent call last):
    deeprecipe.errors.CheckpointError: /dev/null: is a character device, not a regular file
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return
    for test, what in _SPECIAL:
        if test(mode):
            raise error(f"{path}: is {what}, not a regular file"
                        + (f"; expected {expected}" if expected else ""))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _test_write_delay() -> None:
    """Sleep $DEEPRECIPE_TEST_WRITE_DELAY seconds inside every atomic write (between the data
    and the rename): the SIGKILL tests use it to land kills inside writes."""
    delay = os.environ.get("DEEPRECIPE_TEST_WRITE_DELAY")
    if delay:
        time.sleep(float(delay))


def os_error_message(exc: OSError) -> str:
    """One line for an OSError: what failed and on which path (read-only, disk full...)."""
    where = " -> ".join(str(p) for p in (exc.filename, exc.filename2) if p is not None)
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{where}: {reason}" if where else reason


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old or the new file.

    A folder, device, FIFO or socket at ``path`` is never replaced (OSError): ``--output
    /dev/stdout`` or ``--out /dev/null`` as root must not swap the system's node for a file.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else next(
            (w for test, w in _SPECIAL if test(mode)), "not a regular file")
        raise OSError(errno.EEXIST, f"is {what}; refusing to replace it with a file", str(path))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:  # name the file the user asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a file gets what umask allows
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            _test_write_delay()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename in (None, tmp):  # e.g. a full disk: say which file was not written
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=1, default=_json_default) + "\n")


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def save_npz_atomic(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes_atomic(path, buf.getvalue())


def npz_headers(path: str | os.PathLike, error: type = CheckpointError
                ) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """{name: (shape, dtype)} of an .npz read from each member's .npy header only (nothing is
    inflated); ``error`` (default CheckpointError) for a file that is not such an archive.

    The zip's declared sizes are checked first: in all within the memory limit, and each
    member's exactly its header plus the bytes its shape and dtype take. zipfile never inflates
    a member past its declared size, so a header that lies about its data is refused here,
    before a byte of the data is read.
    """
    check_regular_file(path, error)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            declared, limit = sum(i.file_size for i in infos), memory_limit()
            if declared > limit:
                raise error(f"{path}: its arrays would need {format_bytes(declared)} once "
                            f"inflated, more than the {format_bytes(limit)} allowed (half the "
                            "memory; DEEPRECIPE_MAX_BYTES sets it)")
            return dict(_member_header(path, zf, info, error) for info in infos)
    except FileNotFoundError:
        raise error(f"{path}: file not found") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, expected an .npz file") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        if isinstance(exc, error):
            raise
        raise error(f"{path}: not a readable .npz file ({exc})") from None


def _member_header(path, zf: zipfile.ZipFile, info: zipfile.ZipInfo, error: type
                   ) -> tuple[str, tuple[tuple[int, ...], np.dtype]]:
    if not info.filename.endswith(".npy"):
        raise error(f"{path}: member {info.filename!r} is not an array")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read(f)
        offset = f.tell()
    shape = tuple(int(s) for s in shape)
    data = dtype.itemsize
    for s in shape:
        data *= s
    if min(shape, default=0) >= 0 and not dtype.hasobject and info.file_size != offset + data:
        raise error(f"{path}: member {info.filename!r} claims shape {shape} of {dtype} "
                    f"({data} bytes) but the zip declares {info.file_size - offset} bytes of "
                    "data; the file is corrupt or crafted")
    return info.filename[:-4], (shape, dtype)


def check_npy(path: str | os.PathLike, error: type = CheckpointError
              ) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of an .npy file from its header, checked before loading: a plain dtype,
    a size within the memory limit and a file long enough to hold it."""
    path = Path(path)
    check_regular_file(path, error)
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read(f)
            offset = f.tell()
    except (ValueError, EOFError, OSError) as exc:
        raise error(f"{path}: not a readable .npy file ({exc or 'empty'})") from None
    shape = tuple(int(s) for s in shape)
    if dtype.hasobject:
        raise error(f"{path}: the array holds Python objects (never unpickled)")
    n = check_size(str(path), shape, dtype.itemsize, error=error)
    if path.stat().st_size < offset + n:
        raise error(f"{path}: the header claims shape {shape} ({n} bytes) but the file holds "
                    f"{path.stat().st_size - offset}; the file is truncated or corrupt")
    return shape, dtype


def check_npz(path: str | os.PathLike, shapes: dict[str, tuple] | None = None,
              error: type = CheckpointError, max_bytes: int | None = None
              ) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The headers of an .npz, checked before loading: plain (non-object) dtypes, the shapes
    in ``shapes`` where given, and the total size within the memory limit (and within
    ``max_bytes``: what the file can hold when its contents are known, e.g. a checkpoint)."""
    headers = npz_headers(path, error)
    total = 0
    for name, (shape, dtype) in headers.items():
        if dtype.hasobject:
            raise error(f"{path}: not a readable .npz file: array {name!r} holds Python "
                        "objects (never unpickled)")
        if shapes is not None and name in shapes and tuple(shapes[name]) != shape:
            raise error(f"{path}: array {name!r} has shape {shape}, expected "
                        f"{tuple(shapes[name])}: it is from a different network")
        total += check_size(f"{path}: array {name!r}", shape, dtype.itemsize, error=error)
    check_size(f"{path}: all arrays", (total,), 1, error=error)
    if max_bytes is not None and total > max_bytes:
        raise error(f"{path}: its arrays hold {total} bytes, more than the {max_bytes} such a "
                    "file can need; it is corrupt or not what it claims to be")
    return headers


def load_npz(path: str | os.PathLike, shapes: dict[str, tuple] | None = None, *,
             max_bytes: int | None = None) -> dict[str, np.ndarray]:
    """All arrays of an .npz file, never unpickling, each header checked first (``shapes``:
    the expected shape of some arrays; ``max_bytes``: their most bytes in all);
    CheckpointError if unreadable or too large."""
    check_npz(path, shapes, max_bytes=max_bytes)
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except Exception as exc:  # noqa: BLE001  (any corruption the headers did not show)
        raise CheckpointError(f"{path}: not a readable .npz file ({exc})") from None


def read_run_text(path: str | os.PathLike) -> str:
    """The text of a run file (JSON, JSONL, a marker), checked before it is opened: a regular
    file (``check_regular_file``) of at most MAX_JSON_BYTES; else CheckpointError naming it.
    Missing files and directories raise FileNotFoundError and IsADirectoryError, as open does.
    """
    path, limit = Path(path), MAX_JSON_BYTES
    check_regular_file(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = f.read(limit + 1)  # a file that grew since: still never more than the limit
    if max(size, len(data)) > limit:
        raise CheckpointError(f"{path}: {max(size, len(data))} bytes is too large for a run "
                              f"file (at most {limit})")
    return data.decode("utf-8")


def load_json(path: str | os.PathLike) -> dict:
    """A JSON file of a run directory; CheckpointError if missing, too large, too deeply
    nested or not JSON."""
    path = Path(path)
    try:
        return json.loads(read_run_text(path))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a directory, expected a JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from None
    except RecursionError:
        raise CheckpointError(f"{path}: JSON nested too deeply") from None
