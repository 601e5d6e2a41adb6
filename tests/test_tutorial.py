"""cnnviz.tutorial: the Fashion-MNIST tutorial's split, its fit, and its rounding trap."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnnviz import models, tutorial


@pytest.mark.parametrize("n", [10, 11, 1000, 60_000])
def test_the_split_is_scikit_learns_train_test_split(n):
    from sklearn.model_selection import train_test_split

    x = np.arange(n)
    y = np.arange(n) % 10
    ours = tutorial.tutorial_split(x, y)
    theirs = train_test_split(x, y, test_size=0.2, random_state=13)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)
    if n == 60_000:
        assert [len(a) for a in ours] == [48_000, 12_000, 48_000, 12_000]


def test_fit_as_the_tutorial_writes_it_matches_a_hand_written_fit():
    rng = np.random.default_rng(0)
    x = rng.random((96, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, 96)
    x_tr, x_val, y_tr, y_val = tutorial.tutorial_split(x, y)
    keras.utils.set_random_seed(0)
    model = models.build("fashion_leaky", (28, 28, 1), 10)
    run = tutorial.fit_as_tutorial(model, x_tr, y_tr, x_val, y_val, epochs=2, verbose=0)
    keras.utils.set_random_seed(0)
    twin = models.build("fashion_leaky", (28, 28, 1), 10)
    twin.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    hist = twin.fit(
        x_tr, keras.utils.to_categorical(y_tr, 10), batch_size=64, epochs=2, verbose=0,
        validation_data=(x_val, keras.utils.to_categorical(y_val, 10)),
    )  # fmt: skip
    assert set(run.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    np.testing.assert_allclose(run.history["val_loss"], hist.history["val_loss"], rtol=1e-5)
    assert len(run.epoch_seconds) == 2 and run.images_per_sec > 0


def test_the_rounding_trap_counts_rows_without_a_class_at_half():
    probs = np.array(
        [
            [0.9, 0.05, 0.05],  # clear: argmax 0, round -> 0
            [0.4, 0.35, 0.25],  # no class reaches 0.5: round -> zeros -> class 0 (same)
            [0.2, 0.45, 0.35],  # no class reaches 0.5: argmax 1 -> class 0 after rounding
            [0.1, 0.3, 0.6],  # clear: class 2
        ]
    )
    trap = tutorial.rounding_trap(probs, np.array([0, 0, 1, 2]), "T-shirt/top")
    assert (trap.n, trap.changed, trap.correct_argmax, trap.correct_rounded) == (4, 1, 4, 3)
    text = tutorial.rounding_sentence(trap)
    assert "turns 1 of 4 predictions into class 0 (T-shirt/top)" in text
    assert text.facts["lost"] == 1
