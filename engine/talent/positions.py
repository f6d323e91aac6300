"""Positions and what they require: proficiency per competency, knowledge and skills.

A pack ships its profiles in `catalogs/positions.toml` (`[positions.<code>]`, and
`[families.<job family>]` for a job family's generic profile); they are seeded into Position
rows (`origin = "pack:<name>"`) from the newest deployed version whenever positions are read,
and by the demo. HR edits, creates and retires profiles in the app; an edited row becomes
`origin = "app"` and a later deploy never overwrites it. A catalog entry that a new pack
version drops retires its row, unless HR edited it.

A person's position is `Person.position` (the org import, SCIM, the API). Whoever has none,
or one that is retired or unknown, is measured against their job family's generic profile
(the row coded `family:<job family>`), else that of the framework's `default_family`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from engine.base import clock
from engine.base.errors import EngineError
from engine.base.i18n import Said, said
from engine.base.models import OrgUnit, Person, Position, ProcessDefinition
from engine.packs.definitions import deployed
from engine.packs.loading import Features
from engine.packs.translations import TEXTS, pack_translations, translate_data
from engine.people.directory import PersonInfo, bump_directory_version
from engine.performance.deployed_pack import NOTHING_DEPLOYED, DeployedPack
from engine.workflow.store import record_event

CATALOG = "positions"
# The code of a job family's generic profile: "family:engineering".
GENERIC_PREFIX = "family:"
APP_ORIGIN = "app"
CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
MAX_TITLE = 255
MAX_ITEMS = 30
MAX_ITEM_LENGTH = 200
MAX_DESCRIPTION = 4000


@dataclass(frozen=True)
class Profile:
    """A position (or a job family's generic profile) and what it requires."""

    code: str
    title: str
    job_family: str = ""
    description: str = ""
    requirements: dict[str, int] = field(default_factory=dict, hash=False)
    knowledge: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    is_key: bool = False
    org_unit_id: int | None = None
    origin: str = APP_ORIGIN
    active: bool = True
    updated_by: str = ""
    updated_at: datetime | None = None

    @property
    def generic(self) -> bool:
        """Whether this is a job family's generic profile, not a position."""
        return self.code.startswith(GENERIC_PREFIX)

    @property
    def edited_in_app(self) -> bool:
        """Whether HR changed it in the app (a deploy leaves it alone)."""
        return self.origin == APP_ORIGIN


@dataclass
class ProfileInput:
    """A profile as typed on the page or sent by a caller: raw text, checked by `check`."""

    title: str = ""
    job_family: str = ""
    description: str = ""
    # Competency key -> the level typed ("" or absent: not required).
    requirements: dict[str, str] = field(default_factory=dict)
    knowledge: str = ""  # one item per line
    skills: str = ""
    is_key: bool = False
    org_unit: str = ""  # an org unit's code, or ""
    code: str = ""  # only when creating

    @classmethod
    def of(cls, profile: Profile, unit_code: str = "") -> ProfileInput:
        """The input that shows a stored profile in the edit form."""
        return cls(
            title=profile.title, job_family=profile.job_family,
            description=profile.description,
            requirements={k: str(v) for k, v in profile.requirements.items()},
            knowledge="\n".join(profile.knowledge), skills="\n".join(profile.skills),
            is_key=profile.is_key, org_unit=unit_code, code=profile.code,
        )


class PositionInvalid(EngineError):
    """A profile that cannot be saved: a message per field ("title", "code",
    "requirements.<competency>", "org_unit" …); nothing was stored."""

    def __init__(self, problems: Mapping[str, Said]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = dict(problems)


@dataclass(frozen=True)
class Framework:
    """What a profile is checked against: the competencies and the rating scale's range."""

    competencies: dict[str, str]  # key -> name, in the catalog's order
    lowest: int = 1
    highest: int = 5
    default_family: str = ""

    @classmethod
    def of(cls, catalogs: Mapping[str, Any]) -> Framework:
        """The framework of a pack's catalogs (competencies.toml, rating_scale.toml)."""
        framework = catalogs.get("competencies") or {}
        scale = catalogs.get("rating_scale") or {}
        values = [int(lv["value"]) for lv in scale.get("levels", [])
                  if isinstance(lv, Mapping) and isinstance(lv.get("value"), int)]
        lowest = int(scale.get("min", min(values, default=1)))
        highest = int(scale.get("max", max(values, default=5)))
        competencies = {
            str(key): str(c.get("name") or key)
            for key, c in (framework.get("competencies") or {}).items() if isinstance(c, Mapping)
        }
        return cls(competencies, lowest, highest, str(framework.get("default_family") or ""))


async def _talent_definition() -> int | None:
    """The newest deployed version of the newest pack that ships a competency framework (a
    pack installed beside it — a roll-out programme — has none)."""
    seen: set[str] = set()
    for definition_id, pack in await ProcessDefinition.all().order_by("-id").values_list(
        "id", "pack"
    ):
        if pack in seen:
            continue
        seen.add(pack)
        if "competencies" in (await deployed(definition_id)).catalogs:
            return int(definition_id)
    return None


async def talent_pack() -> DeployedPack:
    """The deployed pack whose competency framework, positions and `[features]` the talent
    pages use: the newest one that ships a framework."""
    definition_id = await _talent_definition()
    if definition_id is None:
        return NOTHING_DEPLOYED
    dep = await deployed(definition_id)
    rows = await ProcessDefinition.filter(id=definition_id).values("settings")
    settings = rows[0]["settings"] if rows and isinstance(rows[0]["settings"], dict) else {}
    features, _ = Features.from_table(settings.get("features"))
    return DeployedPack(name=dep.pack, features=features, catalogs=dep.catalogs)


async def current_framework() -> Framework:
    """The framework of the deployed pack the talent pages use."""
    return Framework.of((await talent_pack()).catalogs)


def _lines(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))


def check(values: ProfileInput, framework: Framework, *, creating: bool) -> tuple[
    dict[str, Any], dict[str, Said]
]:
    """The profile's fields as they would be stored, and what is wrong with the input."""
    problems: dict[str, Said] = {}
    code = values.code.strip().lower()
    if creating:
        if not code:
            problems["code"] = said("Give the position a code, e.g. software_engineer.")
        elif code.startswith(GENERIC_PREFIX) or not CODE.match(code):
            problems["code"] = said(
                "A code is lower-case letters, digits, '_', '-' or '.', at most 64 characters "
                "(not %(code)s).", code=values.code.strip())
    title = " ".join(values.title.split())
    if not title:
        problems["title"] = said("Give the position a title.")
    elif len(title) > MAX_TITLE:
        problems["title"] = said("A title is at most %(n)s characters.", n=MAX_TITLE)
    requirements: dict[str, int] = {}
    for key, typed in values.requirements.items():
        text = str(typed).strip()
        if not text:
            continue
        if key not in framework.competencies:
            problems[f"requirements.{key}"] = said(
                "%(key)s is not a competency of the framework.", key=key)
            continue
        name = framework.competencies[key]
        try:
            level = int(text)
        except ValueError:
            level = None
        if level is None or not framework.lowest <= level <= framework.highest:
            problems[f"requirements.{key}"] = said(
                "%(name)s: choose a level from %(low)s to %(high)s, not %(typed)s.",
                name=name, low=framework.lowest, high=framework.highest, typed=text)
            continue
        requirements[key] = level
    if not requirements and not any(k.startswith("requirements.") for k in problems):
        problems["requirements"] = said("Require at least one competency at some level.")
    knowledge, skills = _lines(values.knowledge), _lines(values.skills)
    for name, items in (("knowledge", knowledge), ("skills", skills)):
        if len(items) > MAX_ITEMS or any(len(item) > MAX_ITEM_LENGTH for item in items):
            problems[name] = said("At most %(n)s lines of at most %(length)s characters each.",
                                  n=MAX_ITEMS, length=MAX_ITEM_LENGTH)
    if len(values.description) > MAX_DESCRIPTION:
        problems["description"] = said("A description is at most %(n)s characters.",
                                       n=MAX_DESCRIPTION)
    job_family = values.job_family.strip()
    if len(job_family) > 64:
        problems["job_family"] = said("A job family is at most 64 characters.")
    stored = {
        "title": title, "job_family": job_family, "description": values.description.strip(),
        "requirements": requirements, "knowledge": list(knowledge), "skills": list(skills),
        "is_key": bool(values.is_key),
    }
    if creating:
        stored["code"] = code
    return stored, problems


def _profile(row: Mapping[str, Any]) -> Profile:
    return Profile(
        code=row["code"], title=row["title"], job_family=row["job_family"],
        description=row["description"],
        requirements={str(k): int(v) for k, v in (row["requirements"] or {}).items()},
        knowledge=tuple(row["knowledge"] or ()), skills=tuple(row["skills"] or ()),
        is_key=bool(row["is_key"]), org_unit_id=row["org_unit_id"], origin=row["origin"],
        active=bool(row["active"]), updated_by=row["updated_by"], updated_at=row["updated_at"],
    )


_COLUMNS = ("code", "title", "job_family", "description", "requirements", "knowledge",
            "skills", "is_key", "org_unit_id", "origin", "active", "updated_by", "updated_at")


async def list_positions(*, retired: bool = False) -> list[Profile]:
    """Every profile (positions by title, then the generic profiles); retired ones too when
    asked. Seeds the newest deployed pack's catalog first."""
    await seed_deployed()
    query = Position.all() if retired else Position.filter(active=True)
    rows = [_profile(r) for r in await query.values(*_COLUMNS)]
    return sorted(rows, key=lambda p: (p.generic, p.title.casefold(), p.code))


async def get_position(code: str) -> Profile | None:
    """One profile by code (retired ones too), or None."""
    rows = await Position.filter(code=code).values(*_COLUMNS)
    return _profile(rows[0]) if rows else None


async def _unit_id(values: ProfileInput, problems: dict[str, Said]) -> int | None:
    code = values.org_unit.strip()
    if not code:
        return None
    unit = await OrgUnit.get_or_none(code=code)
    if unit is None:
        problems["org_unit"] = said("There is no org unit %(code)s.", code=code)
        return None
    return unit.id


async def create_position(values: ProfileInput, actor: str) -> Profile:
    """A new position HR created; PositionInvalid (nothing stored) when the input is wrong."""
    stored, problems = check(values, await current_framework(), creating=True)
    unit_id = await _unit_id(values, problems)
    if "code" not in problems and await Position.exists(code=stored["code"]):
        problems["code"] = said("A position with the code %(code)s exists already.",
                                code=stored["code"])
    if problems:
        raise PositionInvalid(problems)
    await Position.create(**stored, org_unit_id=unit_id, origin=APP_ORIGIN, active=True,
                          updated_by=actor, updated_at=clock.now())
    created = await get_position(stored["code"])
    assert created is not None
    return created


async def update_position(code: str, values: ProfileInput, actor: str) -> Profile:
    """Save HR's changes to a profile (it is then the app's: deploys leave it alone)."""
    row = await Position.get_or_none(code=code)
    if row is None:
        raise PositionMissing(code)
    stored, problems = check(values, await current_framework(), creating=False)
    unit_id = await _unit_id(values, problems)
    if problems:
        raise PositionInvalid(problems)
    await Position.filter(id=row.id).update(
        **stored, org_unit_id=unit_id, origin=APP_ORIGIN, updated_by=actor,
        updated_at=clock.now())
    saved = await get_position(code)
    assert saved is not None
    return saved


class PositionMissing(EngineError):
    """No profile has this code."""

    def __init__(self, code: str) -> None:
        super().__init__(f"no position {code!r}")
        self.code = code


async def set_active(code: str, active: bool, actor: str) -> Profile:
    """Retire a profile (people keep the code; gaps then use their family's generic profile)
    or bring it back. Either way the row is the app's from now on."""
    changed = await Position.filter(code=code).update(
        active=active, origin=APP_ORIGIN, updated_by=actor, updated_at=clock.now())
    if not changed:
        raise PositionMissing(code)
    saved = await get_position(code)
    assert saved is not None
    return saved


# --- seeding from a pack's catalog --------------------------------------------------------


@dataclass
class SeedReport:
    """What seeding a pack's positions did."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    # Entries HR edited in the app: the pack's version was not applied.
    kept: list[str] = field(default_factory=list)
    # Entries that could not be used: "code: message".
    problems: list[str] = field(default_factory=list)


def catalog_profiles(
    catalog: Mapping[str, Any], framework: Framework
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The profiles a positions catalog ships, as stored fields by code, and its problems."""
    found: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    entries: list[tuple[str, Mapping[str, Any]]] = []
    for code, entry in (catalog.get("positions") or {}).items():
        entries.append((str(code), entry))
    for family, entry in (catalog.get("families") or {}).items():
        entries.append((GENERIC_PREFIX + str(family), {"job_family": family, **entry}
                        if isinstance(entry, Mapping) else entry))
    for code, entry in entries:
        if not isinstance(entry, Mapping):
            problems.append(f"{code}: must be a table")
            continue
        values = ProfileInput(
            title=str(entry.get("title") or ""), job_family=str(entry.get("job_family") or ""),
            description=str(entry.get("description") or ""),
            requirements={str(k): str(v) for k, v in (entry.get("requirements") or {}).items()},
            knowledge="\n".join(map(str, entry.get("knowledge") or ())),
            skills="\n".join(map(str, entry.get("skills") or ())),
            is_key=bool(entry.get("key", False)),
        )
        stored, wrong = check(values, framework, creating=False)
        if wrong:
            problems.extend(f"{code}: {message}" for message in wrong.values())
            continue
        found[code] = stored
    return found, problems


async def seed_positions(pack: str, catalogs: Mapping[str, Any]) -> SeedReport:
    """Bring the Position rows in line with the pack's positions catalog: new entries are
    created, the pack's own rows updated, dropped entries retired; rows HR edited (origin
    "app") are left as they are."""
    report = SeedReport()
    catalog = catalogs.get(CATALOG)
    if not isinstance(catalog, Mapping):
        return report
    shipped, report.problems = catalog_profiles(catalog, Framework.of(catalogs))
    origin = f"pack:{pack}"
    now = clock.now()
    async with in_transaction():
        rows = {r["code"]: r for r in await Position.all().values(*_COLUMNS, "id")}
        for code, stored in shipped.items():
            row = rows.get(code)
            if row is None:
                await Position.create(code=code, **stored, origin=origin, active=True,
                                      updated_by=origin, updated_at=now)
                report.created.append(code)
            elif row["origin"] == APP_ORIGIN:
                report.kept.append(code)
            elif row["origin"] != origin or not row["active"] or any(
                row[k] != v for k, v in stored.items()
            ):
                await Position.filter(id=row["id"]).update(
                    **stored, origin=origin, active=True, updated_by=origin, updated_at=now)
                report.updated.append(code)
        for code, row in rows.items():
            if row["origin"] == origin and row["active"] and code not in shipped:
                await Position.filter(id=row["id"]).update(active=False, updated_at=now)
                report.retired.append(code)
    return report


async def seed_deployed() -> SeedReport:
    """Seed the positions of the talent pages' pack (nothing when none ships any)."""
    pack = await talent_pack()
    if not pack.name:
        return SeedReport()
    return await seed_positions(pack.name, pack.catalogs)


# --- in the reader's language ----------------------------------------------------------


@dataclass(frozen=True)
class PackWords:
    """The talent pack's catalogs in one language, and the translations of its
    positions catalog (for the rows a pack shipped; what HR typed is shown as typed)."""

    catalogs: dict[str, Any] = field(default_factory=dict)
    words: dict[str, str] = field(default_factory=dict)

    def text(self, profile: Profile, value: str) -> str:
        """One of a profile's texts as the reader reads it."""
        return value if profile.edited_in_app else self.words.get(value, value)

    def texts(self, profile: Profile, values: Iterable[str]) -> list[str]:
        """Several of a profile's texts (knowledge, skills) as the reader reads them."""
        return [self.text(profile, v) for v in values]


async def pack_words(language: str | None) -> PackWords:
    """The talent pack's catalogs and positions' texts in `language`."""
    definition_id = await _talent_definition()
    if definition_id is None:
        return PackWords()
    dep = await deployed(definition_id)
    table = pack_translations(dep.sources, language)
    catalogs = {name: translate_data(catalog, table, f"catalogs/{name}.toml")
                for name, catalog in dep.catalogs.items()}
    words = {**table.get(TEXTS, {}), **table.get(f"catalogs/{CATALOG}.toml", {})}
    return PackWords(catalogs, words)


# --- whose profile ----------------------------------------------------------------------


def profile_for(
    person: PersonInfo, profiles: Mapping[str, Profile], default_family: str
) -> Profile | None:
    """The profile a person is measured against: their active position, else their job
    family's generic profile, else the default family's; None when there is none."""
    for code in (person.position, GENERIC_PREFIX + person.job_family,
                 GENERIC_PREFIX + default_family):
        found = profiles.get(code)
        if code and found is not None and found.active:
            return found
    return None


def by_code(profiles: Iterable[Profile]) -> dict[str, Profile]:
    """Profiles by code."""
    return {p.code: p for p in profiles}


class PositionRetired(EngineError):
    """The position exists but is retired: nobody is given it any more."""


async def assign_position(person_id: int, code: str | None, actor: str) -> None:
    """Give a person a position (None or "": none), as the org import and SCIM do; an
    unknown code is PositionMissing, a retired one PositionRetired."""
    code = (code or "").strip()
    if code:
        found = await Position.get_or_none(code=code)
        if found is None:
            raise PositionMissing(code)
        if not found.active:
            raise PositionRetired(f"position {code!r} is retired")
    async with in_transaction():
        await Person.filter(id=person_id).update(position=code)
        await bump_directory_version()
    await record_event(actor, "position_assigned", detail={"person": person_id,
                                                           "position": code})


async def position_codes() -> list[str]:
    """The codes of the positions a person may be given now (active, not generic)."""
    return [p.code for p in await list_positions() if not p.generic]
