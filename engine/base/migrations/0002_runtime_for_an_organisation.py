import hashlib
import json
from datetime import datetime

from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint

# The audit trail moves from one global chain to a chain per instance (and a "system" stream
# for events about no instance). Existing events are sealed again into their chains; the
# old chain is checked first and the result is recorded as the first event of the new
# "system" stream, so an old tampering is not laundered by the move.
GENESIS = "0" * 64


def _old_hash(prev, at, actor, action, instance_id, task_id, detail):
    body = json.dumps([prev, at.isoformat(), actor, action, instance_id, task_id, detail],
                      sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _new_hash(prev, stream, seq, at, actor, action, instance_id, task_id, detail):
    body = json.dumps([prev, stream, seq, at.isoformat(), actor, action, instance_id, task_id,
                       detail], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def _when(value):
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _json(value):
    return json.loads(value) if isinstance(value, (str, bytes)) else (value or {})


def _marks(client, count, first=1):
    if client.capabilities.dialect == "postgres":
        return [f"${i}" for i in range(first, first + count)]
    return ["?"] * count


async def rechain_audit(apps, schema_editor):
    client = schema_editor.client
    rows = await client.execute_query_dict(
        'SELECT "id", "at", "actor", "action", "instance_id", "task_id", "detail", '
        '"prev_hash", "hash" FROM "audit_event" ORDER BY "id"'
    )
    prev, broken = GENESIS, None
    heads: dict[str, tuple[int, str]] = {}
    updates = []
    for row in rows:
        at, detail = _when(row["at"]), _json(row["detail"])
        if broken is None:
            if row["prev_hash"] != prev:
                broken = f"event {row['id']}: previous hash does not match"
            elif _old_hash(row["prev_hash"], at, row["actor"], row["action"],
                           row["instance_id"], row["task_id"], detail) != row["hash"]:
                broken = f"event {row['id']}: content does not match its hash"
            prev = row["hash"]
        stream = f"instance:{row['instance_id']}" if row["instance_id"] is not None else "system"
        seq, head = heads.get(stream, (0, GENESIS))
        seq += 1
        digest = _new_hash(head, stream, seq, at, row["actor"], row["action"],
                           row["instance_id"], row["task_id"], detail)
        heads[stream] = (seq, digest)
        updates.append([stream, seq, head, digest, row["id"]])
    m = _marks(client, 5)
    for values in updates:
        await client.execute_query(
            f'UPDATE "audit_event" SET "stream" = {m[0]}, "seq" = {m[1]}, "prev_hash" = {m[2]}, '
            f'"hash" = {m[3]} WHERE "id" = {m[4]}', values,
        )
    m = _marks(client, 3)
    for stream, (seq, head) in heads.items():
        if stream.startswith("instance:"):
            await client.execute_query(
                f'UPDATE "process_instance" SET "audit_seq" = {m[0]}, "audit_head" = {m[1]} '
                f'WHERE "id" = {m[2]}', [seq, head, int(stream.split(":")[1])],
            )
    # The system stream starts with what the move found.
    seq, head = heads.get("system", (0, GENESIS))
    now = datetime.now().astimezone()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    detail = {"events": len(rows), "previous_chain": broken or "intact"}
    digest = _new_hash(head, "system", seq + 1, now, "system", "audit_chains_split", None, None,
                       detail)
    m = _marks(client, 8)
    await client.execute_query(
        'INSERT INTO "audit_event" ("stream", "seq", "at", "actor", "action", "detail", '
        f'"prev_hash", "hash") VALUES ({", ".join(m)})',
        ["system", seq + 1, now, "system", "audit_chains_split", json.dumps(detail), head,
         digest],
    )
    m = _marks(client, 3)
    await client.execute_query(
        f'INSERT INTO "audit_stream" ("name", "seq", "head") VALUES ({", ".join(m)})',
        ["system", seq + 1, digest],
    )


async def index_waits_and_mark_delivered(apps, schema_editor):
    client = schema_editor.client
    # Messages were delivered as they were thrown before this version.
    await client.execute_query('UPDATE "pending_message" SET "status" = \'delivered\'')
    m = _marks(client, 2)
    for row in await client.execute_query_dict(
        'SELECT "id", "waiting_for" FROM "process_instance" WHERE "waiting_for" <> \'\''
    ):
        for name in [n for n in row["waiting_for"].strip("|").split("|") if n]:
            await client.execute_query(
                f'INSERT INTO "event_wait" ("instance_id", "name") VALUES ({m[0]}, {m[1]})',
                [row["id"], name],
            )

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AuditStream',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('seq', fields.IntField(default=0)),
                ('head', fields.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64)),
            ],
            options={'table': 'audit_stream', 'app': 'models', 'pk_attr': 'name', 'table_description': "The head of an audit stream that is not an instance's (an instance keeps its own)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='EventWait',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('instance', fields.ForeignKeyField('models.ProcessInstance', source_field='instance_id', db_constraint=True, to_field='id', related_name='event_waits', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=255)),
            ],
            options={'table': 'event_wait', 'app': 'models', 'unique_together': (('name', 'instance'),), 'pk_attr': 'id', 'table_description': 'A message or signal name an instance waits for: what delivery looks up, by index.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Job',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=32)),
                ('key', fields.CharField(default='', max_length=255)),
                ('status', fields.CharField(default='queued', max_length=16)),
                ('title', fields.CharField(default='', max_length=255)),
                ('payload', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('created_by', fields.CharField(default='', max_length=128)),
                ('creator_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('worker', fields.CharField(default='', max_length=128)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('done', fields.IntField(default=0)),
                ('total', fields.IntField(default=0)),
                ('result', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'job', 'app': 'models', 'indexes': [Index(fields=['status', 'lease_until']), Index(fields=['kind', 'created_at'])], 'pk_attr': 'id', 'table_description': 'Work a worker does outside any request (a cycle launch …): its progress and outcome are'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MessageReceipt',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('message_id', fields.IntField()),
                ('instance_id', fields.IntField()),
            ],
            options={'table': 'message_receipt', 'app': 'models', 'unique_together': (('message_id', 'instance_id'),), 'pk_attr': 'id', 'table_description': 'An instance received a message: written with the receiving action, so a retried delivery'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WorkerHeartbeat',
            fields=[
                ('name', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=128)),
                ('host', fields.CharField(default='', max_length=255)),
                ('pid', fields.IntField(default=0)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('seen_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'worker_heartbeat', 'app': 'models', 'pk_attr': 'name', 'table_description': 'A running worker, as last seen: the readiness check and the HR pages read it.'},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='AuditEvent',
            options={'table': 'audit_event', 'app': 'models', 'unique_together': (('stream', 'seq'),), 'pk_attr': 'id', 'table_description': 'Append-only log in chains: each instance has its own, other events go to named streams;'},
        ),
        # Empty until the existing events are sealed into their chains (rechain_audit below).
        ops.AddField(
            model_name='AuditEvent',
            name='seq',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='AuditEvent',
            name='stream',
            field=fields.CharField(max_length=64, null=True),
        ),
        ops.AlterModelOptions(
            name='PendingMessage',
            options={'table': 'pending_message', 'app': 'models', 'indexes': [Index(fields=['status', 'next_attempt_at'])], 'pk_attr': 'id', 'table_description': "A BPMN message or signal thrown by an action, written in the action's transaction and"},
        ),
        ops.AddField(
            model_name='PendingMessage',
            name='attempts',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='PendingMessage',
            name='delivered_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='PendingMessage',
            name='last_error',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='PendingMessage',
            name='next_attempt_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='PendingMessage',
            name='received',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='PendingMessage',
            name='status',
            field=fields.CharField(default='pending', db_default='pending', max_length=16),
        ),
        ops.RunPython(index_waits_and_mark_delivered),
        ops.RemoveField(model_name='PendingMessage', name='delivered'),
        ops.AddIndex(
            model_name='PendingMessage',
            index=Index(fields=['status', 'next_attempt_at']),
        ),
        ops.AddField(
            model_name='ProcessInstance',
            name='audit_head',
            field=fields.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', db_default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64),
        ),
        ops.AddField(
            model_name='ProcessInstance',
            name='audit_seq',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='ProcessInstance',
            name='launch_job_id',
            field=fields.IntField(null=True, db_index=True),
        ),
        ops.RunPython(rechain_audit),
        ops.AlterField(
            model_name='AuditEvent',
            name='seq',
            field=fields.IntField(),
        ),
        ops.AlterField(
            model_name='AuditEvent',
            name='stream',
            field=fields.CharField(max_length=64),
        ),
        ops.AddConstraint(
            model_name='AuditEvent',
            constraint=UniqueConstraint(fields=('stream', 'seq'), name=None),
        ),
    ]
