"""What "Link to this view" costs each page run, against the same page run without it.

    .venv/bin/python benchmarks/bench_links.py

Every run of every page now encodes the page's settings (JSON, deflate, base64url) and
draws the sidebar panel (popover, multiselect, selectbox, code). This times a rerun of the
Convolution page (Matrix mode, the second preset) in AppTest with the panel and with the
panel replaced by a no-op, in the same process, and the encoding alone. Then the code
panel's notebook: what writing the ``.ipynb`` costs when its button is clicked (never on a
rerun: the download is deferred), against writing the program every rerun writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _timing  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from app_pages import _links  # noqa: E402
from cnnviz import codegen, conv  # noqa: E402


def main() -> None:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60)
    at.switch_page("app_pages/convolution.py").run()
    at.selectbox(key="conv_preset").select_index(1).run()
    at.radio(key="conv_stride").set_value(2).run()
    kernel = [["1", "0", "1"], ["0", "-4", "0"], ["1", "0", "1"]]
    values = {"conv_stride": 2, "conv_padding": "same", "conv_preset": "x" * 40,
              "conv_kernel_1_cells": kernel}  # fmt: skip
    encode = _timing.median_ms(lambda: _links.encode_view(values), 2000) * 1000
    with_panel = _timing.median_ms(at.run, 30, warmup=3)
    real = _links.link_panel
    _links.link_panel = lambda *args, **kwargs: None
    try:
        without = _timing.median_ms(at.run, 30, warmup=3)
    finally:
        _links.link_panel = real
    print(f"encode_view (4 settings + a 3x3 matrix): {encode:.1f} us")
    print(f"Convolution page rerun, with the link panel:    {with_panel:.1f} ms")
    print(f"Convolution page rerun, without the link panel: {without:.1f} ms")
    print(f"ratio with / without: {with_panel / without:.2f}")
    x, k = list(conv.PRESETS.values())[1]
    program = _timing.median_ms(lambda: codegen.conv_code(x, k, 0.0, False, 2, "same", 1), 300)
    code = codegen.conv_code(x, k, 0.0, False, 2, "same", 1)
    notebook = _timing.median_ms(lambda: codegen.as_notebook(code), 300)
    print(f"the Convolution program ({len(code.splitlines())} lines), written every rerun: "
          f"{program:.2f} ms")  # fmt: skip
    print(f"its notebook, written on click only: {notebook:.2f} ms "
          f"({notebook / program:.1f}x the program)")  # fmt: skip


if __name__ == "__main__":
    main()
