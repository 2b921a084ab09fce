"""A diagram's Python, restricted: what every script, condition, timer expression, DMN cell and
form default runs in, at deploy (engine/definitions/checks.py) and in cases (engine/cases/runtime.py).

Diagrams are uploaded by administrators, but an administrator's account is a door an attacker
may come through, and the server runs their Python. So a diagram's Python gets:
- the task data, our own functions (deadline_after, after, warning_at, reminder_cycle) and a
  few built-ins (BUILTINS below): no import, no open, no getattr, no classes;
- no name or attribute that starts with "_" (the way out of every Python sandbox), and
  attributes only of plain data (strings, numbers, lists, dicts, dates), no str.format;
- a time limit per evaluation, checked in every loop step, function call and iteration, so
  that `while True: pass` stops too, in whichever thread it runs;
- a size limit on the single operations that could take long or fill memory in one step
  (`10 ** 10 ** 10`, `"x" * 10 ** 10`, `1 << 10 ** 10`, `range(10 ** 12)`, `"x".zfill(10 ** 10)`).

The rules are RestrictedPython's (compile_restricted's node transformer), with our guards and
three transforms of our own: a step at the head of every `while` body, function and lambda,
and size-checked `+ * ** <<`. A refusal is a ScriptRefused, a SpiffWorkflowException, so
the runtime answers it as it answers any broken diagram, and the command changes nothing.

Memory grown step by step inside the time limit (a list extended by itself thirty times) is not
bounded; a time limit of a second bounds how far it gets."""
from __future__ import annotations

import ast
import math
import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timedelta
from datetime import time as time_of_day
from functools import lru_cache, partial
from types import CodeType
from typing import Any, cast

from RestrictedPython import RestrictingNodeTransformer
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

DEFAULT_TIME_LIMIT = 1.0  # seconds one expression or script may run
MAX_SIZE = 1_000_000  # items of a range, characters or items a single operation may make
MAX_INT_BITS = 100_000  # bits of an integer a single operation may make (about 30,000 digits)


class ScriptRefused(SpiffWorkflowException):  # type: ignore[misc]
    """A diagram's Python did what diagrams may not, or ran past its time limit; `element`
    names the script task, once the script engine knows it."""

    element: str | None = None

    def __str__(self) -> str:
        where = f"{self.element}: " if self.element else ""
        return where + ". ".join([str(self.args[0]), *self.notes])


class ScriptTimeLimit(ScriptRefused):
    pass


def _range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_SIZE:
        raise ScriptRefused(f"range of {len(numbers):,} numbers: a diagram's Python makes at most {MAX_SIZE:,}")
    return numbers


# The built-ins a diagram's Python may use; every other name comes from the task data or is ours.
BUILTINS: dict[str, Any] = {
    "abs": abs,
    "all": all,
    "any": any,
    "bool": bool,
    "dict": dict,
    "divmod": divmod,
    "enumerate": enumerate,
    "float": float,
    "int": int,
    "isinstance": isinstance,
    "len": len,
    "list": list,
    "max": max,
    "min": min,
    "range": _range,
    "repr": repr,
    "reversed": reversed,
    "round": round,
    "set": set,
    "sorted": sorted,
    "str": str,
    "sum": sum,
    "tuple": tuple,
    "zip": zip,
    "None": None,
    "True": True,
    "False": False,
    "Exception": Exception,
    "ArithmeticError": ArithmeticError,
    "KeyError": KeyError,
    "IndexError": IndexError,
    "LookupError": LookupError,
    "TypeError": TypeError,
    "ValueError": ValueError,
    "ZeroDivisionError": ZeroDivisionError,
}

# Whose attributes a diagram's Python may read (not starting with "_"): plain data only.
_DATA = (str, int, float, list, tuple, dict, set, frozenset, type(None), date, datetime, time_of_day, timedelta)
_DATA_VIEWS: tuple[type, ...] = (type({}.keys()), type({}.values()), type({}.items()))
# str methods whose argument is a size: checked, as `*` is.
_SIZED_STR_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_GUARDED_OPERATORS = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%"}
# The widths and precisions of a %-format ("%10000000000s" would fill memory in one step).
_PERCENT_SIZES = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
    "<<": operator.lshift,
    ">>": operator.rshift,
    "&": operator.and_,
    "|": operator.or_,
    "^": operator.xor,
    "@": operator.matmul,
}


# --- compiling ---------------------------------------------------------------------------------

