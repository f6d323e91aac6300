from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0004_sessions_and_throttling')]

    initial = False

    operations = [
        ops.AddField(
            model_name='AuditEvent',
            name='keyed',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
