"""Costs: gradients (float64 check and PyTorch parity), label checks, numerical stability."""

from __future__ import annotations

import numpy as np
import pytest
from _hostile import attempt, hostile, matrices
from hypothesis import given, settings
from hypothesis import strategies as st

from deeprecipe.engine.gradcheck import check_gradients
from deeprecipe.engine.losses import (
    LOSSES,
    Loss,
    binary_crossentropy,
    categorical_crossentropy,
    get_loss,
    mean_squared_error,
)
from deeprecipe.errors import DataError, DeepRecipeError, InvalidValueError

RTOL = 1e-10


def _gradcheck(fn, Z, Y) -> float:
    _, dZ = fn(Z, Y)
    report = check_gradients(lambda: fn(Z, Y)[0], {"Z": Z}, {"Z": dZ.copy()})
    return report["Z"]


def _targets():
    rng = np.random.default_rng(0)
    m = 7
    Z1, Z3 = 2 * rng.standard_normal((m, 1)), 2 * rng.standard_normal((m, 3))
    labels = rng.integers(0, 3, m)
    soft = rng.dirichlet(np.ones(3), m)
    return {
        "bce": (binary_crossentropy, Z1, rng.integers(0, 2, (m, 1)).astype(float)),
        "bce-multilabel": (binary_crossentropy, Z3, rng.integers(0, 2, (m, 3)).astype(float)),
        "cce-integer": (categorical_crossentropy, Z3, labels),
        "cce-onehot": (categorical_crossentropy, Z3, np.eye(3)[labels]),
        "cce-soft": (categorical_crossentropy, Z3, soft),
        "mse": (mean_squared_error, Z3, rng.standard_normal((m, 3))),
    }


@pytest.mark.parametrize("case", list(_targets()))
def test_gradient_check_float64(case):
    fn, Z, Y = _targets()[case]
    assert _gradcheck(fn, Z, Y) < 1e-7


def test_binary_crossentropy_matches_torch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(1)
    Z, Y = 3 * rng.standard_normal((9, 1)), rng.integers(0, 2, (9, 1)).astype(float)
    J, dZ = binary_crossentropy(Z, Y)
    Zt = torch.tensor(Z, requires_grad=True)
    Jt = F.binary_cross_entropy_with_logits(Zt, torch.tensor(Y))  # reduction="mean"
    Jt.backward()
    assert J == pytest.approx(Jt.item(), rel=RTOL)
    np.testing.assert_allclose(dZ, Zt.grad.numpy(), rtol=RTOL)


