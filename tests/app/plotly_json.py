"""Read a chart an AppTest drew: its plotly JSON and the arrays in it (shared by the tests)."""

from __future__ import annotations

import base64
import json

import numpy as np


def spec(at, key: str) -> dict:
    """The plotly JSON of the chart whose widget key is ``key``."""
    chart = next(c for c in at.get("plotly_chart") if key in c.proto.id)
    return json.loads(chart.proto.spec)


def arr(value) -> np.ndarray:
    """A plotly JSON array: a list, or plotly 7's typed array ``{dtype, bdata, shape}``."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = [int(n) for n in str(value.get("shape", flat.size)).split(",")]
        return flat.reshape(shape).astype(float)
    return np.array(value, dtype=float)
