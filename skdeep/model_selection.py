"""scikit-learn's hyper-parameter searches, training the candidates of a skdeep MLP as one stacked network.

:class:`GridSearchCV` and :class:`RandomizedSearchCV` are scikit-learn's,
with one more parameter, ``pack_size``. Over a skdeep MLP (bare, or the last
step of a :class:`~sklearn.pipeline.Pipeline`), the (candidate, split) fits
whose networks share their shape train together, as the members of one
stacked network (see ``docs/user_guide/stacked_search.md``); each member
trains exactly as its own ``fit`` would. Everything else is scikit-learn's
search: the candidates, the splits, the scoring, ``cv_results_``, ``refit``
and the errors.
"""

from numbers import Integral

import numpy as np
from joblib import parallel_config
from sklearn import model_selection
from sklearn.base import is_classifier
from sklearn.model_selection import check_cv
from sklearn.model_selection._split import _CVIterableWrapper
from sklearn.utils._param_validation import Interval, StrOptions

from skdeep._packing import SearchPacks, network_step
from skdeep._shelf import open_shelf

__all__ = ["GridSearchCV", "RandomizedSearchCV"]

_SEARCH_PARAMETERS_DOC = """scoring : str, callable, list, tuple or dict, default=None
    n_jobs : int, default=None
        With stacking, scikit-learn's loop runs in threads (the fits that do
        not stack train in parallel threads).
    refit : bool, str or callable, default=True
        The best candidate is refitted on its own, as in scikit-learn.
    cv : int, cross-validation generator or iterable, default=None
    verbose : int, default=0
    pre_dispatch : int or str, default='2*n_jobs'"""

_LAST_PARAMETERS_DOC = """error_score : "raise" or numeric, default=np.nan
    return_train_score : bool, default=False
    pack_size : int, "auto" or None, default="auto"
        The most networks trained together as one stacked network. "auto"
        fills a memory budget (256 MiB on the CPU, half the free memory of a
        GPU); None trains every fit on its own, as scikit-learn's search
        does."""

_ATTRIBUTES_DOC = """cv_results_, best_estimator_, best_score_, best_params_, best_index_, scorer_, n_splits_, \
refit_time_, multimetric_, classes_, n_features_in_, feature_names_in_
        As for :class:`sklearn.model_selection.{search}`.
    n_stacked_fits_ : int
        The (candidate, split) fits that trained in packs (a candidate that
        repeats an earlier one takes a copy of its fit); the others trained
        on their own.
    stacked_fit_time_ : float
        Seconds spent preparing and training the packs. Each stacked fit's
        share of it is counted in ``cv_results_["mean_fit_time"]``."""


class _StackedSearch:
    """What skdeep's searches add to scikit-learn's: the packs, trained before scikit-learn's loop runs."""

    _parameter_constraints: dict = {
        "pack_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
    }

    def fit(self, X, y=None, **params):
        """Run fit with all sets of parameters, stacking the networks that stack.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Targets.
        **params : dict
            Parameters of the estimator's ``fit`` and of the splitter
            (``groups``), as scikit-learn's search takes them. Fits given
            parameters other than ``groups`` train on their own.

        Returns
        -------
        self : object
            The fitted search.
        """
        self._validate_params()
        self.n_stacked_fits_, self.stacked_fit_time_ = 0, 0.0
        if not self._stacks(params):
            return super().fit(X, y, **params)
        groups = params.get("groups")
        # the splits, drawn once (a splitter may draw at random): the packs and scikit-learn's loop share them
        splits = list(check_cv(self.cv, y, classifier=is_classifier(self.estimator)).split(X, y, groups))
        cv = self.cv
        with open_shelf() as shelf:
            packs = self._packs = SearchPacks(self.estimator, X, y, self.pack_size, shelf)
            self._data, self.cv = (X, y, groups), _CVIterableWrapper(splits)
            try:
                with parallel_config(backend="threading"):  # (scikit-learn's loop takes from this process's shelf)
                    super().fit(X, y, **params)
            finally:
                self.cv = cv
                del self._packs, self._data
            taken = shelf.taken()
        self.n_stacked_fits_ = len(taken)
        self.stacked_fit_time_ = float(sum(packs.fit_seconds.values()))
        self._add_pack_times({position: packs.fit_seconds[position] for position in taken})
        return self

    def _stacks(self, params):
        """Whether this search may stack: a skdeep network, no fit parameters but ``groups``, no sklearn callbacks."""
        step = network_step(self.estimator)
        estimators = [self, self.estimator] + ([] if step is None else [step[2]])
        return (self.pack_size is not None and step is not None and not set(params) - {"groups"}
                and not any(getattr(estimator, "_skl_callbacks", None) for estimator in estimators))

    def _run_search(self, evaluate_candidates, *, callback_ctx=None):
        # (scikit-learn >= 1.9 passes its callbacks' context, which earlier versions do not take)
        kwargs = {} if callback_ctx is None else {"callback_ctx": callback_ctx}
        packs = getattr(self, "_packs", None)
        if packs is None:
            return super()._run_search(evaluate_candidates, **kwargs)
        X, y, groups = self._data

        def evaluate_stacked(candidate_params, cv=None, more_results=None, **evaluate_kwargs):
            candidate_params = list(candidate_params)
            packs.train(candidate_params, list((cv or self.cv).split(X, y, groups)))
            return evaluate_candidates(candidate_params, cv, more_results, **evaluate_kwargs)

        return super()._run_search(evaluate_stacked, **kwargs)

    def _add_pack_times(self, fit_seconds):
        """Add each stacked fit's share of its pack's time to ``cv_results_``'s mean fit times."""
        if not fit_seconds:
            return
        shares = np.zeros((len(self.cv_results_["params"]), self.n_splits_))
        for (candidate, split), seconds in fit_seconds.items():
            shares[candidate, split] = seconds
        self.cv_results_["mean_fit_time"] = self.cv_results_["mean_fit_time"] + shares.mean(axis=1)