class _DiagramPolicy(RestrictingNodeTransformer):  # type: ignore[misc]
    """RestrictedPython's rules, no imports or classes, and the hooks our guards need."""

    def visit_Import(self, node: ast.AST) -> ast.AST:
        self.error(node, "import is not allowed: a diagram's Python has its data, our functions and a few built-ins")
        return node

    visit_ImportFrom = visit_Import

    def visit_ClassDef(self, node: ast.AST) -> ast.AST:
        self.error(node, "class definitions are not allowed")
        return node

    def visit_While(self, node: ast.While) -> ast.While:
        node = cast(ast.While, super().visit_While(node))
        node.body.insert(0, ast.Expr(_step_call()))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node = cast(ast.FunctionDef, super().visit_FunctionDef(node))
        node.body.insert(0, ast.Expr(_step_call()))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.Lambda:
        node = cast(ast.Lambda, super().visit_Lambda(node))
        node.body = ast.BoolOp(op=ast.Or(), values=[_step_call(), node.body])  # _step_() gives None
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.FormattedValue:
        """f"{x:>10}": a width written out and small; a computed one could be any size."""
        node = cast(ast.FormattedValue, super().visit_FormattedValue(node))
        for part in node.format_spec.values if isinstance(node.format_spec, ast.JoinedStr) else []:
            if not isinstance(part, ast.Constant):
                self.error(node, "a computed format width or precision is not allowed")
            elif any(int(digits) > MAX_SIZE for digits in re.findall(r"\d+", str(part.value))):
                self.error(node, f"a format width or precision over {MAX_SIZE:,} is not allowed")
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        node = cast(ast.BinOp, super().visit_BinOp(node))
        symbol = _GUARDED_OPERATORS.get(type(node.op))
        if symbol is None:
            return node
        guarded = ast.Call(
            func=ast.Name("_operate_", ast.Load()), args=[ast.Constant(symbol), node.left, node.right], keywords=[]
        )
        return ast.copy_location(guarded, node)


def _step_call() -> ast.Call:
    return ast.Call(func=ast.Name("_step_", ast.Load()), args=[], keywords=[])


@lru_cache(maxsize=4096)
def compile_restricted(source: str, mode: str) -> CodeType:
    """The source compiled under the diagram rules. Raises SyntaxError for what is not Python,
    ScriptRefused (naming every line) for what a diagram may not do."""
    tree = ast.parse(source, "<string>", mode)
    errors: list[str] = []
    _DiagramPolicy(errors, [], {}).visit(tree)
    if errors:
        raise ScriptRefused("; ".join(errors))
    ast.fix_missing_locations(tree)
    # "<string>", as SpiffWorkflow names the file to find a failing script's line.
    return compile(tree, "<string>", mode)  # type: ignore[call-overload]  # mode: exec or eval


# --- running -----------------------------------------------------------------------------------

