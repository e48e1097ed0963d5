"""Forbidden combinations: configurations a space holds that must never run.

A condition (``when=``) switches a parameter off; a forbidden clause rules out a combination of values of
parameters that are all on: ``kernel == "linear"`` with ``degree > 1`` (the linear kernel has no degree), or
``batch_size * grad_accum > 4096`` (out of memory). A clause is declarative, so it is stored with the study's
space and holds again when the study is reopened. It is written in one of two forms:

* a mapping of parameter to test, every test holding at once: ``Forbidden({"kernel": "linear", "degree":
  Above(1)})``. A test is a value (equal to it), a list of values (equal to one of them), `Above`, `Below`, or both
  bounds at once, ``Above(1) & Below(4)`` (``{above = 1, below = 4}`` in a config file: 1 < degree < 4);
* an expression over the parameters: ``Forbidden("batch_size * grad_accum > 4096")``, with the comparisons
  ``== != < <= > >= in, not in``, the arithmetic ``+ - * / // % **`` and ``and``, ``or``, ``not``. A parameter
  whose name is a Python keyword or is not a Python name is written in backticks, as pandas' ``query`` takes it:
  ``"`lambda` > 1 and `max-depth` > 3"``.

A clause holds for a configuration only when every parameter it names is active in it: a clause on ``momentum``
never rules out a configuration whose optimizer switches ``momentum`` off. Values are compared as the space
compares them: numbers by value (``1 == 1.0``), anything else by its JSON (``True`` is not ``1``).

A Python function is not taken: it cannot be stored, and a reopened study would propose what it forbade. A clause
that provably never holds (``"alpha > alpha"``, ``"kernel == 'rbf' and kernel == 'linear'"``, a parameter named with
a value of its condition's parent that switches it off) forbids nothing: the space warns of it (`never_holds`).
"""

from __future__ import annotations

import ast
import difflib
import itertools
import json
import keyword
import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from tunesmith._validate import checked_arguments
from tunesmith.errors import SpaceArgumentError, SpaceError
from tunesmith.space._params import Choice, Fixed, Float, Int, Param
from tunesmith.space._scalars import JsonScalar, is_json_scalar, plain

__all__ = ["Above", "Below", "Forbidden"]

_EXAMPLES = "Forbidden({'kernel': 'linear', 'degree': Above(1)}) or Forbidden('batch_size * grad_accum > 4096')"
_ALLOWED = (
    "comparisons (== != < <= > >= in, not in) of parameters and values, arithmetic (+ - * / // % **), and, or, not"
)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(a: Any, b: Any) -> bool:
    """Whether two values are equal as the space tells values apart: numbers by value, others by their JSON."""
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    try:
        return json.dumps(a) == json.dumps(b)
    except (TypeError, ValueError):
        return False


def _bound(name: str, value: Any) -> int | float:
    value = plain(value)
    if not _is_number(value) or not math.isfinite(value):
        raise SpaceError(f"{name}'s value must be a finite number, got {value!r}: write e.g. {name}(1) or {name}(0.5)")
    return value


@dataclass(frozen=True)
class Above:
    """A test of a `Forbidden` clause: the parameter's value is greater than ``value`` (``Above(1)``: 2, 3, ...)."""

    value: int | float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _bound("Above", self.value))

    def holds(self, value: Any) -> bool:
        return _is_number(value) and value > self.value

    def __and__(self, other: object) -> _Between:
        """Both bounds in one test: ``Above(1) & Below(4)`` holds for a value strictly between them."""
        if not isinstance(other, Below):
            raise SpaceError(_combine_refusal(self, other))
        return _Between(self.value, other.value)

    def to_json(self) -> dict[str, Any]:
        return {"above": self.value}

    def __str__(self) -> str:
        return f"> {self.value!r}"

    def __repr__(self) -> str:
        return f"Above({self.value!r})"


@dataclass(frozen=True)
class Below:
    """A test of a `Forbidden` clause: the parameter's value is less than ``value`` (``Below(1e-4)``)."""

    value: int | float

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _bound("Below", self.value))

    def holds(self, value: Any) -> bool:
        return _is_number(value) and value < self.value

    def __and__(self, other: object) -> _Between:
        """Both bounds in one test: ``Below(4) & Above(1)`` holds for a value strictly between them."""
        if not isinstance(other, Above):
            raise SpaceError(_combine_refusal(self, other))
        return _Between(other.value, self.value)

    def to_json(self) -> dict[str, Any]:
        return {"below": self.value}

    def __str__(self) -> str:
        return f"< {self.value!r}"

    def __repr__(self) -> str:
        return f"Below({self.value!r})"


def _combine_refusal(bound: Above | Below, other: object) -> str:
    return (
        f"a test combines an Above with a Below (a value strictly between them), got {bound!r} & {other!r}: write "
        "e.g. Above(1) & Below(4), or keep the tighter of two bounds of one kind"
    )


