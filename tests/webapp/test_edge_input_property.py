"""Property: whatever is posted — control characters, NUL, numbers no one can store, very long
text, any unicode, empty values, wrong types for choices and checkboxes, many table rows — to
every task form of both packs and to every route that takes input, the app answers without a
server error, and no control character reaches the database.

Both tests run on every configured database (tests/conftest.py). Every task form: each case
of the packs' scenario tests (processes/*/tests/*.json) is replayed on the database runtime,
and each user task the first time it comes up is kept open as a target; then Hypothesis posts
generated values to each target as the person who holds it. Every route: the routes of
webapp.app.assemble_routes(), each POST and each GET with generated query parameters, as the
kind of person the area is for. One property runs per target and per route (on a worker
thread, handing each request to the test's event loop), so every one of them gets its
examples. SIGHTLINE_FUZZ_EXAMPLES raises the counts for a deeper run than CI's.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import os
import re
import shutil
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Route

from engine.base import clock
from engine.base.errors import EngineError
from engine.base.models import Cycle, HumanTask, OrgGoal, ProcessInstance, Record
from engine.packs.definitions import deploy_pack
from engine.people.assignment import may_act
from engine.people.directory import current_directory
from engine.workflow import runtime
from engine.workflow.task_context import parsed_form, task_context
from engine.workflow.timers import fire_timers_of
from forms import form_spec
from forms.schema import FieldNode

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
PROCESSES = ROOT / "processes"

# The people the packs' scenario tests name (ada, her manager grace, his manager alan, her
# peers lin and sam), and HR, Compensation and a designer. Logins are the lower-case keys.
ORG = """employee_id,name,email,title,job_family,org_unit_code,org_unit_name,\
parent_org_unit_code,manager_id,groups,unit.hr_partner
alan,Alan Turing,alan@example.com,Director,people_manager,ENG,Engineering,,,,hana
grace,Grace Hopper,grace@example.com,Engineering Manager,people_manager,ENG,Engineering,,alan,,hana
ada,Ada Lovelace,ada@example.com,Software Engineer,engineering,ENG,Engineering,,grace,,hana
lin,Lin Chen,lin@example.com,Software Engineer,engineering,ENG,Engineering,,grace,,hana
sam,Sam Rivera,sam@example.com,Software Engineer,engineering,ENG,Engineering,,grace,,hana
hana,Hana Hale,hana@example.com,HR partner,individual_contributor,ENG,Engineering,,alan,hr,hana
carl,Carl Cole,carl@example.com,Compensation,individual_contributor,ENG,Engineering,,alan,\
compensation,hana
dee,Dee Diaz,dee@example.com,HR systems designer,individual_contributor,ENG,Engineering,,alan,\
designer;hr,hana
"""
PEOPLE = ["ada", "grace", "alan", "lin", "sam", "hana", "carl", "dee"]
SELF_STARTED = {"feedback", "checkin", "development_plan"}
PASSWORD = "sightline-demo"

EXAMPLES = int(os.environ.get("SIGHTLINE_FUZZ_EXAMPLES", "0"))
# Moderate counts, per target and per route, on every database.
FORM_EXAMPLES = EXAMPLES or 5
ROUTE_EXAMPLES = EXAMPLES or 4
PROFILE = dict(
    deadline=None,
    # The same examples on every run, so CI is stable and a failure reproduces; a deeper run
    # (SIGHTLINE_FUZZ_EXAMPLES) explores afresh each time.
    derandomize=not EXAMPLES,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)

SERVER_ERROR = "Something went wrong"
# Control characters the database must never hold (tab, line feed, carriage return may: they
# are ordinary in multi-line text). Checked in the JSON text, where they appear escaped.
STORED_CONTROL = re.compile(r"\\u00(?:0[0-8bcef]|1[0-9a-f]|7f|8[0-9a-f]|9[0-9a-f])")


# --- generated values ------------------------------------------------------------------------

EDGE_TEXT = [
    "", " ", "\t", "\r\n", "a\tb", "line\nbreak", "\u2028", "\ufeff", "\u200b", "\U0001f642",
    "é" * 3, "<script>alert(1)</script>", "{{ 7 * 7 }}", "'; DROP TABLE person; --", "null",
    "[]", "{}", "true", "x" * 5000, "é" * 3000,
]
CONTROL_TEXT = ["\x00", "a\x00b", "\x1b[31mred", "\x7f", "\x85", "\x9f", "\x1c", "\x08"]
EDGE_NUMBERS = [
    "NaN", "nan", "sNaN", "-NaN", "Infinity", "-Infinity", "inf", "1e400", "-1e400", "1e-400",
    str(2**53), str(2**53 + 1), str(-(2**63)), "9" * 400, "9" * 5000, "0", "-0", "00", "1.",
    ".5", "1_000", "1,5", "0x1F", "²", "٣", "+5", " 7 ", "5.0", "2.5", "1e3", "100", "101",
]
EDGE_DATES = ["2026-03-31", "2026-02-30", "0001-01-01", "9999-12-31", "2026-03-31T25:00",
              "2026-03-31T09:00", "31/03/2026", "99999-01-01"]

# Any unicode but control characters (and lone surrogates, which UTF-8 cannot carry) …
clean_text = st.one_of(
    st.sampled_from(EDGE_TEXT),
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=30),
    st.builds(lambda unit, times: unit * times,
              st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=3),
              st.integers(100, 3000)),
)
# … and with them (a post holding one is refused as a whole, so one post in four has them).
any_text = st.one_of(clean_text, st.sampled_from(CONTROL_TEXT), st.text(max_size=30))
numbers = st.one_of(
    st.sampled_from(EDGE_NUMBERS),
    st.integers().map(str),
    st.floats().map(repr),
    st.decimals().map(str),
)


def value_for(kind: str, tokens: tuple[str, ...], dirty: bool = True) -> st.SearchStrategy[str]:
    """What a browser, a script or a probe may post for a field of this kind (`dirty`: text
    may hold control characters)."""
    text = any_text if dirty else clean_text
    if kind in ("integer", "number"):
        return st.one_of(numbers, text)
    if tokens:
        return st.one_of(st.sampled_from(tokens), numbers, text)
    if kind == "checkbox":
        return st.one_of(st.sampled_from(["y", "on", "true", "false", "0", ""]), text)
    if kind in ("date", "datetime"):
        return st.one_of(st.sampled_from(EDGE_DATES), text)
    return st.one_of(text, numbers)


def values_for(kind: str, tokens: tuple[str, ...], dirty: bool = True
               ) -> st.SearchStrategy[list[str]]:
    """Usually one value; sometimes none, or several under the same name."""
    one = value_for(kind, tokens, dirty)
    return st.one_of(one.map(lambda v: [v]), st.lists(one, max_size=3))


# --- the form's fields ----------------------------------------------------------------------


@dataclass
class Leaf:
    """An input of a task form: its name (within a table row, the column's) and what it takes."""

    name: str
    kind: str
    tokens: tuple[str, ...] = ()


@dataclass
class Table:
    """A table of the form and its columns."""

    name: str
    columns: list[Leaf]


@dataclass
class FormShape:
    """A task form as the browser posts it."""

    leaves: list[Leaf] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    def names(self) -> list[str]:
        """Every input name, tables' first row included."""
        return [leaf.name for leaf in self.leaves] + [
            f"{table.name}-0-{column.name}" for table in self.tables for column in table.columns
        ]


def _leaves(node: FieldNode, prefix: str = "") -> Iterator[Leaf | Table]:
    for child in node.children:
        name = prefix + child.name
        tokens = tuple(choice.token for choice in child.choices)
        if child.kind == "object":
            yield from _leaves(child, f"{name}-")
        elif child.kind == "table":
            columns = [leaf for leaf in _leaves(child) if isinstance(leaf, Leaf)]
            yield Table(name, columns)
        elif child.kind == "signature":
            yield Leaf(f"{name}-acknowledged", "checkbox")
            yield Leaf(f"{name}-name", "text")
            yield Leaf(f"{name}-comment", "textarea")
        else:
            yield Leaf(name, child.kind, tokens)


def shape_of(root: FieldNode | None) -> FormShape:
    """The inputs of a compiled form (none for a task without a form)."""
    shape = FormShape()
    for found in _leaves(root) if root is not None else ():
        (shape.tables if isinstance(found, Table) else shape.leaves).append(found)  # type: ignore[arg-type]
    return shape


@st.composite
def posted_form(draw: st.DrawFn, shape: FormShape) -> dict[str, list[str]]:
    """Generated values for a form's inputs, its tables' rows, and a few strangers."""
    dirty = draw(st.integers(0, 3)) == 0
    text = any_text if dirty else clean_text
    posted: dict[str, list[str]] = {}
    for leaf in shape.leaves:
        if draw(st.integers(0, 9)):  # now and then a field is left out altogether
            posted[leaf.name] = draw(values_for(leaf.kind, leaf.tokens, dirty))
    for table in shape.tables:
        rows = draw(st.sampled_from([0, 1, 1, 2, 3, 12, 110]))
        template = {c.name: draw(values_for(c.kind, c.tokens, dirty)) for c in table.columns}
        for index in range(rows):
            # Many rows repeat one generated row: the size is the point, not the values.
            row = template if rows > 3 or index == 0 else {
                c.name: draw(values_for(c.kind, c.tokens, dirty)) for c in table.columns
            }
            for column, values in row.items():
                posted[f"{table.name}-{index}-{column}"] = values
        odd = draw(st.sampled_from(["", "²", "99999999999999999999", "9" * 5000, "-1", "00"]))
        if odd and table.columns:
            posted[f"{table.name}-{odd}-{table.columns[0].name}"] = [draw(text)]
    for _ in range(draw(st.integers(0, 2))):
        posted[draw(st.one_of(st.sampled_from(shape.names() or ["x"]), text))] = [draw(text)]
    return posted


def form_action(shape: FormShape) -> st.SearchStrategy[str | None]:
    """No row button, or Add / Remove on a table (the position sometimes no position)."""
    tables = [t.name for t in shape.tables] or ["objectives"]
    return st.one_of(
        st.none(),
        st.sampled_from(tables).map(lambda t: f"add:{t}"),
        st.tuples(st.sampled_from(tables), st.sampled_from(["0", "5", "²", "9" * 5000, "-1"]))
        .map(lambda p: f"remove:{p[0]}:{p[1]}"),
        clean_text,
    )


# --- driving the packs' scenarios to every user task --------------------------------------


@dataclass
class Case:
    """One scenario of a pack's tests, to replay on the database runtime."""

    pack: str
    process: str
    name: str
    spec: dict[str, Any]

    def entries(self, bpmn_id: str) -> list[dict[str, Any]]:
        tasks = self.spec.get("tasks") or {}
        found = tasks.get(f"{self.process}:{bpmn_id}") or tasks.get(bpmn_id) or {}
        return list(found.get("data") or [])

    def task_ids(self) -> set[str]:
        return {key.rpartition(":")[2] for key, value in (self.spec.get("tasks") or {}).items()
                if (value or {}).get("data")}

    @property
    def subject(self) -> str:
        given_key = (self.spec.get("subject") or {}).get("key")
        if self.process == "checkin":
            return "grace"  # the scenario's check-in is with ada, her report
        return given_key if given_key in PEOPLE else "ada"


def pack_cases() -> list[Case]:
    """Every scenario of both packs. ACME inherits the other processes unchanged from the
    standard pack (same diagrams, same forms), so its own two are what it adds."""
    cases = []
    for pack in ("standard", "acme"):
        for path in sorted((PROCESSES / pack / "tests").glob("test_*.json")):
            process = path.stem.removeprefix("test_")
            for name, spec in json.loads(path.read_text()).items():
                cases.append(Case(pack, process, name, spec))
    return cases


@dataclass
class Target:
    """A user task kept open for the generated posts."""

    case: Case
    bpmn_id: str
    task_id: int
    username: str
    shape: FormShape

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.case.pack, self.case.process, self.bpmn_id)


