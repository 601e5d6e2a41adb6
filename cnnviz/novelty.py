"""Does this image look like the training data? Two cues before trusting a prediction.

A classifier always answers: a photo of static gets "4, 92 % sure" as readily as a clean
digit gets "7". Two simple, documented measures say when not to believe it:

1. **The model's own doubt**: its largest probability and the entropy of its
   probabilities (0 bits: certain; log2(K) bits: every class equally likely).
2. **Distance to the training digits, measured without the model**: the 8,000 training
   digits of the bundled MNIST sample are described by their mean and their
   :data:`N_COMPONENTS` principal components (the directions in which digits vary most).
   An image is rebuilt from those alone; the root-mean-square pixel error of that rebuild
   (*reconstruction error*) is small for anything digit-like and large for noise, text or
   photos of things. The threshold is the :data:`PERCENTILE` th percentile of the training
   digits' own errors, so about 1 % of real MNIST digits are (wrongly) called unfamiliar.

A third, trivial cue: a blank input (the preprocessing found no strokes, e.g. in a photo
of pure noise) is never a digit, whatever the model says about it.

Limits, measured: the digit-space cue catches scattered or patterned ink (noise that
survives preprocessing, fine textures) but not every non-digit: a smooth blob, a ring or
a few bars, once cropped to 20 px and centred, are rebuilt about as well as an odd digit
and pass. It says "nothing like the training digits", not "certainly a digit".

>>> import numpy as np
>>> space = digit_space()
>>> square = np.zeros((28, 28, 1)); square[4:24, 4:24] = 1   # a filled square, not a digit
>>> reconstruction_error(square, space) > space.threshold
True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from cnnviz import claims

N_COMPONENTS = 40  # principal components kept: ~85 % of the digits' pixel variance
PERCENTILE = 99.0  # training digits above this percentile of error count as unfamiliar
UNSURE_PROBABILITY = 0.6  # a top probability below this is a doubtful answer
UNSURE_ENTROPY = 0.5  # entropy above this fraction of its maximum is a doubtful answer
DIGIT_SHAPE = (28, 28, 1)


@dataclass(frozen=True)
class DigitSpace:
    """The training digits summarised: mean, principal directions and an error threshold.

    Attributes
    ----------
    mean : np.ndarray
        ``(784,)`` mean training digit.
    components : np.ndarray
        ``(N_COMPONENTS, 784)`` orthonormal principal directions.
    threshold : float
        Reconstruction errors above this are unfamiliar (the training digits'
        :data:`PERCENTILE` th percentile).
    """

    mean: np.ndarray
    components: np.ndarray
    threshold: float


def fit_digit_space(
    x: np.ndarray, n_components: int = N_COMPONENTS, percentile: float = PERCENTILE
) -> DigitSpace:
    """Principal components of images ``x`` ``(N, 28, 28[, 1])`` in [0, 1], and a threshold."""
    flat = np.asarray(x, dtype=np.float64).reshape(len(x), -1)  # (N, 784)
    mean = flat.mean(axis=0)
    # The covariance's eigenvectors are the principal directions (784×784: fast).
    values, vectors = np.linalg.eigh(np.cov(flat - mean, rowvar=False))
    components = vectors[:, np.argsort(values)[::-1][:n_components]].T  # (k, 784)
    space = DigitSpace(mean, components, 0.0)
    errors = reconstruction_error(flat, space)
    return DigitSpace(mean, components, float(np.percentile(errors, percentile)))


@functools.lru_cache(maxsize=1)
def digit_space() -> DigitSpace:
    """The digit space of the bundled MNIST sample's 8,000 training digits (computed once)."""
    from cnnviz import data

    return fit_digit_space(data.prepare(data.load_mnist_sample().x_train))


def reconstruction_error(images: np.ndarray, space: DigitSpace) -> np.ndarray | float:
    """RMS pixel error of rebuilding ``images`` from the digit space (one or a batch).

    Parameters
    ----------
    images : np.ndarray
        One ``(28, 28[, 1])`` image or a batch ``(N, ...)`` of them (or flat ``(N, 784)``),
        values in [0, 1] as the model receives them.
    space : DigitSpace
        From :func:`digit_space` or :func:`fit_digit_space`.

    Returns
    -------
    float or np.ndarray
        In pixel units (0 = rebuilt perfectly; 1 = every pixel wrong by full range).
    """
    x = np.asarray(images, dtype=np.float64)
    single = x.size == space.mean.size
    flat = x.reshape(1 if single else len(x), -1) - space.mean  # (N, 784)
    rebuilt = (flat @ space.components.T) @ space.components
    errors = np.sqrt(np.mean((flat - rebuilt) ** 2, axis=1))
    return float(errors[0]) if single else errors


