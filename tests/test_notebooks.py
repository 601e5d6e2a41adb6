"""The code behind each view, downloaded as a Jupyter notebook, is the same program.

:func:`cnnviz.codegen.as_notebook` cuts a generated program into cells. The notebook of
every page's program is valid nbformat 4.5 and holds exactly the program's statements, in
order (property-tested on generated programs too: blank lines inside calls, functions and
strings never cut a statement); run cell by cell in one namespace, as Jupyter runs it, it
prints what the ``.py`` prints.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import nbformat
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_codegen import CONV_CASES, DRIVER, ENV, POOL_CASES
from test_codegen_inside import _programs

from cnnviz import codegen, models, pooling, training
from cnnviz import codegen_inside as cg


def _code_cells(notebook: dict) -> list[str]:
    return [c["source"] for c in notebook["cells"] if c["cell_type"] == "code"]


def _same_program(code: str, text: str) -> dict:
    """``text`` (a notebook) holds ``code``'s statements in order; returns the notebook."""
    nbformat.validate(nbformat.reads(text, as_version=4))  # the official schema
    notebook = json.loads(text)
    cells = _code_cells(notebook)
    for cell in cells:
        assert cell.strip(), "an empty cell"
        ast.parse(cell)  # every cell runs on its own
    joined = "\n\n".join(cells)
    tree = ast.parse(code)
    if ast.get_docstring(tree) is not None:
        tree.body = tree.body[1:]  # the docstring is the first Markdown cell
    assert ast.dump(ast.parse(joined)) == ast.dump(tree)
    return notebook


def _page_programs() -> dict[str, str]:
    pool = pooling.PRESETS
    found = {f"conv_{i}": codegen.conv_code(*case) for i, case in enumerate(CONV_CASES)}
    found.update(
        {f"pool_{i}": codegen.pool_code(pool[m], *rest) for i, (m, *rest) in enumerate(POOL_CASES)}
    )
    found["data"] = codegen.data_code("mnist-sample", 3)
    found["evaluate"] = codegen.evaluate_code(models.bundled("handwriting_cnn"), "mnist-sample")
    cfg = training.TrainConfig()
    found["train"] = codegen.train_code("mnist", "book_mnist", "", cfg, (28, 28, 1), 10)
    found["train_custom"] = codegen.train_code(
        "mnist-sample", "custom", models.EXAMPLE_SPEC, cfg, (28, 28, 1), 10, subset=500
    )
    return {**found, **_programs()}


def test_every_pages_program_becomes_a_notebook_of_the_same_statements():
    for name, code in _page_programs().items():
        notebook = _same_program(code, codegen.as_notebook(code))
        first = notebook["cells"][0]
        assert first["cell_type"] == "markdown", name
        assert first["source"].startswith("# " + ast.get_docstring(ast.parse(code)).split("\n")[0])
        assert notebook["metadata"]["kernelspec"]["name"] == "python3"
        headings = [ln[5:].strip(" -") for ln in code.splitlines() if ln.startswith("# ---")]
        shown = [c["source"][3:] for c in notebook["cells"] if c["source"].startswith("## ")]
        assert [h.lower() for h in headings] == [s.lower() for s in shown], name


def test_the_train_notebook_has_a_cell_per_step():
    cfg = training.TrainConfig()
    code = codegen.train_code("mnist", "book_mnist", "", cfg, (28, 28, 1), 10)
    notebook = json.loads(codegen.as_notebook(code))
    kinds = [c["cell_type"] for c in notebook["cells"]]
    cells = _code_cells(notebook)
    assert kinds[:2] == ["markdown", "code"] and "## The model: book_mnist" in (
        c["source"] for c in notebook["cells"]
    )
    assert cells[0].startswith("import json") and "from keras import layers" in cells[0]
    assert sum("model.fit(" in c for c in cells) == 1 and len(cells) >= 6  # not one lump
    assert all(c["outputs"] == [] and c["execution_count"] is None
               for c in notebook["cells"] if c["cell_type"] == "code")  # fmt: skip


