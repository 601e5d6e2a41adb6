"""Placeholder: this page is being built."""

import streamlit as st

st.title("stride_padding")
st.info("This page is being built.")
