"""The assets of a cnnviz custom component (components v2, no build step).

Each component ships ``_<name>.css`` and ``_<name>.js`` beside this file; the helpers every
component shares (number formatting, colour scales, remembering a position in the tab) live
once in ``_common.js`` and are put before the component's own module.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def assets(name: str) -> dict[str, str]:
    """``css`` and ``js`` for ``st.components.v2.component`` of the component ``name``."""
    common = (_HERE / "_common.js").read_text(encoding="utf-8")
    own = (_HERE / f"_{name}.js").read_text(encoding="utf-8")
    return {
        "css": (_HERE / f"_{name}.css").read_text(encoding="utf-8"),
        "js": common + "\n" + own,
    }
