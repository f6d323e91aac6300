"""Task forms: JSON Schema + UI schema -> WTForms classes, validation and Pico/htmx HTML.

This package imports neither `engine` nor `webapp`; see docs/forms.md.
"""

from __future__ import annotations

from forms.bound import (
    ACTION_KEY,
    FIELD_KEY,
    BoundForm,
    FieldError,
    FormButton,
    PersonDirectory,
    PersonLookup,
)
from forms.catalogs import Choice
from forms.errors import FormDefinitionError
from forms.render import STATIC_DIR, HtmlForm
from forms.schema import private_fields
from forms.spec import FormSpec, PostedValues, form_spec
from forms.templating import render_instructions, render_schema_template

__all__ = [
    "ACTION_KEY",
    "FIELD_KEY",
    "STATIC_DIR",
    "BoundForm",
    "Choice",
    "FieldError",
    "FormButton",
    "FormDefinitionError",
    "FormSpec",
    "HtmlForm",
    "PersonDirectory",
    "PersonLookup",
    "PostedValues",
    "form_spec",
    "private_fields",
    "render_instructions",
    "render_schema_template",
]
