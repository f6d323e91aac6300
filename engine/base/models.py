"""The database tables: deployed definitions, instances, human tasks, audit, directory, records."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

# The hash an empty audit chain starts from.
GENESIS = "0" * 64

# Each foreign key `x` also has the column `x_id`, which Tortoise sets on every row; the bare
# `x_id: int` annotations below only tell the type checker so (an annotation without a value
# declares no field).


class ProcessDefinition(Model):
    """One deployed version of a process: its sources are immutable once stored."""

    id = fields.IntField(primary_key=True)
    pack = fields.CharField(max_length=64)
    process_id = fields.CharField(max_length=128)
    version = fields.IntField()
    content_hash = fields.CharField(max_length=64)
    title = fields.CharField(max_length=255, default="")
    pack_version = fields.CharField(max_length=64, default="")
    # Every file the process needs (BPMN, DMN, forms), relative path -> text.
    sources: Any = fields.JSONField()
    # Pack settings frozen with the version: lanes, process settings.
    settings: Any = fields.JSONField(default=dict)
    deployed_at = fields.DatetimeField(auto_now_add=True)
    deployed_by = fields.CharField(max_length=128, default="")

    class Meta:
        table = "process_definition"
        unique_together = (("pack", "process_id", "version"),)
        indexes = (("pack", "process_id", "content_hash"),)


class Cycle(Model):
    """A performance cycle HR launches processes in (e.g. "2026 year-end")."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=128, unique=True)
    starts_on = fields.DateField(null=True)
    due_on = fields.DateField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)


class ProcessInstance(Model):
    """A running (or finished) process for one subject, its state stored without its spec."""

    id = fields.IntField(primary_key=True)
    definition: fields.ForeignKeyRelation[ProcessDefinition] = fields.ForeignKeyField(
        "models.ProcessDefinition", related_name="instances", on_delete=fields.RESTRICT
    )
    definition_id: int
    process_id = fields.CharField(max_length=128, db_index=True)
    subject: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="instances", null=True, on_delete=fields.RESTRICT
    )
    subject_id: int | None
    cycle: fields.ForeignKeyNullableRelation[Cycle] = fields.ForeignKeyField(
        "models.Cycle", related_name="instances", null=True, on_delete=fields.RESTRICT
    )
    cycle_id: int | None
    title = fields.CharField(max_length=255, default="")
    # running | completed | error | cancelled, or launching while a cycle launch writes it (its
    # tasks and emails are held back until the whole population is written)
    status = fields.CharField(max_length=16, default="running", db_index=True)
    # zlib-compressed JSON (engine.base.serialization): not a JSON column, because SpiffWorkflow
    # restores tasks parent-first in stored order and PostgreSQL's jsonb would reorder keys;
    # compressed, because a commit writes a fifth of the pages.
    state = fields.BinaryField()
    version = fields.IntField(default=1)
    next_timer_at = fields.DatetimeField(null=True, db_index=True)
    # What went wrong when status == "error": task, message, data (kept for the retry).
    error: Any = fields.JSONField(null=True)
    started_by = fields.CharField(max_length=128, default="")
    starter_id = fields.IntField(null=True)
    # "|name|name|" of the messages and signals the instance waits for (pages read it; delivery
    # looks names up in EventWait).
    waiting_for = fields.CharField(max_length=1024, default="")
    # The instance's own audit chain: how many events it has and the hash of the last one.
    audit_seq = fields.IntField(default=0, db_default=0)
    audit_head = fields.CharField(max_length=64, default=GENESIS, db_default=GENESIS)
    # The cycle launch (Job) that wrote it, while and after it is launched.
    launch_job_id = fields.IntField(null=True, db_index=True)
    started_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "process_instance"
        indexes = (
            ("subject_id", "status"),
            # The HR dashboard counts a cycle's instances by process and status per person.
            ("cycle_id", "process_id", "status", "subject_id"),
        )


