"""Files that can be memory-mapped: ``.npy`` arrays, and turning other layouts into them.

A compressed ``.npz`` cannot be mapped (its arrays must be inflated into memory).
``convert(source, out_dir)`` streams it into one plain ``.npy`` per array (``X.npy``,
``y.npy``, or ``X_train.npy`` ... ``y_test.npy``) with memory bounded by a copy buffer, never
by the data; ``load_file(out_dir)`` then maps them. A folder of ``.npy`` shards is mapped as
it is, shard by shard (``shard_pairs``, ``data.shards``); ``convert`` can still join it into
one file per array.
"""

from __future__ import annotations

import math
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np

from deeprecipe._io import check_regular_file
from deeprecipe._validation import check_path
from deeprecipe.errors import DataError

__all__ = ["convert", "npz_nbytes", "npz_as_float32", "mapped_pairs", "shard_pairs",
           "check_finite"]

_CHECK_ELEMENTS = 2**24  # per chunk of the NaN/inf scan: 64 MB of float32
_PAIRS = (("X", "y"), ("X_train", "y_train"))
_SHARD = re.compile(r"^(X|y)(_(train|test))?[_-]?(\d+)\.npy$")
_COPY_BYTES = 16 * 2**20  # copy buffer of convert: 16 MB
_READ_BYTES = 2**20  # block of npz_as_float32 (a zip member read in 16 MB blocks peaks at ~4x)


def check_finite(path: Path, X) -> None:
    """DataError naming the first row with NaN or inf; X (an array, or ``Shards``: each shard
    in turn) is scanned in chunks of rows (a sum per chunk, rows looked at only in a chunk
    that is not finite)."""
    parts = ([(0, X)] if isinstance(X, np.ndarray)
             else list(zip(X.starts[:-1], X.maps, strict=True)))
    for offset, A in parts:
        A = A.reshape(len(A), int(np.prod(A.shape[1:])))
        step = max(1, _CHECK_ELEMENTS // max(1, A.shape[1]))
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, len(A), step):
                C = A[start:start + step]
                if np.isfinite(C.sum()):
                    continue
                bad = ~np.isfinite(C).all(axis=1)
                if bad.any():
                    raise DataError(f"{path}: X contains NaN or inf, first at row "
                                    f"{offset + start + int(np.argmax(bad))}; clean or impute "
                                    "them first")


def npz_nbytes(path: Path) -> int:
    """Bytes the arrays of an .npz take once inflated (read from the zip directory only)."""
    with zipfile.ZipFile(path) as zf:
        return sum(info.file_size for info in zf.infolist())


def _npy_header(fh, where: str) -> tuple[tuple, np.dtype, bool]:
    """(shape, dtype, fortran_order) of the .npy stream ``fh`` positioned at its start."""
    try:
        fmt = np.lib.format
        read = (fmt.read_array_header_1_0 if fmt.read_magic(fh) == (1, 0)
                else fmt.read_array_header_2_0)
        shape, fortran, dtype = read(fh)
    except ValueError as exc:
        raise DataError(f"{where}: not a .npy array ({exc})") from None
    if dtype.hasobject:
        raise DataError(f"{where}: holds Python objects (would need pickle); save plain "
                        "numeric arrays")
    return shape, dtype, fortran