def entropy_bits(probs: np.ndarray) -> float:
    """Shannon entropy of a probability vector in bits (0: certain)."""
    p = np.asarray(probs, dtype=np.float64)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def shown(x: float, threshold: float, decimals: int = 2) -> str:
    """``x`` with at least ``decimals`` decimals, and as many more as it takes to land on
    the same side of ``threshold`` as ``x`` does (0.4999 against 0.5 is "0.4999", never
    "0.50 < 0.5").

    Examples
    --------
    >>> shown(0.4999, 0.5), shown(0.61, 0.5), shown(0.5, 0.5)
    ('0.4999', '0.61', '0.50')
    """
    x, threshold = float(x), float(threshold)
    text = f"{x:.{decimals}f}"
    for d in range(decimals, 18):
        text = f"{x:.{d}f}"
        value = float(text)
        if (value < threshold) == (x < threshold) and (value > threshold) == (x > threshold):
            return text
    return repr(x)


def shown_pair(x: float, y: float, decimals: int = 2) -> tuple[str, str]:
    """``x`` and ``y`` with the same decimals (at least ``decimals``), as many as it takes
    for the shown numbers to compare as the real ones do.

    Examples
    --------
    >>> shown_pair(1.6612, 1.6596)
    ('1.661', '1.660')
    """
    x, y = float(x), float(y)
    for d in range(decimals, 18):
        a, b = f"{x:.{d}f}", f"{y:.{d}f}"
        if np.sign(float(a) - float(b)) == np.sign(x - y):
            return a, b
    return repr(x), repr(y)


@claims.claim
def percent(p: float) -> claims.Claim:
    """A probability as the app shows it everywhere: one decimal, ``"99.9 %"``.

    One rounding for the same number on every page (the Predict metric, the verdict, the
    bars). A probability below 1 is never "100.0 %" (``"> 99.9 %"``), one above 0 never
    "0.0 %" (``"< 0.1 %"``), and a probability below :data:`UNSURE_PROBABILITY` gets the
    decimals it takes to be shown below it ("59.96 %", not "60.0 %").

    Examples
    --------
    >>> percent(0.53), percent(0.9994), percent(0.99996), percent(1.0), percent(0.59996)
    ('53.0 %', '99.9 %', '> 99.9 %', '100.0 %', '59.996 %')
    """
    p = float(p)
    if not np.isfinite(p):
        text = "n/a %"
    elif 0 < p and round(100 * p, 1) <= 0:
        text = "< 0.1 %"
    elif p < 1 and round(100 * p, 1) >= 100:
        text = "> 99.9 %"
    else:
        text = f"{100 * p:.1f} %"
        limit = round(100 * UNSURE_PROBABILITY, 9)
        for d in range(2, 18):  # below the "sure" threshold: shown below it
            if not (p < UNSURE_PROBABILITY and float(text[:-2]) >= limit):
                break
            text = f"{100 * p:.{d}f} %"
    return claims.Claim(text, probability=p, shown=text)


@dataclass(frozen=True)
class Familiarity:
    """How far to trust one prediction, and why.

    Attributes
    ----------
    top_probability, entropy, max_entropy : float
        The model's largest probability and its entropy in bits (out of ``max_entropy``).
    error, threshold : float or None
        Reconstruction error and its threshold; ``None`` when the digit space does not
        apply: the image is not 28×28 grayscale, or the model was not trained on digits.
    unsure, unfamiliar : bool
        The model doubts its answer / the image looks nothing like the training digits.
    blank : bool
        The image is all zeros: there is nothing to read.
    foreign : bool
        The image is known to be of another kind than the model's training data (a
        bundled Fashion-MNIST sample shown to a digit model, or the other way round).
    """

    top_probability: float
    entropy: float
    max_entropy: float
    error: float | None
    threshold: float | None
    unsure: bool
    unfamiliar: bool
    blank: bool = False
    foreign: bool = False

    @property
    def trusted(self) -> bool:
        """No cue fired."""
        return not (self.unsure or self.unfamiliar or self.blank or self.foreign)

    @property
    def doubts(self) -> tuple[str, ...]:
        """Which of the model's doubts fired: ``"low probability"`` (top probability below
        :data:`UNSURE_PROBABILITY`), ``"spread out"`` (entropy above :data:`UNSURE_ENTROPY`
        of its maximum)."""
        return _doubts(self.top_probability, self.entropy, self.max_entropy)