class HumanTask(Model):
    """A user or manual task waiting on a person or group: what the inbox reads."""

    id = fields.IntField(primary_key=True)
    instance: fields.ForeignKeyRelation[ProcessInstance] = fields.ForeignKeyField(
        "models.ProcessInstance", related_name="human_tasks", on_delete=fields.CASCADE
    )
    instance_id: int
    spiff_task_id = fields.CharField(max_length=36)
    bpmn_id = fields.CharField(max_length=128)
    process_id = fields.CharField(max_length=128)
    name = fields.CharField(max_length=255)
    lane = fields.CharField(max_length=128, null=True)
    form = fields.CharField(max_length=255, null=True)
    # The person who holds it (null while it sits with a candidate group).
    assignee: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="assigned_tasks", null=True, on_delete=fields.SET_NULL
    )
    assignee_id: int | None
    candidate_group = fields.CharField(max_length=64, null=True)
    # Everyone a lane names, person ids and "group:x" entries (a lane may name several).
    candidates: Any = fields.JSONField(default=list)
    # Why the task went to HR instead of its lane, when the lane resolved to nobody.
    routing_note = fields.TextField(null=True)
    subject_id_cache = fields.IntField(null=True, db_index=True)
    due_at = fields.DatetimeField(null=True)
    # ready | completed | cancelled, or staged while its instance is being launched
    status = fields.CharField(max_length=16, default="ready")
    draft: Any = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    completed_by: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="completed_tasks", null=True, on_delete=fields.SET_NULL
    )
    completed_by_id: int | None
    completed_at = fields.DatetimeField(null=True)
    submitted: Any = fields.JSONField(null=True)

    class Meta:
        table = "human_task"
        indexes = (
            ("assignee_id", "status", "due_at"),
            # The inbox: unclaimed tasks of a group, and unclaimed multi-candidate tasks (no
            # group, no assignee), in due order without reading the table.
            ("candidate_group", "assignee_id", "status", "due_at"),
            ("instance_id", "status"),
        )


class AuditEvent(Model):
    """Append-only log in chains: each instance has its own, other events go to named streams;
    each row carries the hash of the previous row of its chain (tamper-evident)."""

    id = fields.IntField(primary_key=True)
    # "instance:<id>" or the name of a stream ("system", "anchor"); seq counts from 1 in each.
    stream = fields.CharField(max_length=64)
    seq = fields.IntField()
    at = fields.DatetimeField()
    actor = fields.CharField(max_length=128)
    action = fields.CharField(max_length=64)
    instance_id = fields.IntField(null=True, db_index=True)
    task_id = fields.IntField(null=True)
    detail: Any = fields.JSONField(default=dict)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64)
    # Sealed with an HMAC under the audit key (kept outside the database), not plain SHA-256.
    keyed = fields.BooleanField(default=False, db_default=False)

    class Meta:
        table = "audit_event"
        unique_together = (("stream", "seq"),)


class AuditStream(Model):
    """The head of an audit stream that is not an instance's (an instance keeps its own)."""

    name = fields.CharField(max_length=64, primary_key=True)
    seq = fields.IntField(default=0)
    head = fields.CharField(max_length=64, default=GENESIS)

    class Meta:
        table = "audit_stream"


class OrgUnit(Model):
    """A department or team (units nest)."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=255)
    parent: fields.ForeignKeyNullableRelation[OrgUnit] = fields.ForeignKeyField(
        "models.OrgUnit", related_name="children", null=True, on_delete=fields.SET_NULL
    )
    parent_id: int | None
    head_id = fields.IntField(null=True)
    # Free attributes for lane paths such as subject.org_unit.hr_partner.
    attributes: Any = fields.JSONField(default=dict)

    class Meta:
        table = "org_unit"


class Person(Model):
    """Someone in the directory: an employee, a manager, an HR partner."""

    id = fields.IntField(primary_key=True)
    # The organisation's own id (employee number), used in CSV imports and lanes.
    key = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=255)
    email = fields.CharField(max_length=255, default="")
    title = fields.CharField(max_length=255, default="")
    job_family = fields.CharField(max_length=64, default="", db_index=True)
    org_unit: fields.ForeignKeyNullableRelation[OrgUnit] = fields.ForeignKeyField(
        "models.OrgUnit", related_name="members", null=True, on_delete=fields.SET_NULL
    )
    org_unit_id: int | None
    manager: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="reports", null=True, on_delete=fields.SET_NULL
    )
    manager_id: int | None
    active = fields.BooleanField(default=True)
    attributes: Any = fields.JSONField(default=dict)
    # The identity provider's id for the person (SCIM externalId), when provisioned by one.
    external_id = fields.CharField(max_length=255, null=True, db_index=True)
    # The code of the person's position (a Position row), from the org import, SCIM or the API.
    position = fields.CharField(max_length=64, default="", db_default="", db_index=True)

    class Meta:
        table = "person"


class GroupMembership(Model):
    """A person's membership of a named group (hr, designer, compensation …)."""

    id = fields.IntField(primary_key=True)
    group = fields.CharField(max_length=64, db_index=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="memberships", on_delete=fields.CASCADE
    )
    person_id: int

    class Meta:
        table = "group_membership"
        unique_together = (("group", "person"),)