def npz_as_float32(path: Path, key: str) -> np.ndarray | None:
    """The array ``key`` of the .npz ``path`` as float32, inflated and converted a block at a
    time, so it is never whole in its own dtype beside its float32 copy (a float64 X would
    peak at 3x the float32 data). None if it is float32 already (np.load reads that in
    place) or not a C-order array of real numbers (np.load then says what is wrong)."""
    with zipfile.ZipFile(path) as zf, zf.open(f"{key}.npy") as fh:
        shape, dtype, fortran = _npy_header(fh, f"{path}:{key}.npy")
        if fortran or dtype.kind not in "iuf" or dtype == np.float32:
            return None
        out = np.empty(shape, dtype=np.float32)
        flat = out.reshape(-1)
        step = max(1, _READ_BYTES // dtype.itemsize)
        with np.errstate(over="ignore"):  # beyond float32: inf, refused by check_finite
            for start in range(0, flat.size, step):
                n = min(step, flat.size - start)
                block = fh.read(n * dtype.itemsize)
                if len(block) != n * dtype.itemsize:
                    raise DataError(f"{path}: {key} is truncated ({shape} {dtype} claimed)")
                flat[start:start + n] = np.frombuffer(block, dtype=dtype)
    return out


def _npy_bytes(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str
               ) -> tuple[int, tuple[int, ...]]:
    """(bytes of the member's .npy file as its header declares them (header + data), its
    shape)."""
    with zf.open(info) as fh:
        shape, dtype, _ = _npy_header(fh, where)
        return fh.tell() + math.prod(shape) * dtype.itemsize, shape


def _check_pairs(source: Path, shapes: dict[str, tuple[int, ...]]) -> None:
    """X and y (X_train and y_train, X_test and y_test) must hold as many rows: refused
    before anything is written, not when the folder is trained on."""
    for xs, ys in (*_PAIRS, ("X_test", "y_test")):
        x, y = shapes.get(xs), shapes.get(ys)
        if x is not None and y is not None and (x[:1] or (1,)) != (y[:1] or (1,)):
            raise DataError(f"{source}: {xs} has {(x[:1] or (1,))[0]:,} rows but {ys} has "
                            f"{(y[:1] or (1,))[0]:,}; they must hold one label per row")


def _convert_npz(source: Path, out_dir: Path) -> list[Path]:
    """Each array of the archive copied out as a .npy stream (inflated chunk by chunk), once
    the arrays' declared sizes are known to fit on the disk; a member that inflates to more
    than its header declares (a zip bomb) is cut off there and refused."""
    written = []
    with zipfile.ZipFile(source) as zf:
        members = [(info, *_npy_bytes(zf, info, f"{source}:{info.filename}"))
                   for info in zf.infolist() if info.filename.endswith(".npy")]
        _check_pairs(source, {Path(i.filename).stem: shape for i, _, shape in members})
        existing = next(p for p in (out_dir, *out_dir.absolute().parents) if p.exists())
        need, free = sum(n for _, n, _ in members), shutil.disk_usage(existing).free
        if need > free:
            raise DataError(f"{source}: its arrays need {need / 2**30:.2f} GiB on disk, "
                            f"{out_dir} has {free / 2**30:.2f} GiB free")
        out_dir.mkdir(parents=True, exist_ok=True)  # only once the arrays are known to fit
        for info, size, _ in members:
            target = out_dir / Path(info.filename).name
            with zf.open(info) as fh, open(target, "wb") as out:
                copied = 0
                while chunk := fh.read(min(_COPY_BYTES, size + 1 - copied)):
                    copied += out.write(chunk)
                    if copied > size:
                        raise DataError(f"{source}:{info.filename} holds more bytes than its "
                                        f"header declares ({size}); not a plain .npy array")
            written.append(target)
    if not written:
        raise DataError(f"{source}: the archive holds no arrays")
    return written


def _shard_groups(folder: Path) -> dict[str, list[Path]]:
    """{"X": [X_000.npy, ...], "y": [...], ...}: shards grouped by array, in numeric order."""
    groups: dict[str, list[tuple[int, Path]]] = {}
    for path in folder.iterdir():
        match = _SHARD.match(path.name)
        if match:
            name = match.group(1) + (match.group(2) or "")
            groups.setdefault(name, []).append((int(match.group(4)), path))
    return {name: [p for _, p in sorted(items)] for name, items in groups.items()}


def _join_shards(paths: list[Path], target: Path) -> Path:
    """Rows of the shards, in order, into one .npy (shards mapped one at a time)."""
    heads = []
    for path in paths:
        with open(path, "rb") as fh:
            heads.append(_npy_header(fh, str(path)))
    shape0, dtype = heads[0][0], heads[0][1]
    for path, (shape, dt, _) in zip(paths, heads, strict=True):
        if shape[1:] != shape0[1:] or dt != dtype:
            raise DataError(f"{path}: shape {shape} {dt} does not match {paths[0].name} "
                            f"({shape0} {dtype}): shards must differ in rows only")
    rows = sum(h[0][0] for h in heads)
    out = np.lib.format.open_memmap(target, mode="w+", dtype=dtype, shape=(rows, *shape0[1:]))
    start = 0
    for path in paths:
        part = np.load(path, mmap_mode="r", allow_pickle=False)
        step = max(1, _COPY_BYTES // max(1, part[:1].nbytes))
        for s in range(0, len(part), step):
            chunk = part[s:s + step]
            out[start + s:start + s + len(chunk)] = chunk
        start += len(part)
    out.flush()
    del out
    return target


def convert(source, out_dir) -> list[Path]:
    """Write mappable .npy files into ``out_dir`` from an .npz or a folder of .npy shards.

    Parameters
    ----------
    source : path of an ``.npz`` (every array becomes ``<key>.npy``) or of a folder of shards
        named ``X_000.npy``, ``X_001.npy``, ... and ``y_000.npy``, ... (also ``X_train_0.npy``,
        ``X_test_0.npy``): each group is joined, in numeric order, into ``X.npy``, ``y.npy``...
    out_dir : folder to write into (created).

    Returns
    -------
    list of Path
        The files written.
    """
    source, out_dir = check_path("source", source), check_path("out_dir", out_dir)
    if not source.exists():
        raise DataError(f"{source}: not found (expected an .npz file or a folder of .npy "
                        "shards)")
    check_regular_file(source, DataError, expected="an .npz file or a folder of .npy shards")
    if source.is_file() and source.suffix.lower() == ".npz":
        try:
            return _convert_npz(source, out_dir)
        except zipfile.BadZipFile as exc:
            raise DataError(f"{source}: not a readable .npz archive ({exc})") from None
    if source.is_dir():
        groups = _shard_groups(source)
        if not groups:
            raise DataError(f"{source}: no .npy shards named like X_000.npy, y_000.npy")
        for path in (p for paths in groups.values() for p in paths):
            check_regular_file(path, DataError)  # a FIFO would block its open() forever
        out_dir.mkdir(parents=True, exist_ok=True)
        return [_join_shards(paths, out_dir / f"{name}.npy") for name, paths in groups.items()]
    raise DataError(f"{source}: expected an .npz file or a folder of .npy shards")


def mapped_pairs(folder: Path) -> tuple[tuple[Path, Path], tuple[Path, Path] | None]:
    """((X, y), (X_test, y_test) or None): the .npy files of a folder ``convert`` wrote."""
    for xs, ys in _PAIRS:
        if (folder / f"{xs}.npy").is_file() and (folder / f"{ys}.npy").is_file():
            test = (folder / "X_test.npy", folder / "y_test.npy")
            has_test = xs == "X_train" and all(p.is_file() for p in test)
            return (folder / f"{xs}.npy", folder / f"{ys}.npy"), (test if has_test else None)
    raise DataError(f"{folder}: expected X.npy and y.npy (or X_train.npy, y_train.npy), or "
                    "shards X_000.npy, y_000.npy, ... in the folder")


def shard_pairs(folder: Path) -> tuple[tuple[list, list], tuple[list, list] | None] | None:
    """((X shards, y shards), (X_test shards, y_test shards) or None), each list in numeric
    order; None if the folder holds no shards (X_000.npy, ... or X_train_000.npy, ...)."""
    groups = _shard_groups(folder)
    for xs, ys in _PAIRS:
        if xs in groups or ys in groups:
            if not (xs in groups and ys in groups):
                raise DataError(f"{folder}: has shards of {xs if xs in groups else ys} but "
                                f"none of {ys if xs in groups else xs} ({xs}_000.npy, "
                                f"{ys}_000.npy, ...)")
            has_test = xs == "X_train" and "X_test" in groups and "y_test" in groups
            test = (groups["X_test"], groups["y_test"]) if has_test else None
            return (groups[xs], groups[ys]), test
    return None
