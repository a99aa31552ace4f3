"""
Training curves and scikit-learn's displays
===========================================

``TrainingHistoryDisplay`` draws a fitted network's loss and validation score
per epoch, for an estimator, a Pipeline ending in one, or a search's best
estimator. scikit-learn's own displays (confusion matrix, learning curve,
validation curve) take skdeep estimators as they are.
Needs matplotlib (``pip install -c constraints.txt -e ".[plot]"`` in skdeep's clone).
"""

# %%
# Loss and validation score of the best model of a search
# --------------------------------------------------------
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import GridSearchCV, LearningCurveDisplay, ValidationCurveDisplay, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skdeep import MLPClassifier, TrainingHistoryDisplay

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
pipe = make_pipeline(StandardScaler(), MLPClassifier(early_stopping=True, random_state=0))
search = GridSearchCV(pipe, {"mlpclassifier__dropout": [0.0, 0.3]}, cv=3).fit(X_train, y_train)

history = TrainingHistoryDisplay.from_estimator(search, name="best of the search")
print(f"best {search.best_params_}: test accuracy {search.score(X_test, y_test):.3f}")
plt.show()

# %%
# A confusion matrix and a learning curve
# ---------------------------------------
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
confusion = ConfusionMatrixDisplay.from_estimator(search, X_test, y_test, ax=left, colorbar=False)
curve = LearningCurveDisplay.from_estimator(pipe, X_train, y_train, train_sizes=[0.2, 0.5, 1.0], cv=3, ax=right)
plt.show()

# %%
# A validation curve over the L2 penalty
# --------------------------------------
alpha = ValidationCurveDisplay.from_estimator(
    pipe, X_train, y_train, param_name="mlpclassifier__alpha", param_range=[1e-4, 1e-2, 1.0, 10.0], cv=3)
alpha.ax_.set_xscale("log")
plt.show()
