"""Run a script in a fresh Python under ``KERAS_BACKEND=jax`` (CPU) and read its report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_under_jax(script: str, timeout: float = 300) -> dict:
    """Run ``script`` with the jax backend; the JSON object on its last line of output.

    The script must print that object last; a non-zero exit fails with its stderr.
    """
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])
