"""Errors raised while reading a pack's form definition."""

from __future__ import annotations


class FormDefinitionError(ValueError):
    """A form schema, UI schema or catalog that Sightline cannot turn into a form."""
