"""Placeholder: this page is being built."""

import streamlit as st

from pages._shared import active_model_badge

st.title("evaluate")
active_model_badge()
st.info("This page is being built.")
