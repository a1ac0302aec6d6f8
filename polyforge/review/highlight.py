"""Model output as HTML, safely: every character a model wrote is escaped, and code is highlighted on the server
by pygments (which escapes what it emits), so no script ever runs in the annotator's browser."""

from __future__ import annotations

import re

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.util import ClassNotFound

_FORMATTER = HtmlFormatter(cssclass="highlight")
# A fenced code block of a Markdown answer: ```lang ... ``` (the closing fence alone on its line)
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.MULTILINE | re.DOTALL)


def lexer_for(language: str | None) -> Lexer:
    """Pygments' lexer for a language name (Linguist's or a fence tag: Python, C++, go, ...), plain text when it
    has none."""
    for name in filter(None, (language, (language or "").replace(" ", ""))):
        try:
            return get_lexer_by_name(name.lower(), stripnl=False)
        except ClassNotFound:
            continue
    return TextLexer(stripnl=False)


def code_html(code: str, language: str | None) -> Markup:
    """Source code, highlighted, in a `div.highlight > pre`."""
    return Markup(highlight(code, lexer_for(language), _FORMATTER))


def text_html(text: str, language: str | None) -> Markup:
    """Model text (an instruction, an answer): prose in `pre.prose`, fenced code blocks highlighted (in the fence's
    language, else `language`)."""
    parts, position = [], 0
    for fence in _FENCE.finditer(text):
        parts.append(_prose(text[position:fence.start()]))
        parts.append(code_html(fence.group(2), fence.group(1) or language))
        position = fence.end()
    parts.append(_prose(text[position:]))
    return Markup("").join(parts)


def _prose(text: str) -> Markup:
    text = text.strip("\n")
    return Markup('<pre class="prose">{}</pre>').format(text) if text.strip() else Markup("")


def stylesheet() -> str:
    """The CSS rules of the highlighted code (written into static/review.css)."""
    return _FORMATTER.get_style_defs(".highlight")


__all__ = ["code_html", "lexer_for", "stylesheet", "text_html"]
