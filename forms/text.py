"""What text and numbers Sightline can store: control characters and the number range.

Stored values end up in JSON columns on SQLite or PostgreSQL. PostgreSQL refuses the NUL
character anywhere in text or JSON, and no person types the other control characters (they
come from broken clients, binary pastes or probes), so none of them is accepted. Tab, line
feed and carriage return are ordinary in multi-line text; single-line fields refuse them.

Numbers are stored as JSON numbers, which their readers (JavaScript, PostgreSQL's jsonb casts,
SQLite's JSON functions) hold as IEEE doubles: every integer of up to 15 digits survives the
trip exactly, so that is the range accepted (see docs/forms.md).
"""

from __future__ import annotations

from decimal import Decimal

from forms.i18n import gettext as _

# Whitespace that multi-line text keeps (textarea): tab, line feed, carriage return.
MULTILINE_WHITESPACE = frozenset("\t\n\r")
# The largest magnitude of a stored number: 15 digits, exact as a double (< 2**53).
NUMBER_LIMIT = Decimal(10) ** 15
NUMBER_DIGITS = 15


def first_control_character(text: str, *, multiline: bool = True) -> str | None:
    """The first control character (Unicode category Cc: U+0000–U+001F, U+007F–U+009F) in
    `text` that cannot be stored, or None. With `multiline`, tab, line feed and carriage
    return are allowed (a textarea's text)."""
    allowed = MULTILINE_WHITESPACE if multiline else frozenset()
    for char in text:
        if char not in allowed and (char < " " or "\x7f" <= char <= "\x9f"):
            return char
    return None


def describe_character(char: str) -> str:
    """How a message names a character: "U+0000" (with its name where Unicode has one)."""
    names = {"\t": "a tab", "\n": "a line break", "\r": "a line break", "\x00": "NUL"}
    code = f"U+{ord(char):04X}"
    return f"{names[char]} ({code})" if char in names else code


def control_character_message(char: str) -> str:
    """The field error for text holding a control character."""
    if char in MULTILINE_WHITESPACE:
        return _("Keep this on one line: remove the tabs and line breaks.")
    return (
        _(
            "This text contains an invisible control character (%(character)s) that cannot be "
            "stored; remove it.",
            character=describe_character(char),
        )
    )


def storable_number(value: Decimal) -> bool:
    """Whether a number can be stored as typed: finite and of at most 15 digits before the
    point (a value so small it would be stored as 0 is refused too)."""
    if not value.is_finite():
        return False
    if abs(value) >= NUMBER_LIMIT:
        return False
    return value == 0 or float(value) != 0.0
