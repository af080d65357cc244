"""The one text syntax shared by templates and variant texts.

``{name}`` is a placeholder (``name`` = ASCII letters, digits, underscore, not starting with a
digit); ``{{`` and ``}}`` are a literal ``{`` and ``}``. Any other brace is an error.

Why not ``str.format``: its fields allow attribute and index access (``{x.__class__}``,
``{0}``), so a marketer's text could reach into Python objects. Here a placeholder is a name and
nothing else, and a stray brace fails loudly instead of rendering half a sentence.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass

IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_TOKEN = re.compile(r"\{\{|\}\}|\{(" + IDENTIFIER + r")\}|[{}]")
_LITERAL_BRACES = {"{{": "{", "}}": "}"}


@dataclass(frozen=True)
class Placeholder:
    """A ``{name}`` slot in a parsed text."""

    name: str


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> tuple[str | Placeholder, ...]:
    """Split ``text`` into literals and placeholders (cached: the same texts render per request).

    Raises ValueError on a brace that is neither ``{name}``, ``{{`` nor ``}}``.
    """
    parts: list[str | Placeholder] = []
    position = 0
    for match in _TOKEN.finditer(text):
        parts.append(text[position : match.start()])
        parts.append(_token_part(match, text))
        position = match.end()
    parts.append(text[position:])
    return tuple(part for part in parts if part != "")


def _token_part(match: re.Match[str], text: str) -> str | Placeholder:
    if match.group(1) is not None:
        return Placeholder(match.group(1))
    if match.group() in _LITERAL_BRACES:
        return _LITERAL_BRACES[match.group()]
    raise ValueError(
        f"unescaped {match.group()!r} at character {match.start()} of {text!r}: "
        "a placeholder is {name} (letters, digits, underscore); write {{ or }} for a literal brace"
    )


def placeholders(text: str) -> tuple[str, ...]:
    """The placeholder names in ``text``, each once, in order of first use."""
    return tuple(dict.fromkeys(part.name for part in parse(text) if isinstance(part, Placeholder)))


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace each placeholder by its value, verbatim: a value containing ``{x}`` stays literal.

    ``values`` must cover ``placeholders(text)``; callers check that to name what is missing.
    """
    return "".join(
        values[part.name] if isinstance(part, Placeholder) else part for part in parse(text)
    )