def _doubts(top: float, entropy: float, max_entropy: float) -> tuple[str, ...]:
    low = top < UNSURE_PROBABILITY
    spread = max_entropy > 0 and entropy > UNSURE_ENTROPY * max_entropy
    return tuple(r for r, fired in (("low probability", low), ("spread out", spread)) if fired)


def assess(
    probs: np.ndarray,
    image: np.ndarray,
    space: DigitSpace | None = None,
    digits: bool = True,
    foreign: bool = False,
) -> Familiarity:
    """Both cues for one prepared ``image`` and the model's probabilities on it.

    The digit-space cue applies to 28×28×1 images (MNIST-style digits) shown to a model
    trained on digits (``digits``); otherwise ``error`` is ``None`` and only the model's
    doubt counts. A Fashion-MNIST model's sneaker is far from the training *digits*, and
    that says nothing about the sneaker model. ``foreign``: the image is known to be of
    another kind than the training data (a bundled sample of the other set).
    """
    probs = np.asarray(probs, dtype=np.float64)
    top, ent = float(probs.max()), entropy_bits(probs)
    max_ent = float(np.log2(len(probs))) if len(probs) > 1 else 0.0
    unsure = bool(_doubts(top, ent, max_ent))
    error = threshold = None
    unfamiliar = False
    blank = not np.any(np.asarray(image))
    if digits and np.shape(image) == DIGIT_SHAPE and not blank:
        space = space or digit_space()
        error, threshold = reconstruction_error(image, space), space.threshold
        unfamiliar = error > threshold
    return Familiarity(top, ent, max_ent, error, threshold, unsure, unfamiliar, blank, foreign)


