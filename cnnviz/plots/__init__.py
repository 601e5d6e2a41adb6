"""Plotly figure builders. Pages only display what these return (``go.Figure``).

One module per part of the app: ``arithmetic`` (convolution, stride, pooling grids),
``training`` (curves, confusion matrix, sample grids), ``inside`` (activations,
filters, heatmaps), ``experiments`` (translation, overfitting).
"""
