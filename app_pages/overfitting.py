"""Overfitting lab: watch training and validation curves part, then pull them together.

Learning goal: with few training images a CNN memorises them — training loss falls to
zero while validation loss stops improving and climbs. The gap between the two curves
*is* overfitting; dropout, data augmentation and an L2 penalty each narrow it. The
learner reads the measured gaps on precomputed curves at once, then reruns the
experiment live with their own settings.
"""

import streamlit as st

from app_pages._shared import show_error
from app_pages._state import keep_settings
from cnnviz import overfitting
from cnnviz.plots import experiments as plots

keep_settings("of_runs", "of_n_train", "of_n_val", "of_epochs", "of_seed", "of_source", "of_metric")
st.title(":material/trending_up: Overfitting lab")
st.markdown(
    """
Every textbook shows it: the Fashion-MNIST tutorial's CNN reaches almost 100 % on its
training images while validation loss rises, and the same network **with dropout** keeps
the two curves together; the cookbook's CIFAR-10 CNN goes from 66 % to 80 % test
accuracy with **data augmentation**; Chollet's cats-vs-dogs model stops overfitting once
it sees randomly turned and zoomed copies. Here the same CNN is trained four ways on only
a few hundred MNIST images, so the effect shows within seconds per epoch on a CPU:

| run | what changes |
|---|---|
"""
    + "\n".join(f"| **{k}** | {v.note} |" for k, v in overfitting.RUNS.items())
)

# --- controls -------------------------------------------------------------------------
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

# --- result ---------------------------------------------------------------------------
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
gaps = {k: overfitting.measure_gap(h) for k, h in shown["runs"].items()}
st.markdown("**The gap, measured** (final validation minus final training):")
st.markdown("\n".join(f"- {overfitting.describe_gap(k, g)}" for k, g in gaps.items()))
st.markdown(overfitting.verdict(gaps, n_train=cfg["n_train"], n_val=cfg["n_val"]))
