"""The weight penalties (``alpha`` and ``l1``): one owner for training and for the reported loss."""

import torch


class WeightPenalty:
    """L1 and L2 penalties on the weight matrices of a network, as scikit-learn's MLP defines them.

    The penalty of a batch is ``(l1 * sum(|W|) + l2 / 2 * sum(W ** 2)) /
    batch_weight`` over every weight matrix ``W`` (parameters with more than
    one dimension; biases and normalisation parameters are not penalised).
    Training uses it in one of two ways, chosen by the solver: stochastic
    solvers add its gradient after backward (:meth:`add_gradients`: a fused
    update of all weights, which a CUDA graph can capture), and LBFGS adds it
    to the loss it minimises (:meth:`loss_term`: its line search must see the
    penalised loss). :meth:`value` is the term that the reported ``loss_``
    adds to the data loss.

    Parameters
    ----------
    l1 : float, default=0.0
        Strength of the L1 penalty.
    l2 : float, default=0.0
        Strength of the L2 penalty (scikit-learn's ``alpha``).
    batch_weight : float, default=1.0
        The weight sum of a batch that the penalty is divided by: the
        expected one, ``batch_size * mean sample weight``, for stochastic
        solvers (exact for full batches), the whole data's for LBFGS.

    Examples
    --------
    >>> import torch
    >>> from skdeep._penalty import WeightPenalty
    >>> layer = torch.nn.Linear(2, 1)
    >>> _ = torch.nn.init.constant_(layer.weight, -2.0)
    >>> penalty = WeightPenalty(l1=0.5, l2=1.0, batch_weight=4.0)
    >>> penalty.value(penalty.weights(layer))  # (0.5 * 4 + 1.0 / 2 * 8) / 4
    1.5
    """

    def __init__(self, l1=0.0, l2=0.0, batch_weight=1.0):
        self.l1 = l1
        self.l2 = l2
        self.batch_weight = batch_weight

    def __bool__(self):
        return bool(self.l1 or self.l2)

    @staticmethod
    def weights(module):
        """The penalised parameters of ``module``: its weight matrices and kernels."""
        return [parameter for parameter in module.parameters() if parameter.ndim > 1]

    @torch.no_grad()
    def value(self, weights):
        """The penalty at the current ``weights`` (those :meth:`weights` gives), as a float.

        Computed in float64, as the loss it is added to: the squares of large
        float32 weights overflow float32.
        """
        if not self or not weights:
            return 0.0
        weights = torch.cat([w.reshape(-1) for w in weights]).double()
        total = 0.0
        if self.l1:
            total += self.l1 * float(weights.abs().sum())
        if self.l2:
            total += 0.5 * self.l2 * float(torch.dot(weights, weights))
        return total / self.batch_weight

    def loss_term(self, weights):
        """The penalty as a differentiable tensor, to add to a loss."""
        term = sum(self.l1 * w.abs().sum() + 0.5 * self.l2 * w.square().sum() for w in weights)
        return term / self.batch_weight

    @torch.no_grad()
    def add_gradients(self, weights):
        """Add the penalty's (sub)gradient to the ``.grad`` of each weight, in place."""
        weights = [w for w in weights if w.grad is not None]
        if not weights:
            return
        grads = [w.grad for w in weights]
        if self.l2:
            torch._foreach_add_(grads, weights, alpha=self.l2 / self.batch_weight)
        if self.l1:
            torch._foreach_add_(grads, torch._foreach_sign(weights), alpha=self.l1 / self.batch_weight)


class StackedPenalties:
    """The penalties of many networks whose parameters are the rows of one tensor: their gradients and values at once.

    A stacked search's pack trains its members as one network, each
    member's parameters a row of a (K, P) tensor; each member has its own
    :class:`WeightPenalty`. The per-member coefficients are made once, for
    every step's gradients and every epoch's values.

    Parameters
    ----------
    penalties : list of WeightPenalty
        One per row.
    is_weight : torch.Tensor of shape (n_parameters,)
        1.0 where a parameter belongs to a weight matrix, 0.0 elsewhere.

    Examples
    --------
    >>> import torch
    >>> from skdeep._penalty import StackedPenalties, WeightPenalty
    >>> rows = torch.tensor([[-2.0, -2.0, 5.0], [1.0, 1.0, 5.0]])  # two weights and a bias per row
    >>> penalties = StackedPenalties([WeightPenalty(l1=0.5, l2=1.0, batch_weight=4.0), WeightPenalty()],
    ...                              torch.tensor([1.0, 1.0, 0.0]))
    >>> penalties.values(rows)
    [1.5, 0.0]
    >>> grad = torch.zeros_like(rows)
    >>> penalties.add_gradients(grad, rows)  # (l1 * sign(w) + l2 * w) / batch_weight on the weights
    >>> grad[0].tolist()
    [-0.625, -0.625, 0.0]
    """

    def __init__(self, penalties, is_weight):
        def per_row(values):
            return torch.tensor(values, dtype=torch.float64, device=is_weight.device)

        self._is_weight = is_weight.double()  # (the sums over the weights: products with the mask)
        self._batch_weights = per_row([penalty.batch_weight for penalty in penalties])
        self._l1 = per_row([penalty.l1 for penalty in penalties]) if any(p.l1 for p in penalties) else None
        self._half_l2 = per_row([0.5 * penalty.l2 for penalty in penalties]) if any(p.l2 for p in penalties) else None
        # each row's gradient coefficients, on its weights: strength / batch weight, in the rows' dtype
        self._gradient_scales = {
            name: torch.tensor([getattr(penalty, name) / penalty.batch_weight for penalty in penalties],
                               dtype=is_weight.dtype, device=is_weight.device).view(-1, 1) * is_weight
            for name in ("l2", "l1") if any(getattr(penalty, name) for penalty in penalties)}

    @torch.no_grad()
    def add_gradients(self, grad, rows):
        """Add each row's penalty gradient to its row of ``grad``, in place, as :meth:`WeightPenalty.add_gradients`."""
        if "l2" in self._gradient_scales:
            grad.addcmul_(self._gradient_scales["l2"], rows)
        if "l1" in self._gradient_scales:
            grad.addcmul_(self._gradient_scales["l1"], rows.sign())

    @torch.no_grad()
    def values(self, rows):
        """The value of each row's penalty at ``rows`` (K, P), a list of floats: :meth:`WeightPenalty.value` of each."""
        rows = rows.to(torch.float64, copy=True)  # (a copy: its squares are taken in place)
        total = torch.zeros(rows.shape[0], dtype=torch.float64, device=rows.device)
        if self._l1 is not None:
            total += self._l1 * (rows.abs() @ self._is_weight)
        if self._half_l2 is not None:
            total += self._half_l2 * (rows.square_() @ self._is_weight)
        return (total / self._batch_weights).tolist()
