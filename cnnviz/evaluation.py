"""Evaluation in numpy: test loss and accuracy, confusion matrix, classification report.

The model only gives probabilities (``model.predict``); every number after that is
computed here, so tests can check it against hand-worked values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnnviz import claims
from cnnviz.claims import Claim

EPS = 1e-7  # Keras clips probabilities to [eps, 1 - eps] before the log
# chance_warning: an accuracy at most CHANCE_MARGIN above a uniform guess (1/K), or one
# class answered for at least ONE_CLASS_SHARE of the images without beating "always that
# class" by more than CHANCE_MARGIN, is a model that has not learned the task.
CHANCE_MARGIN = 0.05
ONE_CLASS_SHARE = 0.9


@dataclass
class Evaluation:
    """What the Evaluate page shows.

    Attributes
    ----------
    loss, accuracy : float
        Mean cross-entropy and fraction correct on the test set.
    probs : np.ndarray
        ``(N, K)`` class probabilities (``(N, 1)`` for a sigmoid model).
    y_true, y_pred : np.ndarray
        ``(N,)`` ``int64`` class indices.
    confusion : np.ndarray
        ``(K, K)`` counts, rows = true class, columns = predicted class.
    """

    loss: float
    accuracy: float
    probs: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    confusion: np.ndarray

    @property
    def errors(self) -> int:
        """How many test images are misclassified."""
        return int(np.sum(self.y_true != self.y_pred))


def predict_classes(probs: np.ndarray) -> np.ndarray:
    """Class indices from probabilities: argmax, or ``p >= 0.5`` for one sigmoid unit."""
    probs = np.asarray(probs)
    if probs.shape[-1] == 1:
        return (probs[:, 0] >= 0.5).astype(np.int64)
    return np.argmax(probs, axis=-1).astype(np.int64)


def cross_entropy(probs: np.ndarray, y_true: np.ndarray) -> float:
    """Mean cross-entropy as Keras computes it (probabilities clipped to [1e-7, 1 - 1e-7]).

    Examples
    --------
    >>> round(cross_entropy(np.array([[0.5, 0.5], [0.9, 0.1]]), np.array([0, 0])), 4)
    0.3993
    """
    probs = np.clip(np.asarray(probs, dtype=np.float64), EPS, 1.0 - EPS)
    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    if probs.shape[-1] == 1:  # binary: -[y log p + (1 - y) log(1 - p)]
        p = probs[:, 0]
        return float(np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p))))
    return float(np.mean(-np.log(probs[np.arange(len(y)), y])))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of (true, predicted) pairs: ``(K, K)``, rows true, columns predicted.

    Examples
    --------
    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), 2).tolist()
    [[1, 0], [1, 1]]
    """
    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} labels but y_pred has {y_pred.size}")
    flat = y_true * num_classes + y_pred  # one bin per (true, predicted) pair
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def classification_report(confusion: np.ndarray, class_names: tuple[str, ...]) -> list[dict]:
    """Per-class precision, recall, F1 and support, then macro and weighted averages.

    Precision = TP / predicted as the class, recall = TP / truly the class,
    F1 = their harmonic mean; 0 where a denominator is 0 (as scikit-learn does).

    Returns
    -------
    list of dict
        Keys ``class``, ``precision``, ``recall``, ``f1``, ``support``.
    """
    cm = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(cm)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    rows = [
        {
            "class": str(name),
            "precision": float(p),
            "recall": float(r),
            "f1": float(f),
            "support": int(s),
        }
        for name, p, r, f, s in zip(class_names, precision, recall, f1, support, strict=True)
    ]
    total = support.sum()
    weights = support / total if total else np.zeros_like(support)
    for label, w in (("macro avg", np.full_like(tp, 1.0 / len(tp))), ("weighted avg", weights)):
        rows.append(
            {
                "class": label,
                "precision": float(precision @ w),
                "recall": float(recall @ w),
                "f1": float(f1 @ w),
                "support": int(total),
            }
        )
    return rows


def evaluate(model, x: np.ndarray, y: np.ndarray, batch_size: int = 500) -> Evaluation:
    """Predict ``x`` once and compute everything the Evaluate page shows.

    Parameters
    ----------
    model : keras.Model
        Softmax (``K`` units) or sigmoid (1 unit) output.
    x : np.ndarray
        ``float32`` ``(N, H, W, C)`` in [0, 1].
    y : np.ndarray
        ``(N,)`` class indices.
    """
    probs = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
    y_true = np.asarray(y, dtype=np.int64).reshape(-1)
    y_pred = predict_classes(probs)
    k = max(2, probs.shape[-1])
    return Evaluation(
        loss=cross_entropy(probs, y_true),
        accuracy=float(np.mean(y_pred == y_true)),
        probs=probs,
        y_true=y_true,
        y_pred=y_pred,
        confusion=confusion_matrix(y_true, y_pred, k),
    )