async def _holder(task: HumanTask) -> str:
    directory = await current_directory()
    for key in PEOPLE:
        person = directory.person(key)
        if person is not None and may_act(person.id, task.assignee_id,
                                          task.candidate_group, task.candidates, directory):
            return key
    raise AssertionError(f"nobody in the org may act on {task.bpmn_id}")


async def _shape(task_id: int) -> FormShape:
    ctx = await task_context(task_id)
    if ctx.form is None:
        return FormShape()
    schema, uischema = parsed_form(ctx)
    assert schema is not None, f"{ctx.task.bpmn_id}: the form does not render"
    return shape_of(form_spec(schema, uischema or {}, ctx.catalogs).root)


async def drive(case: Case, parked: set[tuple[str, str, str]], cycle_id: int) -> Target | None:
    """Replay the case from its start; stop at the first user task not parked yet and return
    it (None when the case reaches no such task)."""
    hr = await runtime.actor_for("hana")
    starter = await runtime.actor_for(case.subject) if case.process in SELF_STARTED else hr
    instance = await runtime.start_process(
        case.process, subject=case.subject, actor=starter, pack=case.pack, cycle_id=cycle_id,
        data=copy.deepcopy(case.spec.get("start_data") or {}),
    )
    used: Counter[str] = Counter()
    signals = [s if isinstance(s, dict) else {"name": s} for s in case.spec.get("signals") or []]
    timers = list(case.spec.get("timers") or [])
    for _ in range(80):
        ready = await HumanTask.filter(instance_id=instance.id, status="ready").order_by("id")
        for task in ready:
            if (case.pack, case.process, task.bpmn_id) not in parked:
                holder = await _holder(task)
                return Target(case, task.bpmn_id, task.id, holder, await _shape(task.id))
        task = next((t for t in ready if used[t.bpmn_id] < len(case.entries(t.bpmn_id))), None)
        if task is not None:
            entry = case.entries(task.bpmn_id)[used[task.bpmn_id]]
            used[task.bpmn_id] += 1
            actor = await runtime.actor_for(await _holder(task))
            try:
                await runtime.complete_task(task.id, actor, entry)
            except EngineError:
                return None
            continue
        row = await ProcessInstance.get(id=instance.id)
        if row.status != "running":
            return None
        if signals:
            signal = signals.pop(0)
            await runtime.send_signal(signal["name"], [instance.id], hr, signal.get("payload"))
        elif timers:
            timers.clear()
            await fire_timers_of(instance.id, clock.now() + timedelta(days=400))
        else:
            return None
    return None