class DirectoryVersion(Model):
    """A single row bumped on every directory change, so in-memory snapshots know to reload."""

    id = fields.IntField(primary_key=True)
    version = fields.IntField(default=0)

    class Meta:
        table = "directory_version"


class User(Model):
    """A login for a person (argon2 hash)."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=128, unique=True)
    password_hash = fields.CharField(max_length=255)
    person: fields.OneToOneRelation[Person] = fields.OneToOneField(
        "models.Person", related_name="user", on_delete=fields.CASCADE
    )
    person_id: int
    failed_logins = fields.IntField(default=0)
    locked_until = fields.DatetimeField(null=True)
    last_login_at = fields.DatetimeField(null=True)
    # The user's language ("de", "fr" …; "" follows the browser) and whether task emails are
    # gathered into one daily digest instead of one email each.
    language = fields.CharField(max_length=16, default="")
    daily_digest = fields.BooleanField(default=False)

    class Meta:
        table = "user"


class Record(Model):
    """A structured result a process writes: an objective set, a rating, feedback, a reward."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=64)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="records", on_delete=fields.CASCADE
    )
    person_id: int
    cycle: fields.ForeignKeyNullableRelation[Cycle] = fields.ForeignKeyField(
        "models.Cycle", related_name="records", null=True, on_delete=fields.SET_NULL
    )
    cycle_id: int | None
    instance_id = fields.IntField(null=True)
    data: Any = fields.JSONField()
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by = fields.CharField(max_length=128, default="")

    class Meta:
        table = "record"
        indexes = (("person_id", "kind"), ("cycle_id", "kind"))


