"""A link to this view, and a teacher's simplified view (issue 23, parts 1 and 2).

A link is the page's URL plus ``?view=``: the page's kept settings (the keys it lists with
:func:`app_pages._state.keep_settings`), the matrices a learner typed (``<page>_…_cells``),
and references to what is not a widget — a bundled model (``@model``) and a bundled sample
image (``@image``); never the bytes of an upload, never a run, never ``?learner=``. So a
link shares a view, not a learner: whoever opens it is a new learner (or stays who they
were) and their runs are untouched.

Opening a link applies its values once: the router reads ``view`` before the page runs,
takes it out of the URL (a reload then keeps the learner's own changes) and
``keep_settings`` sets each value the first time its page lists the key — after the
learner's saved settings are restored, so the link wins on that first run. A key the page
does not list, or a value that does not fit the control, is ignored and one toast says so;
a value the page cannot take (a slider out of range) makes the router undo the link's
values and rerun the page, with a toast saying so.

"Link to this view" sits at the top right of every page (:func:`corner`); it encodes
and draws nothing until it is opened.

A teacher's simplified view is a display choice carried in the link, not an access
control: ``&hide=key,key`` hides those controls (CSS on Streamlit's ``st-key-<key>``
class), ``&sections=Arithmetic`` lists only those sections in the sidebar, ``&nav=hidden``
shows no menu. They stay in the URL while the learner moves between pages.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import math
import re
import urllib.parse
import zlib
from dataclasses import dataclass

import streamlit as st
from streamlit.errors import StreamlitAPIException

from app_pages import _state

VIEW, HIDE, SECTIONS, NAV = "view", "hide", "sections", "nav"
MODEL, IMAGE = "@model", "@image"  # a link's references, beside the widget values
PANEL = "link_panel"  # the popover's key: its open state (tests open it through it)
MAX_VIEW = 8000  # characters of ?view= read at most
_MAX_JSON = 64_000  # bytes a view may inflate to
_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,79}$")
_APPLIED = "_link_applied"  # {key: (value, had_before, value_before)} set from a link this run
_BAD = "_link_bad"  # keys a link named that could not be used
_REFS = "_link_refs"  # the link's model / image, applied by apply_references
_UNDO = "_link_undo"  # what to put back after a page could not take a link's values
_NOTICE = "_link_notice"  # one sentence for the next toast
_DISPLAY = "_link_display"  # this session's Display (from the link that opened it)
_MENU = {"all": "Every section", "section": "Only this section", "none": "No menu"}
# Process-wide: the shapes each kept setting's values took (all sessions, same page code),
# so a value from a link is checked against what the control really holds.
_KINDS: dict[str, set[str]] = {}


class LinkError(ValueError):
    """A ``view`` parameter that is not a link's encoding of settings."""


@dataclass(frozen=True)
class Display:
    """A teacher's simplified view: controls hidden, sections listed, menu shown."""

    hide: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()  # empty: every section
    menu: bool = True


# ------------------------------------------------------------------------------ encoding
def encode_view(values: dict) -> str:
    """``values`` as compact URL-safe text: JSON, deflated, base64url without padding."""
    text = json.dumps(values, separators=(",", ":"), sort_keys=True, allow_nan=False)
    return base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).rstrip(b"=").decode()


def decode_view(text: str) -> dict:
    """The settings :func:`encode_view` wrote; ``LinkError`` for anything else."""
    if not text or len(text) > MAX_VIEW:
        got = len(text or "")
        raise LinkError(f"a view is 1 to {MAX_VIEW} characters, got {got}")  # label
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        inflate = zlib.decompressobj()
        raw = inflate.decompress(packed, _MAX_JSON)
        if inflate.unconsumed_tail:
            raise LinkError(f"a view inflates to at most {_MAX_JSON} bytes")
        values = json.loads(raw)
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as exc:
        raise LinkError(f"not a view: {exc}") from exc
    if not isinstance(values, dict):
        raise LinkError(f"a view is a JSON object, got {type(values).__name__}")
    return values


