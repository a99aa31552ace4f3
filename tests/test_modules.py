"""The pure torch modules: activations, MLP, EmbeddingMLP, CNN, SparseLinear and scikit-learn's losses."""

import inspect
from functools import partial

import numpy as np
import pytest
import torch
from sklearn import neural_network as sknn
from sklearn.neural_network import _base as sklearn_base
from sklearn.preprocessing import LabelBinarizer

from skdeep.modules import ACTIVATIONS, CNN, MLP, EmbeddingMLP, SklearnLoss, SparseLinear, make_activation


def seeded(build, seed=0):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build()


def inputs(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# -- activations -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_make_activation_builds_a_new_module_of_the_named_kind(name):
    first, second = make_activation(name), make_activation(name)
    assert type(first) is ACTIVATIONS[name] and first is not second


@pytest.mark.parametrize("name", ["identity", "logistic", "tanh", "relu"])
def test_scikit_learns_activations_compute_scikit_learns_functions(name):
    x = inputs(50, 3).double()
    expected = x.numpy().copy()
    sklearn_base.ACTIVATIONS[name](expected)  # in place
    np.testing.assert_allclose(make_activation(name)(x).numpy(), expected, rtol=1e-12)


def test_an_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match=r"Unknown activation 'swish'; choose one of \['elu', 'gelu'"):
        make_activation("swish")


# -- MLP -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("hidden_layer_sizes", [(), (16,), (16, 8)])
def test_mlp_maps_flat_rows_and_flattened_samples_to_one_output_row_each(hidden_layer_sizes):
    net = MLP(12, 3, hidden_layer_sizes=hidden_layer_sizes)
    images = inputs(5, 3, 2, 2)
    assert [layer.out_features for layer in net.linear_layers] == [*hidden_layer_sizes, 3]
    assert net(images.flatten(start_dim=1)).shape == (5, 3)
    torch.testing.assert_close(net(images), net(images.flatten(start_dim=1)))


@pytest.mark.parametrize("hidden_layer_sizes", [(), (6,)])
def test_mlp_multiplies_a_sparse_batch_as_its_dense_copy(hidden_layer_sizes):
    net = MLP(10, 2, hidden_layer_sizes=hidden_layer_sizes)
    dense = inputs(8, 10) * (inputs(8, 10, seed=1) > 0.8)
    torch.testing.assert_close(net(dense.to_sparse()), net(dense))


def sklearn_bound(activation, fan_in, fan_out):
    """The bound of scikit-learn's uniform initial weights, read from its own ``_init_coef``."""
    class Bounds:  # a random state whose uniform draws are the upper bound
        def uniform(self, low, high, size):
            return np.full(size, high)

    mlp = sknn.MLPClassifier(activation=activation)
    mlp._random_state = Bounds()
    coef, intercept = mlp._init_coef(fan_in, fan_out, np.float64)
    assert coef.max() == intercept.max()
    return coef.max()


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_mlp_initial_weights_fill_scikit_learns_glorot_bounds(activation):
    net = seeded(lambda: MLP(60, 100, hidden_layer_sizes=(80,), activation=activation))
    for layer in net.linear_layers:
        bound = sklearn_bound(activation, layer.in_features, layer.out_features)
        for values in (layer.weight, layer.bias):
            largest = float(values.detach().abs().max())
            assert 0.9 * bound < largest <= bound  # uniform over the whole interval, not beyond


def test_dropout_keeps_the_layer_indices_so_a_warm_start_can_switch_it():
    with_dropout, without = MLP(4, 2, (8, 8), dropout=0.5), MLP(4, 2, (8, 8))
    assert list(with_dropout.state_dict()) == list(without.state_dict())
    assert [type(layer) for layer in with_dropout.layers if not isinstance(layer, torch.nn.Dropout)] == \
        [type(layer) for layer in without.layers if not isinstance(layer, torch.nn.Identity)]


def test_batch_norm_comes_between_each_hidden_linear_layer_and_its_activation():
    kinds = [type(layer) for layer in MLP(4, 2, (8, 6), activation="tanh", batch_norm=True).layers]
    block = [torch.nn.BatchNorm1d, torch.nn.Tanh, torch.nn.Identity]
    assert kinds == [SparseLinear, *block, torch.nn.Linear, *block, torch.nn.Linear]