def test_binary_crossentropy_multilabel_is_summed_over_outputs(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(2)
    Z, Y = rng.standard_normal((5, 3)), rng.integers(0, 2, (5, 3)).astype(float)
    J, _ = binary_crossentropy(Z, Y)
    Jt = F.binary_cross_entropy_with_logits(torch.tensor(Z), torch.tensor(Y), reduction="sum")
    assert J == pytest.approx(Jt.item() / 5, rel=RTOL)  # (1/m) sum over samples and outputs


@pytest.mark.parametrize("target", ["integer", "probabilities"])
def test_categorical_crossentropy_matches_torch(target, torch):
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    Z, labels = 3 * rng.standard_normal((9, 4)), rng.integers(0, 4, 9)
    Y = labels if target == "integer" else rng.dirichlet(np.ones(4), 9)
    J, dZ = categorical_crossentropy(Z, Y)
    Zt = torch.tensor(Z, requires_grad=True)
    Yt = torch.tensor(labels, dtype=torch.long) if target == "integer" else torch.tensor(Y)
    Jt = F.cross_entropy(Zt, Yt)  # reduction="mean": our dZ holds the same 1/m
    Jt.backward()
    assert J == pytest.approx(Jt.item(), rel=RTOL)
    np.testing.assert_allclose(dZ, Zt.grad.numpy(), rtol=RTOL, atol=1e-16)


def test_mean_squared_error_matches_torch(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(4)
    A, Y = rng.standard_normal((6, 2)), rng.standard_normal((6, 2))
    J, dA = mean_squared_error(A, Y)
    At = torch.tensor(A, requires_grad=True)
    Jt = F.mse_loss(At, torch.tensor(Y), reduction="sum") / (2 * 6)  # (1/2m) sum ||a - y||^2
    Jt.backward()
    assert J == pytest.approx(Jt.item(), rel=RTOL)
    np.testing.assert_allclose(dA, At.grad.numpy(), rtol=RTOL)


def test_hand_computed_values():
    J, dZ = binary_crossentropy(np.array([[0.0]]), np.array([[1.0]]))
    assert J == pytest.approx(np.log(2))
    np.testing.assert_allclose(dZ, [[-0.5]])
    J, dZ = categorical_crossentropy(np.zeros((2, 4)), np.array([0, 3]))
    assert J == pytest.approx(np.log(4))
    np.testing.assert_allclose(dZ, (np.full((2, 4), 0.25) - np.eye(4)[[0, 3]]) / 2)
    J, dA = mean_squared_error(np.array([[1.0], [3.0]]), np.array([[0.0], [0.0]]))
    assert J == pytest.approx((1 + 9) / 4)
    np.testing.assert_allclose(dA, [[0.5], [1.5]])


def test_one_hot_targets_equal_integer_targets():
    rng = np.random.default_rng(5)
    Z, labels = rng.standard_normal((8, 5)), rng.integers(0, 5, 8)
    J_int, dZ_int = categorical_crossentropy(Z, labels)
    J_hot, dZ_hot = categorical_crossentropy(Z, np.eye(5)[labels])
    assert J_int == pytest.approx(J_hot, rel=1e-13)
    np.testing.assert_allclose(dZ_int, dZ_hot, rtol=1e-13)


@pytest.mark.filterwarnings("error")  # no overflow or divide warnings
def test_huge_logits_give_finite_costs_and_gradients():
    Z = np.array([[1000.0], [-1000.0], [1000.0], [-1000.0]])
    Y = np.array([[1.0], [0.0], [0.0], [1.0]])
    J, dZ = binary_crossentropy(Z, Y)
    assert np.isfinite(J) and np.isfinite(dZ).all()
    assert J == pytest.approx(2000.0 / 4)  # two confident right answers, two 1000-nat mistakes
    np.testing.assert_allclose(dZ, [[0.0], [0.0], [0.25], [-0.25]])

    Z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]])
    for Y in (np.array([0, 0]), np.eye(3)[[0, 0]]):
        J, dZ = categorical_crossentropy(Z, Y)
        assert np.isfinite(J) and np.isfinite(dZ).all()
        assert J == pytest.approx(2000.0 / 2)
        np.testing.assert_allclose(dZ, [[0, 0, 0], [-0.5, 0.5, 0]], atol=1e-300)
    for dtype in (np.float32, np.float64):
        J, dZ = categorical_crossentropy(Z.astype(dtype), np.array([0, 1]))
        assert J == pytest.approx(0.0) and np.isfinite(dZ).all()
        J, dZ = binary_crossentropy(Z[:, :1].astype(dtype), np.array([[1.0], [0.0]], dtype))
        assert J == pytest.approx(0.0) and np.isfinite(dZ).all()


@pytest.mark.parametrize("fn, Y", [
    (binary_crossentropy, np.array([[1.0], [0.0]])),
    (categorical_crossentropy, np.array([0, 1])),
    (mean_squared_error, np.array([[1.0], [0.0]])),
])
def test_float32_gradient_stays_float32(fn, Y):
    Z = np.array([[0.3], [-0.2]], np.float32)
    if fn is categorical_crossentropy:
        Z = np.array([[0.3, -0.2], [0.1, 0.4]], np.float32)
    J, dZ = fn(Z, Y.astype(np.float32) if Y.dtype.kind == "f" else Y)
    assert isinstance(J, float)
    assert dZ.dtype == np.float32


# -- labels: prepare_targets ---------------------------------------------------------------------
BCE, CCE, MSE = (LOSSES[k] for k in ("binary_crossentropy", "categorical_crossentropy",
                                     "mean_squared_error"))


