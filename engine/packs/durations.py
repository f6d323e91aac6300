"""Durations as people write them ("14 days", "2 weeks", "3 months") and as BPMN stores them
(ISO 8601: `P14D`, `P2W`, `P3M`). The designer shows a task's `dueIn` and timer durations in
words and turns typed words back into ISO 8601.
"""

from __future__ import annotations

import re

_ISO = re.compile(
    r"P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
    r"(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?"
)
_UNITS = (("year", "Y"), ("month", "M"), ("week", "W"), ("day", "D"),
          ("hour", "H"), ("minute", "M"), ("second", "S"))
_WORDS = {
    "y": 0, "yr": 0, "yrs": 0, "year": 0, "years": 0,
    "mo": 1, "mon": 1, "month": 1, "months": 1,
    "w": 2, "wk": 2, "wks": 2, "week": 2, "weeks": 2,
    "d": 3, "day": 3, "days": 3,
    "h": 4, "hr": 4, "hrs": 4, "hour": 4, "hours": 4,
    "min": 5, "mins": 5, "minute": 5, "minutes": 5,
    "s": 6, "sec": 6, "secs": 6, "second": 6, "seconds": 6,
}
_NUMBERS = {word: n for n, word in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_NUMBERS.update({"a": 1, "an": 1})
_PART = re.compile(r"(\d+|[a-z]+)\s*([a-z]+)")
EXAMPLE = "a duration such as “14 days”, “2 weeks” or “3 months”"


class DurationError(ValueError):
    """Text that is neither words such as "2 weeks" nor an ISO 8601 duration."""


def is_iso(text: str) -> bool:
    """Whether `text` is an ISO 8601 duration such as P14D or PT4H."""
    return bool(_ISO.fullmatch(text.strip().upper()))


def in_words(iso: str) -> str:
    """`P14D` -> "14 days", `P1M2D` -> "1 month 2 days"; other text comes back as it is."""
    found = _ISO.fullmatch(iso.strip().upper())
    if not found:
        return iso
    parts = []
    for amount, (unit, _) in zip(found.groups(), _UNITS, strict=True):
        if amount is not None:
            number = int(amount)
            parts.append(f"{number} {unit}{'' if number == 1 else 's'}")
    return " ".join(parts) or iso


def to_iso(text: str) -> str:
    """"2 weeks" -> `P2W`, "1 month 2 days" -> `P1M2D`, "P14D" stays; "" for empty text.
    `DurationError` when the text is neither."""
    typed = text.strip()
    if not typed:
        return ""
    if is_iso(typed):
        return typed.upper()
    words = typed.lower().replace(",", " ").replace(" and ", " ")
    amounts: list[int | None] = [None] * len(_UNITS)
    position = 0
    for match in _PART.finditer(words):
        if words[position:match.start()].strip():
            raise DurationError(f"“{typed}” is not {EXAMPLE}.")
        unit = _WORDS.get(match.group(2))
        count = match.group(1)
        number = int(count) if count.isdigit() else _NUMBERS.get(count)
        if unit is None or number is None or amounts[unit] is not None:
            raise DurationError(f"“{typed}” is not {EXAMPLE}.")
        amounts[unit] = number
        position = match.end()
    if position == 0 or words[position:].strip():
        raise DurationError(f"“{typed}” is not {EXAMPLE}.")
    date = "".join(f"{n}{code}" for n, (_, code) in zip(amounts[:4], _UNITS[:4], strict=True)
                   if n is not None)
    time = "".join(f"{n}{code}" for n, (_, code) in zip(amounts[4:], _UNITS[4:], strict=True)
                   if n is not None)
    return "P" + date + (f"T{time}" if time else "")


_ISO_TOKEN = re.compile(r"\bP(?=\d|T\d)(?:\d+[YMWD])*(?:T(?:\d+[HMS])+)?\b")


def words_in(text: str) -> str:
    """Every ISO 8601 duration inside a sentence in words: "dueIn: P14D → P7D" ->
    "dueIn: 14 days → 7 days"."""
    return _ISO_TOKEN.sub(lambda m: in_words(m.group(0)), text)