@pytest.mark.parametrize("module", [CNN((1, 8, 8), 10), EmbeddingMLP(2, [(5, 3)], 1, hidden_layer_sizes=())],
                         ids=["CNN head", "after embeddings"])
def test_networks_whose_input_is_always_dense_have_no_sparse_layer(module):
    # (printing the module shows what it is made of)
    assert not any(isinstance(layer, SparseLinear) for layer in module.modules())
    assert "SparseLinear" not in repr(module)
    assert isinstance(MLP(4, 2, ()).layers[0], SparseLinear)  # a bare MLP takes sparse batches


def test_sparse_linear_gives_a_sparse_batch_the_dense_gradients():
    dense = inputs(6, 9) * (inputs(6, 9, seed=1) > 0.5)
    gradients = []
    for batch in (dense, dense.to_sparse()):
        layer = seeded(lambda: SparseLinear(9, 4))
        layer(batch).square().sum().backward()
        gradients.append((layer.weight.grad, layer.bias.grad))
    torch.testing.assert_close(gradients[0], gradients[1])


# -- EmbeddingMLP ----------------------------------------------------------------------------------------------------


def test_embedding_mlp_is_an_mlp_over_the_numeric_columns_and_the_looked_up_embeddings():
    net = EmbeddingMLP(n_numeric=2, embeddings=[(5, 3), (4, 2)], n_outputs=3, hidden_layer_sizes=(8,))
    numeric, codes = inputs(7, 2), torch.tensor([[0, 3], [4, 1], [2, 2], [1, 0], [3, 3], [0, 0], [4, 2]])
    rows = torch.cat([numeric, codes.float()], dim=1)
    by_hand = torch.cat([numeric, net.embeddings[0].weight[codes[:, 0]], net.embeddings[1].weight[codes[:, 1]]], dim=1)
    assert net.mlp.linear_layers[0].in_features == 2 + 3 + 2
    torch.testing.assert_close(net(rows), net.mlp(by_hand))


# -- CNN -------------------------------------------------------------------------------------------------------------


