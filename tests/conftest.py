"""Shared fixtures: quiet TensorFlow, a clean Streamlit cache per test, tiny models."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest

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