def _plain(value: object, depth: int = 0) -> bool:
    """A value a control can hold: finite numbers, short text, short flat lists."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return math.isfinite(value)
    if isinstance(value, str):
        return len(value) <= 200
    if isinstance(value, list | tuple):
        return depth < 2 and len(value) <= 64 and all(_plain(v, depth + 1) for v in value)
    return False


def _matrix(value: object) -> bool:
    """The typed cells of a matrix editor: 1–16 rows of 1–16 short strings, all as wide."""
    return (
        isinstance(value, list)
        and 1 <= len(value) <= 16
        and all(isinstance(r, list) and 1 <= len(r) == len(value[0]) <= 16 for r in value)
        and all(isinstance(c, str) and len(c) <= 40 for r in value for c in r)
    )


def _tags(value: object, prefix: str = "") -> set[str]:
    """The shape of a value: ``{"list", "list/str"}`` for ``["a", "b"]``."""
    if isinstance(value, bool):
        return {prefix + "bool"}
    if isinstance(value, int | float):
        return {prefix + "num"}
    if isinstance(value, str):
        return {prefix + "str"}
    if isinstance(value, list | tuple):
        kind = f"tuple{len(value)}" if isinstance(value, tuple) else "list"  # label
        out = {prefix + kind}
        for v in value:
            out |= _tags(v, f"{prefix}{kind}/")
        return out
    return {prefix + "none"} if value is None else {prefix + "other"}


def _fits(key: str, value: object) -> bool:
    """Whether ``value`` has a shape the control ``key`` has held (a number may stand for
    a text option: a select of ``"predicted"`` and class numbers)."""
    seen = set(_KINDS.get(key, ()))
    if key in st.session_state:
        seen |= _tags(st.session_state[key])
    if not seen:
        return True  # never drawn yet: Streamlit's own checks and the undo guard it
    allowed = seen | {t[:-3] + "num" for t in seen if t.endswith("str")}
    return _tags(value) <= allowed


def record_kinds() -> None:
    """Note the shapes of the values the page just drew (the router calls this)."""
    for key in _state.page_settings():
        if key in st.session_state:
            tags = _tags(st.session_state[key])
            if not tags <= _KINDS.get(key, set()):
                _KINDS[key] = _KINDS.get(key, set()) | tags


def _label(key: str) -> str:
    """A kept key as the learner can read it: ``conv_stride`` -> ``stride (conv_stride)``."""
    short = key.split("_", 1)[1] if "_" in key else key
    return f"{short.replace('_', ' ')} ({key})"


# ------------------------------------------------------------------------------ opening
def _say(text: str) -> None:
    st.session_state[_NOTICE] = text


def open_view() -> None:
    """Read ``?view=`` once: its values wait for their page, the URL loses it.

    The router calls this after :func:`app_pages._state.restore_settings` and before the
    page runs.
    """
    raw = st.query_params.get(VIEW)
    if raw is None:
        return
    del st.query_params[VIEW]  # once: a reload keeps what the learner changes next
    st.session_state[_APPLIED], st.session_state[_BAD] = {}, []
    try:
        values = decode_view(raw)
    except LinkError:
        _say("This link's settings could not be read, so the page opened as usual.")
        return
    st.session_state[_REFS] = {k: values.pop(k) for k in (MODEL, IMAGE) if k in values}
    st.session_state[_state._PENDING] = {k: v for k, v in values.items() if isinstance(k, str)}


def apply_pending(keys) -> None:
    """Set the link's values for ``keys`` (and the matrices of their page) before the
    page draws them (:func:`app_pages._state.keep_settings` calls this)."""
    pending = st.session_state.get(_state._PENDING) or {}
    families = {k.split("_")[0] for k in keys}
    applied = st.session_state.setdefault(_APPLIED, {})
    bad = st.session_state.setdefault(_BAD, [])
    for key in [k for k in pending if k in keys or k.endswith("_cells")]:
        matrix = key.endswith("_cells") and key not in keys
        if matrix and key.split("_")[0] not in families:
            continue
        value = _state.decode(pending.pop(key))
        if not _KEY.match(key) or not _plain(value) or not _fits(key, value):
            bad.append(key)
            continue
        if matrix and not _matrix(value):
            bad.append(key)
            continue
        had = key in st.session_state
        before = st.session_state[key] if had else None
        try:
            st.session_state[key] = value
        except StreamlitAPIException:  # the page drew it before listing it
            bad.append(key)
            continue
        applied[key] = (value, had, before)


def apply_references(uses_model: bool, uses_image: bool) -> None:
    """Make the link's bundled model and bundled sample the current ones (before the page
    runs); anything else in their place is ignored and said."""
    refs = st.session_state.pop(_REFS, None)
    if not refs:
        return
    bad = st.session_state.setdefault(_BAD, [])
    name = refs.get(MODEL)
    if name is not None:
        from app_pages import _shared
        from cnnviz import models

        if not uses_model or not isinstance(name, str) or name not in models.bundled_names():
            bad.append("model")
        else:
            chosen = st.session_state.get(_shared._ACTIVE)
            if chosen is None or chosen.ref != {"bundled": name}:
                _shared.use_bundled(name)
    sample = refs.get(IMAGE)
    if sample is not None:
        from app_pages import _inside
        from cnnviz import imaging

        try:
            kind, index, k = sample
            if not uses_image or not (isinstance(index, int) and isinstance(k, int)):
                raise imaging.ImageError("not a sample")
            raw = imaging.load_sample(index, k, kind)
        except (ValueError, TypeError, imaging.ImageError):
            bad.append("image")
        else:
            _inside.set_current(raw, _inside.sample_label(index, k, kind))


def undo_after_error() -> bool:
    """After a page raised on a run that applied a link: put the controls back as they
    were before it and ``True`` (the router reruns); ``False`` when no link was applied."""
    applied = st.session_state.pop(_APPLIED, None)
    if not applied:
        return False
    st.session_state[_UNDO] = {k: (had, before) for k, (_, had, before) in applied.items()}
    st.session_state.pop(_state._PENDING, None)
    st.session_state.pop(_BAD, None)
    _say("This link's settings did not fit this page, so it opened with its usual settings.")
    return True


def restore_undone() -> None:
    """Put back what :func:`undo_after_error` kept (the router calls this before a page)."""
    for key, (had, before) in (st.session_state.pop(_UNDO, None) or {}).items():
        if had:
            st.session_state[key] = before
        else:
            st.session_state.pop(key, None)


def finish_view() -> None:
    """After the page ran: what the link named that was not used, as one toast."""
    pending = st.session_state.pop(_state._PENDING, None) or {}
    applied = st.session_state.pop(_APPLIED, None) or {}
    unused = list(st.session_state.pop(_BAD, None) or []) + sorted(pending)
    for key, (value, _, _) in applied.items():
        if key in st.session_state and st.session_state[key] != value:  # Streamlit reset it
            unused.append(key)
    if unused:
        names = ", ".join(_label(k).split(" (")[0] for k in unused[:6])
        more = f" and {len(unused) - 6} more" if len(unused) > 6 else ""  # label
        _say(
            f"This link's settings for {names}{more} do not fit this page, so those "
            "controls keep their usual values."
        )
    notice = st.session_state.pop(_NOTICE, None)
    if notice:
        st.toast(notice, icon=":material/link_off:")


# ------------------------------------------------------------------------------ display
def _csv(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()][:64]


def display(sections: list[str]) -> Display:
    """This session's simplified view: from the link that opened it, kept in the URL
    (re-written into it when a page change lost it)."""
    params = st.query_params
    if _DISPLAY not in st.session_state and any(p in params for p in (HIDE, SECTIONS, NAV)):
        names = {s.lower(): s for s in sections if s}
        shown = tuple(dict.fromkeys(names[s.lower()] for s in _csv(params.get(SECTIONS))
                                    if s.lower() in names))  # fmt: skip
        hide = tuple(dict.fromkeys(k for k in _csv(params.get(HIDE)) if _KEY.match(k)))
        st.session_state[_DISPLAY] = Display(hide, shown, params.get(NAV) != "hidden")
    view = st.session_state.get(_DISPLAY) or Display()
    for name, value in _params(view).items():  # a sidebar link drops the query string
        if params.get(name) != value:
            params[name] = value
    return view


def _params(view: Display) -> dict[str, str]:
    out = {}
    if view.hide:
        out[HIDE] = ",".join(view.hide)
    if view.sections:
        out[SECTIONS] = ",".join(view.sections)
    if not view.menu:
        out[NAV] = "hidden"
    return out


def navigation(sections: dict[str, list], view: Display):
    """``st.navigation`` over every page; with a simplified view, no built-in menu but
    the chosen sections' links (or none), so links between pages still resolve."""
    if view.menu and not view.sections:
        return st.navigation(sections)
    page = st.navigation(sections, position="hidden")
    if view.menu:
        with st.sidebar:
            for name in view.sections:
                st.caption(name)
                for item in sections[name]:
                    st.page_link(item)
    return page