class GridSearchCV(_StackedSearch, model_selection.GridSearchCV):
    """Exhaustive search over a parameter grid; the networks of a skdeep MLP train stacked.

    scikit-learn's :class:`sklearn.model_selection.GridSearchCV`, with the
    same parameters, attributes and results, plus ``pack_size``. When the
    estimator is a skdeep MLP, bare or the last step of a
    :class:`~sklearn.pipeline.Pipeline`, the (candidate, split) fits whose
    networks have the same shape train together as one stacked network, each
    exactly as its own ``fit`` would (the same initial weights, shuffling,
    schedule and stopping rule; in ``precision="float64"`` the same model to
    rounding), so the search gives scikit-learn's results in a fraction of the
    time. Candidates that differ in ``hidden_layer_sizes``, ``activation``,
    ``solver`` or ``batch_size`` train in packs of their own; fits that do not
    stack (see the user guide) train on their own, as in scikit-learn.

    {sections}

    See Also
    --------
    RandomizedSearchCV : The randomized search, stacked the same way.
    sklearn.model_selection.GridSearchCV : scikit-learn's search.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skdeep import MLPClassifier
    >>> from skdeep.model_selection import GridSearchCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> model = make_pipeline(StandardScaler(), MLPClassifier(max_iter=50, random_state=0))
    >>> grid = {{"mlpclassifier__alpha": [1e-4, 1e-2], "mlpclassifier__learning_rate_init": [1e-3, 1e-2]}}
    >>> search = GridSearchCV(model, grid, cv=3).fit(X, y)
    >>> search.n_stacked_fits_
    12
    >>> bool(search.best_score_ > 0.9)
    True
    """

    _parameter_constraints: dict = {
        **model_selection.GridSearchCV._parameter_constraints, **_StackedSearch._parameter_constraints}

    def __init__(self, estimator, param_grid, *, scoring=None, n_jobs=None, refit=True, cv=None, verbose=0,
                 pre_dispatch="2*n_jobs", error_score=np.nan, return_train_score=False, pack_size="auto"):
        super().__init__(estimator, param_grid, scoring=scoring, n_jobs=n_jobs, refit=refit, cv=cv, verbose=verbose,
                         pre_dispatch=pre_dispatch, error_score=error_score, return_train_score=return_train_score)
        self.pack_size = pack_size


class RandomizedSearchCV(_StackedSearch, model_selection.RandomizedSearchCV):
    """Randomized search over parameter distributions; the networks of a skdeep MLP train stacked.

    scikit-learn's :class:`sklearn.model_selection.RandomizedSearchCV`, with
    the same parameters, attributes and results, plus ``pack_size``; the
    sampled candidates' fits stack as in :class:`GridSearchCV`.

    {sections}

    See Also
    --------
    GridSearchCV : The exhaustive search, stacked the same way.
    sklearn.model_selection.RandomizedSearchCV : scikit-learn's search.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from sklearn.datasets import load_diabetes
    >>> from skdeep import MLPRegressor
    >>> from skdeep.model_selection import RandomizedSearchCV
    >>> X, y = load_diabetes(return_X_y=True, scaled=True)
    >>> network = MLPRegressor(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=50, random_state=0)
    >>> search = RandomizedSearchCV(network, {{"alpha": loguniform(1e-5, 1e-1), "beta_1": [0.8, 0.9]}},
    ...                             n_iter=4, cv=3, random_state=0).fit(X * 10, y / 100)
    >>> search.n_stacked_fits_
    12
    """

    _parameter_constraints: dict = {
        **model_selection.RandomizedSearchCV._parameter_constraints, **_StackedSearch._parameter_constraints}

    def __init__(self, estimator, param_distributions, *, n_iter=10, scoring=None, n_jobs=None, refit=True, cv=None,
                 verbose=0, pre_dispatch="2*n_jobs", random_state=None, error_score=np.nan,
                 return_train_score=False, pack_size="auto"):
        super().__init__(estimator, param_distributions, n_iter=n_iter, scoring=scoring, n_jobs=n_jobs, refit=refit,
                         cv=cv, verbose=verbose, pre_dispatch=pre_dispatch, random_state=random_state,
                         error_score=error_score, return_train_score=return_train_score)
        self.pack_size = pack_size


def _sections(search, space, before=(), after=()):
    """The Parameters and Attributes sections of ``search``'s docstring: scikit-learn's, and skdeep's."""
    return "\n    ".join([
        "Parameters", "----------", "estimator : estimator object",
        f"    As for :class:`sklearn.model_selection.{search}`.", space, *before, _SEARCH_PARAMETERS_DOC, *after,
        _LAST_PARAMETERS_DOC, "", "Attributes", "----------", _ATTRIBUTES_DOC.format(search=search)])


GridSearchCV.__doc__ = GridSearchCV.__doc__.format(
    sections=_sections("GridSearchCV", "param_grid : dict or list of dicts"))
RandomizedSearchCV.__doc__ = RandomizedSearchCV.__doc__.format(
    sections=_sections("RandomizedSearchCV", "param_distributions : dict or list of dicts",
                       before=["n_iter : int, default=10"],
                       after=["random_state : int, RandomState instance or None, default=None"]))