def pick_examples(
    y_true: np.ndarray, y_pred: np.ndarray, correct: bool, n: int = 9, seed: int = 0
) -> np.ndarray:
    """Indices of up to ``n`` correct (or incorrect) predictions, chosen with ``seed``."""
    hits = np.flatnonzero((np.asarray(y_true) == np.asarray(y_pred)) == correct)
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(hits)[:n])


def predicted_probability(probs: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """The probability the model gave its own answer: ``(N,)`` float64.

    For one sigmoid unit that is ``p`` when it answered 1 and ``1 - p`` when it answered 0.

    Examples
    --------
    >>> predicted_probability(np.array([[0.2, 0.8], [0.6, 0.4]]), np.array([1, 0])).tolist()
    [0.8, 0.6]
    """
    probs = np.asarray(probs, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    if probs.shape[-1] == 1:
        return np.where(y_pred == 1, probs[:, 0], 1.0 - probs[:, 0])
    return probs[np.arange(len(y_pred)), y_pred]


CONFUSION_SCALES = ("counts", "log", "row")


def confusion_colour_values(confusion: np.ndarray, scale: str = "log") -> np.ndarray:
    """What the confusion matrix's colours encode; the cells still show the counts.

    ``"counts"``: the counts (a few big diagonal cells hide the errors); ``"log"``:
    ``log10(1 + count)``, so 1–6 mistakes are visible beside 200 hits; ``"row"``: each
    count divided by its row total, i.e. the share of the true class (a row sums to 1;
    an empty row is 0).

    Examples
    --------
    >>> confusion_colour_values(np.array([[9, 1], [0, 0]]), "row").tolist()
    [[0.9, 0.1], [0.0, 0.0]]
    >>> confusion_colour_values(np.array([[9, 0]]), "log").round(3).tolist()
    [[1.0, 0.0]]
    """
    cm = np.asarray(confusion, dtype=np.float64)
    if scale == "counts":
        return cm
    if scale == "log":
        return np.log10(1.0 + cm)
    if scale == "row":
        totals = cm.sum(axis=1, keepdims=True)
        return np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)
    raise ValueError(f"scale must be one of {', '.join(CONFUSION_SCALES)}, got {scale!r}")


def confused_pairs(confusion: np.ndarray, class_names: tuple[str, ...], n: int = 5) -> list[dict]:
    """The ``n`` most frequent mistakes: off-diagonal cells by count, largest first.

    Ties are broken by the larger share of the true class, then by class order. Cells
    with no mistakes are never listed.

    Returns
    -------
    list of dict
        Keys ``true``, ``predicted`` (class names), ``count``, ``share`` (of the true
        class's images).

    Examples
    --------
    >>> cm = np.array([[5, 2, 0], [0, 4, 1], [3, 0, 6]])
    >>> [(p["true"], p["predicted"], p["count"]) for p in confused_pairs(cm, ("a", "b", "c"))]
    [('c', 'a', 3), ('a', 'b', 2), ('b', 'c', 1)]
    """
    cm = np.asarray(confusion, dtype=np.int64)
    totals = cm.sum(axis=1)
    cells = [
        (int(cm[t, p]), cm[t, p] / totals[t], t, p)
        for t in range(cm.shape[0])
        for p in range(cm.shape[1])
        if t != p and cm[t, p] > 0
    ]
    cells.sort(key=lambda c: (-c[0], -c[1], c[2], c[3]))
    return [
        {
            "true": str(class_names[t]),
            "predicted": str(class_names[p]),
            "count": count,
            "share": float(share),
        }
        for count, share, t, p in cells[:n]
    ]


def headline(ev: Evaluation) -> dict[str, str]:
    """The Evaluate page's three figures as shown: ``{"Test accuracy": "91.50%", …}``.

    Examples
    --------
    >>> y = np.array([0, 1, 1, 1])
    >>> ev = Evaluation(0.25, 0.75, np.zeros((4, 2)), y, np.array([0, 1, 1, 0]), np.eye(2))
    >>> headline(ev)
    {'Test accuracy': '75.00%', 'Test loss': '0.2500', 'Test images': '4'}
    """
    return {
        "Test accuracy": f"{ev.accuracy:.2%}",
        "Test loss": f"{ev.loss:.4f}",
        "Test images": f"{len(ev.y_true):,}",
    }


@claims.claim
def errors_sentence(y_true: np.ndarray, y_pred: np.ndarray) -> Claim:
    """``"171 of 2,000 test images are misclassified."``

    Examples
    --------
    >>> errors_sentence(np.array([0, 1, 2]), np.array([0, 2, 2]))
    '1 of 3 test images are misclassified.'
    """
    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred).reshape(-1)
    errors, n = int(np.sum(y_true != y_pred)), int(y_true.size)
    verb = "is" if errors == 1 and n == 1 else "are"
    return Claim(f"{errors:,} of {n:,} test images {verb} misclassified.", errors=errors, n=n)