def hide_controls(view: Display) -> None:
    """Hide the chosen controls wherever they are drawn (one style rule)."""
    if view.hide:
        rules = ", ".join(f".st-key-{k}" for k in view.hide)
        st.html(f"<style>{rules} {{display: none !important;}}</style>")


# ------------------------------------------------------------------------------ the link
def view_values(uses_model: bool, uses_image: bool) -> dict:
    """The page's view as a link carries it: kept settings, typed matrices, references."""
    keys = _state.page_settings()
    out = {}
    for key in sorted(keys):
        if key in st.session_state:
            try:
                value = _state.encode(st.session_state[key])
            except (TypeError, ValueError):
                continue
            if _plain(_state.decode(value)):
                out[key] = value
    families = {k.split("_")[0] for k in keys}
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.endswith("_cells") and key.split("_")[0] in families:
            if _matrix(st.session_state[key]):
                out[key] = st.session_state[key]
    active = st.session_state.get("active_model") if uses_model else None
    if active is not None and (active.ref or {}).get("bundled"):
        out[MODEL] = active.ref["bundled"]
    current = st.session_state.get("inside_image") if uses_image else None
    if current is not None:
        from cnnviz import imaging

        sample = imaging.which_sample(current[0])
        if sample is not None:
            out[IMAGE] = list(sample)
    return out


