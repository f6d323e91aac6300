from tortoise import migrations
from tortoise.migrations import operations as ops

# PostgreSQL writes an action's batch as one statement; the statement calls this function to
# fail whole when one of its conditional updates finds its row changed (engine.workflow.store).
FUNCTION = """
CREATE OR REPLACE FUNCTION sightline_conflict(reason text) RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'SL409', MESSAGE = reason;
END
$$;
"""


async def create_function(apps, schema_editor):
    if schema_editor.client.capabilities.dialect == "postgres":
        await schema_editor.client.execute_script(FUNCTION)


class Migration(migrations.Migration):
    dependencies = [('models', '0002_runtime_for_an_organisation')]

    initial = False

    operations = [
        ops.RunPython(create_function),
    ]
