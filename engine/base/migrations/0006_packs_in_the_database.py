from tortoise import fields, migrations
from tortoise.migrations import operations as ops

# Designer drafts and deployed pack versions live in the database only (no web process writes
# a pack folder any more). Drafts become bytes, exactly as the designer sent them; the text
# drafts of the old table are carried over as UTF-8.


def _marks(client, count):
    if client.capabilities.dialect == "postgres":
        return [f"${i}" for i in range(1, count + 1)]
    return ["?"] * count


async def carry_drafts_over(apps, schema_editor):
    client = schema_editor.client
    rows = await client.execute_query_dict(
        'SELECT "pack", "path", "designer", "content", "base_hash", "updated_at" '
        'FROM "design_draft" ORDER BY "id"'
    )
    marks = ", ".join(_marks(client, 6))
    for row in rows:
        content = row["content"]
        if isinstance(content, str):
            content = content.encode("utf-8")
        await client.execute_query(
            'INSERT INTO "pack_draft_file" ("pack", "path", "designer", "content", "base_hash",'
            f' "updated_at") VALUES ({marks})',
            [row["pack"], row["path"], row["designer"], content, row["base_hash"] or "",
             row["updated_at"]],
        )


class Migration(migrations.Migration):
    dependencies = [('models', '0005_keyed_audit')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PackDraftFile',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('pack', fields.CharField(max_length=64)),
                ('path', fields.CharField(max_length=255)),
                ('designer', fields.CharField(max_length=128)),
                ('content', fields.BinaryField()),
                ('base_hash', fields.CharField(default='', max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'pack_draft_file', 'app': 'models', 'unique_together': (('pack', 'designer', 'path'),), 'pk_attr': 'id', 'table_description': "One file of a designer's draft of a pack: the bytes exactly as the designer sent them (line endings kept), until deployed or discarded. Every web process reads drafts here."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PackVersion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('pack', fields.CharField(max_length=64)),
                ('version', fields.IntField()),
                ('files', fields.BinaryField()),
                ('content_hash', fields.CharField(max_length=64)),
                ('processes', fields.JSONField(default=list)),
                ('deployed_by', fields.CharField(default='', max_length=128)),
                ('deployed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'pack_version', 'app': 'models', 'unique_together': (('pack', 'version'),), 'pk_attr': 'id', 'table_description': "Every file of a pack as one deploy stored it (a zip of the bytes, line endings kept): what designers edit next and what `sightline pack export` writes out."},
            bases=['Model'],
        ),
        ops.RunPython(carry_drafts_over),
        ops.DeleteModel(name='DesignDraft'),
    ]
