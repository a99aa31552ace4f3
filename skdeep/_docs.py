"""Docstring sections shared by skdeep's estimators, written once.

:func:`fill_doc` builds each estimator's Parameters section from its
``__init__`` signature, so that the parameters are documented in signature
order and none goes undocumented.
"""

import inspect
import re
import textwrap


def _split_entries(text):
    """``{name: entry}`` of the numpydoc entries in ``text``, whose headers start at column 0."""
    blocks = re.split(r"\n+(?=\S)", text.strip())
    return {re.match(r"\w+", block)[0]: block.rstrip() for block in blocks if block}


#: the entries of the parameters that mean something else in the convolutional networks' dense head
CNN_HEAD_PARAMETERS = _split_entries("""\
hidden_layer_sizes : array-like of shape (n_dense_layers,), default=(100,)
    The ith element is the number of neurons in the ith hidden layer of the
    dense head after the convolutional blocks; ``()`` means none (the blocks'
    flattened output goes straight to the output layer).

dropout : float, default=0.0
    Dropout probability after each hidden activation of the dense head (the
    convolutional blocks have none).
""")

#: numpydoc entry of each parameter that several estimators share, by name
_PARAMETERS = _split_entries("""\
hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
    The ith element is the number of neurons in the ith hidden layer; ``()``
    means no hidden layer (a linear model).

activation : {"relu", "identity", "logistic", "tanh", "gelu", "silu", "elu", \
"leaky_relu", "selu"}, default="relu"
    Activation of the hidden layers. The first four are scikit-learn's.

dropout : float, default=0.0
    Dropout probability after each hidden activation.

batch_norm : bool, default=False
    Add batch normalisation before each hidden activation.

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
    ``"contiguous"``.

solver : {"adam", "sgd", "lbfgs", "adamw", "rmsprop", "adagrad"}, default="adam"
    Optimizer. ``"lbfgs"`` is full-batch: scipy's L-BFGS-B, as in
    scikit-learn, bounded by ``max_iter`` and ``max_fun`` and stopping once
    every gradient entry is at most ``tol``.

alpha : float, default=0.0001
    Strength of the L2 penalty on the weight matrices (not on biases). As in
    scikit-learn it stands for ``alpha / 2 * ||W||^2 / batch_weight`` in the
    loss, where ``batch_weight`` is the batch's expected weight sum,
    ``batch_size * mean sample weight`` (exact for full batches). The
    stochastic solvers add its gradient ``alpha * W / batch_weight`` after
    backward; ``"lbfgs"`` adds the penalty to the loss it minimises. For
    ``"adamw"`` it is the decoupled weight decay coefficient of the optimizer,
    and is not part of ``loss_``. ``set_params(alpha=...)`` between
    ``partial_fit`` calls takes effect at the next call, as in scikit-learn.

batch_size : int or "auto", default="auto"
    Size of minibatches; ``"auto"`` is ``min(200, n_samples)``. Ignored by
    ``"lbfgs"``. Read at every ``fit`` and ``partial_fit`` call.

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
    Any truthy value prints scikit-learn's ``Iteration N, loss = ...`` line
    after each epoch (and ``Validation score: ...`` with ``early_stopping``);
    ``2`` or more also shows a progress bar over the epochs with the running
    loss (and validation score), in a terminal or a notebook.

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
    Strength of an L1 penalty on the weight matrices,
    ``l1 * sum(|W|) / batch_weight`` in the loss, applied like ``alpha``: the
    stochastic solvers add its subgradient ``l1 * sign(W) / batch_weight``
    after backward; ``"lbfgs"`` adds the penalty to the loss it minimises.

class_weight : dict, list of dict, "balanced" or None, default=None
    Weights of the classes in the loss, multiplied with ``sample_weight``:
    ``{label: weight}``; for multilabel ``y``, a list of one ``{0: weight,
    1: weight}`` dict per label; or ``"balanced"`` for weights inversely
    proportional to the class frequencies of the ``y`` passed to ``fit``
    (``partial_fit``, which sees one batch at a time, refuses it, as
    scikit-learn's ``SGDClassifier`` does).

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
    and warns when the data is not on the GPU. Ignored on the CPU and MPS.

checkpoint : str, os.PathLike or None, default=None
    A file that ``fit`` writes the training state to every
    ``checkpoint_every`` epochs, so that a fit killed mid-way (a crashed
    notebook, a preempted machine) can resume. When ``fit`` starts and the
    file holds the state of a fit of the same estimator class with the same
    parameters (``verbose`` and these two aside) on the same data, it resumes
    from there: it runs the remaining epochs only, and ends with the model
    an uninterrupted fit gives (the same weights, curves and ``n_iter_`` for
    an int ``random_state``). A file from another fit is ignored with a
    warning, and overwritten. Each write replaces the file atomically (a
    temporary file in the same directory, synced, then renamed), so a killed
    process never leaves a partial one; the file is removed once ``fit``
    completes. It holds arrays and JSON values, no pickled code. Only ``fit``
    with a stochastic solver checkpoints: ``"lbfgs"`` (which runs all its
    iterations in one step), ``partial_fit`` and warm fits of a fitted
    estimator refuse it. Clones share the path: in a search or
    cross-validation, leave it None.

checkpoint_every : int, default=1
    Epochs between two writes of ``checkpoint``; a resumed fit goes on from
    the last one written.

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
    int for every column, or ``{column name: size}`` (others use the rule).

loss : {"squared_error", "poisson"}, default="squared_error"
    Loss to minimise. ``"poisson"`` predicts ``exp(output)`` and needs
    non-negative targets.

module : type or callable
    A :class:`torch.nn.Module` subclass, or a callable that returns a
    module. It is called with ``module_params`` and the ``module__<argument>``
    parameters, plus ``n_features`` (values per sample), ``n_outputs`` and
    ``input_shape`` (shape of one sample) for each of these it accepts and
    they do not set.

module_params : dict, default=None
    Keyword arguments of ``module``, as a whole. One argument is set (and
    grid-searched) as ``module__<argument>``, as in skorch; an argument set
    both ways is an error.

callbacks : list of skorch callbacks or (name, callback) pairs, default=None
    skorch callbacks (:mod:`skorch.callbacks`, or subclasses of
    :class:`skorch.callbacks.Callback` of your own), run at skorch's hook
    points with skorch's arguments, after skdeep's own. A callback is named
    by its class name, as skorch names it, unless a pair names it;
    ``callbacks__<name>__<argument>`` sets its arguments. The objects given
    are left as they are: each fit runs a copy of them, which
    ``net_.callbacks_`` holds with its state. See :doc:`/user_guide/callbacks`.

optimizer : type, default=None
    A class with torch's optimizer interface (``torch.optim.NAdam``, one of
    your own), built as ``optimizer(parameters, lr=learning_rate_init,
    **arguments)`` with the ``optimizer__<argument>`` parameters. It takes
    the place of the ``solver``'s optimizer, so ``solver`` keeps its default;
    ``learning_rate`` schedules, ``alpha`` (an L2 penalty added to the
    gradients) and ``l1`` still apply, the options of the built-in solvers
    (``beta_1``, ``beta_2``, ``epsilon``, ``momentum``,
    ``nesterovs_momentum``) do not. None: the ``solver``'s optimizer, to
    which ``optimizer__<argument>`` passes the options that skdeep does not
    set itself (``amsgrad``, ``weight_decay``...).

criterion : type or torch.nn.Module, default=None
    The training loss: a torch loss class (built with the
    ``criterion__<argument>`` parameters) or instance (copied), called as
    ``criterion(outputs, targets)`` with the module's raw outputs and the
    encoded targets: class indices (multiclass), 0/1 floats of shape
    ``(n, 1)`` (binary, whose module returns one logit) or ``(n, n_labels)``
    (multilabel), floats of shape ``(n, n_outputs)`` (regression). With
    ``sample_weight`` or ``class_weight`` it is built with
    ``reduction="none"``, and the per-sample values are weighed as
    scikit-learn weighs them: ``sum(w * l) / sum(w)``, or ``sum(w * l)`` for
    a loss built with ``reduction="sum"`` (a loss's own normalisation, by the
    class weights of ``CrossEntropyLoss(weight=...)`` say, does not apply
    then); a loss that cannot give per-sample values is refused then.
    ``loss_``, ``loss_curve_`` and ``history_`` report it (plus the
    penalties). None: scikit-learn's loss (cross-entropy, or the
    regressor's ``loss``).

augment : callable, default=None
    A function of each training batch of ``X`` that returns the batch to
    train on: random shifts, flips or crops, say. It gets a copy of the batch
    (it may change it in place) as the module gets it: a tensor on the
    device of shape ``(batch, *sample_shape)``, channels last for
    ``data_format="channels_last"`` images, sparse (COO) for sparse X; it
    must return a tensor of the same dtype and number of samples.
    torchvision's ``transforms.v2`` take ``(..., C, H, W)`` batches. It never
    runs at prediction, validation or scoring. Its draws from torch's global
    random generator are seeded from ``random_state``, so a fit with an int
    ``random_state`` is reproducible.
""")

