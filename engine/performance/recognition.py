"""Recognition: praise for a colleague, public or private, tagged with a company value or a
competency; the feed, per-person counts, and starting the pack's recognition process.

Praise is a record the pack's recognition process writes about the colleague (the process and
record kind come from `[features.recognition]` and `[features.records]`). Who may see one:

- public praise: everyone;
- private praise: the colleague praised, the person who gave it, the colleague's managers
  (direct and above) and HR — the readers of feedback shared with its subject
  (`may_read_feedback`, visibility "shared"): praise that reaches the colleague is no more
  hidden from HR than feedback that does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from engine.base import clock
from engine.base.errors import EngineError
from engine.base.models import HumanTask, ProcessInstance, Record
from engine.people.directory import DirectorySnapshot, current_directory
from engine.performance.deployed_pack import current_features, newest_pack
from engine.performance.scorecard import may_read_feedback
from engine.workflow import runtime
from engine.workflow.access import SeesSubjects

VISIBILITIES = ("public", "private")
MESSAGE_MAX = 2000
# The feed reads praise in batches of this many, newest first, until it has a page of what
# the viewer may see: private praise they may not see never crowds older public praise out.
FEED_BATCH = 200


@dataclass(frozen=True)
class Praise:
    """One piece of praise as recorded."""

    id: int
    from_id: int | None
    about_id: int
    message: str
    tag: str
    visibility: str
    created_at: datetime | None

    @property
    def is_private(self) -> bool:
        """Whether only the colleague, the giver and the colleague's managers see it."""
        return self.visibility != "public"


@dataclass(frozen=True)
class TagGroup:
    """The tags of one catalog, as the praise form offers them ("Company values", …)."""

    label: str
    tags: tuple[tuple[str, str], ...]  # (name, description)


@dataclass
class PraiseCounts:
    """How much praise a person received and gave (as the viewer may see it), and what the
    praise they received was tagged with, most frequent first."""

    received: int = 0
    given: int = 0
    by_tag: list[tuple[str, int]] = field(default_factory=list)


@dataclass(frozen=True)
class FeedPage:
    """One page of the feed, newest first, and where the next (older) page starts: the id
    to pass as `before`, None when there is no older praise the viewer may see."""

    praise: list[Praise]
    older_before: int | None


def may_see_praise(
    data: Mapping[str, Any], viewer: SeesSubjects, directory: DirectorySnapshot
) -> bool:
    """Public praise: everyone. Private: whoever reads feedback shared with the colleague —
    the giver, the colleague, their managers (direct and above) and HR."""
    if data.get("visibility") == "public":
        return True
    about = data.get("about_id")
    if not isinstance(about, int):
        return False
    return may_read_feedback({**data, "visibility": "shared"}, about, viewer, directory)


def _praise(row: Record) -> Praise:
    data = row.data if isinstance(row.data, dict) else {}
    from_id = data.get("from_id")
    return Praise(
        id=row.id,
        from_id=from_id if isinstance(from_id, int) else None,
        about_id=row.person_id,
        message=str(data.get("message") or ""),
        tag=str(data.get("tag") or ""),
        visibility="public" if data.get("visibility") == "public" else "private",
        created_at=row.created_at,
    )


def _visible(
    rows: list[Record], viewer: SeesSubjects, directory: DirectorySnapshot
) -> list[Praise]:
    return [
        _praise(row) for row in rows
        if isinstance(row.data, dict) and may_see_praise(row.data, viewer, directory)
    ]


async def _kind() -> str:
    return (await current_features()).records.recognition


async def recognition_feed(
    viewer: SeesSubjects,
    directory: DirectorySnapshot,
    limit: int = 50,
    before: int | None = None,
) -> FeedPage:
    """The newest `limit` pieces of praise the viewer may see (older than the praise with id
    `before`, when given), newest first: everyone's public praise, and the private praise
    they may read. Reads batch after batch until the page is full, so however much private
    praise the viewer may not see is newer, they still get a full page."""
    if limit < 1:
        raise ValueError("a feed page holds at least one piece of praise")
    kind = await _kind()
    found: list[Praise] = []
    cursor = before
    while len(found) <= limit:
        query = Record.filter(kind=kind)
        if cursor is not None:
            query = query.filter(id__lt=cursor)
        rows = list(await query.order_by("-id").limit(FEED_BATCH))
        found += _visible(rows, viewer, directory)
        if len(rows) < FEED_BATCH:
            break
        cursor = rows[-1].id
    page = found[:limit]
    return FeedPage(page, page[-1].id if len(found) > limit else None)


def _period_filter(since: date | None, until: date | None) -> dict[str, datetime]:
    found: dict[str, datetime] = {}
    if since is not None:
        found["created_at__gte"] = datetime.combine(since, time.min, clock.now().tzinfo)
    if until is not None:
        found["created_at__lt"] = datetime.combine(
            until + timedelta(days=1), time.min, clock.now().tzinfo
        )
    return found