@dataclass(frozen=True)
class _Between:
    """A test of a `Forbidden` clause: the parameter's value lies strictly between two bounds (``Above(1) &
    Below(4)``; ``{above = 1, below = 4}`` in a config file)."""

    above: int | float
    below: int | float

    def __post_init__(self) -> None:
        if not self.above < self.below:
            raise SpaceError(
                f"Above(x) & Below(y) holds for a value above x and below y, so x < y must hold, got "
                f"Above({self.above!r}) & Below({self.below!r}), which no value meets: swap the bounds"
            )

    def holds(self, value: Any) -> bool:
        return _is_number(value) and self.above < value < self.below

    def to_json(self) -> dict[str, Any]:
        return {"above": self.above, "below": self.below}

    def __repr__(self) -> str:
        return f"Above({self.above!r}) & Below({self.below!r})"


_Bound = Above | Below | _Between
# A test of the mapping form: the values one of which the parameter equals, or a bound.
_Test = tuple[JsonScalar, ...] | Above | Below | _Between


def _sort_key(value: JsonScalar) -> tuple[int, float, str]:
    if _is_number(value):
        return 0, float(value), json.dumps(value)  # type: ignore[arg-type]
    return 1, 0.0, json.dumps(value)


def _test(name: str, value: Any) -> _Test:
    """One entry of the mapping form, checked: a value, a list of values, a bound or a bound's JSON."""
    if isinstance(value, Above | Below | _Between):
        return value
    if isinstance(value, Mapping) and value and set(value) <= {"above", "below"}:
        if len(value) == 2:
            return Above(value["above"]) & Below(value["below"])
        kind, bound = next(iter(value.items()))
        return Above(bound) if kind == "above" else Below(bound)
    given = tuple(value) if isinstance(value, list | tuple | set | frozenset) else (value,)
    values = tuple(plain(v) for v in given)
    if not values or not all(is_json_scalar(v) for v in values):
        raise SpaceError(
            f"Forbidden's test of {name!r} must be a value, a non-empty list of values, Above(x), Below(x) or both, "
            f"Above(x) & Below(y) (in a config file: {{above = x}}, {{below = x}}, {{above = x, below = y}}), got "
            f"{name}={value!r}: write e.g. {{{name!r}: 'linear'}}, {{{name!r}: ['a', 'b']}} or {{{name!r}: Above(1)}}"
        )
    unique = {json.dumps(v): v for v in values}
    return tuple(sorted(unique.values(), key=_sort_key))  # a set of values: stored and compared in one order


def _test_json(test: _Test) -> Any:
    if isinstance(test, _Bound):
        return test.to_json()
    return test[0] if len(test) == 1 else list(test)


def _test_text(name: str, test: _Test) -> str:
    """A mapping's test as the expression form reads it back (a name that is no Python name in backticks)."""
    if not name.isidentifier() or keyword.iskeyword(name):
        name = f"`{name}`"
    if isinstance(test, _Between):
        return f"{test.above!r} < {name} < {test.below!r}"
    if isinstance(test, Above | Below):
        return f"{name} {test}"
    return f"{name} == {test[0]!r}" if len(test) == 1 else f"{name} in {list(test)!r}"


# The expression form -----------------------------------------------------------------------------------------
_COMPARISONS: dict[type[ast.cmpop], str] = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in",
    ast.NotIn: "not in",
}  # fmt: skip
_ORDERINGS: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
}  # fmt: skip
# The ordering with its operands swapped: ``1 < degree`` is ``degree > 1``.
_FLIPPED: dict[type[ast.cmpop], type[ast.cmpop]] = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE}


class _Unevaluable(Exception):
    """An expression cannot be computed for a configuration (a string multiplied, a division by zero); the reason."""


def _power(a: float, b: float) -> float:
    # In floats: an integer power of an integer could take unbounded time and memory.
    result = float(a) ** float(b)
    if isinstance(result, complex):
        raise _Unevaluable(f"{a!r} ** {b!r} is not a real number")
    return result


_ARITHMETIC: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", operator.add), ast.Sub: ("-", operator.sub), ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv), ast.FloorDiv: ("//", operator.floordiv), ast.Mod: ("%", operator.mod),
    ast.Pow: ("**", _power),
}  # fmt: skip