async def park_every_user_task(cycle_id: int) -> dict[tuple[str, str, str], Target]:
    """One open task per (pack, process, user task) the packs' scenarios reach."""
    targets: dict[tuple[str, str, str], Target] = {}
    for case in pack_cases():
        while {(case.pack, case.process, t) for t in case.task_ids()} - set(targets):
            found = await drive(case, set(targets), cycle_id)
            if found is None:
                break
            targets[found.key] = found
    return targets


# --- the web side ---------------------------------------------------------------------------

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Users:
    """A logged-in client per person, on the app the `client` fixture runs."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.clients: dict[str, tuple[httpx.AsyncClient, str]] = {}

    def new_client(self, address: str = "127.0.0.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False,
                                        client=(address, 4711))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async def log_in(self, client: httpx.AsyncClient, username: str) -> str:
        """Log the client in; returns the session's CSRF token."""
        token = await anonymous_token(client)
        answer = await client.post("/login", data={"username": username, "password": PASSWORD,
                                                    "csrf_token": token})
        assert answer.status_code == 303, answer.text
        inbox = await client.get("/inbox")
        meta = CSRF_META.search(inbox.text)
        assert meta, inbox.text
        return meta.group(1)

    async def session(self, username: str) -> tuple[httpx.AsyncClient, str]:
        """The person's client and CSRF token, logged in once (again, after a post ended the
        session)."""
        if username not in self.clients:
            client = self.new_client()
            self.clients[username] = (client, await self.log_in(client, username))
        return self.clients[username]

    async def check_still_in(self, username: str, answer: httpx.Response) -> None:
        """Forget the session when the answer says it has ended (the next use logs in)."""
        logged_out = answer.status_code == 401 or (
            answer.status_code == 303 and answer.headers.get("location", "").startswith("/login")
        )
        if logged_out and username in self.clients:
            client, _ = self.clients.pop(username)
            await client.aclose()

    async def close(self) -> None:
        for client, _ in self.clients.values():
            await client.aclose()