#: attribute sections that several estimators share, by the marker they replace
_ATTRIBUTES = {
    "{tabular_attributes}": """\
is_categorical_ : ndarray of bool of shape (n_features,) or None
    Which columns were learned as embeddings, with ``categorical_features``.

categorical_encoder_ : sklearn.preprocessing.OrdinalEncoder
    The categories of each such column (``categories_``), with
    ``categorical_features``. Codes 0 and 1 of an embedding are reserved for
    missing values and unseen categories.""",
    "{fitted_attributes}": """\
loss_ : float
    The loss of the last epoch, as scikit-learn's ``loss_``: its data loss
    plus each penalty once, computed on the weights at the end of the epoch.

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
    The ith element is the weight matrix of layer i, of shape (n_in, n_out),
    in the dtype of X at fit (float32 or float64), as in scikit-learn.

intercepts_ : list of ndarray
    The ith element is the bias vector of layer i + 1, in the dtype of X at
    fit.

n_features_in_ : int
    Number of features (values per sample) seen during fit.

feature_names_in_ : ndarray of shape (n_features,)
    Names of the features seen during fit, when X had string column names.

input_shape_ : tuple of int
    Shape of one sample seen during fit, e.g. ``(28, 28)`` for images.

n_iter_ : int
    Number of epochs run by the last call of ``fit`` or ``partial_fit`` (1
    after each ``partial_fit``; iterations for ``"lbfgs"``), as scikit-learn
    counts.

n_layers_ : int
    Number of dense layers plus one, scikit-learn's count (input and output
    layers included); convolutional blocks and embeddings are not counted.

n_outputs_ : int
    Number of output units.

out_activation_ : str
    Output non-linearity: "softmax", "logistic", "identity" or "exp".

net_ : skorch.NeuralNet
    The trained skorch net (of a subclass of skorch's ``NeuralNet`` that
    trains as scikit-learn's MLP does): its ``history``, ``module_``,
    ``optimizer_`` and ``callbacks_`` are skorch's.

module_ : torch.nn.Module
    The trained PyTorch module (``net_.module_``).

device_ : torch.device
    The device the model lives on.

history_ : pandas.DataFrame
    One row per epoch: ``epoch``, ``loss`` (the ``loss_curve_`` value: data
    loss plus penalties), ``train_loss`` (the data loss alone: the mean over
    the epoch's batches, without penalties), ``validation_score`` (with
    ``early_stopping``), ``learning_rate`` and ``duration`` in seconds.""",
}

