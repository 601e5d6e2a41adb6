"""Shared fixtures: quiet TensorFlow, a clean Streamlit cache per test, tiny models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest
from hypothesis import HealthCheck, settings

# Property tests (tests/test_claims_*.py): the same examples on every CI run, no deadline
# (the first example of a run pays for imports), quick enough for the whole suite.
settings.register_profile(
    "cnnviz",
    max_examples=150,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile("cnnviz")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _clear_streamlit_caches():
    """st.cache_* survive between AppTest runs in one process; every test starts clean."""
    yield
    if "streamlit" in sys.modules:
        import streamlit as st

        st.cache_data.clear()
        st.cache_resource.clear()


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """No test may reach the internet: any socket to a non-loopback address fails."""
    import socket

    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
            if not host.startswith("127.") and self.family in (socket.AF_INET, socket.AF_INET6):
                raise OSError(f"tests must not reach the network (tried {host})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _runs_dir(tmp_path_factory, monkeypatch):
    """The learners' runs (cnnviz.runs) go to a fresh folder per test, never to ~/.cache."""
    monkeypatch.setenv("CNNVIZ_RUNS_DIR", str(tmp_path_factory.mktemp("runs")))


@pytest.fixture
def fake_imagenet_weights(tmp_path, monkeypatch):
    """Random MobileNetV2 (96×96) weights standing in for the ImageNet download, offline.

    ``cnnviz.transfer`` then finds them where it keeps the real ones, and its download
    returns them (calling ``on_progress`` once, as a one-chunk download would).
    """
    from cnnviz import transfer

    path = tmp_path / "mobilenet_v2_96.weights.h5"
    transfer.application_base("mobilenet_v2", None, 96).save_weights(path)

    def download(name, size=None, on_progress=None, url=None, timeout=30.0):
        if on_progress is not None:
            on_progress(path.stat().st_size, path.stat().st_size)
        return path

    monkeypatch.setattr(transfer, "weights_path", lambda name, size=None: path)
    monkeypatch.setattr(transfer, "download_weights", download)
    return path


@pytest.fixture
def pets_zip() -> bytes:
    """A zip of two class folders of small RGB pictures: red ``cats``, blue ``dogs``."""
    import io
    import zipfile

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(10):
            for name, colour in (("cats", (200, 40, 40)), ("dogs", (40, 60, 210))):
                pixels = np.clip(rng.normal(colour, 20, (40, 48, 3)), 0, 255).astype(np.uint8)
                img = io.BytesIO()
                Image.fromarray(pixels).save(img, format="PNG")
                z.writestr(f"pets/{name}/{i}.png", img.getvalue())
    return buf.getvalue()
