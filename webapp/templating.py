"""One Jinja environment for every page and fragment, and `render` for htmx-aware responses."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import babel.dates
import babel.numbers
import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from engine.base import clock
from engine.base.i18n import PackText, Said
from webapp import csrf, i18n
from webapp.i18n import DEFAULT_LANGUAGE

WEBAPP_DIR = Path(__file__).resolve().parent
ROOT = WEBAPP_DIR.parent
TEMPLATE_DIRS = [WEBAPP_DIR / "templates", ROOT / "forms" / "templates"]
STATIC_DIR = WEBAPP_DIR / "static"
NODE_MODULES = ROOT / "node_modules"
# URL prefix -> folder under node_modules, served by app.py and linked by `vendor_url`.
VENDOR_DIRS: dict[str, Path] = {
    "htmx": NODE_MODULES / "htmx.org" / "dist",
    "pico": NODE_MODULES / "@picocss" / "pico" / "css",
    "bpmn-js": NODE_MODULES / "bpmn-js" / "dist",
    "dmn-js": NODE_MODULES / "dmn-js" / "dist",
    "chart.js": NODE_MODULES / "chart.js" / "dist",
    # Not from npm: the form widgets' own CSS and script, shipped with the forms package.
    "forms": ROOT / "forms" / "static",
}


@lru_cache(maxsize=512)
def _fingerprint(path: Path, mtime_ns: int) -> str:
    # Keyed on mtime so an edited file gets a new URL while the server runs.
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def _versioned(url: str, path: Path) -> str:
    try:
        stat = path.stat()
    except OSError:
        return url
    return f"{url}?v={_fingerprint(path, stat.st_mtime_ns)}"


def static_url(name: str) -> str:
    """URL of a file in webapp/static, fingerprinted so it can be cached for a year."""
    return _versioned(f"/static/{name}", STATIC_DIR / name)


def vendor_url(name: str) -> str:
    """URL of a front-end library file, e.g. vendor_url("htmx/htmx.min.js")."""
    prefix, _, rest = name.partition("/")
    folder = VENDOR_DIRS.get(prefix)
    if folder is None:
        raise ValueError(f"no vendored library '{prefix}'")
    return _versioned(f"/vendor/{name}", folder / rest)


DEFAULT_DATE = "%-d %b %Y"
DEFAULT_DATETIME = "%-d %b %Y, %H:%M"
# strftime's codes as CLDR patterns, so a template's format reads right in every language.
_CLDR_CODES = {
    "%-d": "d", "%d": "dd", "%b": "MMM", "%B": "MMMM", "%Y": "y", "%m": "MM", "%-m": "M",
    "%H": "HH", "%M": "mm", "%a": "EEE", "%A": "EEEE",
}


# Languages that write a day number with a full stop: "7. Dez." in German.
_DAY_STOP = frozenset({"de"})


def _cldr_pattern(fmt: str, language: str) -> str:
    if language in _DAY_STOP:
        fmt = fmt.replace("%-d %", "%-d. %").replace("%d %", "%d. %")
    pattern, rest = "", fmt
    while rest:
        code = next((c for c in _CLDR_CODES if rest.startswith(c)), None)
        if code is not None:
            pattern, rest = pattern + _CLDR_CODES[code], rest[len(code):]
        elif rest[0].isalpha() or rest[0] == "'":
            pattern, rest = pattern + ("''" if rest[0] == "'" else f"'{rest[0]}'"), rest[1:]
        else:
            pattern, rest = pattern + rest[0], rest[1:]
    return pattern


def format_date(value: date | datetime | str | None, fmt: str = DEFAULT_DATE) -> str:
    """A date the way people write it: 12 Mar 2026 (in German: 12. März 2026). A form's
    ISO date ("2027-03-31") is read as that day; any other text is shown as it is."""
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            return format_date(date.fromisoformat(value.strip()), fmt)
        except ValueError:
            return value
    if isinstance(value, datetime):
        value = clock.local(value)  # the day it is where the organisation is
    language = i18n.language()
    if language == DEFAULT_LANGUAGE:
        return value.strftime(fmt)
    day = value.date() if isinstance(value, datetime) else value
    if fmt == DEFAULT_DATE:
        return babel.dates.format_date(day, "long", locale=language)
    if isinstance(value, datetime):
        return babel.dates.format_datetime(value, _cldr_pattern(fmt, language), locale=language)
    return babel.dates.format_date(day, _cldr_pattern(fmt, language), locale=language)


def format_datetime(value: datetime | None, fmt: str = DEFAULT_DATETIME) -> str:
    """A moment in the organisation's time zone (clock.zone): 12 Mar 2026, 14:05 (in
    German: 12. März 2026, 14:05). A moment without a zone is UTC."""
    if value is None:
        return ""
    value = clock.local(value)
    language = i18n.language()
    if language == DEFAULT_LANGUAGE:
        return value.strftime(fmt)
    if fmt == DEFAULT_DATETIME:
        day = babel.dates.format_date(value.date(), "long", locale=language)
        return f"{day}, {value:%H:%M}"
    return babel.dates.format_datetime(
        value, _cldr_pattern(fmt, language), tzinfo=clock.zone(), locale=language
    )


def format_number(value: float | int | Decimal | None, digits: int | None = None) -> str:
    """A number as the reader writes it: 1,234.5 (in German: 1.234,5); `digits` fixes the
    decimals shown."""
    if value is None:
        return ""
    if digits is not None:
        fraction = "0" * digits
        pattern = f"#,##0.{fraction}" if digits else "#,##0"
        return babel.numbers.format_decimal(value, pattern, locale=i18n.language())
    return babel.numbers.format_decimal(value, locale=i18n.language())


def signed_number(value: float | int | Decimal | None, digits: int = 0) -> str:
    """A difference with its sign, as the reader writes numbers: +2.5 (German: +2,5)."""
    if value is None:
        return ""
    fraction = f".{'0' * digits}" if digits else ""
    pattern = f"+#,##0{fraction};-#,##0{fraction}"
    return babel.numbers.format_decimal(value, pattern, locale=i18n.language())


def first_upper(value: object) -> str:
    """A text with its first letter upper case and the rest as written (a unit's name stays
    "IT", unlike `capitalize`); an engine text in the reader's language first."""
    text = i18n.say(value)
    return text[:1].upper() + text[1:]


