"""Pure PyTorch building blocks of skdeep's estimators.

Nothing in this module imports scikit-learn: the modules here can be used in
any PyTorch code, and the estimators in :mod:`skdeep` wrap them.
"""

import copy
import math

import numpy as np
import torch
from torch import nn

__all__ = ["ACTIVATIONS", "CNN", "MLP", "EmbeddingMLP", "SklearnLoss", "SparseLinear", "WeightedCriterion",
           "make_activation"]

#: Activation names accepted by skdeep, mapped to their PyTorch modules.
#: The first four are scikit-learn's names, the others are PyTorch extras.
ACTIVATIONS = {
    "identity": nn.Identity,
    "logistic": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "selu": nn.SELU,
}


def make_activation(name):
    """Return a new activation module from its name.

    Parameters
    ----------
    name : str
        One of the keys of :data:`ACTIVATIONS`.

    Returns
    -------
    activation : torch.nn.Module

    Examples
    --------
    >>> from skdeep.modules import make_activation
    >>> make_activation("gelu")
    GELU(approximate='none')
    """
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(
            f"Unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}."
        ) from None


class SparseLinear(nn.Linear):
    """A linear layer that also accepts sparse COO input batches.

    A sparse batch is multiplied with :func:`torch.sparse.mm`, so a batch of
    very wide sparse rows (bag of words, one-hot codes) is never densified.
    Dense input takes the ordinary :class:`torch.nn.Linear` path.

    Examples
    --------
    >>> import torch
    >>> from skdeep.modules import SparseLinear
    >>> layer = SparseLinear(5, 2)
    >>> x = torch.eye(5)[:3]
    >>> torch.allclose(layer(x.to_sparse()), layer(x))
    True
    """

    def forward(self, x):
        if x.layout == torch.strided:
            return super().forward(x)
        return torch.addmm(self.bias, x, self.weight.t())


def _glorot_uniform_(linear, activation):
    # scikit-learn's MLP initialisation (Glorot & Bengio, 2010), biases included,
    # so that a model converges as sklearn's does for the same settings.
    factor = 2.0 if activation == "logistic" else 6.0
    bound = math.sqrt(factor / (linear.in_features + linear.out_features))
    nn.init.uniform_(linear.weight, -bound, bound)
    nn.init.uniform_(linear.bias, -bound, bound)