@pytest.mark.parametrize("loss, y, n_out, message", [
    (CCE, [0, 1, 3], 3, r"labels must be in \[0, 2\] for a 3-unit softmax output"),
    (CCE, [0, -1, 2], 3, r"labels must be in \[0, 2\]"),
    (CCE, [0.5, 1.0, 2.0], 3, r"integer class labels"),
    (CCE, np.zeros((3, 2)), 3, r"integer class labels of shape \(m,\) or one-hot \(m, 3\)"),
    (CCE, np.zeros((3, 3, 1)), 3, r"got shape \(3, 3, 1\)"),
    (BCE, [0, 1, 2], 1, r"binary_crossentropy needs labels 0 or 1, got values \[0, 1, 2\]"),
    (BCE, [0.0, 0.5, 1.0], 1, r"labels 0 or 1"),
    (BCE, [-1, 1, 1], 1, r"labels 0 or 1"),
    (BCE, np.zeros((3, 2)), 1, r"binary_crossentropy needs targets of shape \(m, 1\)"),
    (MSE, np.zeros((3, 3)), 2, r"mean_squared_error needs targets of shape \(m, 2\)"),
    (MSE, np.zeros((3, 1, 1)), 1, r"got shape \(3, 1, 1\)"),
    (MSE, np.zeros(3), 2, r"needs targets of shape \(m, 2\) for a 2-unit output, got shape "
                          r"\(3,\)$"),
    (BCE, np.zeros((3, 1, 1)), 1, r"shape \(m, 1\) or \(m,\) for a 1-unit output"),
    (BCE, [0, np.nan, 1], 1, r"y contains NaN or inf"),
    (CCE, [0, 1, np.inf], 3, r"y contains NaN or inf"),
    (MSE, [0.0, -np.inf, 1.0], 1, r"y contains NaN or inf"),
    (CCE, ["a", "b", "c"], 3, r"y must be real numeric, got an array of dtype <U1"),
    (BCE, np.array([0, 1, None], dtype=object), 1, r"y must be real numeric.*object"),
    (MSE, np.array([1j, 2, 3]), 1, r"y must be real numeric.*complex"),
    (CCE, np.array([], dtype=int), 3, r"y has no labels"),
    (MSE, [[1.0], [2.0, 3.0]], 1, r"y could not be read as an array"),
    (MSE, [1e39, 0.0, 1.0], 1, r"too large for float32"),
])
def test_bad_labels_raise_data_error_naming_the_problem(loss, y, n_out, message):
    with pytest.raises(DataError, match=message):
        loss.prepare_targets(y, n_out, np.float32)


def test_prepare_targets_returns_ready_arrays():
    y = CCE.prepare_targets([2, 0, 1], 3, np.float32)
    assert y.dtype == np.intp and y.tolist() == [2, 0, 1]
    assert CCE.prepare_targets(np.array([[2], [0]]), 3, np.float32).tolist() == [2, 0]
    hot = CCE.prepare_targets(np.eye(3), 3, np.float64)
    assert hot.dtype == np.float64 and hot.shape == (3, 3)
    y = BCE.prepare_targets([True, False], 1, np.float32)
    assert y.dtype == np.float32 and y.shape == (2, 1)
    assert MSE.prepare_targets([1.5, 2.5], 1, np.float64).shape == (2, 1)


def test_get_loss_by_name_and_unknown_name():
    assert get_loss("binary_crossentropy") is BCE
    assert get_loss(CCE) is CCE
    assert isinstance(get_loss("mean_squared_error"), Loss)
    with pytest.raises(InvalidValueError, match=r"loss must be one of 'binary_crossentropy'.*"
                                                r"got 'hinge'"):
        get_loss("hinge")


def test_fused_activations():
    assert BCE.fused_activation == "Sigmoid"
    assert CCE.fused_activation == "Softmax"
    assert MSE.fused_activation is None


# -- hostile inputs at the public boundary: a correct result or a DeepRecipeError ---------------
@pytest.mark.parametrize("Y, message", [
    (np.array([0.0, 1.5, 2.0]), r"integer class labels, got float64 values such as \[1.5\]"),
    (np.array([0, 3, 1]), r"labels in \[0, 2\] for 3 columns of Z, got values from 0 to 3"),
    (np.array([0, -1, 1]), r"labels in \[0, 2\]"),  # a negative label wrapped around before
    (np.array([0, 1]), r"Y of integer class labels \(3,\) or targets \(3, 3\), got shape"),
    (np.ones((3, 2)), r"Y must have the shape of Z, \(3, 3\), got \(3, 2\)"),
    ("x", r"Y must be real numeric"),
])
def test_categorical_crossentropy_names_the_bad_labels(Y, message):
    with pytest.raises(DataError, match=message):
        categorical_crossentropy(np.zeros((3, 3)), Y)


