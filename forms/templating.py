"""Pack form files and instructions are Jinja templates rendered with the task data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jinja2 import ChainableUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import Markup

from forms import limits
from forms.errors import FormDefinitionError


class BoundedSandbox(SandboxedEnvironment):
    """Jinja's sandbox under the evaluation limits (forms.limits): every call and every turn of
    a loop over `range` ticks the CPU budget, `range` holds at most MAX_RANGE items, and `*`,
    `+`, `**` and `%` — and the padding filters — refuse to build a value too big to hold."""

    intercepted_binops = frozenset(limits.BINOPS)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = limits.bounded_range
        for name in ("center", "indent"):
            self.filters[name] = _width_checked(self.filters[name])

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


def render_bounded(template: str, data: Mapping[str, Any], what: str) -> str:
    """Render a pack's Jinja template within the evaluation limits; a template past them raises
    LimitExceeded (`what` names it in the message)."""
    with limits.bounded(what):
        return _sandbox.from_string(template).render(dict(data))


# Autoescape stays off: the JSON templates are not HTML, and instructions are escaped by
# markdown-it afterwards. ChainableUndefined lets `{{ manager.name }}` render empty when the
# task data has no manager yet, as SpiffArena's forms expect.
_sandbox = BoundedSandbox(undefined=ChainableUndefined, autoescape=False)
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
    ["table", "strikethrough"]
)


def _render(text: str, data: Mapping[str, Any], what: str) -> str:
    try:
        return render_bounded(text, data, what)
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
    return Markup(_markdown.render(_render(markdown_template, data, "instructions")))
