"""The code behind a view: the shortest Python that reproduces what the page shows.

Every page ends with :func:`code_panel` and the code a ``cnnviz.codegen`` function wrote
from the page's current settings: the learner copies it, or downloads it as a ``.py`` or
a Jupyter notebook, and gets the same numbers. Tests execute each generated program in a
subprocess and compare its output with the page's (``tests/test_codegen*.py``).
"""

from __future__ import annotations

import streamlit as st

from cnnviz import codegen


def code_panel(code: str, key: str, filename: str, caption: str | None = None) -> None:
    """An expander "The code behind this view" with ``code`` and a download of it.

    Parameters
    ----------
    code : str
        A complete, runnable Python program (Keras 3 / numpy), from ``cnnviz.codegen``.
    key : str
        Widget key prefix (unique per page).
    filename : str
        The download's file name, e.g. ``"convolution.py"``.
    caption : str, optional
        One sentence under the title: what running it prints.
    """
    with st.expander("The code behind this view", icon=":material/code:"):
        if caption:
            st.caption(caption)
        st.code(code, language="python", line_numbers=False)
        row = st.container(horizontal=True)
        row.download_button(
            f"Download {filename}",
            code.encode("utf-8"),
            file_name=filename,
            mime="text/x-python",
            key=f"{key}_code_download",
            icon=":material/download:",
            on_click="ignore",  # a download changes nothing on the page
        )
        notebook = filename.rsplit(".", 1)[0] + ".ipynb"
        row.download_button(
            f"Download {notebook}",
            lambda: codegen.as_notebook(code),  # written when clicked, not on every rerun
            file_name=notebook,
            mime="application/x-ipynb+json",
            key=f"{key}_notebook_download",
            icon=":material/download:",
            on_click="ignore",
            help="The same program as a Jupyter notebook: one cell per paragraph, "
            "run top to bottom.",
        )
