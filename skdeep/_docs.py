"""Docstring sections shared by skdeep's estimators, written once."""

_SECTIONS = {
    "{architecture_parameters}": """\
hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
    The ith element is the number of neurons in the ith hidden layer; ``()``
    means no hidden layer (a linear model).

activation : {"relu", "identity", "logistic", "tanh", "gelu", "silu", "elu", \
"leaky_relu", "selu"}, default="relu"
    Activation of the hidden layers. The first four are scikit-learn's.

dropout : float, default=0.0
    Dropout probability after each hidden activation.

batch_norm : bool, default=False
    Add batch normalisation before each hidden activation.""",
    "{convolution_parameters}": """\
conv_filters : array-like of int, default=(32, 64)
    Output channels of each convolutional block. A block is ``conv -> [batch
    norm] -> activation -> [max-pool]``, with "same" padding.

kernel_size : int or tuple of int, default=3
    Convolution window.

pool_size : int, tuple of int or None, default=2
    Max-pooling window after each block, None for no pooling. Pooling stops
    shrinking a side once it reaches 1.

input_shape : tuple of int or None, default=None
    Shape of one sample: ``(C, H, W)`` for images, ``(C, L)`` for 1-D
    signals (``(H, W, C)`` and ``(L, C)`` with ``data_format="channels_last"``).
    Flat rows, e.g. from a scaler or a DataFrame of pixel columns, are reshaped
    to it. With None, samples keep the shape seen at fit: ``(n, C, H, W)``
    images, ``(n, H, W)`` one-channel images, and flat ``(n, n_features)`` rows
    as one-channel 1-D signals. ``(n, C, L)`` signals need
    ``input_shape=(C, L)``.

data_format : {"channels_first", "channels_last"}, default="channels_first"
    Where the channel axis is in each sample.

memory_format : {"auto", "channels_last", "contiguous"}, default="auto"
    How 2-D images and conv weights are laid out in memory inside the network,
    whatever ``data_format`` the input has. ``"channels_last"`` (NHWC) is what
    oneDNN on CPUs runs fastest (LeNet trains 1.2x-1.3x faster in float32 on
    the benchmark CPU, see the benchmarks page) and what cuDNN's tensor cores
    prefer; the results are the same up to float rounding. ``"auto"`` uses it
    on the CPU and keeps ``"contiguous"`` (torch's default) on GPUs, where it
    has not been measured yet. ``"lbfgs"`` and 1-D signals always use
    ``"contiguous"``.""",
    "{training_parameters}": """\
solver : {"adam", "sgd", "lbfgs", "adamw", "rmsprop", "adagrad"}, default="adam"
    Optimizer. ``"lbfgs"`` is full-batch (:class:`torch.optim.LBFGS` with a
    strong-Wolfe line search), bounded by ``max_iter`` and ``max_fun``.

alpha : float, default=0.0001
    Strength of the L2 penalty on the weight matrices (not on biases). As in
    scikit-learn it stands for ``alpha / 2 * ||W||^2 / (batch's weight sum)``
    in the loss; its gradient ``alpha / (batch_size * mean weight) * W`` is
    added after backward (exact for full batches). For ``"adamw"`` it is the
    decoupled weight decay coefficient; ``"lbfgs"`` adds the penalty to the
    loss itself.

batch_size : int or "auto", default="auto"
    Size of minibatches; ``"auto"`` is ``min(200, n_samples)``. Ignored by
    ``"lbfgs"``.

learning_rate : {"constant", "invscaling", "adaptive", "cosine", "onecycle"}, \
default="constant"
    Learning-rate schedule. ``"invscaling"`` sets ``learning_rate_init /
    (t + 1) ** power_t`` after each epoch (``t``: samples seen);
    ``"adaptive"`` divides the rate by 5 each time ``n_iter_no_change``
    epochs pass without improvement; ``"cosine"`` anneals it to 0 over
    ``max_iter`` epochs; ``"onecycle"`` warms it up then anneals it, as
    :class:`torch.optim.lr_scheduler.OneCycleLR`. Unlike scikit-learn, the
    schedules apply to every stochastic solver, not only ``"sgd"``.

learning_rate_init : float, default=0.001
    Initial learning rate of the stochastic solvers.

power_t : float, default=0.5
    Exponent of the ``"invscaling"`` schedule.

max_iter : int, default=200
    Maximum number of epochs (stochastic solvers) or of iterations
    (``"lbfgs"``).

shuffle : bool, default=True
    Whether to shuffle the samples at each epoch.

random_state : int, RandomState instance or None, default=None
    Seeds weight initialisation, shuffling, dropout and the validation
    split. An int gives reproducible results; the global numpy and torch
    random states are left untouched.

tol : float, default=1e-4
    Minimum improvement of the loss (or of the validation score with
    ``early_stopping``) that counts as progress.

verbose : bool or int, default=False
    ``1`` (or True) prints scikit-learn's ``Iteration N, loss = ...`` line
    after each epoch; ``2`` or more shows a progress bar over the epochs with
    the running loss (and validation score), in a terminal or a notebook.

warm_start : bool, default=False
    Continue from the previous fit's weights instead of starting afresh. As
    in scikit-learn, each warm fit builds a new optimizer and learning-rate
    schedule from the current parameters (a new ``learning_rate_init``,
    ``alpha`` or ``max_iter`` takes effect), while the loss curve and the
    stopping counts go on; the architecture must stay the same.

momentum : float, default=0.9
    Momentum of ``"sgd"``.

nesterovs_momentum : bool, default=True
    Whether ``"sgd"`` uses Nesterov's momentum (when ``momentum > 0``).

early_stopping : bool, default=False
    Hold out ``validation_fraction`` of the training data (stratified for
    classifiers), stop when its score stops improving by ``tol`` for
    ``n_iter_no_change`` epochs, and restore the best epoch's weights.

validation_fraction : float, default=0.1
    Fraction of the training data held out with ``early_stopping``.

beta_1 : float, default=0.9
    Decay of the first moment estimates of ``"adam"`` and ``"adamw"``.

beta_2 : float, default=0.999
    Decay of the second moment estimates of ``"adam"`` and ``"adamw"``.

epsilon : float, default=1e-8
    Numerical stability term of ``"adam"``, ``"adamw"``, ``"rmsprop"`` and
    ``"adagrad"``.

n_iter_no_change : int, default=10
    Number of epochs without ``tol`` improvement after which training stops.

max_fun : int, default=15000
    Maximum number of loss evaluations of ``"lbfgs"``.

l1 : float, default=0.0
    Strength of an L1 penalty on the weight matrices, added to the loss as
    ``l1 * sum(|W|) / n_batch``.

device : {"auto", "cpu", "cuda", "cuda:N", "mps"}, default="auto"
    Where to train and predict. ``"auto"`` picks CUDA when available (the
    GPU with the most free memory), then Apple MPS, then the CPU. The choice
    is recorded in ``device_``.

precision : {"float32", "float64", "bfloat16", "float16"}, default="float32"
    Numerics of training and prediction. ``"float32"`` and ``"float64"`` set
    the type of the weights and of the data (X may be float64 or float32
    either way). ``"bfloat16"`` and ``"float16"`` keep float32 weights and run
    the forward pass in mixed precision (:func:`torch.autocast`), the loss in
    float32; ``"float16"`` adds loss scaling. Mixed precision mostly pays off
    on GPUs (tensor cores) and needs a stochastic solver.

compile : bool or {"default", "reduce-overhead", "max-autotune"}, default=False
    Compile the network with :func:`torch.compile` (through skorch's own
    ``compile`` option): True for the default mode, or a mode name;
    ``"reduce-overhead"`` captures CUDA graphs, which removes most kernel
    launch costs on a GPU. Compiling takes from seconds to a minute at the
    first fit, so it pays off on long fits only. The compiled model pickles
    and predicts like any other.

cuda_graph : bool or "auto", default="auto"
    On a CUDA device, capture one whole training step (batch gather, forward,
    backward, penalties, optimizer update) as a CUDA graph and replay it for
    every full batch: the GPU then runs without waiting for Python, which
    otherwise bounds small and mid-sized networks (4x-7x faster on the GPU
    benchmark's MLP). The kernels and results are those of the step without
    a graph. It needs ``solver`` "adam", "adamw" or "sgd", not
    ``precision="float16"`` or ``compile``, the training data in GPU memory
    (where it moves when it takes at most half of the free memory), and a
    network whose forward pass never waits for the host. ``"auto"`` captures
    skdeep's own networks when all of this holds and trains without a graph
    otherwise; a module of your own (``TorchClassifier``, ``TorchRegressor``)
    is captured only with True, which also raises on conflicting parameters
    and warns when the data is not on the GPU. Ignored on the CPU and MPS.""",
    "{tabular_parameters}": """\
categorical_features : {"from_dtype"}, array-like of str, int or bool, or None, default=None
    Columns learned as embeddings, as in scikit-learn's
    HistGradientBoosting: ``"from_dtype"`` takes pandas ``category`` and
    polars ``Categorical`` / ``Enum`` columns; or column names, indices or a
    boolean mask. Each one is encoded to integer codes and looked up in a
    learned embedding, concatenated with the numeric columns. Missing values
    and categories not seen at fit get codes of their own instead of failing.
    Numeric columns keep scikit-learn's rules (NaN is an error: impute first).

embedding_dims : int, dict or None, default=None
    Size of each embedding: None for ``min(50, (n_categories + 1) // 2)``, an
    int for every column, or ``{column name: size}`` (others use the rule).""",
    "{tabular_attributes}": """\
is_categorical_ : ndarray of bool of shape (n_features,) or None
    Which columns were learned as embeddings, with ``categorical_features``.

categorical_encoder_ : sklearn.preprocessing.OrdinalEncoder
    The categories of each such column (``categories_``), with
    ``categorical_features``. Codes 0 and 1 of an embedding are reserved for
    missing values and unseen categories.""",
    "{fitted_attributes}": """\
loss_ : float
    The loss after the last epoch, penalties included.

best_loss_ : float or None
    The lowest loss reached; None with ``early_stopping``.

loss_curve_ : list of float
    The loss after each epoch (stochastic solvers only).

validation_scores_ : list of float or None
    The validation score after each epoch with ``early_stopping``, else None.

best_validation_score_ : float or None
    The best validation score with ``early_stopping``, else None.

t_ : int
    Number of training samples seen by the solver.

coefs_ : list of ndarray
    The ith element is the weight matrix of layer i, of shape (n_in, n_out).

intercepts_ : list of ndarray
    The ith element is the bias vector of layer i + 1.

n_features_in_ : int
    Number of features (values per sample) seen during fit.

feature_names_in_ : ndarray of shape (n_features,)
    Names of the features seen during fit, when X had string column names.

input_shape_ : tuple of int
    Shape of one sample seen during fit, e.g. ``(28, 28)`` for images.

n_iter_ : int
    Number of epochs run (iterations for ``"lbfgs"``).

n_layers_ : int
    Number of dense layers plus one, scikit-learn's count (input and output
    layers included); convolutional blocks and embeddings are not counted.

n_outputs_ : int
    Number of output units.

out_activation_ : str
    Output non-linearity: "softmax", "logistic", "identity" or "exp".

net_ : skdeep._net.SkdeepNet
    The trained skorch net.

module_ : torch.nn.Module
    The trained PyTorch module (``net_.module_``).

device_ : torch.device
    The device the model lives on.

history_ : pandas.DataFrame
    One row per epoch: ``epoch``, ``loss``, ``train_loss`` (without
    penalties), ``validation_score`` (with ``early_stopping``),
    ``learning_rate`` and ``duration`` in seconds.""",
}


def fill_doc(cls):
    """Class decorator: replace the shared ``{section}`` markers of a docstring."""
    for marker, text in _SECTIONS.items():
        cls.__doc__ = cls.__doc__.replace(marker, text.replace("\n", "\n    "))
    return cls