def in_sentence(value: object) -> str:
    """A title inside a sentence: lower case in English ("year-end appraisal cycles"), as
    written in a language whose nouns keep their capital (German)."""
    text = i18n.say(value)
    return text.lower() if i18n.language() == DEFAULT_LANGUAGE else text


def _shown(value: object) -> object:
    # Every {{ … }}: a text the engine wrote for the page (engine.base.i18n.Said) or a pack's
    # name it marked (PackText) in the request's language; everything else as it is.
    return i18n.say(value) if isinstance(value, Said | PackText) else value


def relative_due(value: date | datetime | None, today: date | None = None) -> str:
    """How a deadline reads in an inbox: "due today", "due in 3 days", "2 days overdue"."""
    _ = i18n.gettext
    if value is None:
        return _("no due date")
    if today is None:
        today = clock.local(clock.now()).date()
    due = clock.local(value).date() if isinstance(value, datetime) else value
    days = (due - today).days
    if days == 0:
        return _("due today")
    if days == 1:
        return _("due tomorrow")
    if days > 1:
        return i18n.ngettext("due in %(num)s day", "due in %(num)s days", days)
    return i18n.ngettext("%(num)s day overdue", "%(num)s days overdue", -days)


@jinja2.pass_context
def person_name(context: Mapping[str, Any], ref: int | str | None) -> str:
    """A person's display name from the request's directory snapshot ("group:hr" -> "HR")."""
    if ref is None or ref == "":
        return "—"
    if isinstance(ref, str) and ref.startswith("group:"):
        group = ref.removeprefix("group:")
        return group.upper() if len(group) <= 3 else group.replace("_", " ").capitalize()
    request = context.get("request")
    directory = getattr(getattr(request, "state", None), "directory", None)
    person = directory.person(ref) if directory is not None else None
    return person.name if person is not None else str(ref)


# -- flash messages -------------------------------------------------------------------------

FLASH_KINDS = ("info", "success", "warning", "error")


def flash(request: Request, message: str, kind: str = "info") -> None:
    """Queue a message for the next page this person sees (kind: info/success/warning/error)."""
    if kind not in FLASH_KINDS:
        raise ValueError(f"flash kind must be one of {FLASH_KINDS}")
    request.session.setdefault("_flashes", []).append([kind, message])
    # Assigning again marks the session modified even though the list was mutated in place.
    request.session["_flashes"] = request.session["_flashes"]


def pop_flashes(request: Request) -> list[tuple[str, str]]:
    """Take the queued messages out of the session (templates call this once per page)."""
    if "session" not in request.scope:
        return []
    return [(kind, message) for kind, message in request.session.pop("_flashes", [])]


def _viewer_context(request: Request) -> dict[str, Any]:
    return {"viewer": getattr(request.state, "viewer", None)}


def _build_environment() -> jinja2.Environment:
    loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(str(folder)) for folder in TEMPLATE_DIRS if folder.is_dir()]
    )
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(["html", "xml"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        finalize=_shown,
    )
    # The request's language (webapp.i18n, set per request): Jinja fills the slots itself.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.raw_gettext, i18n.raw_ngettext, newstyle=True, pgettext=i18n.raw_pgettext
    )
    env.globals.update(
        csrf_token=csrf.template_token,
        csrf_input=csrf.template_input,
        static_url=static_url,
        vendor_url=vendor_url,
        now=clock.now,
        time_zone=clock.zone_name,
        pop_flashes=pop_flashes,
        current_language=i18n.language,
        Markup=Markup,
    )
    env.filters.update(
        date=format_date,
        datetime=format_datetime,
        relative_due=relative_due,
        number=format_number,
        signed=signed_number,
        first_upper=first_upper,
        in_sentence=in_sentence,
        say=i18n.say,
        pack_name=i18n.pack_name,
        person_name=person_name,
    )
    return env


templates = Jinja2Templates(env=_build_environment(), context_processors=[_viewer_context])


def is_htmx(request: Request) -> bool:
    """Whether htmx asked for a piece of a page (boosted links want the whole page)."""
    headers = request.headers
    return (
        headers.get("HX-Request") == "true"
        and headers.get("HX-Boosted") != "true"
        and headers.get("HX-History-Restore-Request") != "true"
    )


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    fragment: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render a page, or only `fragment` when htmx asked for part of it."""
    name = fragment if fragment is not None and is_htmx(request) else template
    response = templates.TemplateResponse(
        request, name, dict(context or {}), status_code=status, headers=headers
    )
    # Pages and fragments of the same URL must not be served from cache for one another.
    response.headers.append("Vary", "HX-Request")
    return response