#: a Parameters section: its header's indentation, and its body up to the next section or the end
_PARAMETERS_SECTION = re.compile(
    r"^(?P<indent>[ \t]*)Parameters\n(?P=indent)-+\n"
    r"(?P<body>.*?)"
    r"(?=^(?P=indent)\S[^\n]*\n(?P=indent)-+\n|\Z)",
    re.MULTILINE | re.DOTALL,
)


def fill_doc(cls):
    """Class decorator: complete the Parameters and Attributes of a docstring.

    The Parameters section holds a ``{parameters}`` marker and, next to it,
    the entries of the parameters whose text is the class's own. The section
    becomes the entries of all ``__init__`` parameters in signature order: the
    class's own, else those of its ``_parameter_docs`` (entries that a family
    of estimators shares), else the shared one of ``_PARAMETERS``. Each marker of
    ``_ATTRIBUTES`` standing on a line of its own becomes its section. Inserted
    text gets the indentation of its marker, so that indented docstrings and
    the dedented ones of Python 3.13 both come out right.

    Parameters
    ----------
    cls : type
        The class to document.

    Returns
    -------
    cls : type
        The same class, its ``__doc__`` completed.

    Raises
    ------
    ValueError
        If the docstring has no Parameters section with ``{parameters}``, if a
        parameter has no entry, or if the class documents one it does not
        take.

    Examples
    --------
    >>> import inspect
    >>> from skdeep._docs import fill_doc
    >>> @fill_doc
    ... class Net:
    ...     '''A network.
    ...
    ...     Parameters
    ...     ----------
    ...     {parameters}
    ...
    ...     width : int, default=8
    ...         Neurons per layer.
    ...     '''
    ...     def __init__(self, width=8, *, shuffle=True):
    ...         self.width, self.shuffle = width, shuffle
    >>> print(inspect.getdoc(Net))
    A network.
    <BLANKLINE>
    Parameters
    ----------
    width : int, default=8
        Neurons per layer.
    <BLANKLINE>
    shuffle : bool, default=True
        Whether to shuffle the samples at each epoch.
    """
    doc = cls.__doc__
    for marker, text in _ATTRIBUTES.items():
        doc = _replace_marker(doc, marker, text)
    cls.__doc__ = _fill_parameters(doc, cls)
    return cls


