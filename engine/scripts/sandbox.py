"""The restricted script environment every BPMN script, condition, timer and DMN cell runs in.

Scripts are compiled with RestrictedPython and run against a whitelist of builtins, a few safe
values (datetime, Decimal, math, json, re) and the functions registered with
`@script_function`. The per-run `ScriptContext` (directory snapshot, catalogs, clock, pack-test
mocks) and that registry live in `engine.scripts.context`, so one shared engine serves
concurrent callers and the library registers its functions without importing this module.
"""

from __future__ import annotations

import ast
import builtins
import functools
import json
import math
import operator
import re
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import partial
from typing import Any, Literal

import regex
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
)
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.transformer import (
    INSPECT_ATTRIBUTES,
    RestrictingNodeTransformer,
    copy_locations,
)
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.scripts import library, scoring  # noqa: F401  (registers their functions)
from engine.scripts.context import _FUNCTIONS, ScriptError, active_context
from engine.scripts.context import script_context as script_context
from forms import limits

# SpiffWorkflow finds the failing line of a script by this traceback filename.
SCRIPT_FILENAME = "<string>"
CompileMode = Literal["exec", "eval"]


@dataclass(frozen=True)
class ScriptProblem:
    """One compile-time problem in a script, for pack validation."""

    line: int
    message: str


# --------------------------------------------------------------------------- DMN ranges


class ValueRange:
    """A DMN interval such as [1..3] or ]0..10[; equal to any value inside it."""

    def __init__(self, low: Any, high: Any, low_closed: bool = True, high_closed: bool = True):
        self.low, self.high = low, high
        self.low_closed, self.high_closed = low_closed, high_closed

    def __contains__(self, value: Any) -> bool:
        try:
            above = value >= self.low if self.low_closed else value > self.low
            below = value <= self.high if self.high_closed else value < self.high
        except TypeError:  # a missing or differently typed input simply does not match
            return False
        return bool(above and below)

    def __eq__(self, other: object) -> bool:
        return other in self

    def __hash__(self) -> int:
        return hash((self.low, self.high, self.low_closed, self.high_closed))

    def __repr__(self) -> str:
        left = "[" if self.low_closed else "]"
        right = "]" if self.high_closed else "["
        return f"{left}{self.low!r}..{self.high!r}{right}"


_STRING = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'""")
# String literals are masked as \x00<n>\x00 first, so text inside quotes is never rewritten.
_ENDPOINT = r"-?\d+(?:\.\d+)?|\x00\d+\x00|[A-Za-z]\w*(?:\.[A-Za-z]\w*)*"
_RANGE = re.compile(
    rf"(?P<open>[\[\]\(])\s*(?P<low>{_ENDPOINT})\s*\.\.\s*(?P<high>{_ENDPOINT})\s*"
    r"(?P<close>[\]\[\)])"
)


def rewrite_dmn_ranges(expression: str) -> str:
    """Turn FEEL interval cells like `[1..3]` or `]0..10[` into Python a script can evaluate."""
    if ".." not in expression:
        return expression
    strings: list[str] = []

    def mask(m: re.Match[str]) -> str:
        strings.append(m[0])
        return f"\x00{len(strings) - 1}\x00"

    def interval(m: re.Match[str]) -> str:
        low_closed = m["open"] == "["
        high_closed = m["close"] == "]"
        return f"value_range({m['low']}, {m['high']}, {low_closed}, {high_closed})"

    masked = _RANGE.sub(interval, _STRING.sub(mask, expression))
    return re.sub(r"\x00(\d+)\x00", lambda m: strings[int(m[1])], masked)


# --------------------------------------------------------------------------- compile policy

# Not builtins here, and a call to one is refused at compile time with a clear message. Only the
# call is refused: task data may legitimately hold a field called `type` or `open`.
FORBIDDEN_CALLS = frozenset(
    {
        "open", "exec", "eval", "compile", "getattr", "setattr", "delattr", "hasattr",
        "globals", "locals", "vars", "dir", "type", "breakpoint", "input", "help", "exit",
        "quit", "memoryview", "super", "object", "classmethod", "staticmethod", "property",
        "__import__",
    }
)


class SightlinePolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus Sightline's refusals and item `+=`."""

    def __init__(self) -> None:
        super().__init__(errors=[], warnings=[], used_names={})
        self.problems: list[ScriptProblem] = []

    def error(self, node: ast.AST, info: str) -> None:
        """Record a problem with its line number."""
        self.problems.append(ScriptProblem(getattr(node, "lineno", None) or 1, info))
        super().error(node, info)

    def visit_Import(self, node: ast.Import) -> Any:
        """Refuse imports: scripts get the library instead."""
        self.error(node, "import is not allowed in scripts; use the script library functions")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        """Refuse imports: scripts get the library instead."""
        return self.visit_Import(node)  # type: ignore[arg-type]

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        """Refuse classes: task data is plain JSON, classes only open doors."""
        self.error(node, "class definitions are not allowed in scripts")
        return node

    def visit_Global(self, node: ast.Global) -> Any:
        """Refuse `global`: functions in scripts work on their arguments."""
        self.error(node, "global statements are not allowed in scripts")
        return node

    def visit_Call(self, node: ast.Call) -> Any:
        """Refuse calls to introspection and I/O builtins by name."""
        if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_CALLS:
            self.error(node, f"{node.func.id}() is not allowed in scripts")
            return node
        return super().visit_Call(node)

    # --- bounds (forms.limits): loops and calls tick, size-building operators are guarded ----

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        """`*`, `+`, `**`, `<<` (and `%` formatting) through their size guards."""
        node = self.node_contents_visit(node)
        symbol = _GUARDED_OPS.get(type(node.op))
        if symbol is None:
            return node
        call = ast.Call(ast.Name("_binop_", ast.Load()),
                        [ast.Constant(symbol), node.left, node.right], [])
        copy_locations(call, node)
        return ast.fix_missing_locations(call)

    def visit_While(self, node: ast.While) -> Any:
        """Each turn of a while loop ticks."""
        node = self.node_contents_visit(node)
        node.body.insert(0, _tick_statement(node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        """Each call of a function the script defines ticks (recursion is a loop too)."""
        visited: ast.FunctionDef = super().visit_FunctionDef(node)  # type: ignore[assignment]
        visited.body.insert(0, _tick_statement(visited))
        return visited

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        """A lambda's every call ticks: `lambda x: e` becomes `lambda x: _tick_() or e`."""
        visited: ast.Lambda = super().visit_Lambda(node)  # type: ignore[assignment]
        tick = ast.Call(ast.Name("_tick_", ast.Load()), [], [])
        visited.body = ast.BoolOp(ast.Or(), [tick, visited.body])
        ast.fix_missing_locations(visited)
        return visited

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        """An f-string field with a format spec goes through the padding guard."""
        node = self.node_contents_visit(node)
        if node.format_spec is None:
            return node
        value = ast.Call(ast.Name("_format_", ast.Load()),
                         [node.value, node.format_spec, ast.Constant(node.conversion)], [])
        formatted = ast.FormattedValue(value, -1, None)
        copy_locations(formatted, node)
        return ast.fix_missing_locations(formatted)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        """Allow `totals[key] += value`, which RestrictedPython refuses, through the guards."""
        target = node.target
        if not isinstance(target, ast.Subscript) or isinstance(target.slice, ast.Slice):
            return super().visit_AugAssign(node)
        obj_name, key_name = self.gen_tmp_name(), self.gen_tmp_name()
        obj, key, value = self.visit(target.value), self.visit(target.slice), self.visit(node.value)

        def load(name: str) -> ast.Name:
            return ast.Name(name, ast.Load())

        current = ast.Call(load("_getitem_"), [load(obj_name), load(key_name)], [])
        store = ast.Subscript(
            ast.Call(load("_write_"), [load(obj_name)], []), load(key_name), ast.Store()
        )
        symbol = _GUARDED_OPS.get(type(node.op))
        combined: ast.expr = (
            ast.Call(load("_binop_"), [ast.Constant(symbol), current, value], [])
            if symbol is not None else ast.BinOp(current, node.op, value)
        )
        statements = [
            ast.Assign([ast.Name(obj_name, ast.Store())], obj),
            ast.Assign([ast.Name(key_name, ast.Store())], key),
            ast.Assign([store], combined),
        ]
        for statement in statements:
            copy_locations(statement, node)
            ast.fix_missing_locations(statement)
        return statements


# Operators that can build a huge value in one step: evaluated through forms.limits' guards.
_GUARDED_OPS: dict[type[ast.operator], str] = {
    ast.Mult: "*", ast.Add: "+", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%",
}


def _tick_statement(node: ast.stmt) -> ast.stmt:
    statement = ast.Expr(ast.Call(ast.Name("_tick_", ast.Load()), [], []))
    copy_locations(statement, node)
    return ast.fix_missing_locations(statement)


Problems = tuple[ScriptProblem, ...]


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: CompileMode) -> tuple[types.CodeType | None, Problems]:
    if mode == "eval":
        source = rewrite_dmn_ranges(source.strip())
    try:
        tree = ast.parse(source, SCRIPT_FILENAME, mode)
    except SyntaxError as err:
        return None, (ScriptProblem(err.lineno or 1, f"syntax error: {err.msg}"),)
    policy = SightlinePolicy()
    tree = policy.visit(tree)
    if policy.problems:
        return None, tuple(policy.problems)
    return compile(tree, SCRIPT_FILENAME, mode), ()


def check_script(source: str, mode: CompileMode) -> list[ScriptProblem]:
    """Compile-time problems (syntax, forbidden constructs) in a script, without running it."""
    return list(_compile(source, mode)[1])


def compile_script(source: str, mode: CompileMode) -> types.CodeType:
    """The restricted code object for a script (cached); a ScriptError if it is refused."""
    code, problems = _compile(source, mode)
    if code is None:
        first = problems[0]
        more = "; ".join(f"line {p.line}: {p.message}" for p in problems[1:])
        raise ScriptError(first.message + (f" (also {more})" if more else ""), first.line)
    return code


# --------------------------------------------------------------------------- runtime guards


def _script_line() -> int | None:
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename == SCRIPT_FILENAME:
            return frame.f_lineno
        frame = frame.f_back  # type: ignore[assignment]
    return None


_MISSING = object()


def guarded_getattr(obj: Any, name: str, default: Any = _MISSING) -> Any:
    """Attribute access for scripts: nothing private, no format-string or frame tricks."""
    if not isinstance(name, str):
        raise ScriptError("attribute names must be strings", _script_line())
    if name.startswith("_") or name in INSPECT_ATTRIBUTES:
        raise ScriptError(f'attribute "{name}" is not allowed in scripts', _script_line())
    if name in ("format", "format_map") and (
        isinstance(obj, str) or (isinstance(obj, type) and issubclass(obj, str))
    ):
        raise ScriptError(
            f"str.{name}() is not allowed in scripts; use an f-string", _script_line()
        )
    if name in _PADDING and isinstance(obj, str | bytes):
        return _padding(getattr(obj, name), len(obj))
    if name == "join" and isinstance(obj, str | bytes):
        return partial(_joined, obj)
    if default is _MISSING:
        return getattr(obj, name)
    return getattr(obj, name, default)


# Methods that make a longer text from a number: their result is checked against the memory
# budget before it is built (forms.limits).
_PADDING = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})