@pytest.mark.parametrize("fn, Y, message", [
    (binary_crossentropy, np.ones(4), r"Y must have the shape of Z, \(4, 3\), got \(4,\)"),
    (binary_crossentropy, np.full((4, 3), 2.0), r"Y in \[0, 1\] .*got \[2.0\]"),
    (mean_squared_error, np.ones((4, 1)), r"Y must have the shape of A, \(4, 3\)"),
])
def test_mismatched_targets_are_refused_not_broadcast(fn, Y, message):
    with pytest.raises(DataError, match=message):
        fn(np.zeros((4, 3)), Y)


def _reference(fn, Z: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """J and dZ in float64, written out plainly (Y already in Z's shape, or labels)."""
    m = len(Z)
    if fn is binary_crossentropy:  # -log sigma(z) = log(1 + exp(-z))
        J = np.sum(Y * np.logaddexp(0, -Z) + (1 - Y) * np.logaddexp(0, Z)) / m
        return J, (1 / (1 + np.exp(-Z)) - Y) / m
    if fn is mean_squared_error:
        return np.sum((Z - Y) ** 2) / (2 * m), (Z - Y) / m
    T = np.eye(Z.shape[1])[Y] if Y.ndim == 1 else Y
    log_softmax = Z - Z.max(axis=1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(axis=1, keepdims=True))
    return -np.sum(T * log_softmax) / m, (np.exp(log_softmax) - T) / m


_Z = st.one_of(hostile, matrices(), matrices(rows=st.just(3), cols=st.just(2)))
_Y = st.one_of(hostile, matrices(), matrices(rows=st.just(3), cols=st.sampled_from([1, 2])),
               st.lists(st.integers(-2, 3), min_size=3, max_size=3).map(np.array),
               st.lists(st.sampled_from([0.0, 1.0, 0.5, 1.5, np.nan]), min_size=3,
                        max_size=3).map(np.array))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN and inf inputs
@settings(max_examples=400)
@given(fn=st.sampled_from([binary_crossentropy, categorical_crossentropy, mean_squared_error]),
       Z=_Z, Y=_Y)
def test_a_loss_gives_the_correct_cost_or_a_deeprecipe_error(fn, Z, Y):
    result = attempt(lambda: fn(Z, Y))
    if result is None:
        return
    J, dZ = result
    Z64, Y64 = np.asarray(Z, np.float64), np.asarray(Y, np.float64)
    assert isinstance(J, float) and dZ.shape == Z64.shape and dZ.dtype.kind == "f"
    if fn is categorical_crossentropy and Y64.shape != Z64.shape:
        Y64 = Y64.reshape(-1).astype(np.intp)  # class labels
    else:
        Y64 = Y64.reshape(Z64.shape)
    if not (np.isfinite(Z64).all() and np.isfinite(Y64).all()):
        return  # NaN or inf in: NaN or inf out is the honest answer
    tol = 1e-3 if np.float32 in (np.asarray(Z).dtype, np.asarray(Y).dtype) else 1e-9
    J_ref, dZ_ref = _reference(fn, Z64, Y64)
    if fn is categorical_crossentropy and Y64.ndim == 2 and not np.allclose(Y64.sum(1), 1):
        dZ_ref = None  # soft targets not summing to 1: dZ = softmax - Y is not J's gradient
    np.testing.assert_allclose(J, J_ref, rtol=tol, atol=tol)
    if dZ_ref is not None:
        np.testing.assert_allclose(dZ, dZ_ref, rtol=tol, atol=tol)


@settings(max_examples=100)
@given(loss=st.one_of(hostile, st.sampled_from(sorted(LOSSES))),
       y=st.one_of(hostile, matrices()), n_out=st.one_of(hostile, st.integers(-1, 3)),
       dtype=st.sampled_from([np.float32, np.float64, np.int32, "x", None]))
def test_get_loss_and_prepare_targets_give_a_result_or_a_deeprecipe_error(loss, y, n_out,
                                                                          dtype):
    found = attempt(lambda: get_loss(loss))
    if found is None:
        return
    assert found.name == loss
    Y = attempt(lambda: found.prepare_targets(y, n_out, dtype))
    assert Y is None or (isinstance(Y, np.ndarray) and len(Y) == len(np.asarray(y)))


@pytest.mark.parametrize("args, message", [
    ((5, mean_squared_error, None), "a str name"),
    (("mine", 5, None), "callable fn"),
    (("mine", mean_squared_error, "ReLU"), "fused_activation must be"),
])
def test_a_loss_is_checked_when_made(args, message):
    with pytest.raises(DeepRecipeError, match=message):
        Loss(*args)
