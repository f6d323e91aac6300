"""Meetings a task's form schedules: the pack's `[features.calendar]` names the user task (the
appraisal discussion) and the field holding the meeting's date-time.

When a draft of that task, or its completion, sets the time or changes it, the task's holder
(the organiser) and the process's subject get a calendar invitation. The emails are written in
the same batch as the draft or the completion, so a saved time always has its invitation and a
lost race sends none. The meeting's UID is the task's, so a moved time replaces the event in
the calendar (its SEQUENCE counted from the outbox, as for 1:1s). The same time saved again
sends nothing: the newest invitation in the outbox already says it.

The hook lives here rather than among the performance pages because the runtime (this room)
saves drafts and completions, and it needs nothing above it: the features come from the
deployed version's own settings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from engine.base import clock
from engine.base.db import Params, clears_on_connect
from engine.base.errors import EngineError
from engine.base.i18n import LANGUAGES, pack_text, said
from engine.base.models import HumanTask
from engine.packs.loading import CalendarFeature, Features
from engine.packs.translations import names_for_pages, pack_translations
from engine.people.directory import DirectorySnapshot
from engine.workflow import calendar_invites


class MeetingTimeError(EngineError):
    """The meeting's date-time field holds something that is not a date and time."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# Definition rows never change, so the calendar feature of each is kept per definition id.
_by_definition: dict[int, CalendarFeature] = {}
clears_on_connect(_by_definition.clear)


# The names each deployed version's pack translates, by language: versions never change.
_names_by_definition: dict[int, dict[str, dict[str, str]]] = {}
clears_on_connect(_names_by_definition.clear)


async def _pack_names(definition_id: int) -> dict[str, dict[str, str]]:
    """The pack's names for pages (names_for_pages) of a deployed version in every language, read
    on the connection the action holds (Params.rows)."""
    found = _names_by_definition.get(definition_id)
    if found is None:
        p = Params()
        rows = await p.rows(
            f'SELECT "sources" FROM "process_definition" WHERE "id" = {p(definition_id)}'
        )
        sources = rows[0]["sources"] if rows else None
        if isinstance(sources, str):
            sources = json.loads(sources)
        sources = sources if isinstance(sources, dict) else {}
        found = _names_by_definition[definition_id] = {
            language: names_for_pages(pack_translations(sources, language))
            for language in LANGUAGES
        }
    return found


async def calendar_feature(definition_id: int) -> CalendarFeature:
    """The `[features.calendar]` of the deployed version an instance runs."""
    found = _by_definition.get(definition_id)
    if found is None:
        p = Params()
        rows = await p.rows(
            f'SELECT "settings" FROM "process_definition" WHERE "id" = {p(definition_id)}'
        )
        settings = rows[0]["settings"] if rows else None
        if isinstance(settings, str):
            settings = json.loads(settings)
        table = settings.get("features") if isinstance(settings, dict) else None
        found = _by_definition[definition_id] = Features.from_table(table)[0].calendar
    return found


def meeting_time(field: str, value: Any) -> datetime | None:
    """The date-time a form field holds (a draft's posted list, or the answer itself), as an
    aware datetime; a time without a zone is the organisation's local time, as invitations
    say. Empty: None."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str) and v.strip()), None)
    if isinstance(value, datetime):
        moment = value
    elif value is None or (isinstance(value, str) and not value.strip()):
        return None
    elif not isinstance(value, str):
        raise MeetingTimeError(field, f"{value!r} is not a date and time")
    else:
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise MeetingTimeError(
                field, f"'{value.strip()}' is not a date and time: write it as "
                       "2031-05-01T14:30") from None
    return clock.from_local(moment)


async def invitation_emails(
    task: HumanTask, answers: Mapping[str, Any], directory: DirectorySnapshot,
) -> list[dict[str, Any]]:
    """The OutboxEmail values to write with this draft or completion of `task` (whose
    instance is loaded): none unless the task schedules a meeting and `answers` set its time
    to something the newest invitation does not already say. A bad time raises
    MeetingTimeError before anything is written."""
    feature = await calendar_feature(task.instance.definition_id)
    if task.bpmn_id != feature.task or feature.field not in answers:
        return []
    start = meeting_time(feature.field, answers[feature.field])
    if start is None:
        return []
    uid = calendar_invites.meeting_uid("task", task.id)
    before = await calendar_invites.last_start(uid)
    if before == start:
        return []
    organizer = directory.person(task.assignee_id)
    employee = directory.person(task.instance.subject_id)
    if organizer is None or employee is None:
        return []
    meeting = calendar_invites.Meeting(
        uid=uid,
        summary=said("%(meeting)s: %(name)s", meeting=pack_text(feature.title),
                     name=employee.name),
        start=start,
        duration=timedelta(minutes=feature.duration_minutes),
        organizer=organizer,
        attendees=(employee, organizer) if employee.id != organizer.id else (organizer,),
        description=said("%(task)s. The task, with what to talk about, is on its page.",
                         task=pack_text(task.name)),
        url=f"{{base_url}}/tasks/{task.id}",
        names=await _pack_names(task.instance.definition_id),
    )
    return await calendar_invites.invitation_emails(meeting, moved=before is not None,
                                                    directory=directory)