@claims.claim
def verdict(f: Familiarity, label: str) -> claims.Claim:
    """One sentence for the learner: trust the answer ``label``, or why not.

    It names the cue that fired with its numbers: a top probability below
    :data:`UNSURE_PROBABILITY`, and/or an entropy above :data:`UNSURE_ENTROPY` of its
    maximum ("spread out", never otherwise); the reconstruction error against its
    threshold; a blank input; an image known to be of another kind than the training data
    (``foreign``), saying when the reconstruction error misses it. The probability is
    shown as :func:`percent` shows it everywhere else.

    Examples
    --------
    >>> f = Familiarity(0.93, 0.5, 3.32, 0.21, 0.12, unsure=False, unfamiliar=True)
    >>> print(verdict(f, "4"))  # doctest: +NORMALIZE_WHITESPACE
    Do not trust this "4": the image looks nothing like the training digits (reconstruction
    error 0.21, above the 0.12 that 99 % of them stay under), even though the model is
    93.0 % sure.
    >>> f = Familiarity(0.53, 1.0, 3.32, None, None, unsure=True, unfamiliar=False)
    >>> print(verdict(f, "4"))
    Treat this "4" as a guess: the model is only 53.0 % sure, below 60 %.
    """
    top = float(f.top_probability)
    sure = str(percent(top))
    limit = UNSURE_ENTROPY * f.max_entropy
    reasons = f.doubts
    facts = dict(
        probability=top, shown_probability=sure, probability_limit=UNSURE_PROBABILITY,
        entropy=f.entropy, max_entropy=f.max_entropy, entropy_limit=limit, reasons=reasons,
        error=f.error, threshold=f.threshold,
    )  # fmt: skip
    if f.blank:
        return claims.Claim(
            f'Do not trust this "{label}": the model sees a blank image (nothing stood out '
            "from the background), and a blank page shows nothing to classify, even if the "
            f"model is {sure} sure.",
            verdict="blank", **facts,
        )  # fmt: skip
    parts = []
    if "low probability" in reasons:
        parts.append(f"the model is only {sure} sure, below {100 * UNSURE_PROBABILITY:g} %")
    if "spread out" in reasons:
        ent, lim = shown_pair(f.entropy, limit)
        parts.append(
            f"its probabilities are spread out: entropy {ent} bits, above "
            f"{100 * UNSURE_ENTROPY:g} % of its {f.max_entropy:.2f}-bit maximum ({lim} bits)"
        )
        if "low probability" not in reasons:
            parts[-1] += f", even though its top class has {sure}"
    doubt = "; and ".join(parts)
    if f.foreign:
        text = (
            f'Do not trust this "{label}": the image is not of the kind the model was '
            "trained on, so it can only pick the closest of its own classes"
        )
        if f.unfamiliar:
            err, thr = shown_pair(f.error, f.threshold)
            text += (
                f"; the image also looks nothing like the training digits (reconstruction "
                f"error {err}, above the {thr} that {PERCENTILE:g} % of them stay under)"
            )
        elif f.error is not None:
            err, thr = shown_pair(f.error, f.threshold)
            text += (
                f"; the distance to the training digits does not catch it (reconstruction "
                f"error {err} ≤ {thr}): shrunk to 20 px and centred, a shape can pass as "
                "digit-like"
            )
        text += f"; also, {doubt}" if doubt else f", even though the model is {sure} sure"
        return claims.Claim(f"{text}.", verdict="foreign", **facts)
    if f.unfamiliar:
        err, thr = shown_pair(f.error, f.threshold)
        far = (
            f"the image looks nothing like the training digits (reconstruction error {err}, "
            f"above the {thr} that {PERCENTILE:g} % of them stay under)"
        )
        tail = f"; also, {doubt}" if doubt else f", even though the model is {sure} sure"
        return claims.Claim(
            f'Do not trust this "{label}": {far}{tail}.', verdict="unfamiliar", **facts
        )
    if doubt:
        return claims.Claim(f'Treat this "{label}" as a guess: {doubt}.', verdict="unsure", **facts)
    if f.error is None:  # only the model's own doubt was measured (not a 28×28 digit model)
        return claims.Claim(
            f'The model is {sure} sure of "{label}", at or above {percent(UNSURE_PROBABILITY)}, '
            f"and the entropy of its probabilities is at most {100 * UNSURE_ENTROPY:g} % of its "
            "maximum. That is the only cue measured for this model: whether the image looks "
            "like its training images is not checked, so an image of something else could "
            "still fool it.",
            verdict="trusted", **facts,
        )  # fmt: skip
    err, thr = shown_pair(f.error, f.threshold)
    return claims.Claim(
        f'The model is {sure} sure of "{label}" and the image is close to the training digits '
        f"(reconstruction error {err} ≤ {thr}): nothing suggests it is out of its depth.",
        verdict="trusted", **facts,
    )  # fmt: skip


@claims.claim
def cues_explained(
    probability: float = UNSURE_PROBABILITY,
    entropy: float = UNSURE_ENTROPY,
    components: int = N_COMPONENTS,
    percentile: float = PERCENTILE,
    digits: bool = True,
) -> claims.Claim:
    """How the cues are measured, with the thresholds in use (Markdown, for the Predict page).

    ``digits``: the model was trained on digits, so the second cue is measured; for any
    other model the text says that only its doubt counts, and why.
    """
    doubt = (
        f"- **The model's doubt:** its top probability (below {100 * probability:.3g} % the "
        f"answer is a guess) and the entropy of its probabilities (above {100 * entropy:.3g} % of "
        "the maximum, log2 of the number of classes: spread out).\n"
    )
    if digits:
        second = (
            f"- **Looks like the training digits?** The 8,000 training digits are summarised "
            f"by their mean and {components} principal components (the directions in which "
            "digits vary most). Your image is rebuilt from those alone; a digit is rebuilt "
            "closely, noise or a photo of a cup is not. Above the error that "
            f"{percentile:g} % of training digits stay under, the image is unfamiliar "
            "(28×28 grayscale models only). A model trained on digits has no idea what else "
            "exists: it always picks one of its classes."
        )
    else:
        second = (
            "- **Looks like the training digits?** Not measured: this model was not trained "
            "on digits, and how far an image is from the training digits says nothing about "
            "it. Only its doubt counts, and a model always picks one of its classes, whatever "
            "the image shows."
        )
    return claims.Claim(
        doubt + second, probability=probability, entropy=entropy, components=components,
        percentile=percentile, digits=digits,
    )  # fmt: skip
