# Fits the HR stack: API and SCIM tokens, rate-limit windows, idempotent writes, OpenID Connect
# identities, webhooks, chat channels and their deliveries; a language and digest choice per
# login, the HTML and calendar parts of emails, and the identity provider's id of a person.

from tortoise import migrations
from tortoise.migrations import operations as ops
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0007_year_round')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ApiRateWindow',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_id', fields.IntField()),
                ('window_start', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('count', fields.IntField(default=0)),
            ],
            options={'table': 'api_rate_window', 'app': 'models', 'unique_together': (('token_id', 'window_start'),), 'pk_attr': 'id', 'table_description': 'Requests one token made in one rate-limit window, counted by one atomic statement.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=128)),
                ('kind', fields.CharField(default='personal', max_length=16)),
                ('scopes', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('prefix', fields.CharField(max_length=16)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='api_tokens', on_delete=OnDelete.CASCADE)),
                ('created_by', fields.CharField(default='', max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_token', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A bearer token for the REST API or SCIM. Only its SHA-256 is kept, the token itself is'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChatChannel',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=16)),
                ('url', fields.CharField(max_length=1000)),
                ('person', fields.ForeignKeyField('models.Person', source_field='person_id', null=True, db_constraint=True, to_field='id', related_name='chat_channels', on_delete=OnDelete.CASCADE)),
                ('active', fields.BooleanField(default=True)),
                ('created_by', fields.CharField(default='', max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'chat_channel', 'app': 'models', 'pk_attr': 'id', 'table_description': "A Slack or Microsoft Teams incoming webhook: the organisation's (no person) or one"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DirectoryGroup',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(unique=True, max_length=64)),
                ('external_id', fields.CharField(null=True, max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'directory_group', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A named group as an identity provider sees it (SCIM Groups): members are the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ExternalIdentity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('provider', fields.CharField(max_length=64)),
                ('issuer', fields.CharField(max_length=255)),
                ('subject', fields.CharField(max_length=255)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='external_identities', on_delete=OnDelete.CASCADE)),
                ('email', fields.CharField(default='', max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('last_login_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'external_identity', 'app': 'models', 'unique_together': (('issuer', 'subject'),), 'pk_attr': 'id', 'table_description': 'A sign-in identity at an OpenID Connect provider linked to a login.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HttpDelivery',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=16)),
                ('webhook_id', fields.IntField(null=True, db_index=True)),
                ('channel_id', fields.IntField(null=True, db_index=True)),
                ('event', fields.CharField(default='', max_length=64)),
                ('url', fields.CharField(max_length=1000)),
                ('body', fields.TextField(unique=False)),
                ('headers', fields.JSONField(default=dict, encoder=JSON_DUMPS, decoder=loads)),
                ('status', fields.CharField(default='queued', max_length=16)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_status_code', fields.IntField(null=True)),
                ('last_error', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'http_delivery', 'app': 'models', 'indexes': [Index(fields=['status', 'next_attempt_at'])], 'pk_attr': 'id', 'table_description': 'One HTTP POST to another system (a webhook event, a chat message), written in the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='IdempotentRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('token_id', fields.IntField()),
                ('key', fields.CharField(max_length=128)),
                ('method', fields.CharField(max_length=8)),
                ('path', fields.CharField(max_length=255)),
                ('request_hash', fields.CharField(max_length=64)),
                ('status_code', fields.IntField()),
                ('response_body', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_idempotency', 'app': 'models', 'unique_together': (('token_id', 'key'),), 'pk_attr': 'id', 'table_description': 'A write made with an Idempotency-Key: the same key again returns the stored answer'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Webhook',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=128)),
                ('url', fields.CharField(max_length=1000)),
                ('secret', fields.CharField(max_length=128)),
                ('events', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('active', fields.BooleanField(default=True)),
                ('created_by', fields.CharField(default='', max_length=128)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'webhook', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An HTTP endpoint of another system that is told of events (task created/completed,'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='OutboxEmail',
            name='calendar',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='OutboxEmail',
            name='html',
            field=fields.TextField(null=True, unique=False),
        ),
        ops.AddField(
            model_name='Person',
            name='external_id',
            field=fields.CharField(null=True, db_index=True, max_length=255),
        ),
        ops.AddField(
            model_name='User',
            name='daily_digest',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='User',
            name='language',
            field=fields.CharField(default='', db_default='', max_length=16),
        ),
    ]
