"""Give a built model non-trivial parameters, so every term of its arithmetic matters."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers


def randomise(model: keras.Model, seed: int = 0) -> keras.Model:
    """Non-zero biases and non-trivial batch-norm statistics, so every term matters."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            c = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(0, 0.5, c).astype("float32"))
            layer.moving_variance.assign(rng.uniform(0.2, 3.0, c).astype("float32"))
            layer.gamma.assign(rng.uniform(0.5, 1.5, c).astype("float32"))
            layer.beta.assign(rng.normal(0, 0.3, c).astype("float32"))
        elif getattr(layer, "bias", None) is not None:
            layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape).astype("float32"))
    return model
