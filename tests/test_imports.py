"""The ``cnnviz`` package never imports streamlit; the arithmetic core never imports TensorFlow.

Each check runs in a fresh interpreter, because other tests (AppTest) import streamlit
into this process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Imports every cnnviz module (found with pkgutil) one by one and reports, for each
# watched package, the first module after whose import it appeared in sys.modules.
PROBE = """
import importlib, json, pkgutil, sys
import cnnviz
watched = {w: None for w in sys.argv[1].split(",")}
names = sorted(m.name for m in pkgutil.walk_packages(cnnviz.__path__, "cnnviz."))
names = [n for n in names if not n.endswith("__main__")]  # a CLI entry point, not a module
if sys.argv[2]:
    names = [n for n in names if n in sys.argv[2].split(",")]
for name in names:
    importlib.import_module(name)
    for w in watched:
        if watched[w] is None and w in sys.modules:
            watched[w] = name
print(json.dumps({"modules": names, "first_importer": watched}))
"""


def _probe(watched: list[str], only: list[str] | None = None) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(watched), ",".join(only or [])],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={"TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow", "PATH": "/usr/bin"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_no_cnnviz_module_imports_streamlit():
    result = _probe(["streamlit"])
    assert {"cnnviz.conv", "cnnviz.pooling", "cnnviz.plots.arithmetic"} <= set(result["modules"])
    assert result["first_importer"]["streamlit"] is None, result["first_importer"]


def test_arithmetic_core_does_not_import_tensorflow_or_keras():
    only = ["cnnviz.conv", "cnnviz.pooling", "cnnviz.plots", "cnnviz.plots.arithmetic"]
    result = _probe(["tensorflow", "keras", "streamlit"], only)
    assert result["modules"] == sorted(only)
    assert result["first_importer"] == {"tensorflow": None, "keras": None, "streamlit": None}
