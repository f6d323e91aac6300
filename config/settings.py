"""Sightline settings, read once from the environment (and an optional .env file)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.config import Config
from starlette.datastructures import CommaSeparatedStrings, Secret

ROOT = Path(__file__).resolve().parent.parent

config = Config(ROOT / ".env" if (ROOT / ".env").exists() else None)
# Secret as a plain callable: Config types `cast=Secret, default=""` as object, not Secret.
_secret: Callable[[Any], Secret] = Secret

DEBUG: bool = config("DEBUG", cast=bool, default=False)
DATA_DIR: Path = config("SIGHTLINE_DATA_DIR", cast=Path, default=ROOT / "data")
DATABASE_URL: str = config("DATABASE_URL", default=f"sqlite://{DATA_DIR / 'sightline.db'}")
# Keys the session cookie's token and the login counters' account names (HMAC-SHA256): changing
# it signs everyone out. The default only serves a development machine: `sightline serve`,
# `sightline worker` and the app refuse to start with it unless SIGHTLINE_DEV is true.
DEFAULT_SECRET_KEY = "dev-only-change-me"
SECRET_KEY: Secret = config("SECRET_KEY", cast=_secret, default=DEFAULT_SECRET_KEY)
# Development mode: a laptop may run with the default SECRET_KEY (never a deployment).
DEV: bool = config("SIGHTLINE_DEV", cast=bool, default=False)
# The key of the audit trail's keyed hashes; kept outside the database.
AUDIT_KEY: Secret = config("AUDIT_KEY", cast=_secret, default="")
# Folders holding process packs (each subfolder with a pack.toml is a pack).
PACKS: list[str] = list(
    config("PACKS", cast=CommaSeparatedStrings, default=str(ROOT / "processes"))
)
# The pack whose processes people start, when several deployed packs share process ids (a
# client pack extending the standard one). Empty: a process id must be unique across packs.
PACK: str = config("PACK", default="")
BASE_URL: str = config("BASE_URL", default="http://127.0.0.1:8000")
# The organisation's time zone (an IANA name such as Europe/Berlin): pages, emails and
# invitations show times in it, and a time typed without a zone is a time of it. Stored
# moments and BPMN timers stay in UTC. Start-up refuses a name that is not a zone.
TIME_ZONE: str = config("TIME_ZONE", default="UTC")
# Webhook and chat addresses must be https; this also accepts http:// to localhost (a
# development setup, or a receiver on the same machine). On by default with SIGHTLINE_DEV.
WEBHOOK_LOCAL_HTTP: bool = config("WEBHOOK_LOCAL_HTTP", cast=bool, default=DEV)
# The worker refuses to post to an address that resolves to a loopback, private, link-local
# or otherwise internal network address (a webhook must not reach into the servers' own
# network); this allows it, for receivers inside the company network. On with SIGHTLINE_DEV.
WEBHOOK_PRIVATE_NETWORKS: bool = config("WEBHOOK_PRIVATE_NETWORKS", cast=bool, default=DEV)
HTTPS_ONLY: bool = config("HTTPS_ONLY", cast=bool, default=False)
# Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto headers `sightline serve` believes
# (comma-separated addresses or networks such as 10.0.0.0/8; "*" trusts any peer, only for a
# port nobody but the proxy reaches). Requests from anyone else keep their own address.
FORWARDED_ALLOW_IPS: str = config("FORWARDED_ALLOW_IPS", default="127.0.0.1")

# Logs: one JSON object per line ("json", for log collectors) or plain lines ("text", for
# people reading a terminal), at this level and above. Set by `sightline serve` / `worker`.
LOG_FORMAT: str = config("LOG_FORMAT", default="json")
LOG_LEVEL: str = config("LOG_LEVEL", default="INFO")
# Who may read /metrics: with a token, requests carrying `Authorization: Bearer <token>`;
# without one, only requests made on this machine (127.0.0.1 / ::1) and not through a proxy.
METRICS_TOKEN: Secret = config("METRICS_TOKEN", cast=_secret, default="")

# The worker (engine.operations.worker): timers, message and signal delivery, launches, emails,
# audit anchors. True: each web process runs one itself (the one-process mode of `make run`); set it
# to false when `sightline worker` processes run beside the web processes.
WORKER_IN_WEB: bool = config("WORKER_IN_WEB", cast=bool, default=True)
# How often the worker looks for due timers, and for thrown messages to deliver (seconds; 0
# switches the duty off), and anchors the audit chains.
TIMER_POLL_SECONDS: float = config("TIMER_POLL_SECONDS", cast=float, default=30.0)
MESSAGE_POLL_SECONDS: float = config("MESSAGE_POLL_SECONDS", cast=float, default=1.0)
AUDIT_ANCHOR_SECONDS: float = config("AUDIT_ANCHOR_SECONDS", cast=float, default=60.0)
# Where anchors are recorded outside the database as well (one JSON line each; `sightline audit
# verify` checks the database against it; empty: nowhere). Keep it on a disk the database's
# admins cannot rewrite, or copy it off the host.
AUDIT_ANCHOR_FILE: str = config(
    "AUDIT_ANCHOR_FILE", default=str(DATA_DIR / "audit-anchors.jsonl")
)
# How long a worker holds what it claimed (a job, due timers, a message it delivers) before
# another worker may take it over, should it stop (seconds).
LEASE_SECONDS: float = config("LEASE_SECONDS", cast=float, default=120.0)
# What one evaluation of a pack's script, condition, DMN cell, due-date expression or form
# template may take: CPU seconds and megabytes of memory. Past either it stops, with a message
# saying which and why; the instance goes to its error state (forms.limits).
SCRIPT_CPU_SECONDS: float = config("SCRIPT_CPU_SECONDS", cast=float, default=2.0)
SCRIPT_MEMORY_MB: int = config("SCRIPT_MEMORY_MB", cast=int, default=256)
# Processes preparing a cycle launch's instances (0: a thread of the launching process).
LAUNCH_PROCESSES: int = config("LAUNCH_PROCESSES", cast=int, default=os.cpu_count() or 1)

# Notifications: without SMTP_HOST, emails stay in the outbox for admins to read.
SMTP_HOST: str = config("SMTP_HOST", default="")
SMTP_PORT: int = config("SMTP_PORT", cast=int, default=25)
SMTP_USER: str = config("SMTP_USER", default="")
SMTP_PASSWORD: Secret = config("SMTP_PASSWORD", cast=_secret, default="")
SMTP_STARTTLS: bool = config("SMTP_STARTTLS", cast=bool, default=False)
MAIL_FROM: str = config("MAIL_FROM", default="Sightline <sightline@localhost>")
# The hour (0–23, the engine clock's UTC) at which people who chose a daily digest get it.
DIGEST_HOUR: int = config("DIGEST_HOUR", cast=int, default=7)
if not 0 <= DIGEST_HOUR <= 23:
    raise ValueError(f"DIGEST_HOUR must be an hour from 0 to 23, not {DIGEST_HOUR}")

# Login throttling: within a window of LOGIN_WINDOW_SECONDS, an account name gets this many
# password checks, and one client address this many failed ones (across names; an office
# behind one NAT address shares it); further attempts are refused unchecked until it ends.
LOGIN_MAX_FAILURES: int = config("LOGIN_MAX_FAILURES", cast=int, default=5)
LOGIN_MAX_FAILURES_PER_ADDRESS: int = config(
    "LOGIN_MAX_FAILURES_PER_ADDRESS", cast=int, default=100
)
LOGIN_WINDOW_SECONDS: int = config("LOGIN_WINDOW_SECONDS", cast=int, default=900)
# Sessions (rows in the database, webapp.sessions): one ends after this long without a request,
# and in any case this long after logging in.
SESSION_IDLE_SECONDS: int = config("SESSION_IDLE_SECONDS", cast=int, default=2 * 60 * 60)
SESSION_MAX_SECONDS: int = config("SESSION_MAX_SECONDS", cast=int, default=12 * 60 * 60)
# Shortest password a person may choose on /account/password.
PASSWORD_MIN_LENGTH: int = config("PASSWORD_MIN_LENGTH", cast=int, default=12)
# Single sign-on: OpenID Connect providers as a JSON list, each {"name", "label", "issuer",
# "client_id", "client_secret", optional "scopes", "claim", "match"} (webapp.oidc reads it;
# docs/deploy.md, "Single sign-on"). LOCAL_PASSWORDS=false switches password logins off.
OIDC_PROVIDERS: str = config("SIGHTLINE_OIDC_PROVIDERS", default="")
LOCAL_PASSWORDS: bool = config("LOCAL_PASSWORDS", cast=bool, default=True)

# Pack uploads (designer import).
MAX_PACK_UPLOAD_BYTES: int = config("MAX_PACK_UPLOAD_BYTES", cast=int, default=10 * 1024 * 1024)

# The REST API (docs/api.md): each token may make API_RATE_LIMIT requests per window of
# API_RATE_WINDOW_SECONDS, then gets 429 with Retry-After until the next window; the answer to
# a write sent with an Idempotency-Key is replayed for that key for API_IDEMPOTENCY_HOURS.
API_RATE_LIMIT: int = config("API_RATE_LIMIT", cast=int, default=600)
API_RATE_WINDOW_SECONDS: int = config("API_RATE_WINDOW_SECONDS", cast=int, default=60)
API_IDEMPOTENCY_HOURS: int = config("API_IDEMPOTENCY_HOURS", cast=int, default=24)