def link(path: str, values: dict, view: Display | None = None) -> str:
    """The URL (``path`` is the page's full URL or ``/url_path``) that opens this view."""
    params = {VIEW: encode_view(values)} if values else {}
    params.update(_params(view or Display()))
    query = urllib.parse.urlencode(params, safe=",", quote_via=urllib.parse.quote)
    return f"{path}?{query}" if query else path


def _page_url(url_path: str) -> str:
    here = st.context.url
    path = "/" + url_path
    if not here:
        return path
    if url_path and here.rstrip("/").endswith(path):
        return here.rstrip("/")
    return here.rstrip("/") + (path if url_path else "/")


def corner():
    """The place for "Link to this view": the top right of the page, above its title
    (the router makes it before the page runs and fills it after). Not the sidebar: any
    element there makes Streamlit fold the page menu behind "View more"."""
    return st.container(horizontal=True, horizontal_alignment="right")


def link_panel(
    place,
    url_path: str,
    section: str,
    uses_model: bool,
    uses_image: bool,
    now: Display | None = None,
) -> None:
    """Draw "Link to this view" in ``place`` (:func:`corner`): the URL with a copy button,
    and a teacher's options to hide controls and sections (starting from the view ``now``).
    Drawn only while open: a closed panel costs the page run nothing."""
    now = now or Display()
    panel = place.popover("Link to this view", icon=":material/link:", key=PANEL, on_change="rerun")
    if not panel.open:  # closed: nothing to encode or draw on this run
        return
    values = view_values(uses_model, uses_image)
    controls = sorted(k for k in _state.page_settings() if k in values)
    with panel:
        notes = [
            "Opens this page with these settings for whoever you send it to. It never "
            "carries your learner link, so your runs stay yours."
        ]
        active = st.session_state.get("active_model") if uses_model else None
        if active is not None and MODEL not in values and not active.bundled:
            notes.append("Your own model is not in it: only pre-trained ones travel.")
        if uses_image and "inside_image" in st.session_state and IMAGE not in values:
            notes.append("Your own image is not in it: only bundled samples travel.")
        _small(" ".join(notes))
        slot = st.empty()  # the URL, once the options below are read
        hide = st.multiselect(
            "For a lesson: hide these controls",
            controls,
            default=[k for k in now.hide if k in controls],
            format_func=_label,
            key="link_hide",
        )
        menus = ["all", "section", "none"] if section else ["all", "none"]
        menu = "none" if not now.menu else "section" if now.sections == (section,) else "all"
        menu = st.selectbox("Sidebar menu", menus, index=menus.index(menu) if menu in menus else 0,
                            format_func=_MENU.get, key="link_menu")  # fmt: skip
        view = Display(tuple(hide), (section,) if menu == "section" else (), menu != "none")
        slot.code(link(_page_url(url_path), values, view), language=None, wrap_lines=True)
        _small(
            "Hiding controls or sections is a display choice carried in the link, not an "
            "access control: a learner who edits the link sees everything."
        )


def _small(text: str) -> None:
    """A caption-like sentence drawn as HTML, so the page's own captions stay the page's
    (``at.caption`` in tests lists the main area's and this panel's alike)."""
    st.html(f'<p style="font-size: 0.875rem; opacity: 0.7; margin: 0">{html.escape(text)}</p>')
