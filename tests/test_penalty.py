"""WeightPenalty: scikit-learn's L2 term (and skdeep's L1 term) on the weight matrices, its value and gradient."""

import numpy as np
import pytest
import torch

from skdeep._penalty import StackedPenalties, WeightPenalty
from skdeep.modules import CNN, MLP

STRENGTHS = [(0.0, 0.3), (0.05, 0.0), (0.05, 0.3)]


@pytest.fixture
def network():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return MLP(5, 3, hidden_layer_sizes=(7, 4), batch_norm=True).double()


def with_gradients(weights, seed=0):
    generator = torch.Generator().manual_seed(seed)
    for weight in weights:
        weight.grad = torch.randn(weight.shape, generator=generator, dtype=weight.dtype)
    return [weight.grad.clone() for weight in weights]


def test_the_penalised_weights_are_the_weight_matrices_and_kernels():
    network = CNN((2, 6, 6), 3, conv_filters=(4,), hidden_layer_sizes=(5,), batch_norm=True)
    expected = [network.features[0].weight, *(layer.weight for layer in network.head.linear_layers)]
    assert [id(weight) for weight in WeightPenalty.weights(network)] == [id(weight) for weight in expected]


@pytest.mark.parametrize("l1, l2", STRENGTHS)
def test_penalty_value_is_scikit_learns_formula(l1, l2, network):
    coefs = [layer.weight.detach().numpy().T for layer in network.linear_layers]  # scikit-learn's coefs_
    batch_weight = 12.5
    # scikit-learn: loss += (0.5 * alpha) * sum(s.ravel() @ s.ravel() for s in coefs_) / sw_sum
    l2_term = 0.5 * l2 * sum(coef.ravel() @ coef.ravel() for coef in coefs)
    l1_term = l1 * sum(np.abs(coef).sum() for coef in coefs)
    penalty = WeightPenalty(l1=l1, l2=l2, batch_weight=batch_weight)
    assert penalty.value(penalty.weights(network)) == pytest.approx((l1_term + l2_term) / batch_weight, rel=1e-12)


@pytest.mark.parametrize("l1, l2", STRENGTHS)
def test_loss_term_is_the_value_as_a_tensor(l1, l2, network):
    penalty = WeightPenalty(l1=l1, l2=l2, batch_weight=3.0)
    weights = penalty.weights(network)
    assert float(penalty.loss_term(weights).detach()) == pytest.approx(penalty.value(weights), rel=1e-12)


@pytest.mark.parametrize("l1, l2", STRENGTHS)
def test_add_gradients_adds_autograds_gradient_of_the_loss_term(l1, l2, network):
    penalty = WeightPenalty(l1=l1, l2=l2, batch_weight=7.0)
    weights = penalty.weights(network)
    expected = torch.autograd.grad(penalty.loss_term(weights), weights)
    before = with_gradients(weights)
    penalty.add_gradients(weights)
    for weight, grad, added in zip(weights, before, expected, strict=True):
        torch.testing.assert_close(weight.grad, grad + added, rtol=1e-12, atol=1e-12)


def test_the_l1_subgradient_is_the_sign_and_zero_at_zero():
    weight = torch.nn.Parameter(torch.tensor([[-2.0, 0.0, 3.0], [0.0, 0.5, -1e-30]]))
    weight.grad = torch.zeros_like(weight)
    WeightPenalty(l1=0.6, batch_weight=2.0).add_gradients([weight])
    torch.testing.assert_close(weight.grad, 0.3 * torch.sign(weight.detach()))
    assert weight.grad[0, 1] == 0 and weight.grad[1, 0] == 0


def test_weights_without_gradients_are_left_without():
    with_grad, without = torch.nn.Parameter(torch.ones(2, 2)), torch.nn.Parameter(torch.ones(2, 2))
    with_grad.grad = torch.zeros(2, 2)
    WeightPenalty(l1=1.0, l2=1.0).add_gradients([with_grad, without])
    assert without.grad is None and torch.equal(with_grad.grad, torch.full((2, 2), 2.0))


def test_no_strength_is_no_penalty(network):
    penalty = WeightPenalty(batch_weight=5.0)
    weights = penalty.weights(network)
    before = with_gradients(weights)
    penalty.add_gradients(weights)
    assert not penalty and penalty.value(weights) == 0.0
    assert all(torch.equal(weight.grad, grad) for weight, grad in zip(weights, before, strict=True))
    assert WeightPenalty(l1=0.1) and WeightPenalty(l2=0.1)


def test_the_penalty_of_large_float32_weights_is_finite_as_the_loss_it_joins():
    weights = [torch.full((2, 2), 1e20, dtype=torch.float32)]
    assert WeightPenalty(l1=1.0, l2=2.0).value(weights) == pytest.approx(4e20 + 4e40)


def _stacked(modules):
    """The parameters of ``modules`` as the rows of one tensor, and the mask of their weights."""
    rows = torch.stack([torch.cat([p.detach().reshape(-1) for p in module.parameters()]) for module in modules])
    is_weight = torch.cat([torch.full((p.numel(),), float(p.ndim > 1), dtype=rows.dtype)
                           for p in modules[0].parameters()])
    return rows, is_weight


def _seeded_modules(dtype, count=3):
    generator = torch.Generator().manual_seed(0)
    modules = [torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 1)).to(dtype) for _ in range(count)]
    for module in modules:
        for parameter in module.parameters():
            torch.nn.init.normal_(parameter.data, generator=generator)
    return modules


STACKED = [WeightPenalty(l1=0.3, l2=0.5, batch_weight=7.0), WeightPenalty(l2=2.0), WeightPenalty()]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stacked_values_are_each_rows_value_and_leave_the_rows_as_they_are(dtype):
    modules = _seeded_modules(dtype)
    rows, is_weight = _stacked(modules)
    before = rows.clone()
    values = StackedPenalties(STACKED, is_weight).values(rows)
    assert torch.equal(rows, before)
    expected = [penalty.value(penalty.weights(module)) for penalty, module in zip(STACKED, modules, strict=True)]
    assert values == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_stacked_gradients_are_each_rows_gradients(dtype):
    modules = _seeded_modules(dtype)
    rows, is_weight = _stacked(modules)
    gradients = [with_gradients(list(module.parameters()), seed=k) for k, module in enumerate(modules)]
    grad = torch.stack([torch.cat([g.reshape(-1) for g in module_gradients]) for module_gradients in gradients])
    StackedPenalties(STACKED, is_weight).add_gradients(grad, rows)
    for penalty, module in zip(STACKED, modules, strict=True):
        penalty.add_gradients(penalty.weights(module))
    expected = torch.stack([torch.cat([p.grad.reshape(-1) for p in module.parameters()]) for module in modules])
    torch.testing.assert_close(grad, expected, rtol=1e-6 if dtype == torch.float32 else 1e-12, atol=0)
