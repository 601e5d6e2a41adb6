"""Overfitting lab: watch training and validation curves part, then pull them together.

Learning goal: a CNN that trains long enough memorises its training images — training
accuracy climbs towards 100 % while validation loss turns up from its lowest point. The
gap between the two curves *is* overfitting; dropout (and data augmentation, an L2
penalty) are meant to narrow it. The learner first reads the real experiment — the
Fashion-MNIST tutorial's two networks trained on all 60,000 images, our numbers beside
the tutorial's — then reruns a small version live on a few hundred MNIST digits.
"""

import streamlit as st

from app_pages._code import code_panel
from app_pages._shared import show_error
from app_pages._state import keep_settings
from cnnviz import codegen_inside, overfitting, tutorial
from cnnviz.plots import experiments as plots

keep_settings("of_runs", "of_n_train", "of_n_val", "of_epochs", "of_seed", "of_source", "of_metric")
st.title(":material/trending_up: Overfitting lab")
st.markdown(
    """
Overfitting is the gap between how well a model does on the images it trained on and on
images it has never seen. The Fashion-MNIST tutorial (DataCamp, *Convolutional Neural
Networks in Python with Keras*) shows it with one CNN trained for 20 epochs: training
accuracy near 100 % while validation loss climbs, and the same CNN **with dropout**
keeping the curves together. Here is that experiment, measured by us.
"""
)

# --- the tutorial's experiment, on the full data --------------------------------------
st.header("The tutorial's experiment, on all 60,000 training images")
try:
    full = overfitting.load_tutorial_runs()
except ValueError as exc:
    show_error(exc)
    full = None
if full is None:
    st.info("The full-data curves (assets/fashion_tutorial.json) are not bundled here.")
else:
    st.caption(overfitting.tutorial_source(full))
    st.plotly_chart(
        plots.tutorial_curves(full.histories, full.n_train, full.n_val), key="of_full_curves"
    )
    full_gaps = overfitting.measure_gaps(full.histories)
    st.markdown(overfitting.gap_heading(full_gaps))
    st.markdown("\n".join(f"- {overfitting.describe_gap(k, g)}" for k, g in full_gaps.items()))
    st.markdown(
        "**Ours beside the tutorial's printed numbers** (validation figures as Keras logs "
        "them in the last epoch, as the tutorial printed them; test figures on the test "
        "images):"
    )
    st.table(overfitting.tutorial_table(full, tutorial.PUBLISHED))
    st.markdown(overfitting.verdict(full_gaps, n_train=full.n_train, n_val=full.n_val))
    st.markdown("**Why the gaps use the data loss, not the loss Keras logs:**")
    for name, run in full.runs.items():
        st.caption(overfitting.logged_vs_data(name, run.history, run.dropout, full.backend))

# --- the quick experiment, on the spot ------------------------------------------------
st.header("Run it yourself: four ways to train on a few hundred MNIST digits")
st.markdown(
    """
The full experiment is too slow to rerun on the spot on a CPU. The same CNN trained on
only a few hundred MNIST digits overfits within seconds per epoch, so you can try the
remedies yourself — dropout, data augmentation and an L2 penalty:

| run | what changes |
|---|---|
"""
    + "\n".join(f"| **{k}** | {v.note} |" for k, v in overfitting.RUNS.items())
)

with st.expander("Run the experiment yourself", icon=":material/play_arrow:"):
    chosen = st.multiselect("Runs", list(overfitting.RUNS), ["plain", "dropout"], key="of_runs")
    c1, c2, c3, c4 = st.columns(4)
    n_train = int(c1.number_input("Training images", 20, 8000, 300, step=100, key="of_n_train"))
    n_val = int(c2.number_input("Validation images", 20, 2000, 300, step=100, key="of_n_val"))
    epochs = int(c3.number_input("Epochs", 1, 100, 10, key="of_epochs"))
    seed = int(c4.number_input("Seed", 0, 9999, 0, key="of_seed"))
    st.caption("On a CPU, 300 images × 10 epochs take roughly 10–20 s per run.")
    if st.button("Train", key="of_train", type="primary", disabled=not chosen):
        bar = st.progress(0.0, text="Starting…")

        def _report(name, p, _names=tuple(chosen)):
            bar.progress(
                overfitting.progress_fraction(_names.index(name), len(_names), p),
                text=f"{name}: epoch {p.epoch}/{p.epochs}",
            )

        try:
            runs = overfitting.run_all(chosen, n_train, n_val, epochs, seed, _report)
        except ValueError as exc:
            show_error(exc)
        else:
            bar.progress(1.0, text="Done.")
            st.session_state["of_result"] = {
                "settings": {"n_train": n_train, "n_val": n_val, "epochs": epochs, "seed": seed},
                "runs": runs,
            }
            st.session_state["of_source"] = "your run"  # show what was just trained

sources = {}
if (pre := overfitting.load_curves()) is not None:
    sources["precomputed"] = {"settings": pre[0], "runs": pre[1]}
if "of_result" in st.session_state:
    sources["your run"] = st.session_state["of_result"]
if not sources:
    st.info("No precomputed curves found: open the expander above and press **Train**.")
    st.stop()
s1, s2 = st.columns(2)
which = s1.radio("Curves", list(sources), len(sources) - 1, key="of_source", horizontal=True)
metric = s2.radio("Metric", ["loss", "accuracy"], key="of_metric", horizontal=True)
shown = sources[which]
cfg = shown["settings"]
st.caption(
    f"{which.capitalize()}: {cfg['n_train']} training and {cfg['n_val']} validation images "
    f"of the MNIST sample, {cfg['epochs']} epochs, seed {cfg['seed']}, Adam 1e-3, batch 64."
)
st.plotly_chart(plots.train_val(shown["runs"], metric), key="of_curves")
gaps = overfitting.measure_gaps(shown["runs"])
st.markdown(overfitting.gap_heading(gaps))
st.markdown("\n".join(f"- {overfitting.describe_gap(k, g)}" for k, g in gaps.items()))
st.markdown(overfitting.verdict(gaps, n_train=cfg["n_train"], n_val=cfg["n_val"]))

# -------------------------------------------------------------- the code behind this view

code_panel(
    codegen_inside.overfitting_code(chosen[0] if chosen else "plain", n_train, n_val, epochs, seed),
    "of", "overfitting.py",
    "The first run chosen in “Run the experiment yourself”, with its settings: the same "
    "digits, model, seed and compile settings (last line: JSON).",
)  # fmt: skip