def _dotted(node: ast.expr) -> str | None:
    """The parameter a name or a dotted name (``model.lr``) stands for, else ``None``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        owner = _dotted(node.value)
        return None if owner is None else f"{owner}.{node.attr}"
    return None


def _constants(node: ast.expr) -> tuple[JsonScalar, ...] | None:
    """The values of a list, tuple or set of constants (``['a', 'b']``), else ``None``."""
    if not isinstance(node, ast.List | ast.Tuple | ast.Set):
        return None
    values = []
    for item in node.elts:
        value = _constant(item)
        if value is None:
            return None
        values.append(value[0])
    return tuple(values)


def _constant(node: ast.expr) -> tuple[JsonScalar] | None:
    """A constant's value in a 1-tuple (``None`` is a value), a negated number's too; else ``None``."""
    if isinstance(node, ast.Constant) and is_json_scalar(node.value):
        return (cast(JsonScalar, node.value),)
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub | ast.UAdd)
        and isinstance(node.operand, ast.Constant)
        and _is_number(node.operand.value)
    ):
        value = cast(float, node.operand.value)
        return (-value if isinstance(node.op, ast.USub) else value,)
    return None


# A name in backticks (`lambda`, `max-depth`): a parameter whose name Python would not read as one.
_QUOTED = re.compile(r"`([^`\n]+)`")
_QUOTED_STAND_IN = "__tunesmith_quoted_{}__"
_BACKTICKS = (
    "a parameter whose name is a Python keyword or holds other characters than letters, digits and _ is written in "
    "backticks, e.g. `lambda` > 1 or `max-depth` > 3"
)


class _Expression:
    """A parsed forbidden expression: checked to use only the allowed syntax, evaluated node by node.

    A name in backticks is parsed as a stand-in identifier, which the tree then names by the name itself (an
    ``ast.Name`` holds any text; the tree is walked here, never compiled)."""

    def __init__(self, text: str) -> None:
        self.text = text
        quoted: dict[str, str] = {}

        def stand_in(match: re.Match[str]) -> str:
            key = _QUOTED_STAND_IN.format(len(quoted))
            quoted[key] = match.group(1).strip()
            return key

        self._parsed = _QUOTED.sub(stand_in, text.strip())
        self._quoted = quoted
        try:
            tree = ast.parse(self._parsed, mode="eval")
        except SyntaxError as exc:
            raise SpaceError(
                f"a forbidden expression must be a condition over the parameters, got {text!r}, which does not "
                f'parse ({exc.msg}): write e.g. "batch_size * grad_accum > 4096" or "kernel == \'linear\' and '
                f'degree > 1"; {_BACKTICKS}'
            ) from None
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in quoted:
                node.id = quoted[node.id]
        self.body = tree.body
        self.names: list[str] = []
        self._condition(self.body)

    def _source(self, node: ast.expr) -> str:
        segment = ast.get_source_segment(self._parsed, node)
        if segment is None:
            return ast.unparse(node)
        for key, name in self._quoted.items():
            segment = segment.replace(key, f"`{name}`")
        return segment

    def _refuse(self, node: ast.expr, why: str) -> SpaceError:
        return SpaceError(
            f"forbidden expression {self.text!r}: {self._source(node)!r} {why}; an expression may use {_ALLOWED}: "
            f'write e.g. "batch_size * grad_accum > 4096"'
        )

    def _name(self, node: ast.expr) -> str | None:
        name = _dotted(node)
        if name is not None and name not in self.names:
            self.names.append(name)
        return name

    def _condition(self, node: ast.expr) -> None:
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self._condition(value)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self._condition(node.operand)
        elif isinstance(node, ast.Compare):
            if any(isinstance(op, ast.In | ast.NotIn) for op in node.ops) and len(node.ops) > 1:
                raise self._refuse(node, "chains 'in' with another comparison")
            self._value(node.left)
            for op, right in zip(node.ops, node.comparators, strict=True):
                if type(op) not in _COMPARISONS:
                    raise self._refuse(node, f"compares with {type(op).__name__}, which is not allowed")
                if isinstance(op, ast.In | ast.NotIn):
                    if _constants(right) is None:
                        raise self._refuse(right, "must be a list of values after 'in', such as ['a', 'b']")
                else:
                    self._value(right)
        elif _dotted(node) is not None:
            self._name(node)  # a parameter whose values are True and False
        else:
            raise self._refuse(node, "is not a condition (a comparison, a True/False parameter, and/or/not)")

    def _value(self, node: ast.expr) -> None:
        if _dotted(node) is not None:
            self._name(node)
        elif isinstance(node, ast.Constant):
            if not is_json_scalar(node.value):
                raise self._refuse(node, "is not a value (a string, a number, True, False or None)")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _ARITHMETIC:
                raise self._refuse(node, f"uses {type(node.op).__name__}, which is not allowed")
            self._value(node.left)
            self._value(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            self._value(node.operand)
        elif isinstance(node, ast.Call):
            raise self._refuse(node, "calls a function, which is not allowed (write x ** 2, not pow(x, 2))")
        else:
            raise self._refuse(node, "is not a value (a parameter, a number or a string, or arithmetic on them)")

    # Checks against the space's parameters --------------------------------------------------------------
    def check(self, clause: Forbidden, params: Mapping[str, Param]) -> None:
        """Refuse arithmetic on values that are not numbers, and a comparison of a parameter that never holds."""
        self._check_condition(clause, self.body, params)

    def _check_condition(self, clause: Forbidden, node: ast.expr, params: Mapping[str, Param]) -> None:
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self._check_condition(clause, value, params)
        elif isinstance(node, ast.UnaryOp):
            self._check_condition(clause, node.operand, params)
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
                self._check_comparison(clause, op, left, right, params)
        else:
            name = _dotted(node)
            assert name is not None  # `_condition` admits nothing else
            values = _values_of(params[name])
            if values is None or not all(isinstance(v, bool) for v in values):
                raise SpaceError(
                    f"forbidden clause {clause}: {name} stands alone as a condition, so its values must be True and "
                    f"False, but {name} takes {_takes(params[name])}: compare it, e.g. {name} == ..."
                )

    def _check_comparison(
        self, clause: Forbidden, op: ast.cmpop, left: ast.expr, right: ast.expr, params: Mapping[str, Param]
    ) -> None:
        if isinstance(op, ast.In | ast.NotIn):
            values = _constants(right)
            assert values is not None
            name = _dotted(left)
            if name is not None:
                _check_values(clause, name, params[name], values)
            else:
                self._check_numeric(clause, left, params)
            return
        names = _dotted(left), _dotted(right)
        constants = _constant(left), _constant(right)
        if names[0] is not None and constants[1] is not None:  # degree > 1
            _check_against(clause, names[0], params[names[0]], type(op), constants[1][0])
            return
        if names[1] is not None and constants[0] is not None:  # 1 < degree
            kind = _FLIPPED.get(type(op), type(op))
            _check_against(clause, names[1], params[names[1]], kind, constants[0][0])
            return
        if type(op) in _ORDERINGS or _arithmetic(left) or _arithmetic(right):
            self._check_numeric(clause, left, params)
            self._check_numeric(clause, right, params)

    def _check_numeric(self, clause: Forbidden, node: ast.expr, params: Mapping[str, Param]) -> None:
        name = _dotted(node)
        if name is not None:
            if _numbers(params[name]) is None:
                raise SpaceError(
                    f"forbidden clause {clause}: {self._source(node)!r} must be a number where it is computed or "
                    f"ordered, but {name} takes {_takes(params[name])}: compare it with == or in instead"
                )
        elif isinstance(node, ast.BinOp):
            self._check_numeric(clause, node.left, params)
            self._check_numeric(clause, node.right, params)
        elif isinstance(node, ast.UnaryOp):
            self._check_numeric(clause, node.operand, params)
        elif isinstance(node, ast.Constant) and not _is_number(node.value):
            raise SpaceError(
                f"forbidden clause {clause}: {node.value!r} is not a number, so it cannot be computed or ordered: "
                "compare strings, True, False and None with == or in"
            )

    # Never holding, by logic ---------------------------------------------------------------------------------
    def never(self, params: Mapping[str, Param], tests: Mapping[str, Sequence[_Simple]]) -> str | None:
        """Why the expression never holds on ``params``, given the simple tests ``tests`` it must also meet (its
        parameters' conditions), or ``None`` when logic alone cannot rule it out (it may still never hold)."""
        return self._never(self.body, params, tests)

    def _never(self, node: ast.expr, params: Mapping[str, Param], tests: Mapping[str, Sequence[_Simple]]) -> str | None:
        local = {name: list(own) for name, own in tests.items()}
        alternatives: list[ast.BoolOp] = []
        for conjunct in _conjuncts(node):
            if isinstance(conjunct, ast.BoolOp):  # an ``or``: `_conjuncts` flattened the nested ``and``s
                alternatives.append(conjunct)
                continue
            found = self._simple(conjunct)
            if isinstance(found, str):
                return found
            for name, test in found:
                local.setdefault(name, []).append(test)
        unmet = _unmet(params, local)
        if unmet is not None or not alternatives:
            return unmet
        for alternative in alternatives:
            reasons = [self._never(branch, params, local) for branch in alternative.values]
            if all(reasons):
                return "; and ".join(cast(list[str], reasons))
        return None

    def _simple(self, node: ast.expr) -> str | list[tuple[str, _Simple]]:
        """The simple tests of one conjunct (a parameter against a constant), or why it never holds (a strict
        comparison of a value with itself); a conjunct of another form gives none."""
        if _dotted(node) is not None:
            name = cast(str, _dotted(node))
            return [(name, ("==", True, name))]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) and _dotted(node.operand) is not None:
            name = cast(str, _dotted(node.operand))
            return [(name, ("==", False, f"not {name}"))]
        if not isinstance(node, ast.Compare):
            return []
        found: list[tuple[str, _Simple]] = []
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands[:-1], operands[1:], strict=True):
            symbol = _COMPARISONS[type(op)]
            if isinstance(op, ast.Lt | ast.Gt | ast.NotEq) and ast.dump(left) == ast.dump(right):
                return f"{self._source(left)} {symbol} {self._source(right)} compares a value with itself"
            names, constants = (_dotted(left), _dotted(right)), (_constant(left), _constant(right))
            if isinstance(op, ast.In | ast.NotIn):
                values = _constants(right)
                if names[0] is not None and values is not None:
                    found.append((names[0], (symbol, values, f"{names[0]} {symbol} {list(values)!r}")))
            elif names[0] is not None and constants[1] is not None:
                found.append((names[0], (symbol, constants[1][0], f"{names[0]} {symbol} {constants[1][0]!r}")))
            elif names[1] is not None and constants[0] is not None:
                flipped = _COMPARISONS[_FLIPPED.get(type(op), type(op))]
                found.append((names[1], (flipped, constants[0][0], f"{names[1]} {flipped} {constants[0][0]!r}")))
        return found

    # Evaluation ------------------------------------------------------------------------------------------
    def truth(self, node: ast.expr, config: Mapping[str, Any]) -> bool:
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return all(self.truth(value, config) for value in node.values)
            return any(self.truth(value, config) for value in node.values)
        if isinstance(node, ast.UnaryOp):
            return not self.truth(node.operand, config)
        if isinstance(node, ast.Compare):
            left = self.value(node.left, config)
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, ast.In | ast.NotIn):
                    values = _constants(right_node)
                    assert values is not None
                    inside = any(_same(left, v) for v in values)
                    if inside != isinstance(op, ast.In):
                        return False
                    continue
                right = self.value(right_node, config)
                if not self._compare(op, left, right, node):
                    return False
                left = right
            return True
        value = self.value(node, config)
        if not isinstance(value, bool):
            raise _Unevaluable(f"{self._source(node)}={value!r} is not True or False")
        return value

    def _compare(self, op: ast.cmpop, left: Any, right: Any, node: ast.expr) -> bool:
        if isinstance(op, ast.Eq):
            return _same(left, right)
        if isinstance(op, ast.NotEq):
            return not _same(left, right)
        if not (_is_number(left) and _is_number(right)):
            raise _Unevaluable(f"{self._source(node)} orders {left!r} and {right!r}, which are not both numbers")
        return _ORDERINGS[type(op)](left, right)

    def value(self, node: ast.expr, config: Mapping[str, Any]) -> Any:
        name = _dotted(node)
        if name is not None:
            return plain(config[name])
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.UnaryOp):
            operand = self.value(node.operand, config)
            if not _is_number(operand):
                raise _Unevaluable(f"{self._source(node)} negates {operand!r}, which is not a number")
            return -operand if isinstance(node.op, ast.USub) else operand
        assert isinstance(node, ast.BinOp)
        symbol, apply = _ARITHMETIC[type(node.op)]
        left, right = self.value(node.left, config), self.value(node.right, config)
        if not (_is_number(left) and _is_number(right)):
            raise _Unevaluable(f"{left!r} {symbol} {right!r} needs two numbers")
        try:
            return apply(left, right)
        except ZeroDivisionError:
            raise _Unevaluable(f"{left!r} {symbol} {right!r} divides by zero") from None
        except OverflowError:
            raise _Unevaluable(f"{left!r} {symbol} {right!r} overflows") from None


