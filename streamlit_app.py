"""cnnviz: how convolutional neural networks see. Router only: every page lives in app_pages/."""

import os
import time

import streamlit as st

from app_pages import _links
from app_pages._shared import freeze_gc, warm_up
from app_pages._state import begin_page, restore_settings, save_settings

# (section, file, title, icon). Tests import this list to visit every page.
PAGES: list[tuple[str, str, str, str]] = [
    ("", "app_pages/home.py", "Welcome", ":material/school:"),
    ("Arithmetic", "app_pages/convolution.py", "Convolution", ":material/grid_on:"),
    ("Arithmetic", "app_pages/stride_padding.py", "Stride & padding", ":material/open_with:"),
    ("Arithmetic", "app_pages/pooling.py", "Pooling", ":material/compress:"),
    ("Training", "app_pages/data.py", "Data", ":material/dataset:"),
    ("Training", "app_pages/train.py", "Train", ":material/model_training:"),
    ("Training", "app_pages/evaluate.py", "Evaluate", ":material/fact_check:"),
    ("Training", "app_pages/transfer.py", "Transfer learning", ":material/move_up:"),
    ("Inside the model", "app_pages/predict.py", "Predict", ":material/draw:"),
    ("Inside the model", "app_pages/activations.py", "Activations", ":material/layers:"),
    (
        "Inside the model",
        "app_pages/network.py",
        "Network, unit by unit",
        ":material/account_tree:",
    ),
    (
        "Inside the model",
        "app_pages/embedding.py",
        "Where the classes live",
        ":material/scatter_plot:",
    ),
    ("Inside the model", "app_pages/filters.py", "Filters", ":material/filter:"),
    ("Inside the model", "app_pages/heatmaps.py", "Heatmaps", ":material/local_fire_department:"),
    ("Experiments", "app_pages/translation.py", "Translation lab", ":material/swap_horiz:"),
    ("Experiments", "app_pages/scratch.py", "CNN from scratch", ":material/calculate:"),
    ("Experiments", "app_pages/overfitting.py", "Overfitting lab", ":material/trending_up:"),
]


def main() -> None:
    st.set_page_config(page_title="cnnviz", page_icon=":material/visibility:", layout="wide")
    sections: dict[str, list] = {}
    where: dict[str, str] = {}  # URL path -> section
    for section, path, title, icon in PAGES:
        item = st.Page(path, title=title, icon=icon, default=path == "app_pages/home.py")
        sections.setdefault(section, []).append(item)
        where[item.url_path] = section
    warm_up()  # TensorFlow loads while the learner reads the first page
    # ?learner= stays in the URL on every page; settings survive navigation and reloads
    restore_settings()
    _links.restore_undone()  # a link's values the page could not take, put back
    _links.open_view()  # ?view= (a link to a view): applied once, as the page lists its keys
    view = _links.display(list(sections))  # a teacher's simplified view (?hide=, ?sections=)
    page = _links.navigation(sections, view)
    section = where.get(page.url_path, "")
    uses_model = section in ("Inside the model", "Experiments") or page.url_path == "evaluate"
    _links.apply_references(uses_model, section == "Inside the model")
    _links.hide_controls(view)
    corner = _links.corner()  # "Link to this view", drawn once the page listed its settings
    begin_page()
    started, cpu = time.perf_counter(), time.thread_time()
    try:
        page.run()
    except Exception:
        if not _links.undo_after_error():
            raise
        st.rerun()  # the page again, without the link's values it could not take
    finally:  # st.stop / st.rerun end a run by raising; they are runs too
        if os.environ.get("CNNVIZ_RUN_LOG"):  # benchmarks/bench_classroom.py counts runs
            wall, cpu = time.perf_counter() - started, time.thread_time() - cpu
            with open(os.environ["CNNVIZ_RUN_LOG"], "a") as log:
                log.write(f"{page.url_path or 'home'}\t{wall:.4f}\t{cpu:.4f}\n")
        save_settings()  # what the page's widgets and callbacks chose, for the next reload
    _links.finish_view()
    _links.record_kinds()
    _links.link_panel(
        corner, page.url_path, section, uses_model, section == "Inside the model", view
    )
    freeze_gc()  # once TensorFlow is in: see app_pages._shared.freeze_gc


if __name__ == "__main__":
    main()