async def anonymous_token(client: httpx.AsyncClient) -> str:
    """The CSRF token the login form carries."""
    page = await client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    return token.group(1)


def assert_answered(answer: httpx.Response, what: str) -> None:
    """No server error: a status under 500 (or the readiness check's 503: no worker runs in
    tests) and no error page saying something went wrong."""
    not_ready = answer.status_code == 503 and answer.request.url.path == "/health/ready"
    assert (answer.status_code < 500 or not_ready) and SERVER_ERROR not in answer.text, (
        f"{what} -> {answer.status_code}\n{answer.text[:3000]}"
    )


def as_form(posted: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: values for name, values in posted.items() if values}


async def send(client: httpx.AsyncClient, method: str, url: str, posted: dict[str, list[str]],
               headers: dict[str, str] | None = None, multipart: bool = False
               ) -> httpx.Response | None:
    """Send the values: a GET's query, or a POST urlencoded or as multipart (a part without a
    file name is a field: handlers that read forms do not close uploaded files, which only the
    designer's import takes, so no file goes elsewhere). None when httpx itself refuses the
    answer: a redirect to a URL longer than it reads (64 KiB) — back where the long URL came
    from, not a server error."""
    try:
        if method == "GET":
            # Long, but within what a URL can carry (httpx refuses a query over 64 KiB).
            query = [(n[:500], v[:2000]) for n, values in posted.items() for v in values]
            return await client.get(url, params=query, headers=headers)
        files: Any = None
        if multipart:
            files = {"note": (None, "a multipart field")}
            if url == "/designer/import":
                files["archive"] = ("pack.zip", b"PK\x03\x04\x00\x01 not quite a zip")
        return await client.post(url, data=as_form(posted), files=files, headers=headers)
    except httpx.RemoteProtocolError as error:
        if "location header" not in str(error):
            raise
        return None


