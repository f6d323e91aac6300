"""Pack form files and instructions are Jinja templates rendered with the task data."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from forms import limits
from forms.errors import FormDefinitionError
from forms.fields import readable_date


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox under the evaluation limits (forms.limits): every call and every turn of
    a loop over `range` ticks the CPU budget, `range` holds at most MAX_RANGE items, and `*`,
    `+`, `**` and `%` — and the padding filters — refuse to build a value too big to hold."""

    intercepted_binops = frozenset(limits.BINOPS)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = limits.bounded_range
        self.filters["date"] = readable_date
        for name in ("center", "indent"):
            self.filters[name] = _width_checked(self.filters[name])
        for name in ("round", "int", "float"):
            self.filters[name] = _missing_stays_missing(self.filters[name])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """A guarded binary operation."""
        limits.tick()
        return limits.guarded_binop(operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """A call from the template, counted against the CPU budget."""
        limits.tick()
        return super().call(__context, __obj, *args, **kwargs)


def _width_checked(padding: Any) -> Any:
    def checked(value: Any, width: Any = 80, *args: Any, **kwargs: Any) -> Any:
        if isinstance(width, int):
            limits.check_width(width)
        return padding(value, width, *args, **kwargs)

    return checked


def _missing_stays_missing(number_filter: Any) -> Any:
    """A number filter given a value the task data lacks renders it empty, as a missing value
    does everywhere else, instead of failing the page."""
    def tolerant(value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, Undefined):
            return value
        return number_filter(value, *args, **kwargs)

    return tolerant


def render_bounded(
    template: str, data: Mapping[str, Any], what: str, environment: BoundedSandbox | None = None
) -> str:
    """Render a pack's Jinja template within the evaluation limits; a template past them raises
    LimitExceeded (`what` names it in the message)."""
    with limits.bounded(what):
        return (environment or _sandbox).from_string(template).render(dict(data))


# Characters Markdown reads as markup: escaped in what task data puts into instructions.
_MARKDOWN_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~=])")


def _as_markdown_text(value: Any) -> Any:
    """A value the instructions print, as plain text to Markdown: what a person typed (a
    comment with `[a link](…)` or `![an image](…)`) stays text; the pack's own Markdown around
    it keeps its meaning. A pack marks a value as Markdown on purpose with `|safe`."""
    if isinstance(value, Markup) or value is None:
        return value
    return _MARKDOWN_MARKUP.sub(r"\\\1", str(value))


# Autoescape stays off: the JSON templates are not HTML, and instructions are escaped by
# markdown-it afterwards. ChainableUndefined lets `{{ manager.name }}` render empty when the
# task data has no manager yet, as SpiffArena's forms expect.
_sandbox = BoundedSandbox(undefined=ChainableUndefined, autoescape=False)
_instructions = BoundedSandbox(
    undefined=ChainableUndefined, autoescape=False, finalize=_as_markdown_text
)
# Instructions' Markdown: no raw HTML, no images (a same-origin image is a request made in the
# reader's name), and links that show where they go (see _rendered_links).
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
    ["table", "strikethrough"]
).disable("image")


def _rendered_links(markdown: MarkdownIt) -> MarkdownIt:
    """Links open nothing silently: `rel="nofollow noopener noreferrer"`, and the address
    written after the text whenever the text says something else."""
    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
        return str(renderer.renderToken(tokens, idx, options, env))

    def link_close(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        opening = next(t for t in reversed(tokens[:idx]) if t.type == "link_open")
        href = str(opening.attrGet("href") or "")
        text = "".join(t.content for t in tokens[tokens.index(opening) + 1:idx])
        closed = str(renderer.renderToken(tokens, idx, options, env))
        if href and text.strip() != href:
            return closed + f' <span class="link-address">({escape(href)})</span>'
        return closed

    markdown.add_render_rule("link_open", link_open)
    markdown.add_render_rule("link_close", link_close)
    return markdown


_rendered_links(_markdown)


def _labelled_cells(state: Any) -> None:
    """Each body cell of a Markdown table carries its column's name (data-label), so the
    table can read as cards on a narrow screen."""
    headers: list[str] = []
    column = 0
    for i, token in enumerate(state.tokens):
        if token.type == "thead_open":
            headers = []
        elif token.type == "th_open" and state.tokens[i + 1].type == "inline":
            words = state.tokens[i + 1].children or []
            headers.append("".join(w.content for w in words if w.type in ("text", "code_inline")))
        elif token.type == "tr_open":
            column = 0
        elif token.type == "td_open":
            if column < len(headers):
                token.attrSet("data-label", headers[column])
            column += 1


_markdown.core.ruler.push("labelled_cells", _labelled_cells)


def _render(
    text: str, data: Mapping[str, Any], what: str, environment: BoundedSandbox | None = None
) -> str:
    try:
        return render_bounded(text, data, what, environment)
    except limits.LimitExceeded as error:
        raise FormDefinitionError(f"{what} could not be rendered: {error}") from None
    except TemplateError as error:
        message = f"{what} could not be rendered with the task data: {error}"
        raise FormDefinitionError(message) from None


def render_schema_template(text: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Render a pack form file (JSON with Jinja) with the task data and parse it."""
    rendered = _render(text, data, "form file")
    try:
        parsed = json.loads(rendered)
    except json.JSONDecodeError as error:
        raise FormDefinitionError(
            f"form file is not valid JSON after rendering with the task data: {error.msg} "
            f"at line {error.lineno}, column {error.colno} (use the tojson filter to insert "
            f"text values)"
        ) from None
    if not isinstance(parsed, dict):
        raise FormDefinitionError("form file must hold a JSON object")
    return parsed


def render_instructions(markdown_template: str, data: Mapping[str, Any]) -> Markup:
    """Render task instructions: Jinja with the task data, then Markdown with HTML escaped."""
    if not markdown_template:
        return Markup("")
    rendered = _render(markdown_template, data, "instructions", _instructions)
    return Markup(_markdown.render(rendered))