def _conjuncts(node: ast.expr) -> list[ast.expr]:
    """The conditions all of which ``node`` needs: the operands of its ``and``s, nested ones flattened."""
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        return [part for value in node.values for part in _conjuncts(value)]
    return [node]


def _arithmetic(node: ast.expr) -> bool:
    return isinstance(node, ast.BinOp | ast.UnaryOp) and _constant(node) is None


# What a parameter takes, for the checks and their messages ------------------------------------------------
# The most combinations of its parameters' telling values a clause is computed at when it is built.
_PROBED = 1024
_SMALL = 64  # a discrete parameter with at most this many values is probed at every one


def _probes(param: Param) -> tuple[Any, ...]:
    """The values a clause is computed at for ``param``: every one of a choice, a Fixed value or a small integer
    range; else the range's ends and middle, and 0, 1 and -1 where it holds them (where a denominator or a
    logarithm tends to fail)."""
    values = _values_of(param)
    if values is not None:
        return values
    assert isinstance(param, Float | Int)
    if isinstance(param, Int) and param.base is None and not param.log:
        count = (param.high - param.low) // param.step + 1
        if count <= _SMALL:
            return tuple(range(param.low, param.high + 1, param.step))
    low, high = param.low, param.high
    middle = (low + high) // 2 if isinstance(param, Int) else (low + high) / 2.0
    special = [v for v in (0, 1, -1) if low <= v <= high]
    kind = int if isinstance(param, Int) else float
    return tuple(dict.fromkeys(kind(v) for v in (low, middle, high, *special)))