class MLP(nn.Module):
    """A multi-layer perceptron: a stack of dense blocks and a linear output.

    Each hidden block is ``Linear -> [BatchNorm1d] -> activation ->
    [Dropout]``. Input samples of any shape are flattened first, as Keras'
    ``Flatten`` does, and with ``sparse_input`` a sparse 2-D batch is
    multiplied sparsely by the first layer. The output is the raw score
    (logits); the loss applies the output non-linearity.

    Parameters
    ----------
    n_features : int
        Number of input values per sample (after flattening).
    n_outputs : int
        Number of output units.
    hidden_layer_sizes : sequence of int, default=(100,)
        Width of each hidden layer; empty for a linear model.
    activation : str, default="relu"
        Hidden-layer activation, a key of :data:`ACTIVATIONS`.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    batch_norm : bool, default=False
        Whether to add batch normalisation before each hidden activation.
    sparse_input : bool, default=True
        Whether the first layer is a :class:`SparseLinear`, which also takes
        sparse batches; a network whose input is always dense (a CNN's head,
        the layers after embeddings) has a plain :class:`torch.nn.Linear`.

    Examples
    --------
    >>> import torch
    >>> from skdeep.modules import MLP
    >>> net = MLP(n_features=4, n_outputs=3, hidden_layer_sizes=(16, 8))
    >>> net(torch.zeros(5, 4)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self,
        n_features,
        n_outputs,
        hidden_layer_sizes=(100,),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        sparse_input=True,
    ):
        super().__init__()
        widths = [n_features, *hidden_layer_sizes]
        first_cls = SparseLinear if sparse_input else nn.Linear
        layers = []
        for index, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            linear = first_cls(n_in, n_out) if index == 0 else nn.Linear(n_in, n_out)
            layers.append(linear)
            if batch_norm:
                layers.append(nn.BatchNorm1d(n_out))
            layers.append(make_activation(activation))
            # an identity in its place without dropout: the layers keep their indices, so a warm
            # start may switch dropout on or off
            layers.append(nn.Dropout(dropout) if dropout else nn.Identity())
        output_cls = first_cls if not hidden_layer_sizes else nn.Linear
        layers.append(output_cls(widths[-1], n_outputs))
        self.layers = nn.Sequential(*layers)
        for linear in self.linear_layers:
            _glorot_uniform_(linear, activation)

    @property
    def linear_layers(self):
        """The dense layers, input to output (:class:`torch.nn.Linear`)."""
        return [layer for layer in self.layers if isinstance(layer, nn.Linear)]

    def forward(self, x):
        if x.layout == torch.strided and x.dim() > 2:
            x = x.flatten(start_dim=1)
        return self.layers(x)


class EmbeddingMLP(nn.Module):
    """An :class:`MLP` over numeric columns and learned embeddings of categorical ones.

    The input rows hold the numeric columns first, then one integer code per
    categorical column (as floats); each code column is looked up in its own
    :class:`torch.nn.Embedding` and the embeddings are concatenated with the
    numeric columns.

    Parameters
    ----------
    n_numeric : int
        Number of numeric columns, at the start of each row.
    embeddings : sequence of (int, int)
        ``(cardinality, dimension)`` of each categorical column.
    n_outputs : int
        Number of output units.
    **mlp_params
        ``hidden_layer_sizes``, ``activation``, ``dropout``, ``batch_norm`` of
        the :class:`MLP`.

    Examples
    --------
    >>> import torch
    >>> from skdeep.modules import EmbeddingMLP
    >>> net = EmbeddingMLP(n_numeric=2, embeddings=[(5, 3)], n_outputs=1, hidden_layer_sizes=(8,))
    >>> net(torch.tensor([[0.5, -1.0, 4.0], [0.0, 2.0, 0.0]])).shape
    torch.Size([2, 1])
    """

    def __init__(self, n_numeric, embeddings, n_outputs, **mlp_params):
        super().__init__()
        self.n_numeric = n_numeric
        self.embeddings = nn.ModuleList(nn.Embedding(cardinality, dim) for cardinality, dim in embeddings)
        width = n_numeric + sum(dim for _, dim in embeddings)
        self.mlp = MLP(width, n_outputs, **mlp_params, sparse_input=False)

    def forward(self, x):
        codes = x[:, self.n_numeric:].long()
        parts = [x[:, : self.n_numeric]] + [embed(codes[:, i]) for i, embed in enumerate(self.embeddings)]
        return self.mlp(torch.cat(parts, dim=1))


_MEMORY_FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}


def _per_dimension(value, n_dims):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * n_dims


class CNN(nn.Module):
    """A convolutional network: conv blocks, then a dense :class:`MLP` head.

    Each block is ``Conv -> [BatchNorm] -> activation -> [MaxPool]`` with
    "same" padding. Samples of shape ``(C, L)`` get 1-D convolutions, samples of
    shape ``(C, H, W)`` 2-D ones. Pooling never shrinks a side below 1: its
    window is cut to the side's length, and skipped once every side is 1.

    Parameters
    ----------
    input_shape : tuple of int
        Shape of one sample: ``(C, L)`` or ``(C, H, W)``, or ``(L, C)`` and
        ``(H, W, C)`` with ``channels_last=True``. Batches of any shape with
        that many values per sample (flat rows, too) are reshaped to it.
    n_outputs : int
        Number of output units.
    conv_filters : sequence of int, default=(32, 64)
        Output channels of each conv block.
    kernel_size : int or tuple of int, default=3
        Convolution window.
    pool_size : int, tuple of int or None, default=2
        Max-pooling window after each block; None for no pooling.
    hidden_layer_sizes : sequence of int, default=(100,)
        Widths of the dense head's hidden layers.
    activation : str, default="relu"
        Activation of the conv blocks and of the head, a key of :data:`ACTIVATIONS`.
    dropout : float, default=0.0
        Dropout probability in the dense head.
    batch_norm : bool, default=False
        Batch normalisation in each conv block and in the head.
    channels_last : bool, default=False
        Whether the channel axis is the last of ``input_shape``.
    memory_format : {"contiguous", "channels_last"}, default="contiguous"
        Memory layout of 2-D images and of the conv weights inside the network:
        ``"channels_last"`` (NHWC) lets oneDNN on CPUs and cuDNN's tensor cores
        run faster kernels; the values are the same. 1-D signals ignore it.

    Examples
    --------
    >>> import torch
    >>> from skdeep.modules import CNN
    >>> net = CNN(input_shape=(1, 8, 8), n_outputs=10)
    >>> net(torch.zeros(5, 64)).shape
    torch.Size([5, 10])
    >>> CNN(input_shape=(3, 100), n_outputs=1, conv_filters=(8,))(torch.zeros(2, 3, 100)).shape
    torch.Size([2, 1])
    """

    def __init__(
        self,
        input_shape,
        n_outputs,
        conv_filters=(32, 64),
        kernel_size=3,
        pool_size=2,
        hidden_layer_sizes=(100,),
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        channels_last=False,
        memory_format="contiguous",
    ):
        super().__init__()
        if memory_format not in _MEMORY_FORMATS:
            raise ValueError(f"Unknown memory_format {memory_format!r}; choose one of {sorted(_MEMORY_FORMATS)}.")
        self.input_shape = tuple(input_shape)
        self.channels_last = channels_last
        shape = self.input_shape[-1:] + self.input_shape[:-1] if channels_last else self.input_shape
        n_dims = len(shape) - 1
        if n_dims not in (1, 2):
            raise ValueError(
                f"CNN input_shape must be (C, L) or (C, H, W) (channels last: (L, C) or "
                f"(H, W, C)); got {self.input_shape}."
            )
        conv, norm, pool = {
            1: (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d),
            2: (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d),
        }[n_dims]
        channels, sides = shape[0], list(shape[1:])
        blocks = []
        for filters in conv_filters:
            blocks.append(conv(channels, filters, kernel_size, padding="same"))
            if batch_norm:
                blocks.append(norm(filters))
            blocks.append(make_activation(activation))
            if pool_size is not None:
                window = [min(size, side) for size, side in zip(_per_dimension(pool_size, n_dims), sides, strict=True)]
                if any(size > 1 for size in window):
                    blocks.append(pool(tuple(window)))
                    sides = [side // size for side, size in zip(sides, window, strict=True)]
            channels = filters
        self.features = nn.Sequential(*blocks)
        self.head = MLP(int(channels * np.prod(sides)), n_outputs, hidden_layer_sizes,
                        activation, dropout, batch_norm, sparse_input=False)
        # images only: torch has no channels-last layout for 1-D signals
        self.memory_format = _MEMORY_FORMATS[memory_format] if n_dims == 2 else torch.contiguous_format
        self.features.to(memory_format=self.memory_format)

    def forward(self, x):
        if x.layout != torch.strided:
            x = x.to_dense()
        x = x.reshape(x.shape[0], *self.input_shape)
        if self.channels_last:
            x = x.movedim(-1, 1)  # from (n, H, W, C) data this is a channels-last view already
        x = x.contiguous(memory_format=self.memory_format)
        return self.head(self.features(x).flatten(start_dim=1))


class SklearnLoss(nn.Module):
    """A batch's loss from raw network outputs, as scikit-learn defines it.

    The sample-weighted mean of the per-sample losses: ``sum(w * loss) /
    sum(w)`` (0 for a batch whose weights are all 0), or their plain mean
    without weights (computed by one fused reduction).

    Parameters
    ----------
    kind : {"log_loss", "binary_log_loss", "squared_error", "poisson"}
        ``"log_loss"``: softmax cross-entropy against class indices;
        ``"binary_log_loss"``: sigmoid cross-entropy summed over the 0/1 output
        columns (binary and multilabel classification); ``"squared_error"``:
        half the squared error, averaged over outputs; ``"poisson"``: half the
        Poisson deviance of ``exp(output)``, summed over outputs.

    Examples
    --------
    >>> import torch
    >>> from skdeep.modules import SklearnLoss
    >>> loss = SklearnLoss("squared_error")
    >>> raw, target = torch.zeros(2, 1), torch.tensor([[2.0], [0.0]])
    >>> loss(raw, target)
    tensor(1.)
    >>> loss(raw, target, torch.tensor([1.0, 3.0]))
    tensor(0.5000)
    """

    KINDS = ("log_loss", "binary_log_loss", "squared_error", "poisson")

    def __init__(self, kind):
        super().__init__()
        if kind not in self.KINDS:
            raise ValueError(f"Unknown loss {kind!r}; choose one of {self.KINDS}.")
        self.kind = kind

    def forward(self, raw, target, sample_weight=None):
        if sample_weight is None:
            return self._mean(raw, target)
        # a batch of zero total weight contributes nothing (rather than 0 / 0)
        total = sample_weight.sum().clamp_min(torch.finfo(sample_weight.dtype).tiny)
        return (self.per_sample(raw, target) * sample_weight).sum() / total

    def _mean(self, raw, target):
        functional = nn.functional
        if self.kind == "log_loss":
            return functional.cross_entropy(raw, target)
        if self.kind == "binary_log_loss":  # summed over the output columns, averaged over samples
            mean = functional.binary_cross_entropy_with_logits(raw, target)
            return mean if raw.shape[1] == 1 else mean * raw.shape[1]
        if self.kind == "squared_error":
            return 0.5 * functional.mse_loss(raw, target)
        return self.per_sample(raw, target).mean()

    def per_sample(self, raw, target):
        """The loss of each sample, shape (n_samples,)."""
        functional = nn.functional
        if self.kind == "log_loss":
            return functional.cross_entropy(raw, target, reduction="none")
        if self.kind == "binary_log_loss":
            return functional.binary_cross_entropy_with_logits(raw, target, reduction="none").sum(dim=1)
        if self.kind == "squared_error":
            return 0.5 * (raw - target).square().mean(dim=1)
        deviance = raw.exp() - target * raw + torch.special.xlogy(target, target) - target
        return deviance.sum(dim=1)


class WeightedCriterion(nn.Module):
    """A loss of the user's, with scikit-learn's sample weights.

    Without weights the batch's loss is ``loss(raw, target)``, reduced as
    ``loss`` reduces. With them it comes from the per-sample values ``l`` of
    ``per_sample`` (averaged over any further dimensions): their weighted
    mean ``sum(w * l) / sum(w)``, as :class:`SklearnLoss` weighs its own, or
    their weighted sum ``sum(w * l)`` for a loss that sums
    (``reduction="sum"``).

    Parameters
    ----------
    loss : torch.nn.Module
        The loss as the user built it.
    per_sample : torch.nn.Module or None
        The same loss with ``reduction="none"``; None for a loss that has no
        such option (weighted batches are then refused).

    Examples
    --------
    >>> import torch
    >>> from skdeep.modules import WeightedCriterion
    >>> criterion = WeightedCriterion.of(torch.nn.L1Loss)
    >>> raw, target = torch.zeros(2, 1), torch.tensor([[2.0], [0.0]])
    >>> criterion(raw, target), criterion(raw, target, torch.tensor([1.0, 3.0]))
    (tensor(1.), tensor(0.5000))
    """

    def __init__(self, loss, per_sample=None):
        super().__init__()
        self.loss = loss
        self.per_sample = per_sample

    @classmethod
    def of(cls, criterion, arguments=None):
        """The criterion of a loss class (built with ``arguments``) or of a loss instance (copied: never moved)."""
        arguments = dict(arguments or {})
        if isinstance(criterion, nn.Module):
            if arguments:
                raise ValueError(f"criterion__ arguments {sorted(arguments)} build a loss class, and criterion is "
                                 f"the instance {type(criterion).__name__}(...): pass its class instead.")
            loss = copy.deepcopy(criterion)  # the network's loss moves with it to its device and dtype
            per_sample = None
            if isinstance(getattr(criterion, "reduction", None), str):
                per_sample = copy.deepcopy(criterion)
                per_sample.reduction = "none"
            return cls(loss, per_sample)
        loss = criterion(**arguments)
        try:
            per_sample = criterion(**{**arguments, "reduction": "none"})
        except TypeError:  # a loss without the option
            per_sample = None
        return cls(loss, per_sample)

    def forward(self, raw, target, sample_weight=None):
        if sample_weight is None:
            return self.loss(raw, target)
        name = type(self.loss).__name__
        if self.per_sample is None:
            raise ValueError(f"The criterion {name} gives one value per batch (it takes no reduction='none'), so "
                             "sample_weight and class_weight cannot weigh its samples: train without them, or give "
                             "the loss a 'reduction' argument that 'none' makes return one value per sample.")
        values = self.per_sample(raw, target)
        if values.ndim == 0 or values.shape[0] != raw.shape[0]:
            raise ValueError(f"The criterion {name} with reduction='none' returned shape {tuple(values.shape)} for "
                             f"a batch of {raw.shape[0]}; weighing samples needs one value (or row) per sample.")
        weighted = (values.reshape(values.shape[0], -1).mean(dim=1) * sample_weight).sum()
        if getattr(self.loss, "reduction", "mean") == "sum":
            return weighted
        return weighted / sample_weight.sum().clamp_min(torch.finfo(sample_weight.dtype).tiny)
