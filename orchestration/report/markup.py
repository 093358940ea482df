"""The only way the report makes HTML: every value is escaped unless it is already `Markup`.

`Markup` is made only by this module (from escaped text or from tags whose names and attribute names are
written in code), so a string read from the serving file can never reach the page unescaped: a customer
called `<script>` comes out as `&lt;script&gt;`, a quote in an attribute as `&quot;`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

# Elements the report writes that have no closing tag.
_VOID = frozenset({"meta", "img", "br", "hr"})


class Markup(str):
    """HTML that is safe to write as is: escaped text, or tags built by `tag`."""

    __slots__ = ()


def escape(value: object) -> Markup:
    """`value` as HTML text: `& < > " '` escaped, unless it is Markup already. None becomes an empty string."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[object], separator: str = "") -> Markup:
    """Concatenate escaped parts."""
    return Markup(escape(separator).join(escape(p) for p in parts))


def tag(name: str, /, *children: object, **attrs: object) -> Markup:
    """`<name attrs>children</name>`, children and attribute values escaped.

    Attribute names come from code: a trailing underscore is dropped (`class_`), other underscores become
    dashes (`data_section`); None or False leaves the attribute out, True writes it bare.
    """
    rendered = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        attr = key.rstrip("_").replace("_", "-")
        rendered.append(f" {attr}" if value is True else f' {attr}="{escape(value)}"')
    opening = f"<{name}{''.join(rendered)}>"
    if name in _VOID:
        return Markup(opening)
    return Markup(f"{opening}{join(children)}</{name}>")


def table(columns: Sequence[str], rows: Iterable[Sequence[object]], *, numeric: Sequence[bool] | None = None,
          caption: str | None = None) -> Markup:
    """A plain HTML table; cells escaped, numeric columns right-aligned."""
    numeric = list(numeric) if numeric is not None else [False] * len(columns)
    head = tag("tr", *(tag("th", c, class_="num" if n else None) for c, n in zip(columns, numeric, strict=True)))
    body = [
        tag("tr", *(tag("td", v, class_="num" if n else None) for v, n in zip(row, numeric, strict=True)))
        for row in rows
    ]
    return tag("table", tag("caption", caption) if caption else Markup(""), tag("thead", head), tag("tbody", *body))