def _padding(method: Callable[..., Any], length: int) -> Callable[..., Any]:
    def padded(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            if isinstance(value, int):
                limits.check_width(length * value if method.__name__ == "expandtabs"
                                   else value)
        return method(*args, **kwargs)

    return padded


def _joined(separator: str | bytes, items: Any) -> Any:
    """`separator.join(items)`, refused when the joined text would be too big to build."""
    items = list(limits.ticking(items))
    size = len(separator) * max(len(items) - 1, 0)
    for item in items:
        size += len(item) if isinstance(item, str | bytes) else 0
    limits.check_width(size)
    return separator.join(items)


def _guarded_getitem(obj: Any, key: Any) -> Any:
    return obj[key]


def _apply(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
    "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow,
    "<<=": operator.ilshift, ">>=": operator.irshift, "&=": operator.iand,
    "|=": operator.ior, "^=": operator.ixor, "@=": operator.imatmul,
}


def _inplacevar(op: str, target: Any, value: Any) -> Any:
    symbol = op[:-1]
    if symbol in limits.BINOPS:
        return limits.BINOPS[symbol](target, value)
    return _INPLACE[op](target, value)


class ScriptNamespace:
    """A read-only bag of chosen functions standing in for a module scripts may not see whole."""

    _name: str

    def __init__(self, name: str, **members: Any) -> None:
        object.__setattr__(self, "_name", name)
        for key, value in members.items():
            object.__setattr__(self, key, value)

    def __setattr__(self, key: str, value: Any) -> None:
        raise ScriptError(f"{self._name} is read-only")

    def __repr__(self) -> str:
        return f"<{self._name}>"


SAFE_BUILTIN_NAMES = (
    "abs all any bool callable chr dict divmod enumerate filter float format frozenset int "
    "isinstance iter len list map max min next ord pow range repr reversed round set slice "
    "sorted str sum tuple zip ArithmeticError AssertionError AttributeError Exception "
    "IndexError KeyError LookupError NameError NotImplementedError OverflowError RuntimeError "
    "StopIteration TypeError ValueError ZeroDivisionError"
).split()

SAFE_BUILTINS: dict[str, Any] = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}
SAFE_BUILTINS.update({"None": None, "True": True, "False": False})
# The builtins that can build a huge value in one call, bounded (forms.limits).
SAFE_BUILTINS.update({
    "range": limits.bounded_range,
    "pow": limits.guarded_pow,
    "format": limits.guarded_format,
})


