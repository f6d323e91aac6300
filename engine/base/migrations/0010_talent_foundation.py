# Competencies as the foundation: positions with their requirements (and a person's position),
# the course catalog with sessions and enrolments, talent pools and successors for key
# positions. The new tables start empty; every person's position starts blank.

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0009_objective_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Course',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=64)),
                ('title', fields.CharField(max_length=255)),
                ('description', fields.TextField(default='', unique=False)),
                ('delivery', fields.CharField(default='internal', max_length=16)),
                ('provider', fields.CharField(default='', max_length=255)),
                ('cost', fields.FloatField(default=0.0)),
                ('currency', fields.CharField(default='EUR', max_length=8)),
                ('duration_hours', fields.FloatField(default=0.0)),
                ('competencies', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('origin', fields.CharField(default='app', max_length=80)),
                ('active', fields.BooleanField(default=True)),
                ('updated_by', fields.CharField(default='', max_length=128)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'course', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A course of the training catalog, mapped to the competencies it develops'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CourseSession',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('course', fields.ForeignKeyField('models.Course', source_field='course_id', db_constraint=True, to_field='id', related_name='sessions', on_delete=OnDelete.CASCADE)),
                ('starts_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ends_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('location', fields.CharField(default='', max_length=255)),
                ('trainer', fields.CharField(default='', max_length=255)),
                ('seats', fields.IntField(null=True)),
                ('cancelled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(default='', max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'course_session', 'app': 'models', 'indexes': [Index(fields=['course_id', 'starts_at'])], 'pk_attr': 'id', 'table_description': 'One run of a course: when, where, how many seats.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Enrolment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('course', fields.ForeignKeyField('models.Course', source_field='course_id', db_constraint=True, to_field='id', related_name='enrolments', on_delete=OnDelete.CASCADE)),
                ('session', fields.ForeignKeyField('models.CourseSession', source_field='session_id', null=True, db_constraint=True, to_field='id', related_name='enrolments', on_delete=OnDelete.SET_NULL)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='enrolments', on_delete=OnDelete.CASCADE)),
                ('instance_id', fields.IntField(null=True)),
                ('status', fields.CharField(default='enrolled', max_length=16)),
                ('enrolled_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('completed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('evaluation', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('evaluated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('updated_by', fields.CharField(default='', max_length=128)),
            ],
            options={'table': 'enrolment', 'app': 'models', 'indexes': [Index(fields=['person_id', 'status']), Index(fields=['course_id', 'status'])], 'pk_attr': 'id', 'table_description': 'A person on a course: enrolled (in a session or waiting for one), then attended,'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Position',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=64)),
                ('title', fields.CharField(max_length=255)),
                ('job_family', fields.CharField(default='', db_index=True, max_length=64)),
                ('description', fields.TextField(default='', unique=False)),
                ('requirements', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('knowledge', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('skills', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('is_key', fields.BooleanField(default=False)),
                ('org_unit', fields.ForeignKeyField('models.OrgUnit', source_field='org_unit_id', null=True, db_constraint=True, to_field='id', related_name='positions', on_delete=OnDelete.SET_NULL)),
                ('origin', fields.CharField(default='app', max_length=80)),
                ('active', fields.BooleanField(default=True)),
                ('updated_by', fields.CharField(default='', max_length=128)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'position', 'app': 'models', 'pk_attr': 'id', 'table_description': "A position (or a job family's generic role) and what it requires: proficiency per"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Successor',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('position', fields.ForeignKeyField('models.Position', source_field='position_id', db_constraint=True, to_field='id', related_name='successors', on_delete=OnDelete.CASCADE)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='succession', on_delete=OnDelete.CASCADE)),
                ('readiness', fields.CharField(max_length=24)),
                ('notes', fields.TextField(default='', unique=False)),
                ('added_by', fields.CharField(default='', max_length=128)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'successor', 'app': 'models', 'unique_together': (('position_id', 'person_id'),), 'pk_attr': 'id', 'table_description': 'A candidate to succeed in a key position, and how ready they are.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TalentPool',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=255)),
                ('description', fields.TextField(default='', unique=False)),
                ('created_by', fields.CharField(default='', max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'talent_pool', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A named pool of people developed for a purpose (future leaders, key experts).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TalentPoolMember',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('pool', fields.ForeignKeyField('models.TalentPool', source_field='pool_id', db_constraint=True, to_field='id', related_name='members', on_delete=OnDelete.CASCADE)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='talent_pools', on_delete=OnDelete.CASCADE)),
                ('reason', fields.TextField(default='', unique=False)),
                ('added_by', fields.CharField(default='', max_length=128)),
                ('added_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'talent_pool_member', 'app': 'models', 'unique_together': (('pool_id', 'person_id'),), 'pk_attr': 'id', 'table_description': 'A person in a talent pool, with why and since when.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Person',
            name='position',
            field=fields.CharField(default='', db_default='', db_index=True, max_length=64),
        ),
    ]
