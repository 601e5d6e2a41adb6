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


@dataclass(frozen=True)
class Familiarity:
    """How far to trust one prediction, and why.

    Attributes
    ----------
    top_probability, entropy, max_entropy : float
        The model's largest probability and its entropy in bits (out of ``max_entropy``).
    error, threshold : float or None
        Reconstruction error and its threshold; ``None`` when the image is not a
        28×28 grayscale digit, so the digit space does not apply.
    unsure, unfamiliar : bool
        The model doubts its answer / the image looks nothing like the training digits.
    blank : bool
        The image is all zeros: there is nothing to read.
    """

    top_probability: float
    entropy: float
    max_entropy: float
    error: float | None
    threshold: float | None
    unsure: bool
    unfamiliar: bool
    blank: bool = False

    @property
    def trusted(self) -> bool:
        """No cue fired."""
        return not (self.unsure or self.unfamiliar or self.blank)


def assess(probs: np.ndarray, image: np.ndarray, space: DigitSpace | None = None) -> Familiarity:
    """Both cues for one prepared ``image`` and the model's probabilities on it.

    The digit-space cue applies to 28×28×1 images (MNIST-style digits); for others
    ``error`` is ``None`` and only the model's doubt counts.
    """
    probs = np.asarray(probs, dtype=np.float64)
    top, ent = float(probs.max()), entropy_bits(probs)
    max_ent = float(np.log2(len(probs))) if len(probs) > 1 else 0.0
    unsure = top < UNSURE_PROBABILITY or (max_ent > 0 and ent > UNSURE_ENTROPY * max_ent)
    error = threshold = None
    unfamiliar = False
    blank = not np.any(np.asarray(image))
    if np.shape(image) == DIGIT_SHAPE and not blank:
        space = space or digit_space()
        error, threshold = reconstruction_error(image, space), space.threshold
        unfamiliar = error > threshold
    return Familiarity(top, ent, max_ent, error, threshold, unsure, unfamiliar, blank)


def verdict(f: Familiarity, label: str) -> str:
    """One sentence for the learner: trust the answer ``label``, or why not.

    Examples
    --------
    >>> f = Familiarity(0.93, 0.5, 3.32, 0.21, 0.12, unsure=False, unfamiliar=True)
    >>> print(verdict(f, "4"))  # doctest: +NORMALIZE_WHITESPACE
    Do not trust this "4": the image looks nothing like the training digits (reconstruction
    error 0.21, above the 0.12 that 99 % of them stay under), even though the model is 93% sure.
    """
    if f.blank:
        return (
            f'Do not trust this "{label}": the model sees a blank image (nothing stood out '
            f"from the background), and a blank page is no digit, even if the model is "
            f"{f.top_probability:.0%} sure."
        )
    doubt = (
        f"the model is only {f.top_probability:.0%} sure and its probabilities are spread "
        f"out ({f.entropy:.2f} of at most {f.max_entropy:.2f} bits of entropy)"
    )
    if f.unfamiliar:
        far = (
            "the image looks nothing like the training digits (reconstruction error "
            f"{f.error:.2f}, above the {f.threshold:.2f} that {PERCENTILE:g} % of them stay "
            "under)"
        )
        tail = (
            f"; also, {doubt}"
            if f.unsure
            else (f", even though the model is {f.top_probability:.0%} sure")
        )
        return f'Do not trust this "{label}": {far}{tail}.'
    if f.unsure:
        return f'Treat this "{label}" as a guess: {doubt}.'
    near = (
        f" and the image is close to the training digits (reconstruction error "
        f"{f.error:.2f} ≤ {f.threshold:.2f})"
        if f.error is not None
        else ""
    )
    return (
        f'The model is {f.top_probability:.0%} sure of "{label}"{near}: '
        "nothing suggests it is out of its depth."
    )