def _regex(function: Callable[..., Any]) -> Callable[..., Any]:
    """A `re` function for scripts, run by the `regex` engine: it gives up after the CPU budget
    instead of backtracking for ever (`(a|aa)+$`), and lets other threads run meanwhile."""

    @functools.wraps(function)
    def bounded_regex(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", limits.cpu_seconds)
        try:
            return function(*args, concurrent=True, **kwargs)
        except TimeoutError:
            raise limits.LimitExceeded(
                f"a regular expression ran longer than {limits.cpu_seconds:g} s"
            ) from None

    return bounded_regex


def _factorial(n: int) -> int:
    if isinstance(n, int) and n > 20_000:
        raise limits.LimitExceeded(f"factorial({n}) would be too big to compute")
    return math.factorial(n)


def _dumps(value: Any, **options: Any) -> str:
    indent = options.get("indent")
    if isinstance(indent, int):
        limits.check_width(indent * 1000)
    return json.dumps(value, **options)


# What scripts get of `math`: the functions on floats, and integer ones that cannot run away.
MATH = ScriptNamespace(
    "math",
    **{name: getattr(math, name) for name in (
        "ceil", "floor", "trunc", "fabs", "sqrt", "exp", "log", "log10", "log2", "isclose",
        "isfinite", "isinf", "isnan", "fsum", "gcd", "copysign", "pi", "e", "inf", "nan",
        "sin", "cos", "tan", "hypot", "degrees", "radians",
    )},
    factorial=_factorial,
    pow=math.pow,
)

SAFE_VALUES: dict[str, Any] = {
    "datetime": datetime,
    "date": date,
    "timedelta": timedelta,
    "timezone": timezone,
    "Decimal": Decimal,
    "math": MATH,
    "json": ScriptNamespace("json", loads=json.loads, dumps=_dumps),
    "re": ScriptNamespace(
        "re", match=_regex(regex.match), search=_regex(regex.search),
        fullmatch=_regex(regex.fullmatch), sub=_regex(regex.sub),
        findall=_regex(regex.findall), split=_regex(regex.split), escape=regex.escape,
        compile=_regex(regex.compile), IGNORECASE=regex.IGNORECASE,
        MULTILINE=regex.MULTILINE,
    ),
    "value_range": ValueRange,
}

GUARDS: dict[str, Any] = {
    "__builtins__": SAFE_BUILTINS,
    "__name__": "script",
    "_getattr_": guarded_getattr,
    "_getitem_": _guarded_getitem,
    "_getiter_": limits.ticking,
    "_tick_": limits.tick,
    "_binop_": limits.guarded_binop,
    "_format_": limits.guarded_format,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": _inplacevar,
    "_apply_": _apply,
    "_print_": PrintCollector,
}


# --------------------------------------------------------------------------- SpiffWorkflow glue


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """TaskDataEnvironment's semantics (task data are the script's variables) under restriction."""

    def _globals(
        self, context: dict[str, Any], external_context: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        env = dict(GUARDS)
        env.update(SAFE_VALUES)
        env.update(_FUNCTIONS)
        env.update(self.globals)
        env.update(external_context or {})
        # Task data wins over library names, as locals shadow builtins in Python: a form field
        # called `date` must not break every later script.
        env.update(context)
        return env

    def evaluate(
        self,
        expression: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> Any:
        """The value of an expression over the task data (within the evaluation limits)."""
        code = compile_script(expression, "eval")
        with limits.bounded(f"expression '{_short(expression)}'"):
            return eval(code, self._globals(context, external_context))

    def execute(
        self,
        script: str,
        context: dict[str, Any],
        external_context: Mapping[str, Any] | None = None,
    ) -> bool:
        """Run a script that reads and writes the task data as variables."""
        code = compile_script(script, "exec")
        injected = dict(SAFE_VALUES, **_FUNCTIONS, **self.globals)
        external = external_context or {}
        env = self._globals(context, external)
        active = active_context()
        if active is not None:
            active.task_data = context
        try:
            with limits.bounded("script"):
                exec(code, env)
        finally:
            kept = {
                key: value
                for key, value in env.items()
                if _is_task_data(key, value, context, injected, external)
            }
            context.clear()
            context.update(kept)
        return True

    def call_service(self, context: dict[str, Any], **kwargs: Any) -> Any:
        """Service tasks are not scripts; the runtime dispatches them."""
        raise NotImplementedError("service tasks are not run by the script environment")


def _is_task_data(
    key: str,
    value: Any,
    before: Mapping[str, Any],
    injected: Mapping[str, Any],
    external: Mapping[str, Any],
) -> bool:
    if key.startswith("_") or key in GUARDS or key in external:
        return False
    if key in injected and value is injected[key] and key not in before:
        return False
    return not (callable(value) or isinstance(value, (types.ModuleType, ScriptNamespace)))


class SightlineScriptEngine(PythonScriptEngine):
    """PythonScriptEngine over the restricted environment, with DMN ranges and clearer errors."""

    def __init__(self) -> None:
        super().__init__(environment=RestrictedEnvironment())

    def validate(self, expression: str) -> None:
        """Raise SyntaxError unless the expression parses (DMN uses this to decide on `==`)."""
        ast.parse(rewrite_dmn_ranges(expression.strip()), mode="eval")

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        """Evaluate over the task's data; failures name the expression and the cause."""
        try:
            with limits.bounded(f"expression '{_short(expression)}' of {_named(task)}"):
                return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as err:
            err.add_note(f"Error evaluating expression '{expression}'")
            raise
        except limits.RunElsewhere:
            raise
        except limits.LimitExceeded as err:
            raise WorkflowTaskException(str(err), task=task, exception=err) from err
        except Exception as err:
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}': {type(err).__name__}: {err}",
                task=task,
                exception=err,
                line_number=getattr(err, "line", None),
            ) from err

    def execute(self, task: Any, script: str, external_context: Any = None) -> Any:
        """Run a task's script within the evaluation limits, named after the task."""
        with limits.bounded(f"script {_named(task)}"):
            return super().execute(task, script, external_context)

    def create_task_exec_exception(self, task: Any, script: str, err: Exception) -> Exception:
        """Wrap a script failure; sandbox refusals carry their own line number; a script past
        its limits says so plainly; a script past its inline budget is run again elsewhere."""
        if isinstance(err, limits.RunElsewhere):
            return err
        if isinstance(err, limits.LimitExceeded):
            plain: Exception = WorkflowTaskException(str(err), task=task, exception=err)
            return plain
        if isinstance(err, ScriptError) and err.line:
            lines = script.splitlines()
            error_line = lines[err.line - 1] if 0 < err.line <= len(lines) else ""
            refused: Exception = WorkflowTaskException(
                f"ScriptError: {err}",
                task=task,
                exception=err,
                line_number=err.line,
                error_line=error_line,
            )
            return refused
        wrapped: Exception = super().create_task_exec_exception(task, script, err)
        return wrapped


def _short(text: str, length: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _named(task: Any) -> str:
    spec = getattr(task, "task_spec", None)
    name = getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or getattr(
        spec, "name", "?")
    return f"'{name}'"


_ENGINE: SightlineScriptEngine | None = None


def make_script_engine() -> PythonScriptEngine:
    """The shared restricted script engine for the runtime, the pack tests and the validator."""
    global _ENGINE
    if _ENGINE is None:
                _ENGINE = SightlineScriptEngine()
    return _ENGINE
