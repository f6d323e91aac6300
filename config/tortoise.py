"""Tortoise config for its own CLI (`tortoise -c config.tortoise.TORTOISE_ORM makemigrations`)."""

from __future__ import annotations

from config import settings
from engine.base.db import tortoise_config

TORTOISE_ORM = tortoise_config(settings.DATABASE_URL)