async def assert_nothing_unstorable_stored() -> None:
    """No submitted data, draft, record or goal holds a control character the database must
    not (nor a NaN or an infinity, which JSON cannot hold)."""
    rows = await HumanTask.all().values_list("submitted", "draft")
    records = await Record.all().values_list("data", flat=True)
    goals = await OrgGoal.all().values_list("title", "description")
    for value in [*(v for pair in rows for v in pair), *records, *goals]:
        text = json.dumps(value, allow_nan=False)  # NaN or Infinity would raise here
        assert not STORED_CONTROL.search(text), text[:500]


async def run_properties(properties: list[Callable[[], None]], what: str) -> None:
    """Run synchronous Hypothesis properties, each on a worker thread so that its examples can
    hand their requests to the test's event loop (`on_loop`) while that loop is free; then
    report every one that failed, with its falsifying example, not just the first."""
    failures = []
    for prop in properties:
        try:
            await asyncio.to_thread(prop)
        except Exception as error:
            error.add_note(f"in the property for {prop.__qualname__}")
            failures.append(error)
    if failures:
        raise ExceptionGroup(f"{len(failures)} {what} answered with a server error", failures)


def on_loop(loop: asyncio.AbstractEventLoop, work: Awaitable[T]) -> T:
    """From the property's thread: run `work` on the test's event loop and wait for it."""
    return asyncio.run_coroutine_threadsafe(work, loop).result()  # type: ignore[arg-type]


