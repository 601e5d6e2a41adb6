"""Every sentence cnnviz writes from numbers is a claim, and every claim is proven.

A *claim* is a sentence built from numbers ("training diverged: the loss ended at 20.72",
"dropout narrows the gap from 0.28 to 0.22"). The function that writes it

- is registered here with :func:`claim` (one registry for the whole package);
- returns a :class:`Claim`: the sentence (a ``str``, so pages show it as is) *and* the
  facts it asserts, as keyword values (``ended_at=…``, ``verdict="diverged"``), so a test
  checks each fact against the inputs without parsing English;
- has a property test with Hypothesis (``tests/test_claims_*.py``) that generates inputs
  across the function's whole domain and asserts every fact against the numbers. The test
  names the function it proves with :func:`proves`.

``tests/test_claims_registry.py`` fails when a registered function has no property test, and
when a page in ``app_pages/`` formats a number into a sentence itself instead of asking a
registered function (a label that names a size or a count, not a claim, is marked
``# label`` on its line).

>>> from cnnviz import claims
>>> c = claims.Claim("The loss ended at 0.12.", ended_at=0.12)
>>> c, c.facts["ended_at"]
('The loss ended at 0.12.', 0.12)
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

REGISTRY: dict[str, Callable[..., Any]] = {}


class Claim(str):
    """A sentence for the learner plus the facts it asserts.

    It *is* the sentence (``str``): pages pass it to ``st.caption`` and friends unchanged.
    ``facts`` holds what the sentence states, by name, for the property tests.

    Parameters
    ----------
    text : str
        The sentence(s), as the learner reads them.
    **facts
        The values the sentence names and the comparisons it makes.
    """

    facts: Mapping[str, Any]

    def __new__(cls, text: str, **facts: Any) -> Claim:
        obj = super().__new__(cls, text)
        obj.facts = MappingProxyType(dict(facts))
        return obj

    @property
    def text(self) -> str:
        """The sentence as a plain ``str``."""
        return str(self)

    def __reduce__(self):  # pickled by st.cache_data and the training workers' queues
        return (_rebuild, (str(self), dict(self.facts)))


def _rebuild(text: str, facts: dict) -> Claim:
    return Claim(text, **facts)


def claim(fn: F) -> F:
    """Register ``fn`` as a function that writes a sentence from numbers.

    The registry key is ``module.qualname`` (``"cnnviz.training.divergence_claim"``,
    ``"cnnviz.jobs.JobQueue.place_sentence"``), the name property tests pass to
    :func:`proves`.
    """
    name = f"{fn.__module__}.{fn.__qualname__}"
    REGISTRY[name] = fn
    fn.__claim__ = name  # type: ignore[attr-defined]
    return fn


def name_of(fn: Callable[..., Any]) -> str:
    """The registry name of a registered function (``ValueError`` if it is not one)."""
    name = getattr(fn, "__claim__", None)
    if name is None:
        raise ValueError(f"{fn!r} is not registered with cnnviz.claims.claim")
    return name


def registered() -> dict[str, Callable[..., Any]]:
    """Every registered function, after importing every module of the package."""
    import cnnviz

    for info in pkgutil.walk_packages(cnnviz.__path__, prefix="cnnviz."):
        if info.name != "cnnviz.__main__":
            importlib.import_module(info.name)
    return dict(REGISTRY)


def proves(*names: str) -> Callable[[F], F]:
    """Mark a (Hypothesis) test as the property test of the registered functions ``names``.

    ``tests/test_claims_registry.py`` reads these marks from the tests' source and fails if
    a name is not registered (a typo, or a function renamed) or a registered function has
    no marked ``@given`` test.
    """

    def mark(test: F) -> F:
        test.__proves__ = names  # type: ignore[attr-defined]
        return test

    return mark
