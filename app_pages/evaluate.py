"""Evaluate: how good is a trained model, and where exactly does it go wrong?

Learning goal: one accuracy number hides a lot. The confusion matrix shows which classes
are mixed up; precision, recall and F1 per class show which ones the model misses or
over-predicts; looking at the mistakes themselves, with how sure the model was, often
shows why.
"""

import streamlit as st

from app_pages import _training as T
from app_pages._code import code_panel
from app_pages._shared import (
    ActiveModel,
    active_model_badge,
    bundled_card,
    bundled_class_names,
    bundled_label,
    bundled_model,
    learner_token,
    run_model,
    set_active_model,
    show_error,
)
from app_pages._state import keep_settings
from cnnviz import codegen, data, evaluation, models, runs, tutorial
from cnnviz.plots import training as plots

st.title(":material/fact_check: Evaluate a model")
active = active_model_badge()
st.markdown(
    """
The model classifies every image of the **test set** — images it never saw in training.
*Precision* of a class: of the images the model called "3", how many were 3s.
*Recall*: of the real 3s, how many it found. *F1* is their harmonic mean.
"""
)

# --- controls -------------------------------------------------------------------------
UPLOAD = "upload a .keras file"
# the digit models first, then those of other data (Fashion-MNIST), each labelled with it
digit_models = models.bundled_names(models.CARDLESS_DATASET)
ordered = digit_models + [n for n in models.bundled_names() if n not in digit_models]
bundled = {bundled_label(n): n for n in ordered}
records = T.runs()
options = [*bundled, *records, UPLOAD]
# the box starts at the model the badge above names (and follows it when it changes)
shown = T.option_of(active, bundled, records, UPLOAD)
if (
    st.session_state.get("_eval_follows") != shown
    or st.session_state.get("eval_model") not in options
):
    st.session_state["eval_model"] = shown
    st.session_state["_eval_follows"] = shown
choice = st.selectbox("Model", options, key="eval_model")
SCALES = {
    "log": "log (shows the few mistakes)",
    "row": "share of each true class",
    "counts": "counts",
}
scale = st.radio(
    "Colour scale of the confusion matrix",
    list(SCALES),
    format_func=SCALES.get,
    horizontal=True,
    key="eval_scale",
)
keep_settings("eval_dataset", "eval_scale", "eval_seed")

model, ev, x_test, names, card, ref = None, None, None, data.DIGITS, {}, None
try:
    if choice in bundled:
        name = bundled[choice]
        model, ref, names = bundled_model(name), {"bundled": name}, bundled_class_names(name)
        card = {"dataset": models.CARDLESS_DATASET, **bundled_card(name)}
        try:
            ev, x_test = T.evaluate_bundled(name), T.bundled_test_set(card["dataset"])[0]
        except data.DataError as exc:  # the model still works on the Inside pages
            st.info(T.missing_test_set(name, card["dataset"], exc), icon=":material/info:")
    elif choice in records:
        run = records[choice]
        model, names, ref = (
            run_model(learner_token(), run.id),
            tuple(run.class_names),
            {"run": run.id},
        )
        x_test = T.test_set(learner_token(), run)[0]
        card = {"model": run.model_name, "dataset": run.dataset, "history": run.history}
        ev = T.evaluate_run(run)
        for note in run.notes:
            st.warning(note, icon=":material/warning:")
    else:
        ds = T.dataset_picker("eval")
        up = st.file_uploader("A model saved by Keras 3", type=["keras"], key="eval_upload")
        if ds is not None and up is not None:
            model = T.load_uploaded_model(up.name, up.getvalue(), ds.input_shape)
            ev, x_test, names = T.evaluate_upload(model, ds), ds.x_test, ds.class_names
            card = {"model": up.name, "dataset": ds.name}
except (models.ModelError, data.DataError, runs.RunStoreError) as exc:
    show_error(exc)