@pytest.fixture
async def scratch_packs(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Both packs in a scratch PACKS folder (designer posts may write there), deployed, with
    the org, logins and a cycle; logins are not throttled (the login form is fuzzed too)."""
    from config import settings
    from engine.operations.demo import create_logins
    from engine.people.org_import import import_org

    folder = tmp_path / "packs"
    for pack in ("standard", "acme"):
        shutil.copytree(PROCESSES / pack, folder / pack)
    monkeypatch.setattr(settings, "PACKS", [str(folder)])
    for name in ("LOGIN_MAX_FAILURES", "LOGIN_MAX_FAILURES_PER_ADDRESS"):
        monkeypatch.setattr(settings, name, 10**9, raising=False)
    report = await import_org(ORG)
    assert not report.errors, report.errors
    await create_logins(PASSWORD)
    for pack in ("standard", "acme"):
        await deploy_pack(folder / pack, "test", search=[folder])
    await Cycle.create(name="2026 year-end")
    return folder


@pytest.fixture
async def users(scratch_packs: Path, app: Starlette, client: httpx.AsyncClient,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Users]:
    """Logged-in clients per person (the `client` fixture keeps the app's lifespan running)."""
    # httpx's ASGI transport tries `import sniffio` on every request; it is not installed, and
    # thousands of failing imports beside the engine's worker threads hit a CPython import-lock
    # race (KeyError in importlib). A None entry makes the import fail at once, as it would.
    monkeypatch.setitem(sys.modules, "sniffio", None)
    found = Users(app)
    yield found
    await found.close()


def test_the_scenarios_reach_every_user_task_of_both_packs() -> None:
    """The scenarios name each user and manual task of the processes they test, so replaying
    them reaches every task form (checked against the diagrams, without a database)."""
    from lxml import etree

    namespace = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    for pack in ("standard", "acme"):
        scenario_tasks = {(c.process, t) for c in pack_cases() if c.pack == pack
                          for t in c.task_ids()}
        for diagram in (PROCESSES / pack).glob("*.bpmn"):
            tree = etree.parse(str(diagram))
            for process in tree.iterfind("bpmn:process", namespace):
                if not (PROCESSES / pack / "tests" / f"test_{process.get('id')}.json").exists():
                    continue
                declared = {(process.get("id"), task.get("id"))
                            for tag in ("userTask", "manualTask")
                            for task in process.iterfind(f".//bpmn:{tag}", namespace)}
                assert declared <= scenario_tasks, (pack, declared - scenario_tasks)


async def test_every_task_form_answers_generated_input_without_a_server_error(
    users: Users,
) -> None:
    cycle = await Cycle.first()
    assert cycle is not None
    targets = await park_every_user_task(cycle.id)
    # Every user task of both packs' processes that have scenarios (test above).
    assert len(targets) >= 40, sorted(targets)
    loop = asyncio.get_running_loop()

    async def post(key: tuple[str, str, str], request: FormRequest) -> None:
        target = targets[key]
        if (await HumanTask.get(id=target.task_id)).status != "ready":
            # A generated post was valid and completed the task: open it again.
            again = await drive(target.case, set(targets) - {key}, cycle.id)
            assert again is not None and again.key == key
            target = targets[key] = again
        client, token = await users.session(target.username)
        url = f"/tasks/{target.task_id}"
        posted = dict(request.posted)
        htmx = {"HX-Request": "true", "X-CSRF-Token": token}
        if request.mode == "submit":
            answer = await send(client, "POST", url, {**posted, "csrf_token": [token]},
                                multipart=request.multipart)
        elif request.mode == "htmx":
            answer = await send(client, "POST", url, posted, htmx, request.multipart)
        elif request.mode == "validate":
            answer = await send(client, "POST", f"{url}/validate", posted, htmx,
                                request.multipart)
        else:
            answer = await client.get(url)
        assert answer is not None
        assert_answered(answer, f"{request.mode} {key}")

    def form_property(key: tuple[str, str, str]) -> Callable[[], None]:
        @settings(max_examples=FORM_EXAMPLES, **PROFILE)  # type: ignore[arg-type]
        @given(request=form_requests(targets[key].shape))
        def answers_without_a_server_error(request: FormRequest) -> None:
            on_loop(loop, post(key, request))

        answers_without_a_server_error.__qualname__ = f"task form {'/'.join(key)}"
        return answers_without_a_server_error

    await run_properties([form_property(key) for key in sorted(targets)], "task forms")
    await assert_nothing_unstorable_stored()


def shortened(value: Any, width: int = 80) -> str:
    """repr() with long texts cut (a falsifying example stays readable, and small)."""
    if isinstance(value, str):
        text = repr(value[:width])
        return text if len(value) <= width else f"{text}…({len(value)} chars)"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{shortened(k)}: {shortened(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(shortened(v) for v in value) + "]"
    return repr(value)


@dataclass
class FormRequest:
    """One generated request to a task: how it is sent, and what it posts."""

    mode: str  # submit | htmx | validate | page
    posted: dict[str, list[str]]
    multipart: bool

    def __repr__(self) -> str:
        return (f"FormRequest(mode={self.mode!r}, multipart={self.multipart}, "
                f"posted={shortened(self.posted)})")


@st.composite
def form_requests(draw: st.DrawFn, shape: FormShape) -> FormRequest:
    posted = draw(posted_form(shape))
    mode = draw(st.sampled_from(["submit", "submit", "htmx", "validate", "page"]))
    action = draw(form_action(shape))
    if action is not None:
        posted["_form_action"] = [action]
    posted["_submit"] = [draw(st.sampled_from(["submit", "draft", "done", "", "x"]))]
    if mode == "validate":
        names = shape.names() or ["x"]
        posted["_field"] = [draw(st.one_of(st.sampled_from(names), st.sampled_from(names),
                                           clean_text))]
    return FormRequest(mode, posted, draw(st.integers(0, 4)) == 0)


# --- every route ----------------------------------------------------------------------------

# Who each area is for: its routes are posted to as that person (others mostly get 404).
ROLE_BY_PREFIX = [("/designer", "dee"), ("/hr", "hana"), ("/admin", "hana"),
                  ("/team", "grace"), ("/development/plan", "grace")]
GET_NAME = re.compile(r"""\.get(?:list)?\(\s*(?:f?["'])([A-Za-z_][\w:-]*)""")
EXTRA_NAMES = ["q", "next", "page", "cycle", "population", "scope", "status", "file", "state",
               "element", "apply", "decision", "instance", "action", "rating-1", "reason-1",
               "condition:flow_1", "flow_name:flow_1", "replace", "archive", "path", "person"]
# Routes answered by a client of their own: logging in and out, ending one's sessions.
OWN_CLIENT = ("/login", "/logout", "/account/sessions")


def input_names(route: Route) -> list[str]:
    """The form and query names the route's module reads (`form.get("title")`, ...)."""
    source = inspect.getsource(inspect.getmodule(route.endpoint))  # type: ignore[arg-type]
    return sorted(set(GET_NAME.findall(source)) | set(EXTRA_NAMES))


def role_for(path: str) -> str:
    return next((who for prefix, who in ROLE_BY_PREFIX if path.startswith(prefix)), "ada")


def input_routes() -> list[tuple[str, Route]]:
    """(method, route) for every POST and every GET route of the app (a GET route gets
    generated query parameters whether or not it reads any)."""
    from webapp.app import assemble_routes

    found = []
    for route in assemble_routes():
        if isinstance(route, Route):
            for method in sorted((route.methods or set()) - {"HEAD"}):
                found.append((method, route))
    return found


def path_value(name: str, ids: dict[str, list[int]]) -> st.SearchStrategy[str]:
    """A value for a path parameter: one that names something, or anything at all. People
    named in paths are not the ones acting (ending someone's sessions logs them out)."""
    known: dict[str, list[str]] = {
        "pack": ["standard", "acme"],
        "path": ["objective_setting.bpmn", "forms/objectives-schema.json", "bonus.dmn",
                 "../pack.toml", "x" * 300 + ".bpmn"],
        "name": ["objectives", "self-appraisal"],
        "process": ["objective_setting", "year_end_appraisal"],
        "person_key": ["lin", "sam"],
        "key": ["lin", "sam"],
        "job_id": ["1", "²", "99999999999"],
    }
    if name in ids:
        named = st.sampled_from([str(i) for i in ids[name]] + ["0", "2147483648", "9" * 30,
                                                                "9" * 5000])
        return st.one_of(named, named, numbers.filter(lambda s: s.isdigit()))
    return st.one_of(st.sampled_from(known.get(name, ["x"])), any_text.filter(bool))


@dataclass
class RouteRequest:
    """One generated request to a route."""

    path: str
    posted: dict[str, list[str]]
    htmx: bool
    multipart: bool

    def __repr__(self) -> str:
        return (f"RouteRequest(path={shortened(self.path, 200)}, htmx={self.htmx}, "
                f"multipart={self.multipart}, posted={shortened(self.posted)})")


@st.composite
def route_requests(draw: st.DrawFn, route: Route, ids: dict[str, list[int]]) -> RouteRequest:
    path = route.path
    for name in route.param_convertors:
        value = draw(path_value(name, ids))
        encoded = quote(value, safe="/" if name == "path" else "")
        path = re.sub(r"\{" + name + r"(:[a-z]+)?\}", lambda _, v=encoded: v, path)
    names = input_names(route)
    posted = {name: draw(values_for("text", ()))
              for name in draw(st.lists(st.sampled_from(names), max_size=6, unique=True))}
    if draw(st.booleans()):
        posted[draw(any_text)] = [draw(any_text)]
    return RouteRequest(path, posted, draw(st.booleans()), draw(st.integers(0, 3)) == 0)


async def test_every_route_answers_generated_input_without_a_server_error(
    users: Users,
) -> None:
    ids = await _known_ids()
    loop = asyncio.get_running_loop()

    async def request(method: str, route: Route, generated: RouteRequest) -> None:
        own_client = route.path.startswith(OWN_CLIENT)
        role = role_for(route.path)
        if own_client:
            client = users.new_client(address="10.0.0.9")  # its own address, too
            token = (await anonymous_token(client) if route.path == "/login"
                     else await users.log_in(client, role))
        else:
            client, token = await users.session(role)
        try:
            headers = {"HX-Request": "true", "X-CSRF-Token": token} if generated.htmx else None
            posted = generated.posted
            if method == "POST" and not generated.htmx:
                posted = {**posted, "csrf_token": [token]}
            answer = await send(client, method, generated.path, posted, headers,
                                generated.multipart)
            if answer is not None:
                assert_answered(answer, f"{method} {generated.path}")
                if not own_client:
                    await users.check_still_in(role, answer)
        finally:
            if own_client:
                await client.aclose()

    def route_property(method: str, route: Route) -> Callable[[], None]:
        @settings(max_examples=ROUTE_EXAMPLES, **PROFILE)  # type: ignore[arg-type]
        @given(generated=route_requests(route, ids))
        def answers_without_a_server_error(generated: RouteRequest) -> None:
            on_loop(loop, request(method, route, generated))

        answers_without_a_server_error.__qualname__ = f"{method} {route.path}"
        return answers_without_a_server_error

    await run_properties([route_property(m, r) for m, r in input_routes()], "routes")
    await assert_nothing_unstorable_stored()


async def _known_ids() -> dict[str, list[int]]:
    """Ids that name rows, for the path parameters that take one."""
    hr = await runtime.actor_for("hana")
    cycle = await Cycle.first()
    started = await runtime.start_process("objective_setting", subject="ada", actor=hr,
                                          pack="standard", cycle_id=cycle.id if cycle else None)
    tasks = list(await HumanTask.filter(instance_id=started.id).values_list("id", flat=True))
    return {"task_id": tasks, "instance_id": [started.id], "email_id": [1]}
