"""predict like a deployment: CSV columns by training name, named outputs, text labels, ids.

Each defect of issue #15 has a regression test here, run through the real command line
(``python -m deeprecipe.cli`` subprocesses, helpers from _cli).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _cli import assert_one_line_error, cli, cli_many

from deeprecipe.errors import DataError
from deeprecipe.prediction import Predictions, read_inputs

KINDS = np.array(["barolo", "chianti", "rioja"])
COLUMNS = ("alcohol", "ash", "hue")
CENTERS = np.array([[13.0, 2.0, 1.0], [12.0, 2.5, 0.7], [13.5, 2.2, 0.5]])


def _wine(rng: np.random.Generator, n_per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated kinds of wine, features in their natural (unstandardized) units."""
    X = np.concatenate([c * (1 + 0.02 * rng.normal(size=(n_per_class, 3))) for c in CENTERS])
    return X, np.repeat(KINDS, n_per_class)


def _write_csv(path: Path, header, columns) -> Path:
    rows = [",".join(str(v) for v in row) for row in zip(*columns, strict=True)]
    path.write_text(",".join(header) + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """runs/wine (text labels, column 'kind') and runs/price (a regression), trained by the CLI,
    and new.csv: fresh wines in the training column order."""
    root = tmp_path_factory.mktemp("predict")
    X, y = _wine(np.random.default_rng(0), 40)
    _write_csv(root / "wine.csv", (*COLUMNS, "kind"), [*X.T.round(4), y])
    _write_csv(root / "price.csv", (*COLUMNS, "price"),
               [*X.T.round(4), (3 * X[:, 0] - X[:, 2] + 0.5).round(3)])
    runs = cli_many([["train", "--dataset", "wine.csv", "--label", "kind", "--hidden", "8",
                      "--lr", "0.02", "--epochs", "30", "--out", "runs/wine", "--quiet"],
                     ["train", "--dataset", "price.csv", "--label", "price", "--hidden", "4",
                      "--epochs", "2", "--out", "runs/price", "--quiet"]], cwd=root)
    for res in runs:
        assert res.returncode == 0, res.stderr
    X, y = _wine(np.random.default_rng(1), 4)
    _write_csv(root / "new.csv", COLUMNS, X.T.round(4))
    np.save(root / "new.npy", X.round(4))
    (root / "truth.txt").write_text("\n".join(y), encoding="utf-8")
    return root


def _table(stdout: str) -> tuple[list[str], list[list[str]]]:
    header, *rows = [line.split(",") for line in stdout.strip().splitlines()]
    return header, rows


def test_text_labels_print_to_stdout_with_a_header(work):
    # was: TypeError: Mismatch between array dtype ('<U10') and format specifier ('%g')
    res = cli("predict", "runs/wine", "--input", "new.csv", cwd=work)
    assert res.returncode == 0, res.stderr
    header, rows = _table(res.stdout)
    assert header == ["kind"]  # named after the training label column
    truth = (work / "truth.txt").read_text(encoding="utf-8").split()
    predicted = [row[0] for row in rows]
    assert len(predicted) == 12 and set(predicted) <= set(KINDS)
    assert np.mean(np.array(predicted) == truth) >= 0.9


def test_a_spreadsheet_byte_order_mark_is_not_part_of_the_header(work):
    text = (work / "new.csv").read_text(encoding="utf-8")
    (work / "bom.csv").write_text("\ufeff" + text, encoding="utf-8")
    plain, bom = cli_many([["predict", "runs/wine", "--input", name]
                           for name in ("new.csv", "bom.csv")], cwd=work)
    assert bom.returncode == 0, bom.stderr
    assert bom.stdout == plain.stdout


def test_csv_columns_are_matched_by_name(work):
    X, y = _wine(np.random.default_rng(1), 4)
    X = X.round(4)
    _write_csv(work / "swapped.csv", ("hue", "alcohol", "ash"), [X[:, 2], X[:, 0], X[:, 1]])
    _write_csv(work / "labelled.csv", ("kind", *COLUMNS), [y, *X.T])  # the label is dropped
    (work / "plain.csv").write_text("\n".join(",".join(map(str, r)) for r in X) + "\n")
    base, swapped, labelled, plain, from_npy = cli_many(
        [["predict", "runs/wine", "--input", name] for name in
         ("new.csv", "swapped.csv", "labelled.csv", "plain.csv", "new.npy")], cwd=work)
    for res in (base, swapped, labelled, plain, from_npy):
        assert res.returncode == 0, res.stderr
        assert res.stdout == base.stdout
    # swapping two columns by position only (header still the training one) changes answers
    _write_csv(work / "mislabelled.csv", COLUMNS, [X[:, 2], X[:, 0], X[:, 1]])
    wrong = cli("predict", "runs/wine", "--input", "mislabelled.csv", cwd=work)
    assert wrong.returncode == 0 and wrong.stdout != base.stdout


def test_missing_and_extra_columns_are_one_line_errors(work):
    X, _ = _wine(np.random.default_rng(2), 2)
    _write_csv(work / "missing.csv", ("alcohol", "hue"), [X[:, 0], X[:, 2]])
    _write_csv(work / "extra.csv", (*COLUMNS, "vintage"), [*X.T, np.full(6, 1999)])
    missing, extra = cli_many([["predict", "runs/wine", "--input", "missing.csv"],
                               ["predict", "runs/wine", "--input", "extra.csv"]], cwd=work)
    line = assert_one_line_error(missing)
    assert "missing feature column(s) 'ash'" in line
    line = assert_one_line_error(extra)
    assert "unexpected column(s) 'vintage'" in line and "--id-column" in line


def test_id_column_passes_through_and_proba_names_the_classes(work):
    X, _ = _wine(np.random.default_rng(3), 2)
    ids = [f"bottle-{i}" for i in range(6)]
    _write_csv(work / "cellar.csv", ("hue", "sku", *COLUMNS[:2]), [X[:, 2], ids, *X.T[:2]])
    labels, proba = cli_many(
        [["predict", "runs/wine", "--input", "cellar.csv", "--id-column", "sku"],
         ["predict", "runs/wine", "--input", "cellar.csv", "--id-column", "sku", "--proba"]],
        cwd=work)
    assert labels.returncode == 0, labels.stderr
    header, rows = _table(labels.stdout)
    assert header == ["sku", "kind"]
    assert [r[0] for r in rows] == ids and {r[1] for r in rows} <= set(KINDS)
    assert proba.returncode == 0, proba.stderr
    header, rows = _table(proba.stdout)
    assert header == ["sku", *KINDS]
    p = np.array([r[1:] for r in rows], dtype=float)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert [KINDS[i] for i in p.argmax(axis=1)] == [r[1] for r in _table(labels.stdout)[1]]


def test_text_labels_to_every_output_format(work):
    results = cli_many([["predict", "runs/wine", "--input", "new.csv", "--output", f"p{ext}"]
                        for ext in (".csv", ".txt", ".npy")]
                       + [["predict", "runs/wine", "--input", "new.csv", "--id-column", "nope"],
                          ["predict", "runs/wine", "--input", "new.csv", "--output", "p.npz"]],
                       cwd=work)
    for res in results[:3]:
        assert res.returncode == 0, res.stderr
        assert "wrote 12 predictions to p." in res.stdout
    shown = cli("predict", "runs/wine", "--input", "new.csv", cwd=work).stdout
    assert (work / "p.csv").read_text(encoding="utf-8") == shown
    assert (work / "p.txt").read_text(encoding="utf-8") == shown
    saved = np.load(work / "p.npy", allow_pickle=False)  # no pickle: fixed-width unicode
    assert saved.dtype.kind == "U" and saved.tolist() == shown.split()[1:]
    assert "--id-column 'nope' not found" in assert_one_line_error(results[3])
    assert "unsupported output format '.npz'" in assert_one_line_error(results[4])
    assert not (work / "p.npz").exists()


BAD_INPUTS = {  # file -> (content, what the one-line error says)
    "wide.npy": (np.zeros((3, 4)), "has 4 features, expected 3"),
    "flat.npy": (np.zeros(3), "expected samples as rows, shape (m, 3)"),
    "words.npy": (np.array([["a", "b", "c"]]), "values must be real numbers, got dtype <U1"),
    "complex.npy": (np.ones((2, 3), complex), "values must be real numbers"),
    "nan.npy": (np.array([[1.0, np.nan, 2.0]]), "NaN or inf in 1 row(s)"),
    "empty.npy": (np.zeros((0, 3)), "no rows of values"),
    "text.csv": ("alcohol,ash,hue\n13,two,1\n", "'two' at line 2, column 'ash'"),
    "ragged.csv": ("alcohol,ash,hue\n13,2,1\n13,2\n", "different numbers of values"),
    "blank.csv": ("\n\n", "no rows of values"),
    "twice.csv": ("alcohol,ash,ash\n1,2,3\n", "column 'ash' appears more than once"),
    "bad.npz": (b"PK\x03\x04 not a zip", "not a readable .npz file"),
    # #16: sizes are read from the header before anything is loaded
    "huge.npy": (b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': "
                 b"(100000000000000, 3), }" + b" " * 44 + b"\n", "would need"),
    "latin1.csv": (b"alcohol,ash,hue\n" + b"1,2,3\n" * 5000 + b"4,5,caf\xe9\n",
                   "not UTF-8 text (invalid continuation byte)"),  # far down

    "new.parquet": (b"PAR1", "unsupported input format '.parquet'"),
}


def test_no_bad_input_gives_a_traceback(work, tmp_path):
    for name, (content, _) in BAD_INPUTS.items():
        if isinstance(content, np.ndarray):
            np.save(tmp_path / name, content)
        elif isinstance(content, bytes):
            (tmp_path / name).write_bytes(content)
        else:
            (tmp_path / name).write_text(content, encoding="utf-8")
    wine, price = work / "runs" / "wine", work / "runs" / "price"
    cases = [(["predict", wine, "--input", name], message)
             for name, (_, message) in BAD_INPUTS.items()] + [
        (["predict", wine, "--input", "absent.csv"], "absent.csv: file not found"),
        (["predict", wine, "--input", work / "new.npy", "--id-column", "sku"],
         "--id-column needs a .csv input"),
        (["predict", wine, "--input", work / "new.csv", "--id-column", "sku", "--output",
          "p.npy"], "--id-column needs a .csv or .txt output"),
        (["predict", price, "--input", work / "new.csv", "--proba"],
         "--proba needs a classification model"),
        (["predict", tmp_path, "--input", work / "new.csv"], "neither a run directory"),
    ]
    results = cli_many([args for args, _ in cases], cwd=tmp_path)
    for (args, message), res in zip(cases, results, strict=True):
        assert message in assert_one_line_error(res), args


def test_regression_predictions_are_named_after_the_target(work):
    res = cli("predict", "runs/price", "--input", "new.csv", cwd=work)
    assert res.returncode == 0, res.stderr
    header, rows = _table(res.stdout)
    assert header == ["price"] and len(rows) == 12
    assert np.isfinite(np.array(rows, dtype=float)).all()


# -- the pieces, in process ----------------------------------------------------------------
def test_predictions_table_quotes_text_and_writes_numbers_exactly():
    p = Predictions(("a", "b"), np.array([[0.1, 1 / 3]], np.float32), np.array(["x,y"]), "id")
    header, row = p.to_csv().splitlines()
    assert header == "id,a,b" and row.startswith('"x,y",')
    assert np.float32(row.split(",")[-1]) == np.float32(1 / 3)  # 9 digits: exact in float32


def test_read_inputs_reorders_by_name_and_drops_the_label(tmp_path):
    path = _write_csv(tmp_path / "x.csv", ("y", "b", "id", "a"), [["u", "v"], [2, 4], [7, 8],
                                                                   [1, 3]])
    X, ids = read_inputs(path, 2, feature_names=["a", "b"], label="y", id_column="id")
    np.testing.assert_array_equal(X, [[1, 2], [3, 4]])
    assert X.dtype == np.float32 and ids.tolist() == ["7", "8"]
    with pytest.raises(DataError, match="missing feature column"):
        read_inputs(path, 3, feature_names=["a", "b", "c"], label="y", id_column="id")