class PendingMessage(Model):
    """A BPMN message or signal thrown by an action, written in the action's transaction and
    delivered by a worker to the instances waiting for it (engine.messages)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=255, db_index=True)
    kind = fields.CharField(max_length=16)  # message | signal
    payload: Any = fields.JSONField(null=True)
    correlations: Any = fields.JSONField(default=dict)
    from_instance_id = fields.IntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    # pending | delivered | failed
    status = fields.CharField(max_length=16, default="pending", db_default="pending")
    attempts = fields.IntField(default=0, db_default=0)
    # When a worker may (next) try it; a worker delivering it holds it by moving this ahead.
    next_attempt_at = fields.DatetimeField(null=True)
    last_error = fields.TextField(null=True)
    delivered_at = fields.DatetimeField(null=True)
    # How many instances received it.
    received = fields.IntField(default=0, db_default=0)

    class Meta:
        table = "pending_message"
        indexes = (("status", "next_attempt_at"),)


class MessageReceipt(Model):
    """An instance received a message: written with the receiving action, so a retried delivery
    never hands the same message to the same instance twice."""

    id = fields.IntField(primary_key=True)
    message_id = fields.IntField()
    instance_id = fields.IntField()

    class Meta:
        table = "message_receipt"
        unique_together = (("message_id", "instance_id"),)


class EventWait(Model):
    """A message or signal name an instance waits for: what delivery looks up, by index."""

    id = fields.IntField(primary_key=True)
    instance: fields.ForeignKeyRelation[ProcessInstance] = fields.ForeignKeyField(
        "models.ProcessInstance", related_name="event_waits", on_delete=fields.CASCADE
    )
    instance_id: int
    name = fields.CharField(max_length=255)

    class Meta:
        table = "event_wait"
        unique_together = (("name", "instance"),)


class OutboxEmail(Model):
    """An email waiting to go out (or kept for admins to read when SMTP is not configured)."""

    id = fields.IntField(primary_key=True)
    to = fields.CharField(max_length=255)
    subject = fields.CharField(max_length=255)
    # The task the email is about (its link is completed from this when sent).
    task_id = fields.IntField(null=True)
    body = fields.TextField()
    # queued | sent | failed, or held while the task it announces is being launched
    status = fields.CharField(max_length=16, default="queued", db_index=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True, db_index=True)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    # The HTML alternative of the body (the plain text is always kept) and a calendar
    # invitation (text/calendar) to attach, when the email has them.
    html = fields.TextField(null=True)
    calendar = fields.TextField(null=True)

    class Meta:
        table = "outbox_email"


class PackDraftFile(Model):
    """One file of a designer's draft of a pack: the bytes exactly as the designer sent them
    (line endings kept), until deployed or discarded. Every web process reads drafts here."""

    id = fields.IntField(primary_key=True)
    pack = fields.CharField(max_length=64)
    # Relative to the pack folder, forward slashes (e.g. "forms/goals-schema.json").
    path = fields.CharField(max_length=255)
    designer = fields.CharField(max_length=128)
    content = fields.BinaryField()
    # sha256 of the file the draft began from (the latest deployed version's, else the pack
    # folder's; "" for a new file): a deploy refuses to overwrite a file changed meanwhile.
    base_hash = fields.CharField(max_length=64, default="")
    updated_at = fields.DatetimeField()

    class Meta:
        table = "pack_draft_file"
        unique_together = (("pack", "designer", "path"),)


class PackVersion(Model):
    """Every file of a pack as one deploy stored it (a zip of the bytes, line endings kept):
    what designers edit next and what `sightline pack export` writes out."""

    id = fields.IntField(primary_key=True)
    pack = fields.CharField(max_length=64)
    version = fields.IntField()
    files = fields.BinaryField()
    # sha256 over every path and its bytes: a deploy of the same files stores no new version.
    content_hash = fields.CharField(max_length=64)
    # [process id, definition version] of each process as this version deployed it.
    processes: Any = fields.JSONField(default=list)
    deployed_by = fields.CharField(max_length=128, default="")
    deployed_at = fields.DatetimeField()

    class Meta:
        table = "pack_version"
        unique_together = (("pack", "version"),)


class OrgGoal(Model):
    """An organisational goal for a cycle that individual objectives align to
    (engine.performance.goals)."""

    id = fields.IntField(primary_key=True)
    cycle: fields.ForeignKeyRelation[Cycle] = fields.ForeignKeyField(
        "models.Cycle", related_name="goals", on_delete=fields.CASCADE
    )
    cycle_id: int
    # Null: a goal of the whole organisation.
    org_unit: fields.ForeignKeyNullableRelation[OrgUnit] = fields.ForeignKeyField(
        "models.OrgUnit", related_name="goals", null=True, on_delete=fields.SET_NULL
    )
    org_unit_id: int | None
    owner: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="owned_goals", null=True, on_delete=fields.SET_NULL
    )
    owner_id: int | None
    title = fields.CharField(max_length=255)
    description = fields.TextField(default="")
    parent: fields.ForeignKeyNullableRelation[OrgGoal] = fields.ForeignKeyField(
        "models.OrgGoal", related_name="children", null=True, on_delete=fields.SET_NULL
    )
    parent_id: int | None
    # The goal's share among its siblings when the organisation's goal progress is summed up.
    weight = fields.FloatField(default=1.0)
    # How the goal is measured ("Net revenue growth"), in what unit ("%"), and the value to
    # reach by the end of its period.
    measure = fields.CharField(max_length=255, default="")
    unit = fields.CharField(max_length=32, default="")
    target = fields.FloatField(null=True)
    period_start = fields.DateField(null=True)
    period_end = fields.DateField(null=True)
    # A retired goal stays for history (objectives that pointed at it still name it) but no
    # longer takes new objectives or counts in its parent's progress.
    retired_at = fields.DatetimeField(null=True)
    retired_by = fields.CharField(max_length=128, default="")
    created_by = fields.CharField(max_length=128, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "org_goal"
        indexes = (("cycle_id", "org_unit_id"),)


class ObjectiveStatus(Model):
    """The latest in-year progress of one objective: what the roll-ups and dashboards read
    (engine.performance.progress). Every update is also kept as a KpiUpdate."""

    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="objective_statuses", on_delete=fields.CASCADE
    )
    person_id: int
    cycle: fields.ForeignKeyRelation[Cycle] = fields.ForeignKeyField(
        "models.Cycle", related_name="objective_statuses", on_delete=fields.CASCADE
    )
    cycle_id: int
    # The objective's stable key within the person's objectives of the cycle.
    objective_key = fields.CharField(max_length=64)
    title = fields.CharField(max_length=255, default="")
    actual = fields.FloatField(null=True)
    # on_track, at_risk, off_track (or "" before the first update that set one).
    status = fields.CharField(max_length=16, default="")
    comment = fields.TextField(default="")
    updates = fields.IntField(default=0)
    updated_at = fields.DatetimeField()
    updated_by = fields.CharField(max_length=128, default="")

    class Meta:
        table = "objective_status"
        unique_together = (("person_id", "cycle_id", "objective_key"),)
        indexes = (("cycle_id", "status"),)


class ObjectiveIndex(Model):
    """One objective of a person's current objectives, as the goal roll-ups read it: the goal
    it names and its achievement with the latest actual laid over, so the Goals page sums rows
    instead of decoding every objectives record (engine.performance.objective_index)."""

    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="objective_index", on_delete=fields.CASCADE
    )
    person_id: int
    cycle: fields.ForeignKeyRelation[Cycle] = fields.ForeignKeyField(
        "models.Cycle", related_name="objective_index", on_delete=fields.CASCADE
    )
    cycle_id: int
    objective_key = fields.CharField(max_length=64)
    # The objective's aligned_goal as written (trimmed): "goal:<id>", a goal's title, or "".
    aligned = fields.CharField(max_length=300, default="")
    weight = fields.FloatField(null=True)
    # Percent of target met (capped), None without an actual or a target.
    achievement = fields.FloatField(null=True)
    title = fields.CharField(max_length=255, default="")
    updated_at = fields.DatetimeField()

    class Meta:
        table = "objective_index"
        unique_together = (("person_id", "cycle_id", "objective_key"),)
        indexes = (("cycle_id", "aligned"),)


class ObjectiveIndexSource(Model):
    """Which objectives record a person's ObjectiveIndex rows were built from: the newest
    objectives-bearing record id seen, so a newer record (or a removed one) shows the rows are
    stale and they are rebuilt on the next read."""

    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="objective_index_sources", on_delete=fields.CASCADE
    )
    person_id: int
    cycle: fields.ForeignKeyRelation[Cycle] = fields.ForeignKeyField(
        "models.Cycle", related_name="objective_index_sources", on_delete=fields.CASCADE
    )
    cycle_id: int
    record_id = fields.IntField()
    # How many objectives the person's current record holds (None: no record holds a list).
    objectives = fields.IntField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "objective_index_source"
        unique_together = (("person_id", "cycle_id"),)


class KpiUpdate(Model):
    """One in-year update of an objective's KPI actual and status, as it was made."""

    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="kpi_updates", on_delete=fields.CASCADE
    )
    person_id: int
    cycle: fields.ForeignKeyRelation[Cycle] = fields.ForeignKeyField(
        "models.Cycle", related_name="kpi_updates", on_delete=fields.CASCADE
    )
    cycle_id: int
    objective_key = fields.CharField(max_length=64)
    actual = fields.FloatField(null=True)
    status = fields.CharField(max_length=16, default="")
    comment = fields.TextField(default="")
    # web, import or api: where the update came from.
    source = fields.CharField(max_length=16, default="web")
    created_at = fields.DatetimeField()
    created_by = fields.CharField(max_length=128, default="")

    class Meta:
        table = "kpi_update"
        indexes = (("person_id", "cycle_id", "objective_key", "created_at"),)