class RestrictedEnvironment(TaskDataEnvironment):  # type: ignore[misc]
    """SpiffWorkflow's task data environment, evaluating under the diagram rules: the globals
    (our functions) and the task data, with the restricted built-ins and one Budget each time."""

    def __init__(self, functions: dict[str, Callable[..., Any]], time_limit: float = DEFAULT_TIME_LIMIT) -> None:
        super().__init__(functions)
        self.time_limit = time_limit

    def evaluate(self, expression: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> Any:
        code = compile_restricted(expression, "eval")
        budget = Budget(self.time_limit)
        scope = {**self.globals, **(external_context or {}), **context, **budget.guards()}
        result = eval(code, scope)
        budget.check()
        return result

    def execute(self, script: str, context: dict[str, Any], external_context: dict[str, Any] | None = None) -> bool:
        self.check_for_overwrite(context, external_context or {})
        code = compile_restricted(script, "exec")
        budget = Budget(self.time_limit)
        before = set(context)
        context.update({**self.globals, **(external_context or {}), **budget.guards()})
        try:
            exec(code, context)
        finally:
            # Our functions, the guards and what the script defined go; so do RestrictedPython's
            # temporary names (_tmp0), which no script can write itself.
            self._remove_globals_and_functions_from_context(context, external_context)
            for name in [n for n in context if n.startswith("_") and n not in before]:
                del context[name]
        budget.check()
        return True


# --- guarding -----------------------------------------------------------------------------------

class Budget:
    """One evaluation's time limit and the guards that keep it; a fresh one per evaluation, so
    that threads running diagrams at once never share one."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.exceeded = False

    def step(self) -> None:
        if self.exceeded or time.monotonic() > self.deadline:
            self.exceeded = True  # every later step fails too: a bare `except:` cannot keep it going
            raise ScriptTimeLimit(
                f"ran longer than {self.seconds:g} s, the time limit of a diagram's expression or script"
            )

    def check(self) -> None:
        """After the evaluation: one that caught the time limit's error still fails."""
        if self.exceeded:
            self.step()

    def iterate(self, iterable: Iterable[Any]) -> Iterator[Any]:
        self.step()
        return self._stepping(iter(iterable))

    def _stepping(self, iterator: Iterator[Any]) -> Iterator[Any]:
        for item in iterator:
            self.step()
            yield item

    def guards(self) -> dict[str, Any]:
        """The names RestrictedPython's compiled code calls, and our own."""
        return {
            "__builtins__": BUILTINS,
            "_step_": self.step,
            "_getiter_": self.iterate,
            "_getattr_": _getattr,
            "_getitem_": _getitem,
            "_write_": _write,
            "_inplacevar_": _inplacevar,
            "_operate_": _operate,
            # Called with the _getiter_ above: `for k, v in pairs`, `a, b = pair`.
            "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
            "_unpack_sequence_": guarded_unpack_sequence,
        }


def _getattr(ob: Any, name: str, *default: Any) -> Any:
    readable = isinstance(ob, _DATA + _DATA_VIEWS) and not name.startswith("_")
    if not readable or (isinstance(ob, str) and name in ("format", "format_map")):
        raise ScriptRefused(f"{type(ob).__name__}.{name} is not available to a diagram's Python")
    found = getattr(ob, name, *default)
    if isinstance(ob, str) and name in _SIZED_STR_METHODS:
        return partial(_sized_str_method, found)
    return found


def _sized_str_method(method: Callable[..., str], *args: Any) -> str:
    if any(isinstance(a, int) and a > MAX_SIZE for a in args):
        raise ScriptRefused(f"str.{method.__name__} to more than {MAX_SIZE:,} characters")
    return method(*args)


def _getitem(ob: Any, index: Any) -> Any:
    return ob[index]


def _write(ob: Any) -> Any:
    """What a script may change in place (d["x"] = 1): the lists and dicts of its own data."""
    if isinstance(ob, dict | list | set):
        return ob
    raise ScriptRefused(f"a {type(ob).__name__} cannot be changed by a diagram's Python")


def _inplacevar(op: str, left: Any, right: Any) -> Any:
    symbol = op.removesuffix("=")
    if symbol in ("+", "*", "**", "<<", "%"):
        return _operate(symbol, left, right)
    return _OPERATORS[symbol](left, right)


def _operate(symbol: str, left: Any, right: Any) -> Any:
    """`+ * ** <<`, refused when the result would be too large to make in one step."""
    size = _result_size(symbol, left, right)
    if size is not None:
        raise ScriptRefused(f"{symbol!r} would make {size}, too large for one step of a diagram's Python")
    return _OPERATORS[symbol](left, right)


def _result_size(symbol: str, left: Any, right: Any) -> str | None:
    """Words for a result too large, or None."""
    sequences = (str, bytes, list, tuple)
    if symbol == "+" and isinstance(left, sequences) and isinstance(right, sequences):
        if len(left) + len(right) > MAX_SIZE:
            return f"{len(left) + len(right):,} items"
    elif symbol == "*":
        for sequence, times in ((left, right), (right, left)):
            if isinstance(sequence, sequences) and isinstance(times, int) and len(sequence) * times > MAX_SIZE:
                return f"{len(sequence) * times:,} items"
        if _integers(left, right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            return f"an integer of about {left.bit_length() + right.bit_length():,} bits"
    elif symbol == "**" and _integers(left, right) and abs(left) > 1 and right > 0:
        bits = right * math.log2(abs(left))
        if bits > MAX_INT_BITS:
            return f"an integer of about {bits:,.0f} bits"
    elif symbol == "<<" and _integers(left, right) and left and right > MAX_INT_BITS:
        return f"an integer of about {right:,} bits"
    elif symbol == "%" and isinstance(left, str):
        for size in (s for match in _PERCENT_SIZES.finditer(left) for s in match.groups() if s):
            if size == "*" or int(size) > MAX_SIZE:
                return f"a string with a width or precision of {size}"
    return None


def _integers(left: Any, right: Any) -> bool:
    return isinstance(left, int) and isinstance(right, int)
