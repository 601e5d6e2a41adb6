"""Placeholder: this page is being built."""

import streamlit as st

st.title("overfitting")
st.info("This page is being built.")