def _values_of(param: Param) -> tuple[JsonScalar, ...] | None:
    """A `Choice`'s options or a `Fixed` value; ``None`` for a range."""
    if isinstance(param, Choice):
        return tuple(param.options)
    if isinstance(param, Fixed):
        return (param.value,)
    return None


def _numbers(param: Param) -> tuple[float, float] | None:
    """The smallest and the largest value of a parameter whose values are all numbers, else ``None``."""
    if isinstance(param, Float | Int):
        return float(param.low), float(param.high)
    values = _values_of(param)
    if values is None or not all(_is_number(v) for v in values):
        return None
    return float(min(values)), float(max(values))  # type: ignore[type-var, arg-type]


def _takes(param: Param) -> str:
    """What ``param`` takes, in words: ``values in [1, 5]``, ``one of ['linear', 'rbf']``, ``only 3``."""
    if isinstance(param, Choice):
        return f"one of {list(param.options)!r}"
    if isinstance(param, Fixed):
        return f"only {param.value!r}"
    assert isinstance(param, Float | Int)
    kind = "integers" if isinstance(param, Int) else "values"
    step = f" in steps of {param.step!r}" if param.step not in (None, 1) else ""
    powers = f" (powers of {param.base})" if isinstance(param, Int) and param.base is not None else ""
    return f"{kind} in [{param.low!r}, {param.high!r}]{step}{powers}"


def _takes_value(param: Param, value: Any) -> bool:
    """Whether ``param`` takes ``value`` as a clause compares values: numbers by value, so an integer parameter takes
    2.0 (`_same`), others as the space holds them."""
    if param.contains(value):
        return True
    if not _is_number(value):
        return False
    if isinstance(param, Int):
        return float(value).is_integer() and param.contains(int(value))
    return any(_same(value, v) for v in _values_of(param) or ())


