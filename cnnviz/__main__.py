"""``python -m cnnviz``: the command line (see :mod:`cnnviz.cli`)."""

from cnnviz.cli import main

raise SystemExit(main())