class OneOnOneSeries(Model):
    """A recurring 1:1 between a manager and a report (engine.performance.one_on_ones)."""

    id = fields.IntField(primary_key=True)
    manager: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="one_on_ones_led", on_delete=fields.CASCADE
    )
    manager_id: int
    report: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="one_on_ones", on_delete=fields.CASCADE
    )
    report_id: int
    # weekly, fortnightly or monthly (the pack's [features.one_on_ones] cadences).
    cadence = fields.CharField(max_length=16)
    duration_minutes = fields.IntField(default=30)
    first_at = fields.DatetimeField()
    # The process instance that keeps the series' schedule and reminders, if the pack has one.
    instance_id = fields.IntField(null=True)
    created_at = fields.DatetimeField()
    created_by = fields.CharField(max_length=128, default="")
    ended_at = fields.DatetimeField(null=True)

    class Meta:
        table = "one_on_one_series"
        indexes = (("manager_id",), ("report_id",))


class OneOnOneMeeting(Model):
    """One meeting of a 1:1 series: its time, shared notes and the objectives discussed."""

    id = fields.IntField(primary_key=True)
    series: fields.ForeignKeyRelation[OneOnOneSeries] = fields.ForeignKeyField(
        "models.OneOnOneSeries", related_name="meetings", on_delete=fields.CASCADE
    )
    series_id: int
    scheduled_at = fields.DatetimeField()
    # scheduled, held or skipped.
    status = fields.CharField(max_length=16, default="scheduled")
    held_at = fields.DatetimeField(null=True)
    shared_notes = fields.TextField(default="")
    objective_keys: Any = fields.JSONField(default=list)
    reminded_at = fields.DatetimeField(null=True)

    class Meta:
        table = "one_on_one_meeting"
        indexes = (("series_id", "scheduled_at"), ("status", "scheduled_at"))