# --- result -------------------------------------------------------------------------
if model is not None and (ev is not None or choice in bundled):
    if ev is not None:
        card = {**card, "metrics": {"test_loss": ev.loss, "test_accuracy": ev.accuracy}}
        for col, (label, value) in zip(st.columns(3), evaluation.headline(ev).items(), strict=True):
            col.metric(label, value)
    chosen = ActiveModel(model, choice, tuple(names), card, bundled=choice in bundled, ref=ref)
    warning = ""
    if ev is not None:
        warning = evaluation.chance_warning(ev.y_true, ev.y_pred, tuple(names))
    anyway = True
    if warning:
        st.warning(warning, icon=":material/warning:")
        anyway = st.checkbox("Use it everywhere anyway", key=f"eval_use_anyway {choice}")
    # on_click runs before the page is drawn, so the badge at the top already says so
    if st.button(
        "Use this model everywhere",
        type="primary",
        key="eval_use",
        on_click=set_active_model,
        args=(chosen,),
        disabled=not anyway,
        help="Tick the box under the warning first." if not anyway else None,
    ):
        st.success(f"Every page now uses **{choice}**.")

if ev is not None:
    left, right = st.columns([3, 2])
    left.plotly_chart(plots.confusion_heatmap(ev.confusion, names, scale), key="eval_confusion")
    right.dataframe(
        evaluation.classification_report(ev.confusion, names),
        hide_index=True,
        height="content",  # all classes and both averages, no inner scroll
        key="eval_report",
        column_config={
            c: st.column_config.NumberColumn(format="%.3f") for c in ("precision", "recall", "f1")
        },
    )
    pairs = evaluation.confused_pairs(ev.confusion, names, 5)
    right.markdown("**Most confused pairs** (true class → what the model said)")
    if pairs:
        right.dataframe(
            pairs,
            hide_index=True,
            key="eval_pairs",
            column_config={
                "share": st.column_config.NumberColumn("share of true class", format="percent")
            },
        )
    else:
        right.caption("None: every test image is classified correctly.")
    seed = st.number_input("Example seed", 0, 1000, 0, key="eval_seed")
    sure = evaluation.predicted_probability(ev.probs, ev.y_pred)
    c1, c2 = st.columns(2)
    for col, correct, title in ((c1, True, "Nine correct"), (c2, False, "Nine mistakes")):
        idx = evaluation.pick_examples(ev.y_true, ev.y_pred, correct, 9, int(seed))
        shown_n = f"{len(idx)} shown"  # label
        col.markdown(f"**{title}** ({shown_n}; in brackets: how sure the model was)")
        if len(idx):
            col.plotly_chart(
                plots.prediction_grid(
                    x_test[idx], ev.y_true[idx], ev.y_pred[idx], names, sure[idx]
                ),
                key=f"eval_grid_{correct}",
            )
    st.caption(evaluation.errors_sentence(ev.y_true, ev.y_pred))
    if models.subject(card.get("dataset")) == "clothes":
        st.markdown("**The tutorial's rounding trap**")
        st.markdown(
            "The Fashion-MNIST tutorial counts its correct labels with "
            "`np.argmax(np.round(predicted_classes), axis=1)`: rounding first sends every "
            "probability up to 0.5 to 0, and an image with no class above 50 % becomes all "
            "zeros, which argmax reads as class 0. Here, on this model's predictions:"
        )
        trap = tutorial.rounding_trap(ev.probs, ev.y_true, names[0])
        st.caption(tutorial.rounding_sentence(trap))
        published = tutorial.PUBLISHED["dropout"]  # the tutorial tested on all 10,000 images
        st.caption(
            evaluation.tutorial_rounding_case(
                published["found_correct"], published["test_accuracy"], 10_000
            )
        )

# --- the code behind this view ----------------------------------------------------------
if model is not None and ev is not None:
    dataset = card.get("dataset") or models.CARDLESS_DATASET
    if choice in bundled:
        code = codegen.evaluate_code(models.bundled(bundled[choice]), dataset)
        code_panel(code, "eval", "evaluate.py")
    elif choice in records:  # the run as a program that trains it again, then evaluates it
        run = records[choice]
        code = codegen.run_code(run, model.input_shape[1:], model.output_shape[-1])
        filename = f"run_{run.number}.py"  # label
        code_panel(code, "eval", filename)
    else:
        code = codegen.evaluate_code(card.get("model") or "model.keras", dataset, bundled=False)
        code_panel(code, "eval", "evaluate.py")