def test_a_broken_program_is_refused():
    with pytest.raises(codegen.CodegenError, match="not a Python program"):
        codegen.as_notebook("x = (1,\n\ny = 2\n")


# Programs made of statements that blank lines may sit inside: a cut there breaks them.
_names = st.sampled_from(["a", "b", "total", "x_train", "kernel"])
_gap = st.sampled_from(["", "\n", "\n\n", "\n\n\n"])


@st.composite
def _statement(draw) -> str:
    name, gap = draw(_names), draw(_gap)
    kind = draw(st.integers(0, 6))
    if kind == 0:
        return f"{name} = {draw(st.integers(-5, 5))}"
    if kind == 1:  # a call over several lines, maybe with blank lines inside
        return f"{name} = max(\n    1,{gap}\n    2,\n)"
    if kind == 2:  # a function with blank lines in its body
        return f"def f_{name}(v):\n    w = v + 1\n{gap}\n    return w"
    if kind == 3:  # a string whose lines look like blank lines and headings
        return f'{name} = """one\n{gap}\n# --- not a heading ---\n"""'
    if kind == 4:
        return f"# --- section {name} ---"
    if kind == 5:
        return f"# a comment about {name}"
    return f"if {name!r}:\n    pass{gap}\nelse:\n    pass"


@st.composite
def _program(draw) -> str:
    docs = ['"""Title."""\n\n', '"""Title.\n\nMore words."""\n', '""""""\n', ""]
    doc = draw(st.sampled_from(docs))
    head = draw(st.sampled_from(["import json\n\nimport numpy as np\n", "import os\n", ""]))
    parts = draw(st.lists(_statement(), min_size=1, max_size=8))
    seps = draw(st.lists(st.sampled_from(["\n", "\n\n", "\n\n\n"]), min_size=len(parts),
                         max_size=len(parts)))  # fmt: skip
    return doc + head + "\n" + "".join(p + s for p, s in zip(parts, seps, strict=True))


@given(_program())
def test_any_program_keeps_every_statement_whole_and_in_order(code):
    notebook = _same_program(code, codegen.as_notebook(code))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "markdown" and cell["source"].startswith("## "):
            assert cell["source"][3:].lower().startswith("section")  # only real headings


# Run cell by cell in one namespace, as Jupyter does; print the last line it printed.
RUN_NOTEBOOK = """
import contextlib, io, json, sys
for path in sys.argv[1:]:
    buf, scope = io.StringIO(), {"__name__": "__main__"}
    with contextlib.redirect_stdout(buf):
        for cell in json.load(open(path))["cells"]:
            if cell["cell_type"] == "code":
                exec(compile(cell["source"], path, "exec"), scope)
    print(buf.getvalue().strip().splitlines()[-1], flush=True)
"""


def test_a_notebook_run_top_to_bottom_prints_what_its_program_prints(tmp_path):
    path = cg.bundled_path("handwriting_cnn")
    programs = [
        codegen.conv_code(*CONV_CASES[0]),
        codegen.pool_code(pooling.PRESETS[POOL_CASES[1][0]], *POOL_CASES[1][1:]),
        cg.filters_code(path, "conv2", targets=[3], steps=2, seed=2),  # defs with blank lines
    ]
    py, nb = [], []
    for i, code in enumerate(programs):
        (tmp_path / f"p{i}.py").write_text(code)
        (tmp_path / f"p{i}.ipynb").write_text(codegen.as_notebook(code))
        py.append(f"p{i}.py")
        nb.append(f"p{i}.ipynb")
    (tmp_path / "program.py").write_text(DRIVER)  # what test_codegen runs programs with
    (tmp_path / "notebook.py").write_text(RUN_NOTEBOOK)
    procs = [
        subprocess.Popen(
            [sys.executable, driver, *files],
            cwd=tmp_path,
            env=ENV,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for driver, files in (("program.py", py), ("notebook.py", nb))
    ]
    outs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        outs.append([json.loads(line) for line in out.strip().splitlines()[-len(programs) :]])
    assert outs[0] == outs[1]  # the same numbers, bit for bit
    assert outs[0][0]["output"] and outs[0][2]["kernels"]
