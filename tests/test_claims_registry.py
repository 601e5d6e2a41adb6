"""The registry of generated sentences is complete and every entry is proven.

- every function registered with :func:`cnnviz.claims.claim` has a Hypothesis property test
  (a test decorated with ``@given`` and ``@proves("<its name>")`` in ``tests/``);
- every name a test says it proves is registered (no typos, no renamed functions);
- no page in ``app_pages/`` formats a number into a sentence itself: an f-string that
  formats a number (a format spec such as ``:.2f``/``:.1%``/``:,``, arithmetic, ``len()``,
  ``round()``) must come from a registered function, or be marked ``# label`` on its line
  when it names a thing (a size, a count in a title, a widget key) rather than claims
  something.
"""

from __future__ import annotations

import ast
from pathlib import Path

from cnnviz import claims

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
PAGES = ROOT / "app_pages"


def _proved_names() -> dict[str, list[str]]:
    """``name -> [test ids]`` for every ``@proves(...)`` test that is also ``@given``."""
    found: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            decos = node.decorator_list
            given = any(
                isinstance(d, ast.Call) and ast.unparse(d.func).split(".")[-1] == "given"
                for d in decos
            )
            for d in decos:
                if isinstance(d, ast.Call) and ast.unparse(d.func).split(".")[-1] == "proves":
                    for a in d.args:
                        if isinstance(a, ast.Constant) and isinstance(a.value, str) and given:
                            found.setdefault(a.value, []).append(f"{path.name}::{node.name}")
    return found


def test_every_registered_sentence_has_a_property_test():
    registry = claims.registered()
    assert len(registry) >= 20, sorted(registry)  # the registry is in use
    proved = _proved_names()
    missing = sorted(set(registry) - set(proved))
    assert not missing, f"registered claims without a Hypothesis property test: {missing}"


def test_every_proved_name_is_registered():
    registry = claims.registered()
    unknown = sorted(set(_proved_names()) - set(registry))
    assert not unknown, f"tests prove functions that are not registered: {unknown}"


_NUMERIC_SPEC = set("fe%gd,nbxo")


def _formats_a_number(v: ast.FormattedValue) -> bool:
    """True when the value is formatted as a number or computed from numbers."""
    if v.format_spec is not None:
        spec = "".join(
            p.value for p in ast.walk(v.format_spec) if isinstance(p, ast.Constant)
        ).strip()
        if spec and spec[-1] in _NUMERIC_SPEC:
            return True
    for sub in ast.walk(v.value):
        if isinstance(sub, ast.BinOp) and not isinstance(sub.op, ast.Mod):
            return True
        if isinstance(sub, ast.Call) and ast.unparse(sub.func) in {"len", "round", "int", "abs"}:
            return True
    return False


def page_number_fstrings() -> list[str]:
    """``file:line: source`` for every page f-string that formats a number, unmarked."""
    bad = []
    for path in sorted(PAGES.glob("*.py")):
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.JoinedStr):
                continue
            if not any(
                isinstance(v, ast.FormattedValue) and _formats_a_number(v) for v in node.values
            ):
                continue
            span = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
            if any("# label" in line for line in span):
                continue
            bad.append(f"{path.name}:{node.lineno}: {ast.unparse(node)[:120]}")
    return bad


def test_pages_build_no_sentence_from_numbers_outside_the_registry():
    bad = page_number_fstrings()
    assert not bad, (
        "pages format numbers into text themselves; move the sentence into a registered "
        "cnnviz function (cnnviz.claims.claim) or mark a mere label '# label':\n" + "\n".join(bad)
    )


def test_the_page_scanner_sees_a_formatted_number(tmp_path):
    """The scanner's own rule, on the shapes of f-string it must catch and let through."""
    src = [
        'a = f"ended at {x:.2f}"',
        'b = f"{len(y)} images"',
        'c = f"{n} of {m}"',
        'd = f"{100 * p:.1f} %"  # label',
        'e = f"gap {a - b}"',
    ]
    flagged = [
        s
        for s in src
        if "# label" not in s
        and any(
            _formats_a_number(v)
            for node in ast.walk(ast.parse(s))
            if isinstance(node, ast.JoinedStr)
            for v in node.values
            if isinstance(v, ast.FormattedValue)
        )
    ]
    assert flagged == [src[0], src[1], src[4]]
