"""cnnviz: the maths behind the app, as plain Python you can call from a notebook.

Modules are imported on demand so that ``import cnnviz.conv`` stays fast and never pulls
in TensorFlow; nothing in this package imports streamlit.

>>> from cnnviz import conv
>>> conv.output_size(5, 3, stride=2)
2
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
