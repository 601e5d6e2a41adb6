"""The model, training and numpy code is pure Keras: it trains under the JAX backend too.

Keras picks its backend once per process, so the JAX run happens in a subprocess.
"""

from __future__ import annotations

from under_jax import run_under_jax

SCRIPT = """
import json, numpy as np, keras
from cnnviz import data, models, scratch, training
ds = data.load_mnist_sample()
x = data.prepare(ds.x_train[:600]); y = ds.y_train[:600]
model = models.build("book_mnist", (28, 28, 1), 10)
result = training.train(model, x, y, training.TrainConfig(epochs=2, batch_size=64, seed=0))
ours = scratch.forward(model, x[:8])[-1][1]
theirs = np.asarray(model.predict(x[:8], verbose=0))
print(json.dumps({"backend": keras.backend.backend(), "history": result.history,
                  "device": result.device, "diff": float(np.abs(ours - theirs).max())}))
"""


def test_training_runs_under_jax():
    report = run_under_jax(SCRIPT)
    assert report["backend"] == "jax"
    assert report["device"] == "CPU"
    hist = report["history"]
    assert len(hist["loss"]) == 2
    assert hist["loss"][1] < hist["loss"][0]  # it learns
    assert hist["val_accuracy"][-1] > 0.3  # 10 classes: chance is 0.1
    # the numpy forward pass agrees with Keras on JAX, too
    assert report["diff"] < 1e-4
