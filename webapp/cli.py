"""The `sightline` command: serve the app and drive the engine from a shell.

Every subcommand has --help; a failure prints one line saying why and exits non-zero.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from config import settings


class CommandError(Exception):
    """A failure to report as one line."""


def _fail(message: str, code: int = 1) -> int:
    print(f"sightline: {message}", file=sys.stderr)
    return code


async def _with_db(work: Callable[[], Awaitable[int]]) -> int:
    from engine.base import db

    await db.connect(settings.DATABASE_URL)
    try:
        return await work()
    finally:
        await db.disconnect()


def _pack_folders() -> list[Path]:
    return [Path(p) for p in settings.PACKS]


def _resolve_pack_path(value: str) -> Path:
    path = Path(value)
    if path.exists():
        return path.resolve()
    for folder in _pack_folders():
        if (folder / value).exists():
            return (folder / value).resolve()
    raise CommandError(f"no pack at '{value}'")


# --- serve / db ------------------------------------------------------------------------------


def _log_config() -> dict[str, Any]:
    from config.logging import logging_config

    try:
        return logging_config()
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _require_secret_key() -> None:
    """The default SECRET_KEY stops `serve` and `worker` with one line saying what to set."""
    from webapp.sessions import secret_key_problem

    problem = secret_key_problem()
    if problem is not None:
        raise CommandError(problem)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.workers < 1:
        raise CommandError("--workers must be at least 1")
    _require_secret_key()
    # uvicorn applies the logging config in each process it starts; the app logs its own
    # access lines (with the request id), so uvicorn's are off.
    uvicorn.run(
        "webapp.app:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        forwarded_allow_ips=settings.FORWARDED_ALLOW_IPS,
        log_config=_log_config(),
        access_log=False,
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from engine.base import db

    async def work() -> int:
        applied = await db.upgrade(settings.DATABASE_URL)
        await db.disconnect()
        print(f"database up to date ({len(applied)} migration(s) applied)")
        return 0

    return asyncio.run(work())


# --- packs ---------------------------------------------------------------------------------


def cmd_pack_validate(args: argparse.Namespace) -> int:
    from engine.packs.loading import discover_packs
    from engine.packs.validation import translation_warnings, validate_pack

    path = _resolve_pack_path(args.path)
    available = discover_packs([path.parent, *_pack_folders()])
    problems = validate_pack(path, available=available)
    for problem in problems:
        print(problem)
    # Warnings only: a stray translation leaves a text as written, the pack still works.
    for warning in translation_warnings(path, available=available):
        print(f"warning: {warning}")
    if problems:
        print(f"{len(problems)} problem(s) in {path.name}", file=sys.stderr)
        return 1
    print(f"{path.name}: valid")
    return 0


def cmd_pack_deploy(args: argparse.Namespace) -> int:
    from engine.base.errors import DeployError
    from engine.packs.definitions import deploy_pack

    path = _resolve_pack_path(args.path)

    async def work() -> int:
        try:
            report = await deploy_pack(path, args.by, search=[path.parent, *_pack_folders()])
        except DeployError as exc:
            for problem in exc.problems:
                print(problem)
            raise CommandError(str(exc)) from exc
        print(report)
        return 0

    return asyncio.run(_with_db(work))


def cmd_pack_test(args: argparse.Namespace) -> int:
    from engine.packs.pack_tests import format_report, run_pack_tests

    path = _resolve_pack_path(args.path)
    report = run_pack_tests(path)
    print(format_report(report))
    return 0 if report.failed == 0 else 1


# --- directory -----------------------------------------------------------------------------


def cmd_org_import(args: argparse.Namespace) -> int:
    from engine.workflow.directory_changes import import_org_chart

    path = Path(args.file)
    if not path.exists():
        raise CommandError(f"no file '{path}'")

    async def work() -> int:
        # Leavers' open tasks are re-routed by their lanes, as SCIM deactivation does.
        report = await import_org_chart(path.read_text(encoding="utf-8-sig"), "cli:org-import")
        print(report)
        return 1 if report.errors else 0

    return asyncio.run(_with_db(work))


def cmd_kpi_import(args: argparse.Namespace) -> int:
    from engine.performance.progress import import_actuals

    path = Path(args.file)
    if not path.exists():
        raise CommandError(f"no file '{path}'")

    async def work() -> int:
        report = await import_actuals(path.read_text(encoding="utf-8-sig"),
                                      dry_run=args.dry_run)
        print(report)
        return 1 if report.errors else 0

    return asyncio.run(_with_db(work))


def cmd_demo(args: argparse.Namespace) -> int:
    from engine.operations import demo

    async def work() -> int:
        if args.if_empty and not await demo.is_empty():
            print("demo data already present")
            print(demo.logins_text())
            return 0
        for line in await demo.seed(_pack_folders()):
            print(line)
        print(demo.logins_text())
        return 0

    return asyncio.run(_with_db(work))


# --- driving the engine --------------------------------------------------------------------


def _parse_json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--data is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise CommandError("--data must be a JSON object")
    return value


def cmd_start(args: argparse.Namespace) -> int:
    from engine.workflow import runtime

    data = _parse_json(args.data)

    async def work() -> int:
        actor = await runtime.actor_for(args.as_) if args.as_ else runtime.Actor.system("cli")
        instance = await runtime.start_process(
            args.process, subject=args.subject, actor=actor, data=data, pack=args.pack or None
        )
        print(f"started instance {instance.id} ({instance.title}): {instance.status}")
        return 0

    return asyncio.run(_with_db(work))


def cmd_tasks(args: argparse.Namespace) -> int:
    from engine.workflow import inbox

    async def work() -> int:
        rows = await inbox.open_tasks(person=args.person)
        if not rows:
            print("no open tasks")
            return 0
        for row in rows:
            print(row)
        return 0

    return asyncio.run(_with_db(work))


def cmd_complete(args: argparse.Namespace) -> int:
    from engine.workflow import runtime

    data = _parse_json(args.data)

    async def work() -> int:
        actor = await runtime.actor_for(args.as_)
        instance = await runtime.complete_task(args.task, actor, data)
        line = f"task {args.task} completed; instance {instance.id} is {instance.status}"
        if instance.status == "error" and instance.error:
            line += f": {instance.error.get('task')}: {instance.error.get('message')}"
        print(line)
        return 0

    return asyncio.run(_with_db(work))


def cmd_retry(args: argparse.Namespace) -> int:
    from engine.workflow import runtime

    async def work() -> int:
        instance = await runtime.retry_instance(
            args.instance, runtime.Actor.system("cli"), upgrade=not args.same_version
        )
        print(f"instance {instance.id} is {instance.status}")
        return 0 if instance.status != "error" else 1

    return asyncio.run(_with_db(work))


def cmd_timers_run_due(args: argparse.Namespace) -> int:
    from engine.base import clock
    from engine.workflow import runtime

    async def work() -> int:
        if args.now:
            with clock.frozen_at(datetime.fromisoformat(args.now)):
                moved = await runtime.fire_due_timers()
        else:
            moved = await runtime.fire_due_timers()
        print(f"{moved} instance(s) moved by due timers")
        return 0

    return asyncio.run(_with_db(work))


def cmd_worker(args: argparse.Namespace) -> int:
    import signal

    _require_secret_key()  # before webapp.app, whose import builds the app (and would refuse)
    from config.logging import configure_logging
    from engine.operations.worker import Worker
    from engine.workflow import jobs
    from webapp.app import worker_settings

    _log_config()  # a wrong LOG_FORMAT or LOG_LEVEL is one line, not a traceback
    configure_logging()
    worker = Worker(worker_settings(), jobs.worker_name())

    async def work() -> int:
        if args.once:
            done = await worker.run_once()
            print(", ".join(f"{name} {count}" for name, count in done.items()))
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)
        return 0

    return asyncio.run(_with_db(work))


def cmd_audit_seal(args: argparse.Namespace) -> int:
    from engine.workflow.audit import seal_with_key

    async def work() -> int:
        try:
            sealed, anchors = await seal_with_key()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        print(f"sealed {sealed} audit event(s) with the audit key" + (f"; {anchors}"
                                                                    if anchors else ""))
        return 0

    return asyncio.run(_with_db(work))


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from engine.workflow.audit import verify_chain

    async def work() -> int:
        report = await verify_chain()
        print(report)
        return 0 if report.ok else 1

    return asyncio.run(_with_db(work))


def cmd_bench(args: argparse.Namespace) -> int:
    # Benches never open this database: they make a throwaway one beside it
    # (see engine.operations.bench).
    args.database = args.database or settings.DATABASE_URL
    if args.web or args.runaway:
        from webapp import bench_web

        result = asyncio.run(bench_web.run(args))
        print(json.dumps(result, indent=2))
        return 0
    from engine.operations import bench

    result = asyncio.run(bench.run(args))
    print(json.dumps(result, indent=2))
    return 0


# --- cycles --------------------------------------------------------------------------------


def _progress_bar(done: int, total: int, width: int = 30) -> str:
    filled = width * done // total if total else width
    return f"[{'#' * filled}{'-' * (width - filled)}] {done}/{total}"


def _population(args: argparse.Namespace) -> Any:
    from engine.performance.cycles import Population

    chosen = [x for x in (args.unit, args.job_family, args.people) if x]
    if len(chosen) != 1:
        raise CommandError("give exactly one of --unit, --job-family or --people")
    if args.unit:
        return Population.of_unit(args.unit, include_subunits=not args.no_subunits)
    if args.job_family:
        return Population.of_job_family(args.job_family)
    return Population.of_people(args.people.split(","))


def cmd_cycle_launch(args: argparse.Namespace) -> int:
    from engine.performance.cycles import launch_cycle
    from engine.workflow import runtime

    population = _population(args)
    try:
        due = datetime.strptime(args.due, "%Y-%m-%d").date() if args.due else None
    except ValueError as exc:
        raise CommandError(f"--due must be a date YYYY-MM-DD, not '{args.due}'") from exc
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        end = "" if interactive and done < total else "\n"
        print(f"\r{_progress_bar(done, total)}", end=end, file=sys.stderr, flush=True)

    async def work() -> int:
        actor = await runtime.actor_for(args.as_) if args.as_ else runtime.Actor.system("cli")
        report = await launch_cycle(
            args.process, population, cycle_name=args.cycle, due_on=due, actor=actor,
            pack=args.pack, progress=progress,
        )
        for line in report.summary_lines():
            print(line)
        return 0

    return asyncio.run(_with_db(work))


def cmd_cycle_list(args: argparse.Namespace) -> int:
    from engine.performance.cycles import cycle_progress

    async def work() -> int:
        found = await cycle_progress()
        if not found:
            print("no cycles yet")
            return 0
        for cycle in found:
            due = f"due {cycle.due_on}" if cycle.due_on else "no due date"
            print(f"{cycle.name} ({due}): {cycle.instances} instance(s)")
            for p in cycle.processes:
                print(f"  {p.title}: {p.open} open, {p.completed} completed, {p.error} in error"
                      + (f", {p.cancelled} cancelled" if p.cancelled else ""))
        return 0

    return asyncio.run(_with_db(work))


# --- tokens --------------------------------------------------------------------------------


def _scopes_from(values: list[str]) -> list[str]:
    return [scope for value in values for scope in value.split(",") if scope.strip()]


def cmd_token_create(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from engine.people import tokens

    if args.days is not None and args.days < 1:
        raise CommandError("--days must be at least 1")

    async def work() -> int:
        now = tokens.wall_clock()
        expires = now + timedelta(days=args.days) if args.days else None
        scopes = _scopes_from(args.scope)
        if args.as_:
            made = await tokens.make_token_for_username(
                args.name, args.as_, scopes, created_by="cli", expires_at=expires, now=now
            )
        else:
            made = await tokens.make_token(
                args.name, kind=tokens.SERVICE, scopes=scopes, created_by="cli",
                expires_at=expires, now=now,
            )
        info = made.info
        who = f"acts as {info.username}" if info.username else "service token"
        until = f", expires {info.expires_at:%Y-%m-%d %H:%M} UTC" if info.expires_at else ""
        print(f"token {info.id} '{info.name}' ({who}; scopes {' '.join(info.scopes)}{until}) "
              "— shown once, store it now:", file=sys.stderr)
        print(made.token)  # the last line: what scripts read
        return 0

    return asyncio.run(_with_db(work))


def cmd_token_list(args: argparse.Namespace) -> int:
    from engine.people import tokens

    async def work() -> int:
        found = await tokens.list_tokens(include_revoked=args.all)
        if not found:
            print("no tokens")
            return 0
        now = tokens.wall_clock()
        for info in found:
            who = info.username or "service"
            used = f"{info.last_used_at:%Y-%m-%d %H:%M}" if info.last_used_at else "never used"
            print(f"{info.id}\t{info.prefix}…\t{info.name}\t{who}\t{' '.join(info.scopes)}\t"
                  f"{info.status(now)}\t{used}")
        return 0

    return asyncio.run(_with_db(work))


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from engine.people import tokens

    async def work() -> int:
        info = await tokens.revoke_token(args.id)
        print(f"token {info.id} '{info.name}' revoked")
        return 0

    return asyncio.run(_with_db(work))


# --- designer: migration, pack archives ----------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    from engine.workflow import migration, runtime

    if (args.instance is None) == (args.all_of is None):
        raise CommandError("give an INSTANCE id or --all-of PROCESS (one of them)")

    async def work() -> int:
        actor = await runtime.actor_for(args.as_) if args.as_ else runtime.Actor.system("cli")
        if args.all_of:
            report = await migration.migrate_all(
                args.all_of, args.from_version, args.to, actor, dry_run=args.dry_run,
                pack=args.pack,
            )
            for line in report.summary():
                print(line)
            return 1 if report.refused or report.failed else 0
        target = await migration.target_for_instance(args.instance, args.to)
        try:
            preview = await migration.migrate_instance(
                args.instance, target.id, actor, dry_run=args.dry_run
            )
        except migration.MigrationRefused as refused:
            if refused.preview is None:
                raise
            for line in refused.preview.summary():
                print(line)
            return 1
        for line in preview.summary():
            print(line)
        return 0

    return asyncio.run(_with_db(work))


def cmd_pack_export(args: argparse.Namespace) -> int:
    from engine.base.errors import NotFound
    from engine.packs import archive
    from engine.packs.definitions import pack_version, version_files

    out = Path(args.out)
    folder = Path(args.pack)
    if out.suffix.lower() == ".zip" and args.version is None and (
        (folder / "pack.toml").is_file() or (folder / "process_model.json").is_file()
    ):
        # A pack folder zipped as it is (no database needed).
        data = archive.export_pack(folder)
        out.write_bytes(data)
        print(f"{folder.resolve().name}: exported to {out} ({len(data):,} bytes)")
        return 0

    async def work() -> int:
        try:
            row = await pack_version(args.pack, args.version)
        except NotFound as exc:
            raise CommandError(str(exc)) from exc
        files = version_files(row)
        if out.suffix.lower() == ".zip":
            data = archive.zip_files(f"{row.pack}-v{row.version}", files)
            out.write_bytes(data)
            print(f"{row.pack} version {row.version}: exported to {out} ({len(data):,} bytes)")
            return 0
        try:
            archive.write_pack_files(files, out, force=args.force)
        except archive.ExportRefused as exc:
            raise CommandError(str(exc)) from exc
        print(f"{row.pack} version {row.version}: {len(files)} files written to {out}")
        return 0

    return asyncio.run(_with_db(work))


def cmd_pack_import(args: argparse.Namespace) -> int:
    from engine.packs.archive import ArchiveRejected, import_pack

    source = Path(args.file)
    if not source.is_file():
        raise CommandError(f"no file '{source}'")
    into = Path(args.into) if args.into else _pack_folders()[0]
    try:
        result = import_pack(
            source.read_bytes(), into, max_bytes=settings.MAX_PACK_UPLOAD_BYTES,
            name=args.name, replace=args.replace, search=_pack_folders(),
        )
    except ArchiveRejected as rejected:
        for problem in rejected.problems:
            print(problem)
        raise CommandError(f"{source.name} not imported: {rejected}") from rejected
    kind = "SpiffArena process model" if result.spiff_model else "pack"
    verb = "replaced" if result.replaced else "imported"
    print(f"{kind} '{result.name}' {verb} at {result.path} ({len(result.files)} files)")
    return 0


# --- parser --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="sightline", description="Sightline performance management: server and engine tools."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="serve the web app")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--workers", type=int, default=1, metavar="N",
        help="web processes sharing the port (uvicorn workers; default 1)",
    )
    p.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="db", required=True)
    p = db.add_parser("upgrade", help="apply pending migrations")
    p.set_defaults(func=cmd_db_upgrade)

    pack = sub.add_parser("pack", help="process packs").add_subparsers(dest="pack", required=True)
    p = pack.add_parser("validate", help="check a pack; one line per problem")
    p.add_argument("path", help="pack folder (or a pack name under PACKS)")
    p.set_defaults(func=cmd_pack_validate)
    p = pack.add_parser("deploy", help="validate, then store a new version of changed processes")
    p.add_argument("path")
    p.add_argument("--by", default="cli", help="who deploys (recorded with the version)")
    p.set_defaults(func=cmd_pack_deploy)
    p = pack.add_parser("test", help="run the pack's BPMN unit tests (tests/test_*.json)")
    p.add_argument("path")
    p.set_defaults(func=cmd_pack_test)
    p = pack.add_parser(
        "export", help="write a deployed pack version to a folder, byte for byte (or a .zip)"
    )
    p.add_argument("pack", help="the deployed pack's name (or a pack folder, with OUT.zip)")
    p.add_argument("out", help="the folder to write (new or empty), or a .zip file")
    p.add_argument("--version", type=int, help="the pack version (default: the latest)")
    p.add_argument("--force", action="store_true",
                   help="replace the contents of a non-empty folder")
    p.set_defaults(func=cmd_pack_export)
    p = pack.add_parser("import", help="check, validate and unpack a zipped pack")
    p.add_argument("file", help="a zipped pack or SpiffArena process-model folder")
    p.add_argument("--into", help="the packs folder to unpack into (default: first of PACKS)")
    p.add_argument("--name", help="pack name for a process model zipped without a folder")
    p.add_argument("--replace", action="store_true", help="overwrite a pack of the same name")
    p.set_defaults(func=cmd_pack_import)

    org = sub.add_parser("org", help="the directory").add_subparsers(dest="org", required=True)
    p = org.add_parser("import", help="import or update people and units from a CSV file")
    p.add_argument("file")
    p.set_defaults(func=cmd_org_import)

    kpi = sub.add_parser("kpi", help="in-year KPI progress").add_subparsers(dest="kpi",
                                                                           required=True)
    p = kpi.add_parser("import", help="load KPI actuals from a CSV file (all rows or none)")
    p.add_argument("file", help="columns: employee, objective, actual[, status, comment, cycle]")
    p.add_argument("--dry-run", action="store_true", help="check every row, record nothing")
    p.set_defaults(func=cmd_kpi_import)

    p = sub.add_parser("demo", help="seed a demo organisation, logins and the standard pack")
    p.add_argument("--if-empty", action="store_true", help="do nothing if people exist")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("start", help="start a process for a subject")
    p.add_argument("process", help="BPMN process id, e.g. objective_setting")
    p.add_argument("--subject", required=True, help="employee id (key) of the subject")
    p.add_argument("--as", dest="as_", help="employee id of the starter (default: system)")
    p.add_argument("--data", default="{}", help="initial data as a JSON object")
    p.add_argument("--pack", default=settings.PACK, help="the pack, when several share the id")
    p.set_defaults(func=cmd_start)

    p = sub.add_parser("tasks", help="list open human tasks")
    p.add_argument("--person", help="only tasks this person may act on (employee id)")
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("complete", help="complete a human task")
    p.add_argument("task", type=int)
    p.add_argument("--as", dest="as_", required=True, help="employee id of who completes it")
    p.add_argument("--data", default="{}", help="form data as a JSON object")
    p.set_defaults(func=cmd_complete)

    p = sub.add_parser("retry", help="run an instance in error again (on the newest version)")
    p.add_argument("instance", type=int)
    p.add_argument("--same-version", action="store_true", help="do not move to the newest version")
    p.set_defaults(func=cmd_retry)

    timers = sub.add_parser("timers", help="timers").add_subparsers(dest="timers", required=True)
    p = timers.add_parser("run-due", help="fire every due timer once")
    p.add_argument("--now", help="pretend it is this ISO time (for rehearsals)")
    p.set_defaults(func=cmd_timers_run_due)

    audit = sub.add_parser("audit", help="audit trail").add_subparsers(dest="audit", required=True)
    p = audit.add_parser(
        "verify", help="check every chain, its head, its anchors and the anchor file; report "
        "the first thing tampered with")
    p.set_defaults(func=cmd_audit_verify)
    p = audit.add_parser(
        "seal", help="seal the events written before AUDIT_KEY was set with it (once)")
    p.set_defaults(func=cmd_audit_seal)

    cycle = sub.add_parser("cycle", help="performance cycles").add_subparsers(
        dest="cycle", required=True
    )
    p = cycle.add_parser("launch", help="start a process for a population (all or nothing)")
    p.add_argument("process", help="BPMN process id, e.g. objective_setting")
    p.add_argument("--cycle", required=True, help="cycle name (created when new)")
    p.add_argument("--unit", help="org unit code: everyone in it (and its sub-units)")
    p.add_argument("--no-subunits", action="store_true", help="with --unit: the unit only")
    p.add_argument("--job-family", help="everyone in a job family")
    p.add_argument("--people", help="employee ids, comma separated")
    p.add_argument("--due", help="the cycle's due date, YYYY-MM-DD")
    p.add_argument("--pack", help="the pack, when several deploy the process")
    p.add_argument("--as", dest="as_", help="employee id of who launches (default: system)")
    p.set_defaults(func=cmd_cycle_launch)
    p = cycle.add_parser("list", help="cycles with instance counts per process")
    p.set_defaults(func=cmd_cycle_list)

    token = sub.add_parser("token", help="API and SCIM tokens").add_subparsers(
        dest="token", required=True
    )
    p = token.add_parser(
        "create", help="make a token; prints it on the last line (shown once)",
        description="Make a bearer token. With --as it is a personal token acting as that "
        "login (with the person's rights); without, a service token with only its scopes "
        "(an identity provider's SCIM client, a BI tool). The token is the last line printed.",
    )
    p.add_argument("--name", required=True, help="what the token is for")
    p.add_argument("--scope", action="append", required=True, metavar="SCOPE",
                   help="api, api:read or scim (repeat, or separate with commas)")
    p.add_argument("--as", dest="as_", metavar="USERNAME",
                   help="a personal token of this login (default: a service token)")
    p.add_argument("--days", type=int, help="expires after this many days (default: never)")
    p.set_defaults(func=cmd_token_create)
    p = token.add_parser("list", help="tokens: id, prefix, name, login, scopes, status")
    p.add_argument("--all", action="store_true", help="revoked tokens too")
    p.set_defaults(func=cmd_token_list)
    p = token.add_parser("revoke", help="revoke a token at once")
    p.add_argument("id", type=int, help="the token's id (from `sightline token list`)")
    p.set_defaults(func=cmd_token_revoke)

    p = sub.add_parser("migrate", help="move running instances to another version")
    p.add_argument("instance", type=int, nargs="?", help="the instance id")
    p.add_argument("--all-of", metavar="PROCESS", help="every open instance of this process")
    p.add_argument("--from", dest="from_version", type=int, metavar="VERSION",
                   help="with --all-of: only instances on this version")
    p.add_argument("--to", type=int, required=True, metavar="VERSION", help="target version")
    p.add_argument("--pack", help="with --all-of: the pack, when several deploy the process")
    p.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    p.add_argument("--as", dest="as_", help="employee id of who migrates (default: system)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser(
        "worker",
        help="run the worker: timers, message delivery, launches, emails (until stopped)",
    )
    p.add_argument("--once", action="store_true", help="one round of every duty, then exit")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser(
        "bench", help="measure the engine (prints JSON)",
        description="Measure the engine against a reference measured in the same run; prints "
        "JSON. Each bench runs on a throwaway database: on the PostgreSQL server DATABASE_URL "
        "(or --database) names, a new database dropped afterwards; otherwise a temporary "
        "SQLite file. The database the URL names is never opened.",
    )
    p.add_argument("--database", metavar="URL",
                   help="run on this database's server (default: DATABASE_URL)")
    p.add_argument("--tasks", type=int, default=300, help="task completions to time")
    p.add_argument("--web", action="store_true", help="measure the web stack instead")
    p.add_argument("--launch", type=int, nargs="?", const=10_000, default=0, metavar="N",
                   help="launch a cycle for N employees (default 10,000) in a worker process "
                   "while clients submit tasks; against bare SpiffWorkflow starting them")
    p.add_argument("--clients", type=int, default=4,
                   help="with --launch: concurrent clients submitting tasks (default 4)")
    p.add_argument("--conflicts", type=int, nargs="?", const=300, default=0, metavar="N",
                   help="N pairs of parallel sign-offs submitted at the same moment from two "
                   "processes (default 300); counts false conflicts")
    p.add_argument("--dashboards", action="store_true", help="measure the HR dashboard")
    p.add_argument("--runaway", type=int, nargs="?", const=4, default=0, metavar="N",
                   help="/health latency while N people at once (default 4) run a script "
                   "that never ends")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sightline` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from engine.base import clock
    from engine.base.errors import EngineError
    from engine.packs.loading import use_pack_folders
    from engine.performance import launch_pool
    from engine.workflow import audit, jobs
    from forms import limits

    use_pack_folders(_pack_folders())
    launch_pool.configure(settings.LAUNCH_PROCESSES)
    jobs.configure(settings.LEASE_SECONDS)
    limits.configure(settings.SCRIPT_CPU_SECONDS, settings.SCRIPT_MEMORY_MB)
    audit.configure(str(settings.AUDIT_KEY), settings.AUDIT_ANCHOR_FILE or None)
    try:
        clock.use_zone(settings.TIME_ZONE)
    except ValueError as exc:
        return _fail(str(exc))

    try:
        return int(args.func(args))
    except (CommandError, EngineError) as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:  # the shell user gets a line, not a traceback
        text = str(exc)
        if "no such table" in text or ("relation" in text and "does not exist" in text):
            return _fail("the database is not set up: run `sightline db upgrade` first")
        return _fail(f"{type(exc).__name__}: {text}")


if __name__ == "__main__":
    sys.exit(main())
