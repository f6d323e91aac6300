"""Pack form files and instructions are Jinja templates rendered with the task data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jinja2 import ChainableUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from markupsafe import Markup

from forms.errors import FormDefinitionError

# Autoescape stays off: the JSON templates are not HTML, and instructions are escaped by
# markdown-it afterwards. ChainableUndefined lets `{{ manager.name }}` render empty when the
# task data has no manager yet, as SpiffArena's forms expect.
_sandbox = SandboxedEnvironment(undefined=ChainableUndefined, autoescape=False)
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
    ["table", "strikethrough"]
)


def _render(text: str, data: Mapping[str, Any], what: str) -> str:
    try:
        return _sandbox.from_string(text).render(dict(data))
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