def _replace_marker(doc, marker, text):
    """``doc`` with each line that holds only ``marker`` replaced by ``text``, indented as the marker was."""
    return re.sub(rf"^([ \t]*){re.escape(marker)}$", lambda line: textwrap.indent(text, line[1]), doc, flags=re.M)


def _fill_parameters(doc, cls):
    """``doc`` with its Parameters section made of the entries of ``cls.__init__``'s parameters."""
    section = _PARAMETERS_SECTION.search(doc)
    if section is None or "{parameters}" not in section["body"]:
        raise ValueError(f"{cls.__name__}'s docstring needs a Parameters section holding {{parameters}}.")
    own = _split_entries(textwrap.dedent(section["body"]).replace("{parameters}", ""))
    entries = textwrap.indent("\n\n".join(_parameter_entries(cls, own)), section["indent"])
    return doc[: section.start("body")] + entries + "\n\n" + doc[section.end("body") :]


def _parameter_entries(cls, own):
    """The entries of ``cls.__init__``'s parameters in signature order: those in ``own``, else the shared ones."""
    names = list(inspect.signature(cls.__init__).parameters)[1:]
    documented = {**_PARAMETERS, **getattr(cls, "_parameter_docs", {}), **own}
    missing = [name for name in names if name not in documented]
    foreign = [name for name in own if name not in names]
    if missing or foreign:
        raise ValueError(
            f"{cls.__name__}'s docstring must document exactly its __init__ parameters: "
            f"{missing} have no entry (in skdeep._docs._PARAMETERS, the class's _parameter_docs or its "
            "Parameters section), "
            f"{foreign} are not parameters."
        )
    return [documented[name] for name in names]