def _check_values(clause: Forbidden, name: str, param: Param, values: Sequence[JsonScalar]) -> None:
    """Refuse a value ``name`` can never take: the test naming it could never hold, a typo most likely."""
    for value in values:
        if not _takes_value(param, value):
            raise SpaceError(
                f"forbidden clause {clause}: {name} never takes {value!r}, since {name} takes {_takes(param)}: "
                f"use one of its values, or drop the value"
            )


def _check_against(clause: Forbidden, name: str, param: Param, op: type[ast.cmpop], value: JsonScalar) -> None:
    """Refuse ``name <op> value`` when it never holds: an equality with a value ``name`` never takes, or an
    ordering beyond every value it takes."""
    if op in (ast.Eq, ast.NotEq):
        _check_values(clause, name, param, [value])
        return
    span = _numbers(param)
    if span is None:
        raise SpaceError(
            f"forbidden clause {clause}: {name} is ordered ({_COMPARISONS[op]} {value!r}), but {name} takes "
            f"{_takes(param)}, not numbers only: compare it with == or in instead"
        )
    if not _is_number(value):
        raise SpaceError(
            f"forbidden clause {clause}: {name} {_COMPARISONS[op]} {value!r} orders {name} against a value that is not "
            "a number: compare with a number"
        )
    low, high = span
    if not _ORDERINGS[op](high if op in (ast.Gt, ast.GtE) else low, value):
        raise SpaceError(
            f"forbidden clause {clause}: {name} {_COMPARISONS[op]} {value!r} never holds, since {name} takes "
            f"{_takes(param)}: use a bound inside that range, or drop the test"
        )


def _check_between(clause: Forbidden, name: str, param: Param, test: _Between) -> None:
    """Refuse ``Above(x) & Below(y)`` when no value ``name`` takes lies between the bounds."""
    _check_against(clause, name, param, ast.Gt, test.above)
    _check_against(clause, name, param, ast.Lt, test.below)
    if not _satisfiable(param, [(">", test.above, ""), ("<", test.below, "")]):
        raise SpaceError(
            f"forbidden clause {clause}: {_test_text(name, test)} never holds, since {name} takes {_takes(param)}: "
            "put a value of it between the bounds, or drop the test"
        )


# Clauses that never hold, by logic ------------------------------------------------------------------------
# A simple test of one parameter: an operator (``==``, ``!=``, ``in``, ``not in``, an ordering), its constant, and
# how the clause states it (for the warning).
_Simple = tuple[str, Any, str]
# Listing a parameter's values to tell whether simple tests can hold together stops at this many.
_LISTED = 10_000


def _simple_holds(op: str, constant: Any, value: Any) -> bool:
    if op == "==":
        return _same(value, constant)
    if op == "!=":
        return not _same(value, constant)
    if op in ("in", "not in"):
        return any(_same(value, c) for c in constant) == (op == "in")
    return _is_number(value) and _is_number(constant) and _ORDERING_TEXT[op](value, constant)


_ORDERING_TEXT: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}  # fmt: skip


def _listed_values(param: Param) -> Sequence[Any] | None:
    """Every value of ``param`` when there are at most `_LISTED`, else ``None`` (a continuous float, a wide range)."""
    values = _values_of(param)
    if values is not None:
        return values
    count = param.cardinality()
    if not math.isfinite(count) or count > _LISTED:
        return None
    if isinstance(param, Int) and param.values() is None:  # a log-scaled integer: every integer is reachable
        return range(param.low, param.high + 1)
    return param.grid_values(points=math.ceil(count))


def _satisfiable(param: Param, tests: Sequence[_Simple]) -> bool:
    """Whether some value ``param`` takes meets every test of ``tests``: its values listed where they are few, else
    the values the equalities name, else the interval the orderings leave (integers in it, for an `Int`)."""
    listed = _listed_values(param)
    if listed is not None:
        return any(all(_simple_holds(op, c, v) for op, c, _ in tests) for v in listed)
    named: tuple[Any, ...] | None = None
    for op, constant, _ in tests:
        if op in ("==", "in"):
            given = (constant,) if op == "==" else tuple(constant)
            named = given if named is None else tuple(v for v in named if any(_same(v, g) for g in given))
    if named is not None:
        return any(_takes_value(param, v) and all(_simple_holds(op, c, v) for op, c, _ in tests) for v in named)
    assert isinstance(param, Float | Int)
    low, high, low_open, high_open = float(param.low), float(param.high), False, False
    for op, constant, _ in tests:
        if not _is_number(constant):
            continue
        if op in (">", ">=") and (constant > low or (constant == low and op == ">")):
            low, low_open = float(constant), op == ">"
        elif op in ("<", "<=") and (constant < high or (constant == high and op == "<")):
            high, high_open = float(constant), op == "<"
    if isinstance(param, Int):
        first = math.floor(low) + 1 if low_open else math.ceil(low)
        last = math.ceil(high) - 1 if high_open else math.floor(high)
        return first <= last
    if low < high:
        return True
    return low == high and not (low_open or high_open) and all(_simple_holds(op, c, low) for op, c, _ in tests)