async def praise_received(
    person_id: int,
    viewer: SeesSubjects,
    directory: DirectorySnapshot,
    since: date | None = None,
    until: date | None = None,
) -> list[Praise]:
    """The praise a person received (between two days, when given) that the viewer may see,
    newest first."""
    rows = await Record.filter(
        kind=await _kind(), person_id=person_id, **_period_filter(since, until)
    ).order_by("-id")
    return _visible(list(rows), viewer, directory)


async def praise_given(
    person_id: int, viewer: SeesSubjects, directory: DirectorySnapshot
) -> list[Praise]:
    """The praise a person gave that the viewer may see, newest first. The records are the
    process's: what the person gave comes from their own recognition instances."""
    features = await current_features()
    instances = await ProcessInstance.filter(
        process_id=features.recognition.process, subject_id=person_id
    ).values_list("id", flat=True)
    if not instances:
        return []
    rows = await Record.filter(
        kind=features.records.recognition, instance_id__in=list(instances)
    ).order_by("-id")
    return [
        p for p in _visible(list(rows), viewer, directory) if p.from_id == person_id
    ]


async def praise_counts(
    person_id: int, viewer: SeesSubjects, directory: DirectorySnapshot
) -> PraiseCounts:
    """How much praise the person received and gave that the viewer may see, and the tags of
    what they received."""
    received = await praise_received(person_id, viewer, directory)
    given = await praise_given(person_id, viewer, directory)
    tags = Counter(p.tag for p in received if p.tag)
    return PraiseCounts(
        received=len(received),
        given=len(given),
        by_tag=sorted(tags.items(), key=lambda item: (-item[1], item[0])),
    )


def tag_groups(catalogs: Mapping[str, Any]) -> list[TagGroup]:
    """What praise may be tagged with: the pack's company values (catalogs/values.toml) and
    the competencies of its framework (catalogs/competencies.toml), by name."""
    groups = []
    for label, catalog, table in (
        ("Company values", "values", "values"),
        ("Competencies", "competencies", "competencies"),
    ):
        entries = (catalogs.get(catalog) or {}).get(table) or {}
        tags = tuple(
            (str(entry["name"]), str(entry.get("description", "")))
            for entry in entries.values()
            if isinstance(entry, Mapping) and isinstance(entry.get("name"), str)
        )
        if tags:
            groups.append(TagGroup(label, tags))
    return groups


async def current_tag_groups() -> list[TagGroup]:
    """The tags of the newest deployed pack."""
    return tag_groups((await newest_pack()).catalogs)


class PraiseError(EngineError):
    """Praise that cannot be recorded as given (no message, an unknown tag, …): nothing
    started, nothing recorded."""


async def checked_praise(actor: runtime.Actor, praise: Mapping[str, Any]) -> dict[str, Any]:
    """The praise step's data, or PraiseError saying what is wrong: the colleague is an active
    person other than the giver, the message is there and not too long, the tag is one of the
    pack's and the visibility public or private."""
    directory = await current_directory()
    colleague = directory.person(str(praise.get("colleague") or "").strip())
    message = str(praise.get("message") or "").strip()
    tag = str(praise.get("tag") or "").strip()
    visibility = praise.get("visibility")
    tags = {name for group in await current_tag_groups() for name, _ in group.tags}
    if colleague is None or not colleague.active:
        raise PraiseError(f"no colleague {praise.get('colleague')!r} to praise")
    if colleague.id == actor.person_id:
        raise PraiseError("praise is for someone else")
    if not message:
        raise PraiseError("praise needs a message: what they did and why it mattered")
    if len(message) > MESSAGE_MAX:
        raise PraiseError(f"the message is over {MESSAGE_MAX} characters")
    if tag not in tags:
        raise PraiseError(f"{tag!r} is none of the pack's values or competencies")
    if visibility not in VISIBILITIES:
        raise PraiseError(f"visibility must be one of {', '.join(VISIBILITIES)}")
    return {"colleague": colleague.key, "message": message, "tag": tag,
            "visibility": visibility}


async def praise_colleague(actor: runtime.Actor, praise: dict[str, Any]) -> None:
    """Start the recognition process for the actor and complete its step with `praise`
    (colleague key, message, tag, visibility): the process records it about the colleague.
    PraiseError, before anything starts, when the praise is not fit to record."""
    praise = await checked_praise(actor, praise)
    features = (await current_features()).recognition
    instance = await runtime.start_process(
        features.process, subject=actor.person_id, actor=actor
    )
    give = await HumanTask.get_or_none(
        instance_id=instance.id, bpmn_id=features.give_task, status="ready"
    )
    if give is None:
        raise EngineError("the recognition process did not start as expected")
    await runtime.complete_task(give.id, actor, praise)