def test_cnn_takes_images_and_their_flat_rows_alike():
    net = CNN((3, 8, 8), 5, conv_filters=(4, 6))
    images = inputs(2, 3, 8, 8)
    assert net.head.linear_layers[0].in_features == 6 * (8 // 2 // 2) * (8 // 2 // 2)
    assert net(images).shape == (2, 5)
    torch.testing.assert_close(net(images.flatten(start_dim=1)), net(images))


@pytest.mark.parametrize("shape", [(3, 8, 6), (3, 10)])
def test_channels_last_data_gives_what_channels_first_data_gives(shape):
    first = seeded(lambda: CNN(shape, 4, conv_filters=(5,)))
    last = CNN(shape[1:] + shape[:1], 4, conv_filters=(5,), channels_last=True)
    last.load_state_dict(first.state_dict())
    x = inputs(3, *shape)
    torch.testing.assert_close(last(x.movedim(1, -1)), first(x))


def test_a_cnn_on_signals_convolves_in_one_dimension():
    net = CNN((2, 20), 3, conv_filters=(4, 4), kernel_size=5)
    assert all(not isinstance(layer, torch.nn.Conv2d) for layer in net.features)
    assert [layer.kernel_size for layer in net.features if isinstance(layer, torch.nn.Conv1d)] == [(5,), (5,)]
    assert net.head.linear_layers[0].in_features == 4 * (20 // 2 // 2)
    assert net(inputs(6, 2, 20)).shape == (6, 3)


def test_pooling_never_shrinks_a_side_below_one():
    net = CNN((1, 3, 5), 2, conv_filters=(2, 2, 2))
    pools = [layer.kernel_size for layer in net.features if isinstance(layer, torch.nn.MaxPool2d)]
    assert pools == [(2, 2), (1, 2)]  # sides (3, 5) -> (1, 2) -> (1, 1), then no pooling
    assert net.head.linear_layers[0].in_features == 2 and net(inputs(4, 1, 3, 5)).shape == (4, 2)


def test_the_channels_last_memory_format_computes_the_same_values():
    contiguous = seeded(lambda: CNN((3, 8, 8), 4, conv_filters=(4,)))
    nhwc = CNN((3, 8, 8), 4, conv_filters=(4,), memory_format="channels_last")
    nhwc.load_state_dict(contiguous.state_dict())
    assert nhwc.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    x = inputs(2, 3, 8, 8)
    torch.testing.assert_close(nhwc(x), contiguous(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("build, message", [
    (partial(CNN, (8,), 2), r"input_shape must be \(C, L\) or \(C, H, W\)"),
    (partial(CNN, (1, 2, 3, 4), 2), r"input_shape must be \(C, L\) or \(C, H, W\)"),
    (partial(CNN, (1, 8, 8), 2, memory_format="nhwc"), "Unknown memory_format 'nhwc'"),
])
def test_a_cnn_refuses_shapes_and_layouts_it_cannot_build(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# -- losses ----------------------------------------------------------------------------------------------------------


def sklearn_case(kind, rng):
    """Raw outputs, the targets SklearnLoss takes, and scikit-learn's (targets, predictions) for the same loss."""
    if kind == "log_loss":
        raw, labels = rng.normal(size=(30, 4)), rng.randint(4, size=30)
        predicted = np.exp(raw) / np.exp(raw).sum(axis=1, keepdims=True)
        return raw, torch.from_numpy(labels), (LabelBinarizer().fit(range(4)).transform(labels), predicted)
    if kind == "binary_log_loss":
        raw, labels = rng.normal(size=(30, 3)), rng.randint(2, size=(30, 3)).astype(float)
        return raw, torch.from_numpy(labels), (labels, 1 / (1 + np.exp(-raw)))
    raw = rng.normal(size=(30, 2))
    if kind == "squared_error":
        target = rng.normal(size=(30, 2))
        return raw, torch.from_numpy(target), (target, raw)
    target = rng.poisson(2.0, size=(30, 2)).astype(float)
    return raw, torch.from_numpy(target), (target, np.exp(raw))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", SklearnLoss.KINDS)
def test_sklearn_loss_is_scikit_learns_loss_of_the_output_activation(kind, weighted):
    rng = np.random.RandomState(0)
    raw, target, (y_true, y_pred) = sklearn_case(kind, rng)
    weight = rng.uniform(0.1, 3.0, len(raw)) if weighted else None
    sklearns = sklearn_base.LOSS_FUNCTIONS.get(kind)
    if sklearns is None or (weighted and "sample_weight" not in inspect.signature(sklearns).parameters):
        pytest.skip(f"the installed scikit-learn's MLP has no {kind}{' with sample weights' * weighted} "
                    "(scikit-learn 1.7 added the Poisson loss and the weights)")
    expected = sklearns(y_true, y_pred) if weight is None else sklearns(y_true, y_pred, weight)
    loss = SklearnLoss(kind)(torch.from_numpy(raw), target, None if weight is None else torch.from_numpy(weight))
    assert float(loss) == pytest.approx(expected, rel=1e-10)


def test_the_squared_error_is_halved_as_scikit_learns():
    loss = SklearnLoss("squared_error")(torch.zeros(2, 1), torch.tensor([[2.0], [0.0]]))
    assert float(loss) == 0.5 * np.mean(np.array([2.0, 0.0]) ** 2)


@pytest.mark.parametrize("kind", SklearnLoss.KINDS)
def test_the_unweighted_loss_is_the_loss_of_equal_weights(kind):
    raw, target, _ = sklearn_case(kind, np.random.RandomState(1))
    raw = torch.from_numpy(raw)
    criterion = SklearnLoss(kind)
    torch.testing.assert_close(criterion(raw, target), criterion(raw, target, torch.full((len(raw),), 2.5,
                                                                                             dtype=raw.dtype)))


def test_a_batch_of_zero_weight_has_zero_loss():
    loss = SklearnLoss("log_loss")(inputs(4, 3), torch.tensor([0, 1, 2, 0]), torch.zeros(4))
    assert float(loss) == 0.0


def test_an_unknown_loss_names_the_kinds():
    with pytest.raises(ValueError, match="Unknown loss 'hinge'; choose one of"):
        SklearnLoss("hinge")