class OneOnOneItem(Model):
    """An agenda item or an action item of a 1:1. Action items carry over from meeting to
    meeting until done."""

    id = fields.IntField(primary_key=True)
    series: fields.ForeignKeyRelation[OneOnOneSeries] = fields.ForeignKeyField(
        "models.OneOnOneSeries", related_name="items", on_delete=fields.CASCADE
    )
    series_id: int
    meeting: fields.ForeignKeyRelation[OneOnOneMeeting] = fields.ForeignKeyField(
        "models.OneOnOneMeeting", related_name="items", on_delete=fields.CASCADE
    )
    meeting_id: int
    # agenda or action.
    kind = fields.CharField(max_length=8)
    author: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="one_on_one_items", on_delete=fields.CASCADE
    )
    author_id: int
    owner: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="one_on_one_actions", null=True, on_delete=fields.SET_NULL
    )
    owner_id: int | None
    text = fields.TextField()
    objective_key = fields.CharField(max_length=64, default="")
    done_at = fields.DatetimeField(null=True)
    done_meeting_id = fields.IntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "one_on_one_item"
        indexes = (("series_id", "kind", "done_at"), ("meeting_id",))


class OneOnOneNote(Model):
    """One participant's private notes on a 1:1 meeting: only the author reads them."""

    id = fields.IntField(primary_key=True)
    meeting: fields.ForeignKeyRelation[OneOnOneMeeting] = fields.ForeignKeyField(
        "models.OneOnOneMeeting", related_name="private_notes", on_delete=fields.CASCADE
    )
    meeting_id: int
    author: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="one_on_one_notes", on_delete=fields.CASCADE
    )
    author_id: int
    text = fields.TextField(default="")
    updated_at = fields.DatetimeField()

    class Meta:
        table = "one_on_one_note"
        unique_together = (("meeting_id", "author_id"),)


