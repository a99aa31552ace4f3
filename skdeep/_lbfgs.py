"""scikit-learn's ``lbfgs`` solver for torch modules: scipy's L-BFGS-B behind torch's optimizer API."""

import numpy as np
import scipy.optimize
import torch

from skdeep._dynamo_free import without_dynamo


@without_dynamo
class ScipyLBFGS(torch.optim.Optimizer):
    """Minimise a module's loss with scipy's L-BFGS-B, as scikit-learn's MLP does.

    One :meth:`step` runs the whole minimisation, up to ``max_iter``
    iterations and ``max_fun`` loss evaluations, stopping once the largest
    gradient entry is at most ``tol``: scikit-learn's ``max_iter``,
    ``max_fun`` and ``tol`` mean the same here, and so do ``n_iter_`` and its
    convergence warnings. The parameters travel to scipy as one float64
    vector, and each loss evaluation (the ``closure``) runs in the module's
    own dtype and device.

    Parameters
    ----------
    params : iterable of torch.Tensor or dict
        The parameters to optimise.
    lr : float, default=1.0
        Unused (L-BFGS-B chooses its steps by line search); kept for skorch,
        which passes a learning rate to every optimizer.
    max_iter : int, default=200
        Maximum number of iterations.
    max_fun : int, default=15000
        Maximum number of loss evaluations.
    tol : float, default=1e-4
        Stop when every gradient entry is at most ``tol`` in absolute value.

    Attributes
    ----------
    result : dict or None
        After a step: ``n_iter``, ``n_fun`` (loss evaluations), ``status``
        (scipy's: 0 converged, 1 a limit reached, 2 stopped otherwise) and
        ``message``.

    Examples
    --------
    >>> import torch
    >>> from skdeep._lbfgs import ScipyLBFGS
    >>> w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    >>> optimizer = ScipyLBFGS([w], tol=1e-6)
    >>> def closure():
    ...     w.grad = None
    ...     loss = (w - 1.0).square().sum()
    ...     loss.backward()
    ...     return loss
    >>> _ = optimizer.step(closure)
    >>> w.detach().round(decimals=4).tolist(), optimizer.result["status"]
    ([1.0, 1.0], 0)
    """

    #: one step runs the whole minimisation, calling the closure (the loss and its gradients) as often as it needs
    minimises_in_one_step = True

    def __init__(self, params, lr=1.0, max_iter=200, max_fun=15000, tol=1e-4):
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_fun=max_fun, tol=tol))
        self.result = None

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    @torch.no_grad()
    def _assign(self, params, x):
        start = 0
        for p in params:
            values = torch.from_numpy(x[start:start + p.numel()])
            p.copy_(values.view(p.shape))
            start += p.numel()

    @staticmethod
    def _flat(tensors):
        return torch.cat([t.reshape(-1) for t in tensors]).double().cpu().numpy()

    def step(self, closure):
        """Run L-BFGS-B to convergence; ``closure`` returns the loss after computing gradients.

        Should scipy end on a non-finite loss (a line search that overflowed),
        the parameters go back to the point of lowest finite loss evaluated.

        Parameters
        ----------
        closure : callable
            Sets the gradients of the parameters for their current values
            and returns the loss (a scalar tensor).

        Returns
        -------
        loss : float
            The loss at the solution.
        """
        params = self._params()
        options = self.param_groups[0]
        best = [np.inf, None]  # the lowest finite loss evaluated, and where

        def loss_and_gradient(x):
            self._assign(params, x)
            with torch.enable_grad():
                loss = float(closure().detach())
            if loss < best[0]:
                best[:] = loss, x.copy()
            grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in params]
            return loss, self._flat(grads)

        result = scipy.optimize.minimize(
            loss_and_gradient,
            self._flat([p.detach() for p in params]),
            method="L-BFGS-B",
            jac=True,
            options={"maxiter": options["max_iter"], "maxfun": options["max_fun"], "gtol": options["tol"]},
        )
        solution, loss = np.asarray(result.x, dtype=np.float64), float(result.fun)
        if not np.isfinite(loss) and best[1] is not None:  # a line search that ended on overflow: back off
            loss, solution = best
        self._assign(params, solution)
        self.result = {"n_iter": min(int(result.nit), options["max_iter"]), "n_fun": int(result.nfev),
                       "status": int(result.status), "message": str(result.message)}
        return loss