def _activity_tests(names: Sequence[str], params: Mapping[str, Param]) -> dict[str, list[_Simple]]:
    """What a clause naming ``names`` needs of their conditions' parents: a clause holds only when every parameter
    it names is on, so each parent must take a value that switches its child on (and be on itself)."""
    tests: dict[str, list[_Simple]] = {}
    seen: set[str] = set()
    pending = [name for name in names if name in params]
    while pending:
        child = pending.pop()
        if child in seen:
            continue
        seen.add(child)
        for parent, allowed in params[child].conditions.items():
            values = tuple(allowed)
            text = f"{parent} in {list(values)!r} (for {child} to be on)"
            tests.setdefault(parent, []).append(("in", values, text))
            pending.append(parent)
    return tests


def _mapping_tests(name: str, test: _Test) -> list[_Simple]:
    text = _test_text(name, test)
    if isinstance(test, _Between):
        return [(">", test.above, text), ("<", test.below, text)]
    if isinstance(test, Above):
        return [(">", test.value, text)]
    if isinstance(test, Below):
        return [("<", test.value, text)]
    return [("in", test, text)]


def _unmet(params: Mapping[str, Param], tests: Mapping[str, Sequence[_Simple]]) -> str | None:
    """Why no value of some parameter meets its tests of ``tests`` (``None``: each parameter has one)."""
    for name, own in tests.items():
        if name in params and own and not _satisfiable(params[name], own):
            return f"no value of {name} meets {' and '.join(dict.fromkeys(text for _, _, text in own))}"
    return None