class Job(Model):
    """Work a worker does outside any request (a cycle launch …): its progress and outcome are
    rows, so every web process shows them and a crashed worker's job is taken up again."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=32)
    # Jobs with the same key never run at once (two launches of one cycle and process).
    key = fields.CharField(max_length=255, default="")
    # queued | running | done | failed
    status = fields.CharField(max_length=16, default="queued")
    title = fields.CharField(max_length=255, default="")
    payload: Any = fields.JSONField(default=dict)
    created_by = fields.CharField(max_length=128, default="")
    creator_id = fields.IntField(null=True)
    created_at = fields.DatetimeField()
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    # The worker running it and until when it holds it; a worker that stops renewing loses it.
    worker = fields.CharField(max_length=128, default="")
    lease_until = fields.DatetimeField(null=True)
    attempts = fields.IntField(default=0)
    done = fields.IntField(default=0)
    total = fields.IntField(default=0)
    result: Any = fields.JSONField(null=True)
    error = fields.TextField(null=True)

    class Meta:
        table = "job"
        indexes = (("status", "lease_until"), ("kind", "created_at"))


class WorkerHeartbeat(Model):
    """A running worker, as last seen: the readiness check and the HR pages read it."""

    name = fields.CharField(max_length=128, primary_key=True)
    host = fields.CharField(max_length=255, default="")
    pid = fields.IntField(default=0)
    started_at = fields.DatetimeField()
    seen_at = fields.DatetimeField()

    class Meta:
        table = "worker_heartbeat"


class UserSession(Model):
    """A browser's session: the cookie carries a random token, this row only its keyed hash
    (so reading the table gives nobody a session) and what the session holds.

    A visitor who has not logged in yet has a row without a user (the login form's CSRF token,
    a message after logging out); logging in replaces it with a new one.
    """

    id = fields.CharField(max_length=64, primary_key=True)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", null=True, on_delete=fields.CASCADE,
        db_index=True,
    )
    user_id: int | None
    data: Any = fields.JSONField(default=dict)
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()
    expires_at = fields.DatetimeField(db_index=True)
    ip = fields.CharField(max_length=64, default="")
    user_agent = fields.CharField(max_length=255, default="")

    class Meta:
        table = "user_session"


class LoginThrottle(Model):
    """Login attempts within a window, per account name or client address, counted by one
    atomic statement each (webapp.auth)."""

    key = fields.CharField(max_length=80, primary_key=True)
    window_start = fields.DatetimeField()
    count = fields.IntField(default=0)

    class Meta:
        table = "login_throttle"


class DirectoryGroup(Model):
    """A named group as an identity provider sees it (SCIM Groups): members are the
    GroupMembership rows with its name."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64, unique=True)
    external_id = fields.CharField(max_length=255, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "directory_group"


class ApiToken(Model):
    """A bearer token for the REST API or SCIM. Only its SHA-256 is kept, the token itself is
    shown once, when made."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=128)
    # personal: acts as its user, with the user's rights; service: acts for a system with
    # only its scopes.
    kind = fields.CharField(max_length=16, default="personal")
    scopes: Any = fields.JSONField(default=list)
    token_hash = fields.CharField(max_length=64, unique=True)
    # The first characters of the token, so people recognise it in a list.
    prefix = fields.CharField(max_length=16)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="api_tokens", null=True, on_delete=fields.CASCADE
    )
    user_id: int | None
    created_by = fields.CharField(max_length=128, default="")
    created_at = fields.DatetimeField()
    last_used_at = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"


class ApiRateWindow(Model):
    """Requests one token made in one rate-limit window, counted by one atomic statement."""

    id = fields.IntField(primary_key=True)
    token_id = fields.IntField()
    window_start = fields.DatetimeField()
    count = fields.IntField(default=0)

    class Meta:
        table = "api_rate_window"
        unique_together = (("token_id", "window_start"),)


class IdempotentRequest(Model):
    """A write made with an Idempotency-Key: the same key again returns the stored answer
    instead of doing the write twice."""

    id = fields.IntField(primary_key=True)
    token_id = fields.IntField()
    key = fields.CharField(max_length=128)
    method = fields.CharField(max_length=8)
    path = fields.CharField(max_length=255)
    request_hash = fields.CharField(max_length=64)
    status_code = fields.IntField()
    response_body = fields.TextField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "api_idempotency"
        unique_together = (("token_id", "key"),)


class ExternalIdentity(Model):
    """A sign-in identity at an OpenID Connect provider linked to a login."""

    id = fields.IntField(primary_key=True)
    provider = fields.CharField(max_length=64)
    issuer = fields.CharField(max_length=255)
    subject = fields.CharField(max_length=255)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="external_identities", on_delete=fields.CASCADE
    )
    user_id: int
    email = fields.CharField(max_length=255, default="")
    created_at = fields.DatetimeField()
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "external_identity"
        unique_together = (("issuer", "subject"),)


class Webhook(Model):
    """An HTTP endpoint of another system that is told of events (task created/completed,
    instance finished, record written) with signed payloads."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=128)
    url = fields.CharField(max_length=1000)
    secret = fields.CharField(max_length=128)
    events: Any = fields.JSONField(default=list)
    active = fields.BooleanField(default=True)
    created_by = fields.CharField(max_length=128, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook"


class ChatChannel(Model):
    """A Slack or Microsoft Teams incoming webhook: the organisation's (no person) or one
    person's own."""

    id = fields.IntField(primary_key=True)
    # slack or teams.
    kind = fields.CharField(max_length=16)
    url = fields.CharField(max_length=1000)
    person: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="chat_channels", null=True, on_delete=fields.CASCADE
    )
    person_id: int | None
    active = fields.BooleanField(default=True)
    created_by = fields.CharField(max_length=128, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "chat_channel"


class HttpDelivery(Model):
    """One HTTP POST to another system (a webhook event, a chat message), written in the
    transaction of what caused it and sent by the worker with retries and backoff; the rows
    are the delivery log."""

    id = fields.IntField(primary_key=True)
    # webhook, slack or teams.
    kind = fields.CharField(max_length=16)
    webhook_id = fields.IntField(null=True, db_index=True)
    channel_id = fields.IntField(null=True, db_index=True)
    event = fields.CharField(max_length=64, default="")
    url = fields.CharField(max_length=1000)
    body = fields.TextField()
    headers: Any = fields.JSONField(default=dict)
    # queued | sent | failed
    status = fields.CharField(max_length=16, default="queued")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    last_status_code = fields.IntField(null=True)
    last_error = fields.TextField(null=True)
    created_at = fields.DatetimeField()
    delivered_at = fields.DatetimeField(null=True)

    class Meta:
        table = "http_delivery"
        indexes = (("status", "next_attempt_at"),)


# --- Competencies as the foundation: positions, training, talent and succession -------------


class Position(Model):
    """A position (or a job family's generic role) and what it requires: proficiency per
    competency and the knowledge and skills the role needs (engine.talent.positions). Pack
    catalogs seed the rows; HR edits them in the app."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    title = fields.CharField(max_length=255)
    job_family = fields.CharField(max_length=64, default="", db_index=True)
    description = fields.TextField(default="")
    # Competency key -> required proficiency level (1..5 of the rating scale).
    requirements: Any = fields.JSONField(default=dict)
    knowledge: Any = fields.JSONField(default=list)
    skills: Any = fields.JSONField(default=list)
    # A key position has a succession plan; its unit is where its bench strength counts.
    is_key = fields.BooleanField(default=False)
    org_unit: fields.ForeignKeyNullableRelation[OrgUnit] = fields.ForeignKeyField(
        "models.OrgUnit", related_name="positions", null=True, on_delete=fields.SET_NULL
    )
    org_unit_id: int | None
    # "pack:<name>" while the row is as a pack shipped it, "app" once HR edited it.
    origin = fields.CharField(max_length=80, default="app")
    active = fields.BooleanField(default=True)
    updated_by = fields.CharField(max_length=128, default="")
    updated_at = fields.DatetimeField()

    class Meta:
        table = "position"


class Course(Model):
    """A course of the training catalog, mapped to the competencies it develops
    (engine.talent.training)."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    title = fields.CharField(max_length=255)
    description = fields.TextField(default="")
    # internal | external
    delivery = fields.CharField(max_length=16, default="internal")
    provider = fields.CharField(max_length=255, default="")
    cost = fields.FloatField(default=0.0)
    currency = fields.CharField(max_length=8, default="EUR")
    duration_hours = fields.FloatField(default=0.0)
    competencies: Any = fields.JSONField(default=list)
    origin = fields.CharField(max_length=80, default="app")
    active = fields.BooleanField(default=True)
    updated_by = fields.CharField(max_length=128, default="")
    updated_at = fields.DatetimeField()

    class Meta:
        table = "course"


class CourseSession(Model):
    """One run of a course: when, where, how many seats."""

    id = fields.IntField(primary_key=True)
    course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "models.Course", related_name="sessions", on_delete=fields.CASCADE
    )
    course_id: int
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField(null=True)
    location = fields.CharField(max_length=255, default="")
    trainer = fields.CharField(max_length=255, default="")
    seats = fields.IntField(null=True)
    cancelled_at = fields.DatetimeField(null=True)
    created_by = fields.CharField(max_length=128, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "course_session"
        indexes = (("course_id", "starts_at"),)


class Enrolment(Model):
    """A person on a course: enrolled (in a session or waiting for one), then attended,
    completed or not, and their short evaluation of the course."""

    id = fields.IntField(primary_key=True)
    course: fields.ForeignKeyRelation[Course] = fields.ForeignKeyField(
        "models.Course", related_name="enrolments", on_delete=fields.CASCADE
    )
    course_id: int
    session: fields.ForeignKeyNullableRelation[CourseSession] = fields.ForeignKeyField(
        "models.CourseSession", related_name="enrolments", null=True, on_delete=fields.SET_NULL
    )
    session_id: int | None
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="enrolments", on_delete=fields.CASCADE
    )
    person_id: int
    # The training request's instance that approved it, when it came through one.
    instance_id = fields.IntField(null=True)
    # enrolled | attended | completed | no_show | cancelled
    status = fields.CharField(max_length=16, default="enrolled")
    enrolled_at = fields.DatetimeField()
    completed_at = fields.DatetimeField(null=True)
    # {"rating": 1..5, "useful": 1..5, "applied": "...", "comment": "..."} once evaluated.
    evaluation: Any = fields.JSONField(null=True)
    evaluated_at = fields.DatetimeField(null=True)
    updated_by = fields.CharField(max_length=128, default="")

    class Meta:
        table = "enrolment"
        indexes = (("person_id", "status"), ("course_id", "status"))


class TalentPool(Model):
    """A named pool of people developed for a purpose (future leaders, key experts)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=255, unique=True)
    description = fields.TextField(default="")
    created_by = fields.CharField(max_length=128, default="")
    created_at = fields.DatetimeField()

    class Meta:
        table = "talent_pool"


class TalentPoolMember(Model):
    """A person in a talent pool, with why and since when."""

    id = fields.IntField(primary_key=True)
    pool: fields.ForeignKeyRelation[TalentPool] = fields.ForeignKeyField(
        "models.TalentPool", related_name="members", on_delete=fields.CASCADE
    )
    pool_id: int
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="talent_pools", on_delete=fields.CASCADE
    )
    person_id: int
    reason = fields.TextField(default="")
    added_by = fields.CharField(max_length=128, default="")
    added_at = fields.DatetimeField()

    class Meta:
        table = "talent_pool_member"
        unique_together = (("pool_id", "person_id"),)


class Successor(Model):
    """A candidate to succeed in a key position, and how ready they are."""

    id = fields.IntField(primary_key=True)
    position: fields.ForeignKeyRelation[Position] = fields.ForeignKeyField(
        "models.Position", related_name="successors", on_delete=fields.CASCADE
    )
    position_id: int
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="succession", on_delete=fields.CASCADE
    )
    person_id: int
    # ready_now | one_to_two_years | later
    readiness = fields.CharField(max_length=24)
    notes = fields.TextField(default="")
    added_by = fields.CharField(max_length=128, default="")
    updated_at = fields.DatetimeField()

    class Meta:
        table = "successor"
        unique_together = (("position_id", "person_id"),)
