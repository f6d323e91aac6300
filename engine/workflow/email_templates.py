"""The HTML part of the emails the engine sends: one small transactional layout.

Mail clients ignore style sheets and scripts, so every style is inline and the layout is a
single centred table. Every value that comes from people (names, task names, instructions) is
escaped here, once: callers pass plain text. The link may hold the outbox's `{base_url}` and
`{task_id}` placeholders, which the sender completes (they survive escaping unchanged).

The engine knows nothing of the web: this is string building, not the web app's templates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

ACCENT = "#1d6fb8"
_FONT = "font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif"


def _paragraph(text: str) -> str:
    lines = "<br>".join(escape(line) for line in text.splitlines())
    return f'<p style="margin:0 0 16px;font-size:15px;line-height:1.5;color:#1f2933">{lines}</p>'


def _facts(facts: Sequence[tuple[str, str]]) -> str:
    rows = "".join(
        f'<tr><td style="padding:4px 16px 4px 0;color:#616e7c;font-size:14px;'
        f'white-space:nowrap;vertical-align:top">{escape(label)}</td>'
        f'<td style="padding:4px 0;font-size:14px;color:#1f2933">{escape(value)}</td></tr>'
        for label, value in facts if value
    )
    if not rows:
        return ""
    return (f'<table role="presentation" cellpadding="0" cellspacing="0" '
            f'style="margin:0 0 20px;border-collapse:collapse">{rows}</table>')


def _button(label: str, url: str, translate: Callable[[str], str] = str) -> str:
    href = escape(url, quote=True)
    return (
        '<table role="presentation" cellpadding="0" cellspacing="0" style="margin:8px 0 24px">'
        f'<tr><td style="border-radius:6px;background:{ACCENT}">'
        f'<a href="{href}" style="display:inline-block;padding:12px 24px;font-size:15px;'
        f'font-weight:600;color:#ffffff;text-decoration:none;border-radius:6px">'
        f"{escape(label)}</a></td></tr></table>"
        f'<p style="margin:0 0 16px;font-size:13px;color:#616e7c">'
        f'{escape(translate("Or paste this link into your browser:"))} '
        f'<a href="{href}" style="color:{ACCENT}">{escape(url)}</a></p>'
    )


def html_email(
    title: str,
    greeting: str,
    paragraphs: Sequence[str],
    button: tuple[str, str] | None = None,
    facts: Sequence[tuple[str, str]] = (),
    quote: str = "",
    sections: Sequence[str] = (),
    translate: Callable[[str], str] = str,
) -> str:
    """A whole HTML document: heading, greeting, paragraphs, a facts table, a quoted excerpt
    (such as the instructions' first lines), a button and raw `sections` (already HTML, built
    with the helpers here) — all plain text but the sections. The caller words its texts in
    the reader's language; `translate` words the layout's own (the engine's catalog)."""
    quoted = (
        f'<div style="margin:0 0 20px;padding:12px 16px;border-left:3px solid #cbd2d9;'
        f'background:#f5f7fa;font-size:14px;line-height:1.5;color:#3e4c59">'
        f'{"<br>".join(escape(line) for line in quote.splitlines())}</div>'
        if quote else ""
    )
    body = (
        f'<h1 style="margin:0 0 20px;font-size:20px;line-height:1.3;color:#1f2933">'
        f"{escape(title)}</h1>"
        + _paragraph(greeting)
        + "".join(_paragraph(p) for p in paragraphs if p)
        + _facts(facts)
        + quoted
        + "".join(sections)
        + (_button(*button, translate=translate) if button else "")
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        f'<body style="margin:0;padding:0;background:#f0f2f5;{_FONT}">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        'style="background:#f0f2f5;padding:24px 12px"><tr><td align="center">'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        'style="max-width:560px;background:#ffffff;border-radius:8px;'
        'border:1px solid #e4e7eb">'
        f'<tr><td style="padding:16px 32px;border-bottom:3px solid {ACCENT};font-size:16px;'
        f'font-weight:700;color:{ACCENT};letter-spacing:0.02em">Sightline</td></tr>'
        f'<tr><td style="padding:28px 32px 12px">{body}</td></tr>'
        '<tr><td style="padding:16px 32px;border-top:1px solid #e4e7eb;font-size:12px;'
        'color:#7b8794">'
        + escape(translate("You receive this email because a task or meeting in Sightline "
                           "involves you. Choose a daily digest instead on your account page."))
        + "</td></tr>"
        "</table></td></tr></table></body></html>"
    )


def task_list(items: Sequence[tuple[str, str, str]]) -> str:
    """A list of tasks for a digest: (task name with whom it is about, due text, link)."""
    rows = "".join(
        '<tr><td style="padding:12px 0;border-bottom:1px solid #e4e7eb">'
        f'<a href="{escape(url, quote=True)}" style="font-size:15px;font-weight:600;'
        f'color:{ACCENT};text-decoration:none">{escape(name)}</a>'
        + (f'<div style="font-size:13px;color:#616e7c;margin-top:2px">{escape(due)}</div>'
           if due else "")
        + "</td></tr>"
        for name, due, url in items
    )
    return (f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
            f'style="margin:0 0 20px;border-collapse:collapse">{rows}</table>')
