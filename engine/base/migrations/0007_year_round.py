# Year-round performance management: goals gain a measure, target, period and retirement;
# in-year objective progress (latest status and every update); recurring 1:1s.

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_packs_in_the_database')]

    initial = False

    operations = [
        ops.CreateModel(
            name='KpiUpdate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='kpi_updates', on_delete=OnDelete.CASCADE)),
                ('cycle', fields.ForeignKeyField('models.Cycle', source_field='cycle_id', db_constraint=True, to_field='id', related_name='kpi_updates', on_delete=OnDelete.CASCADE)),
                ('objective_key', fields.CharField(max_length=64)),
                ('actual', fields.FloatField(null=True)),
                ('status', fields.CharField(default='', max_length=16)),
                ('comment', fields.TextField(default='', unique=False)),
                ('source', fields.CharField(default='web', max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(default='', max_length=128)),
            ],
            options={'table': 'kpi_update', 'app': 'models', 'indexes': [Index(fields=['person_id', 'cycle_id', 'objective_key', 'created_at'])], 'pk_attr': 'id', 'table_description': "One in-year update of an objective's KPI actual and status, as it was made."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ObjectiveStatus',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='objective_statuses', on_delete=OnDelete.CASCADE)),
                ('cycle', fields.ForeignKeyField('models.Cycle', source_field='cycle_id', db_constraint=True, to_field='id', related_name='objective_statuses', on_delete=OnDelete.CASCADE)),
                ('objective_key', fields.CharField(max_length=64)),
                ('title', fields.CharField(default='', max_length=255)),
                ('actual', fields.FloatField(null=True)),
                ('status', fields.CharField(default='', max_length=16)),
                ('comment', fields.TextField(default='', unique=False)),
                ('updates', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_by', fields.CharField(default='', max_length=128)),
            ],
            options={'table': 'objective_status', 'app': 'models', 'unique_together': (('person_id', 'cycle_id', 'objective_key'),), 'indexes': [Index(fields=['cycle_id', 'status'])], 'pk_attr': 'id', 'table_description': 'The latest in-year progress of one objective: what the roll-ups and dashboards read'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OneOnOneSeries',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('manager', fields.ForeignKeyField('models.Person', source_field='manager_id', db_constraint=True, to_field='id', related_name='one_on_ones_led', on_delete=OnDelete.CASCADE)),
                ('report', fields.ForeignKeyField('models.Person', source_field='report_id', db_constraint=True, to_field='id', related_name='one_on_ones', on_delete=OnDelete.CASCADE)),
                ('cadence', fields.CharField(max_length=16)),
                ('duration_minutes', fields.IntField(default=30)),
                ('first_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('instance_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(default='', max_length=128)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'one_on_one_series', 'app': 'models', 'indexes': [Index(fields=['manager_id']), Index(fields=['report_id'])], 'pk_attr': 'id', 'table_description': 'A recurring 1:1 between a manager and a report (engine.performance.one_on_ones).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OneOnOneMeeting',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('series', fields.ForeignKeyField('models.OneOnOneSeries', source_field='series_id', db_constraint=True, to_field='id', related_name='meetings', on_delete=OnDelete.CASCADE)),
                ('scheduled_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharField(default='scheduled', max_length=16)),
                ('held_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('shared_notes', fields.TextField(default='', unique=False)),
                ('objective_keys', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('reminded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'one_on_one_meeting', 'app': 'models', 'indexes': [Index(fields=['series_id', 'scheduled_at']), Index(fields=['status', 'scheduled_at'])], 'pk_attr': 'id', 'table_description': 'One meeting of a 1:1 series: its time, shared notes and the objectives discussed.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OneOnOneItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('series', fields.ForeignKeyField('models.OneOnOneSeries', source_field='series_id', db_constraint=True, to_field='id', related_name='items', on_delete=OnDelete.CASCADE)),
                ('meeting', fields.ForeignKeyField('models.OneOnOneMeeting', source_field='meeting_id', db_constraint=True, to_field='id', related_name='items', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=8)),
                ('author', fields.ForeignKeyField('models.Person', source_field='author_id', db_constraint=True, to_field='id', related_name='one_on_one_items', on_delete=OnDelete.CASCADE)),
                ('owner', fields.ForeignKeyField('models.Person', source_field='owner_id', null=True, db_constraint=True, to_field='id', related_name='one_on_one_actions', on_delete=OnDelete.SET_NULL)),
                ('text', fields.TextField(unique=False)),
                ('objective_key', fields.CharField(default='', max_length=64)),
                ('done_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('done_meeting_id', fields.IntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'one_on_one_item', 'app': 'models', 'indexes': [Index(fields=['series_id', 'kind', 'done_at']), Index(fields=['meeting_id'])], 'pk_attr': 'id', 'table_description': 'An agenda item or an action item of a 1:1. Action items carry over from meeting to'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OneOnOneNote',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('meeting', fields.ForeignKeyField('models.OneOnOneMeeting', source_field='meeting_id', db_constraint=True, to_field='id', related_name='private_notes', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('models.Person', source_field='author_id', db_constraint=True, to_field='id', related_name='one_on_one_notes', on_delete=OnDelete.CASCADE)),
                ('text', fields.TextField(default='', unique=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'one_on_one_note', 'app': 'models', 'unique_together': (('meeting_id', 'author_id'),), 'pk_attr': 'id', 'table_description': "One participant's private notes on a 1:1 meeting: only the author reads them."},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='OrgGoal',
            options={'table': 'org_goal', 'app': 'models', 'indexes': [Index(fields=['cycle_id', 'org_unit_id'])], 'pk_attr': 'id', 'table_description': 'An organisational goal for a cycle that individual objectives align to'},
        ),
        ops.AddField(
            model_name='OrgGoal',
            name='measure',
            field=fields.CharField(default='', db_default='', max_length=255),
        ),
        ops.AddField(
            model_name='OrgGoal',
            name='period_end',
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name='OrgGoal',
            name='period_start',
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name='OrgGoal',
            name='retired_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='OrgGoal',
            name='retired_by',
            field=fields.CharField(default='', db_default='', max_length=128),
        ),
        ops.AddField(
            model_name='OrgGoal',
            name='target',
            field=fields.FloatField(null=True),
        ),
        ops.AddField(
            model_name='OrgGoal',
            name='unit',
            field=fields.CharField(default='', db_default='', max_length=32),
        ),
        ops.AlterModelOptions(
            name='PackDraftFile',
            options={'table': 'pack_draft_file', 'app': 'models', 'unique_together': (('pack', 'designer', 'path'),), 'pk_attr': 'id', 'table_description': "One file of a designer's draft of a pack: the bytes exactly as the designer sent them"},
        ),
        ops.AlterModelOptions(
            name='PackVersion',
            options={'table': 'pack_version', 'app': 'models', 'unique_together': (('pack', 'version'),), 'pk_attr': 'id', 'table_description': 'Every file of a pack as one deploy stored it (a zip of the bytes, line endings kept):'},
        ),
    ]