@claims.claim
def chance_warning(y_true: np.ndarray, y_pred: np.ndarray, class_names: tuple[str, ...]) -> Claim:
    """A warning when a model has not learned the task ("" when it has).

    Two tests, either is enough (``facts["verdict"]``: ``"ok"``, ``"chance"``,
    ``"one_class"`` or ``"both"``):

    - *at chance*: accuracy at most ``1/K + CHANCE_MARGIN`` (a uniform guess among the
      ``K`` classes, plus 5 points);
    - *one answer*: one class is predicted for at least ``ONE_CLASS_SHARE`` (90 %) of the
      images, and the accuracy is at most ``CHANCE_MARGIN`` above what always answering
      that class scores (its share of the test set): the model has collapsed to it.

    Examples
    --------
    >>> y = np.repeat(np.arange(10), 200)
    >>> chance_warning(y, np.full(2000, 9), tuple("0123456789"))[:60]
    'This model has not learned the task: test accuracy 10.00% is'
    """
    y_true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    y_pred = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    k = max(2, len(class_names))
    n = int(y_true.size)
    if n == 0:
        return Claim("", verdict="ok", n=0)
    accuracy = float(np.mean(y_true == y_pred))
    counts = np.bincount(y_pred, minlength=k)
    top = int(np.argmax(counts))
    top_count = int(counts[top])
    top_share = float(np.mean(y_true == top))  # always answering `top` scores this
    guess = 1.0 / k
    at_chance = accuracy <= guess + CHANCE_MARGIN
    one_class = top_count >= ONE_CLASS_SHARE * n and accuracy <= top_share + CHANCE_MARGIN
    verdict = {
        (False, False): "ok",
        (True, False): "chance",
        (False, True): "one_class",
        (True, True): "both",
    }[(at_chance, one_class)]
    facts = {
        "verdict": verdict,
        "accuracy": accuracy,
        "chance": guess,
        "margin": CHANCE_MARGIN,
        "classes": k,
        "top_class": str(class_names[top]) if top < len(class_names) else str(top),
        "top_count": top_count,
        "top_share": top_share,
        "n": n,
    }
    if verdict == "ok":
        return Claim("", **facts)
    name = facts["top_class"]
    parts = ["This model has not learned the task:"]
    if at_chance:
        parts.append(
            f"test accuracy {accuracy:.2%} is at most {100 * CHANCE_MARGIN:g} points above "
            f"a uniform guess among {k} classes ({guess:.2%})."
        )
    else:
        parts.append(f"test accuracy is {accuracy:.2%}.")
    parts.append(
        f"It predicts {name} for {top_count:,} of {n:,} test images"
        + (
            f"; always answering {name} would score {top_share:.2%}."
            if one_class
            else " (its most frequent answer)."
        )
    )
    parts.append("Check it (Train page, Evaluate's mistakes) before using it everywhere.")
    return Claim(" ".join(parts), **facts)


@claims.claim
def tutorial_rounding_case(found_correct: int, test_accuracy: float, n: int) -> Claim:
    """What the Fashion-MNIST tutorial's own rounding cost, from the two numbers it printed.

    The tutorial prints ``Found 9188 correct labels`` (counted after its
    ``np.argmax(np.round(…))``) for a model whose ``model.evaluate`` test accuracy, an
    argmax count, it printed as 0.9230 on the ``n`` = 10,000 test images: 9,230 correct,
    so the rounding lost 42 images. The accuracy is shown with as many decimals as it
    takes for the shown value times ``n`` to round to the count the sentence states.

    Examples
    --------
    >>> c = tutorial_rounding_case(9188, 0.9230, 10_000)
    >>> c.facts["by_argmax"], c.facts["lost"]
    (9230, 42)
    """
    found, n, acc = int(found_correct), int(n), float(test_accuracy)
    if n < 1 or not 0 <= found <= n or not 0.0 <= acc <= 1.0:
        raise ValueError(
            f"need n >= 1, 0 <= found_correct <= n and 0 <= test_accuracy <= 1; got "
            f"n={n}, found_correct={found}, test_accuracy={acc}"
        )
    by_argmax = round(acc * n)
    shown = repr(acc)  # exact, when no shorter form rounds to the same count
    for d in range(4, 18):
        if round(float(f"{acc:.{d}f}") * n) == by_argmax:
            shown = f"{acc:.{d}f}"
            break
    lost = by_argmax - found
    if lost > 0:
        tail = f"the rounding lost {lost:,} image{'s' if lost != 1 else ''}."
    elif lost == 0:
        tail = "the rounding changed no count."
    else:
        tail = f"the rounding counted {-lost:,} more (class-0 images guessed right by chance)."
    text = (
        f'The tutorial itself printed "Found {found} correct labels" after the rounding, '
        f"for a model with test accuracy {shown} on {n:,} test images, i.e. {by_argmax:,} "
        f"correct by argmax: {tail}"
    )
    return Claim(
        text, found_correct=found, test_accuracy=acc, shown_accuracy=shown, n=n,
        by_argmax=by_argmax, lost=lost,
    )  # fmt: skip
