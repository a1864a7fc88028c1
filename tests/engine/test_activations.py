"""Element-wise activations and softmax: parity with PyTorch autograd, stability, the notes."""

from __future__ import annotations

import numpy as np
import pytest

from deeprecipe.engine.layers import LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from deeprecipe.engine.layers.activations import sigmoid, softmax
from deeprecipe.errors import DeepRecipeError

RTOL = 1e-10

TORCH_REFERENCES = {  # reference(torch, z)
    "ReLU": (ReLU, lambda torch, z: torch.nn.functional.relu(z)),
    "LeakyReLU": (LeakyReLU,
                  lambda torch, z: torch.nn.functional.leaky_relu(z, negative_slope=0.01)),
    "LeakyReLU(0.3)": (lambda: LeakyReLU(slope=0.3),
                       lambda torch, z: torch.nn.functional.leaky_relu(z, 0.3)),
    "Tanh": (Tanh, lambda torch, z: torch.tanh(z)),
    "Sigmoid": (Sigmoid, lambda torch, z: torch.sigmoid(z)),
    "Softmax": (Softmax, lambda torch, z: torch.nn.functional.softmax(z, dim=1)),
    "Linear": (Linear, lambda torch, z: z),
}


def _inputs(rng, shape=(6, 5)):
    Z = 2.0 * rng.standard_normal(shape)
    return Z + np.where(Z >= 0, 0.1, -0.1)  # away from the ReLU kink


@pytest.mark.parametrize("make_layer, reference", TORCH_REFERENCES.values(),
                         ids=TORCH_REFERENCES.keys())
def test_forward_and_backward_match_torch_autograd(make_layer, reference, torch):
    rng = np.random.default_rng(0)
    Z, dA = _inputs(rng), rng.standard_normal((6, 5))
    layer = make_layer()
    layer.build(5, np.random.default_rng(0), np.float64)

    A = layer.forward(Z, training=True)
    dZ = layer.backward(dA)

    Zt = torch.tensor(Z, requires_grad=True)
    At = reference(torch, Zt)
    At.backward(torch.tensor(dA))
    np.testing.assert_allclose(A, At.detach().numpy(), rtol=RTOL, atol=1e-15)
    np.testing.assert_allclose(dZ, Zt.grad.numpy(), rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize("make_layer", [ReLU, LeakyReLU, Tanh, Sigmoid, Softmax, Linear])
def test_inference_equals_training_forward(make_layer):
    layer = make_layer()
    layer.build(4, np.random.default_rng(0))
    Z = _inputs(np.random.default_rng(1), (3, 4)).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(Z), layer.forward(Z, training=True))


def test_softmax_example_from_the_notes():
    z = np.array([[5.0, 2.0, -1.0, 3.0]])
    np.testing.assert_allclose(softmax(z), [[0.842, 0.042, 0.002, 0.114]], atol=5e-4)
    layer = Softmax()
    layer.build(4, np.random.default_rng(0))
    np.testing.assert_allclose(layer.forward(z), [[0.842, 0.042, 0.002, 0.114]], atol=5e-4)
    # exp(z) / sum(exp(z)), as the notes compute it: t = e^z, a = t / sum(t)
    t = np.exp(z)
    np.testing.assert_allclose(softmax(z), t / t.sum(), rtol=1e-14)


def test_softmax_rows_sum_to_one_and_are_shift_invariant():
    Z = _inputs(np.random.default_rng(2), (8, 3))
    A = softmax(Z)
    np.testing.assert_allclose(A.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(softmax(Z + 100.0), A, rtol=1e-12)


@pytest.mark.filterwarnings("error")  # no overflow warnings either
def test_sigmoid_and_softmax_are_stable_for_huge_inputs():
    z = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]])
    s = sigmoid(z)
    assert np.isfinite(s).all()
    np.testing.assert_allclose(s, [[0.0, np.exp(-50.0), 0.5, 1.0, 1.0]], rtol=1e-12, atol=0)
    A = softmax(z)
    assert np.isfinite(A).all()
    np.testing.assert_allclose(A, [[0.0, 0.0, 0.0, 0.0, 1.0]], atol=1e-300)
    for dtype in (np.float32, np.float64):
        assert np.isfinite(sigmoid(z.astype(dtype))).all()
        assert np.isfinite(softmax(z.astype(dtype))).all()


@pytest.mark.parametrize("make_layer", [ReLU, LeakyReLU, Tanh, Sigmoid, Softmax, Linear])
def test_float32_stays_float32(make_layer):
    layer = make_layer()
    layer.build(3, np.random.default_rng(0))
    Z = np.linspace(-2, 2, 12, dtype=np.float32).reshape(4, 3)
    A = layer.forward(Z, training=True)
    assert A.dtype == np.float32
    assert layer.backward(np.ones_like(A)).dtype == np.float32
    assert sigmoid(Z).dtype == softmax(Z).dtype == np.float32


def test_derivatives_are_written_in_terms_of_the_cached_output():
    Z = np.array([[-2.0, -0.5, 0.5, 2.0]])
    ones = np.ones_like(Z)
    for layer, expected in [(ReLU(), [[0, 0, 1, 1]]),
                            (LeakyReLU(slope=0.1), [[0.1, 0.1, 1, 1]]),
                            (Tanh(), 1 - np.tanh(Z) ** 2),
                            (Sigmoid(), sigmoid(Z) * (1 - sigmoid(Z))),
                            (Linear(), ones)]:
        layer.build(4, np.random.default_rng(0))
        layer.forward(Z, training=True)
        np.testing.assert_allclose(layer.backward(ones), expected, rtol=1e-14)


def test_leaky_relu_values():
    layer = LeakyReLU(slope=0.2)
    np.testing.assert_allclose(layer.forward(np.array([[-5.0, 0.0, 3.0]])), [[-1.0, 0.0, 3.0]])


@pytest.mark.parametrize("slope", [-0.1, 1.0, 2.0, float("nan"), "0.1", True])
def test_leaky_relu_slope_must_be_in_zero_one(slope):
    with pytest.raises(DeepRecipeError, match="slope must be"):
        LeakyReLU(slope=slope)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_hot_backward_is_the_public_one_in_place(dtype):
    # the training step's fused kernel: dA * (A > 0) written into dA, A == 0 included
    Z = np.array([[-2.0, 0.0, 0.5], [3.0, -1e-30, 1e-30]], dtype=dtype)
    dA = np.array([[1.0, 2.0, 3.0], [-4.0, 5.0, -6.0]], dtype=dtype)
    cold = ReLU()
    cold.build(3, np.random.default_rng(0))
    cold.forward(Z, training=True)
    expected = cold.backward(dA.copy())
    hot = ReLU()
    hot.build(3, np.random.default_rng(0))
    hot._hot = True
    hot.forward(Z, training=True)
    scratch = dA.copy()
    out = hot.backward(scratch)
    assert out is scratch
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(expected, [[0, 0, 3], [-4, 0, -6]])