def _close(name: str, params: Mapping[str, Param], clause: Forbidden) -> str:
    """A hint for a name ``clause`` gives that is no parameter: a value written unquoted, a parameter whose name is
    not a Python name written without backticks, or the closest name."""
    if name in ("true", "false", "null", "none"):
        return f"write {name.capitalize() if name != 'null' else 'None'} for the value; "
    expression = clause._expression
    if expression is not None:
        holders = [other for other in clause.names if other in params and name in (_values_of(params[other]) or ())]
        if holders:
            return (
                f"{name!r} is a value of {holders[0]}, so quote it to compare with the value, "
                f"{holders[0]} == {name!r}; "
            )
        text = expression.text
        unquoted = [
            other for other in params
            if (not other.isidentifier() or keyword.iskeyword(other)) and other in _QUOTED.sub("", text)
        ]  # fmt: skip
        if unquoted:
            return f"write {unquoted[0]} in backticks, `{unquoted[0]}`, since {_BACKTICKS}; "
    close = difflib.get_close_matches(name, list(params), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


# The clause ------------------------------------------------------------------------------------------------
@checked_arguments(SpaceArgumentError)
@dataclass(frozen=True, eq=False)
class Forbidden:
    """A combination of values that must never run: samplers never propose it, and an enqueued configuration or a
    warm-start result that makes it is refused, saying why.

    Give it to a space: ``Space({...}, forbidden=[Forbidden(...)])``; a config file lists them under
    ``forbidden`` in its ``[space]`` table. The space checks each clause when it is built: every parameter named
    must be one of its own, and each test of a parameter against values must be able to hold.

    Example:
        >>> space = Space(
        ...     {"kernel": Choice(["linear", "rbf"]), "degree": Int(1, 5), "batch": Int(16, 1024, base=2),
        ...      "accum": Int(1, 8)},
        ...     forbidden=[
        ...         Forbidden({"kernel": "linear", "degree": Above(1)}),
        ...         Forbidden("batch * accum > 4096"),
        ...     ],
        ... )

    Args:
        clause: a mapping of parameter name to test (a value, a list of values, `Above` or `Below`), all of which
            must hold, or an expression over the parameters (see `tunesmith.space._forbidden`).

    Raises:
        SpaceError: a clause of neither form, a test that is not one of those, or an expression that does not parse
            or uses what is not allowed (a function call, a comparison of a comparison).
    """

    clause: Mapping[str, Any] | str
    _tests: tuple[tuple[str, _Test], ...] = field(init=False, repr=False, default=())
    _expression: _Expression | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        clause = self.clause
        if isinstance(clause, str):
            if not clause.strip():
                raise SpaceError(f"a forbidden expression must not be empty, got {clause!r}: write e.g. {_EXAMPLES}")
            object.__setattr__(self, "_expression", _Expression(clause))
            return
        if callable(clause) and not isinstance(clause, Mapping):
            raise SpaceError(
                f"Forbidden takes a mapping or an expression, got the function {clause!r}: a function cannot be "
                "stored with the study, and a reopened study would propose what it forbade; write the rule as "
                f"{_EXAMPLES}"
            )
        if not isinstance(clause, Mapping) or not clause:
            raise SpaceError(
                f"Forbidden takes a non-empty mapping of parameter to test, or an expression, got {clause!r}: "
                f"write {_EXAMPLES}"
            )
        tests: list[tuple[str, _Test]] = []
        for name, value in clause.items():
            if not isinstance(name, str) or not name:
                raise SpaceError(
                    f"Forbidden's keys must be parameter names, got {name!r} in {dict(clause)!r}: write {_EXAMPLES}"
                )
            tests.append((name, _test(name, value)))
        object.__setattr__(self, "_tests", tuple(tests))
        object.__setattr__(self, "clause", {name: _test_json(test) for name, test in tests})

    @property
    def names(self) -> tuple[str, ...]:
        """The parameters the clause names, in the order it names them."""
        if self._expression is not None:
            return tuple(self._expression.names)
        return tuple(name for name, _ in self._tests)

    def holds(self, config: Mapping[str, Any]) -> bool:
        """Whether ``config`` is the combination this clause forbids (every parameter it names active in it).

        Raises:
            SpaceError: the expression cannot be computed for ``config`` (a division by zero).
        """
        if not all(name in config for name in self.names):
            return False
        if self._expression is None:
            return all(_holds(test, plain(config[name])) for name, test in self._tests)
        try:
            return self._expression.truth(self._expression.body, config)
        except _Unevaluable as exc:
            shown = {name: config[name] for name in self.names}
            raise SpaceError(
                f"forbidden clause {self} cannot be computed for {shown}: {exc}; rewrite it so that every value its "
                "parameters take computes (e.g. a * b > 10, not a / b > 10 where b may be 0)"
            ) from None

    def check(self, params: Mapping[str, Param], *, probe: bool = True) -> None:
        """Check the clause against a space's parameters: each name one of them, each test able to hold, every
        computation on numbers, and with ``probe`` (not for a stored space, which must read back) computable at its
        parameters' telling values (`_compute_at_probes`).

        Raises:
            SpaceError: naming the clause, the parameter and the value, and the fix.
        """
        for name in self.names:
            if name not in params:
                raise SpaceError(
                    f"forbidden clause {self} names {name!r}, which is not a parameter of the space: "
                    f"{_close(name, params, self)}the space has {', '.join(params)}"
                )
        if self._expression is None:
            for name, test in self._tests:
                if isinstance(test, _Between):
                    _check_between(self, name, params[name], test)
                elif isinstance(test, Above | Below):
                    _check_against(self, name, params[name], ast.Gt if isinstance(test, Above) else ast.Lt, test.value)
                else:
                    _check_values(self, name, params[name], test)
            return
        self._expression.check(self, params)
        self._compute_at_probes(params, probe=probe)

    def _compute_at_probes(self, params: Mapping[str, Param], *, probe: bool) -> None:
        """Compute the expression at each parameter's lowest, middle and highest value together; with ``probe``, at
        every combination of its parameters' telling values instead (`_probes`: each value of a small discrete
        parameter, a range's ends, middle, 0, 1 and -1, at most `_PROBED` combinations), so that one that cannot
        be computed somewhere (``a / (b - 1)`` at b = 1) is refused here with the values: found by a sampler, it
        stopped the study part-way, and the stored study could not take the clause fixed."""
        names = list(self.names)
        values = [_probes(params[name]) for name in names] if probe else []
        if probe and math.prod(len(v) for v in values) <= _PROBED:
            for combination in itertools.product(*values):
                self.holds(dict(zip(names, combination, strict=True)))  # raises SpaceError naming the values
            return
        for u in (0.0, 0.5, 1.0):
            self.holds({name: params[name].decode(u) for name in names})

    def never_holds(self, params: Mapping[str, Param]) -> str | None:
        """Why the clause provably never holds on a space's parameters (``None``: logic cannot rule it out).

        By logic, not by sampling: a strict comparison of a value with itself (``alpha > alpha``), tests of one
        parameter that no value of it meets together (``kernel == 'rbf' and kernel == 'linear'``, ``x > 5 and
        x < 3``), or a parameter named whose condition (``when=``) the clause's own values of its parent switch off
        (a clause holds only when every parameter it names is on). Call after `check`."""
        tests = _activity_tests(self.names, params)
        if self._expression is not None:
            return self._expression.never(params, tests)
        for name, test in self._tests:
            tests.setdefault(name, []).extend(_mapping_tests(name, test))
        return _unmet(params, tests)

    def to_json(self) -> Any:
        """The clause as stored: the mapping (bounds as ``{"above": x}``) or the expression's text."""
        if self._expression is not None:
            return self._expression.text
        return {name: _test_json(test) for name, test in self._tests}

    @classmethod
    def from_json(cls, data: Any) -> Forbidden:
        """A clause `to_json` wrote, or a config file's entry (the same forms)."""
        return cls(data)

    def __str__(self) -> str:
        if self._expression is not None:
            return repr(self._expression.text.strip())
        return repr(" and ".join(_test_text(name, test) for name, test in self._tests))

    def __repr__(self) -> str:
        if self._expression is not None:
            return f"Forbidden({self._expression.text!r})"
        inner = ", ".join(
            f"{name!r}: {test!r}" if isinstance(test, _Bound) else f"{name!r}: {_test_json(test)!r}"
            for name, test in self._tests
        )
        return f"Forbidden({{{inner}}})"

    @property
    def form(self) -> str:
        """What makes two clauses the same clause: an expression's parsed tree (``"a*b > 4"``, ``"a * b > 4"`` and
        ``"(a * b) > 4"`` are one clause: a study stored with one reopens with another), a mapping's JSON. Operands
        written in another order make another tree: such clauses are equivalent, not the same."""
        if self._expression is not None:
            return ast.dump(self._expression.body)
        return json.dumps(self.to_json(), sort_keys=True)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Forbidden) and self.form == other.form

    def __hash__(self) -> int:
        return hash(self.form)


def _holds(test: _Test, value: Any) -> bool:
    if isinstance(test, _Bound):
        return test.holds(value)
    return any(_same(value, v) for v in test)
