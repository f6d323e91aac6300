# The Goals page's read model: each person's current objectives with the goal they name and
# their achievement (latest actual laid over), and the record they were built from. The
# tables start empty: the first read of a cycle's goal tree builds its rows.

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0008_hr_stack')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ObjectiveIndex',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='objective_index', on_delete=OnDelete.CASCADE)),
                ('cycle', fields.ForeignKeyField('models.Cycle', source_field='cycle_id', db_constraint=True, to_field='id', related_name='objective_index', on_delete=OnDelete.CASCADE)),
                ('objective_key', fields.CharField(max_length=64)),
                ('aligned', fields.CharField(default='', max_length=300)),
                ('weight', fields.FloatField(null=True)),
                ('achievement', fields.FloatField(null=True)),
                ('title', fields.CharField(default='', max_length=255)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'objective_index', 'app': 'models', 'unique_together': (('person_id', 'cycle_id', 'objective_key'),), 'indexes': [Index(fields=['cycle_id', 'aligned'])], 'pk_attr': 'id', 'table_description': "One objective of a person's current objectives, as the goal roll-ups read it: the goal"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ObjectiveIndexSource',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', db_constraint=True, to_field='id', related_name='objective_index_sources', on_delete=OnDelete.CASCADE)),
                ('cycle', fields.ForeignKeyField('models.Cycle', source_field='cycle_id', db_constraint=True, to_field='id', related_name='objective_index_sources', on_delete=OnDelete.CASCADE)),
                ('record_id', fields.IntField()),
                ('objectives', fields.IntField(null=True)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'objective_index_source', 'app': 'models', 'unique_together': (('person_id', 'cycle_id'),), 'pk_attr': 'id', 'table_description': "Which objectives record a person's ObjectiveIndex rows were built from: the newest"},
            bases=['Model'],
        ),
    ]
