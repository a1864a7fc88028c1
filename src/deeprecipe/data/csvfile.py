"""CSV files, read one way for training and for prediction: NumPy's C reader, text cells.

UTF-8 (a spreadsheet's byte-order mark is not part of the first column's name), a comma
between cells, ``"`` around cells that hold commas, blank lines skipped. Every problem is a
one-line DataError naming the file and, for a bad value, its line and column.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np

from deeprecipe.errors import DataError

__all__ = ["first_row", "is_number", "read_cells", "to_numbers"]

_ENCODING = "utf-8-sig"


def _not_utf8(path: Path, exc: UnicodeDecodeError) -> DataError:
    return DataError(f"{path}: not UTF-8 text ({exc.reason}); save it as UTF-8")


def first_row(path: Path) -> list[str] | None:
    """The first non-blank row's cells, stripped (a header, or the first values); None if the
    file holds no row."""
    try:
        with path.open(newline="", encoding=_ENCODING) as fh:
            row = next((r for r in csv.reader(fh) if any(cell.strip() for cell in r)), None)
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None
    return None if row is None else [cell.strip() for cell in row]


def read_cells(path: Path, *, skip_rows: int, n_columns: int | None = None) -> np.ndarray:
    """The cells after ``skip_rows`` header rows, as stripped text of shape (rows, columns).

    ``n_columns``: the header's width, which every row must have.
    """
    try:
        with warnings.catch_warnings():  # blank lines are skipped; no rows is reported below
            warnings.filterwarnings("ignore", "(loadtxt: i|I)nput (line .* )?contained no data")
            cells = np.loadtxt(path, dtype=str, delimiter=",", skiprows=skip_rows, ndmin=2,
                               comments=None, quotechar='"', encoding=_ENCODING)
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc) from None
    except ValueError as exc:  # e.g. "the number of columns changed from 3 to 2 at row 4"
        raise DataError(f"{path}: rows have different numbers of values "
                        f"({str(exc).split(';')[0]})") from None
    if cells.shape[0] == 0 or cells.size == 0:
        raise DataError(f"{path}: no rows of values" + (" (only a header row)"
                                                        if skip_rows else ""))
    if n_columns is not None and cells.shape[1] != n_columns:
        raise DataError(f"{path}: the rows have {cells.shape[1]} values, the header has "
                        f"{n_columns}")
    return np.char.strip(cells)


def is_number(cell: str) -> bool:
    """Whether a text cell reads as a number."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def to_numbers(path: Path, cells: np.ndarray, columns: list[str] | None,
               first_line: int) -> np.ndarray:
    """``cells`` as float64; else a DataError naming the first non-numeric cell's line (the
    file's, from ``first_line`` for the first row) and column (its name, or its number)."""
    try:
        return cells.astype(np.float64)
    except ValueError:
        row, col = next((r, c) for c in range(cells.shape[1]) for r in range(len(cells))
                        if not is_number(cells[r, c]))
        where = f"column {columns[col]!r}" if columns else f"column {col + 1}"
        raise DataError(f"{path}: every value must be numeric; {str(cells[row, col])!r} at "
                        f"line {row + first_line}, {where}") from None
