"""Run cnnviz as several replicas behind nginx on this machine, without Docker.

    .venv/bin/python scripts/replicas.py --replicas 2 --port 8501   # then open the URL

It starts ``streamlit run`` N times on free loopback ports, all sharing one runs folder
and one cookie secret, and nginx (``apt-get install -y nginx``) with the shipped
``deploy/nginx/cnnviz.conf.template`` in front, exactly as ``deploy/compose.yaml`` does
with containers. The deployment test (``tests/app/test_deploy.py``) and
``benchmarks/bench_classroom.py --replicas`` use the same functions.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx" / "cnnviz.conf.template"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
REPLICA_HEADER = "X-Cnnviz-Replica"  # set by the template: which replica answered
COOKIE = "cnnviz_route"  # the affinity cookie the template sets


def _screenshot():
    path = ROOT / "scripts" / "screenshot.py"
    spec = importlib.util.spec_from_file_location("cnnviz_screenshot", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render_conf(
    upstreams: Sequence[str], listen: int | str, cache_dir: str | Path = "/var/cache/nginx/cnnviz"
) -> str:
    """The shipped template with its two variables filled, as the nginx image's envsubst does.

    Parameters
    ----------
    upstreams : sequence of str
        ``host:port`` of each replica.
    listen : int or str
        The port (or ``address:port``) nginx listens on.
    cache_dir : str or Path
        Where nginx caches the front end's static files.
    """
    servers = " ".join(f"server {u};" for u in upstreams)
    text = TEMPLATE.read_text()
    for name, value in (
        ("CNNVIZ_UPSTREAM_SERVERS", servers),
        ("CNNVIZ_LISTEN", str(listen)),
        ("CNNVIZ_CACHE_DIR", str(cache_dir)),
    ):
        text = text.replace("${" + name + "}", value)
    return text


def _tail(log: Path) -> str:
    return log.read_text()[-2000:] if log.exists() else ""


@contextlib.contextmanager
def nginx(
    upstreams: Sequence[str],
    port: int | None = None,
    timeout: float = 20,
    info: dict | None = None,
) -> Iterator[str]:
    """Run nginx with the shipped config in front of ``upstreams``; yields its base URL.

    ``info``, if given, receives ``pid`` (nginx's master process; its workers are children).
    """
    if not Path(NGINX).exists():
        raise FileNotFoundError(f"{NGINX} is missing: apt-get install -y nginx")
    port = port or _screenshot().free_port()
    with tempfile.TemporaryDirectory(prefix="cnnviz-nginx-") as tmp:
        conf = Path(tmp) / "nginx.conf"
        site = Path(tmp) / "cnnviz.conf"
        site.write_text(render_conf(upstreams, f"127.0.0.1:{port}", Path(tmp) / "cache"))
        user = "user root;\n" if os.geteuid() == 0 else ""  # workers may write temp files
        conf.write_text(
            f"{user}worker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n  access_log off;\n  client_body_temp_path {tmp}/body;\n"
            f"  proxy_temp_path {tmp}/proxy;\n  include {site};\n}}\n"
        )
        proc = subprocess.Popen(
            [NGINX, "-p", tmp, "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        if info is not None:
            info["pid"] = proc.pid
        base = f"http://127.0.0.1:{port}"
        log = Path(tmp, "error.log")
        shots = _screenshot()
        try:
            shots.wait_healthy(proc, base, timeout, "nginx", lambda: _tail(log))
            yield base
        finally:
            shots.terminate(proc)


@contextlib.contextmanager
def replicas(
    n: int, runs_dir: str | None = None, env: dict[str, str] | None = None
) -> Iterator[list[str]]:
    """``n`` ``streamlit run`` servers sharing one runs folder and cookie secret.

    Yields their ``127.0.0.1:port`` addresses.
    """
    shots = _screenshot()
    with contextlib.ExitStack() as stack:
        if runs_dir is None:
            runs_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="cnnviz-runs-"))
        shared = {
            "CNNVIZ_RUNS_DIR": runs_dir,
            "STREAMLIT_SERVER_COOKIE_SECRET": "cnnviz-replicas-shared-secret",
            **(env or {}),
        }
        bases = [stack.enter_context(shots.serve(env=shared)) for _ in range(n)]
        yield [b.removeprefix("http://") for b in bases]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2, help="streamlit processes (2)")
    parser.add_argument("--port", type=int, default=8501, help="nginx's port (8501)")
    parser.add_argument("--runs-dir", default=None, help="learners' runs (default: temporary)")
    args = parser.parse_args(argv)
    with replicas(args.replicas, args.runs_dir) as ups, nginx(ups, args.port) as base:
        print(f"cnnviz: {args.replicas} replicas ({', '.join(ups)}) behind nginx at {base}")
        print("Ctrl-C stops everything.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
