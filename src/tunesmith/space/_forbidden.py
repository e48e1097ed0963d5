"""Forbidden combinations: configurations a space holds that must never run.

A condition (``when=``) switches a parameter off; a forbidden clause rules out a combination of values of
parameters that are all on: ``kernel == "linear"`` with ``degree > 1`` (the linear kernel has no degree), or
``batch_size * grad_accum > 4096`` (out of memory). A clause is declarative, so it is stored with the study's
space and holds again when the study is reopened. It is written in one of two forms:

* a mapping of parameter to test, every test holding at once: ``Forbidden({"kernel": "linear", "degree":
  Above(1)})``. A test is a value (equal to it), a list of values (equal to one of them), `Above` or `Below`;
* an expression over the parameters: ``Forbidden("batch_size * grad_accum > 4096")``, with the comparisons
  ``== != < <= > >= in, not in``, the arithmetic ``+ - * / // % **`` and ``and``, ``or``, ``not``.

A clause holds for a configuration only when every parameter it names is active in it: a clause on ``momentum``
never rules out a configuration whose optimizer switches ``momentum`` off. Values are compared as the space
compares them: numbers by value (``1 == 1.0``), anything else by its JSON (``True`` is not ``1``).

A Python function is not taken: it cannot be stored, and a reopened study would propose what it forbade.
"""

from __future__ import annotations

import ast
import difflib
import json
import math
import operator
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

    def to_json(self) -> dict[str, Any]:
        return {"below": self.value}

    def __str__(self) -> str:
        return f"< {self.value!r}"

    def __repr__(self) -> str:
        return f"Below({self.value!r})"


# A test of the mapping form: the values one of which the parameter equals, or a bound.
_Test = tuple[JsonScalar, ...] | Above | Below


def _sort_key(value: JsonScalar) -> tuple[int, float, str]:
    if _is_number(value):
        return 0, float(value), json.dumps(value)  # type: ignore[arg-type]
    return 1, 0.0, json.dumps(value)


def _test(name: str, value: Any) -> _Test:
    """One entry of the mapping form, checked: a value, a list of values, a bound or a bound's JSON."""
    if isinstance(value, Above | Below):
        return value
    if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in ("above", "below"):
        kind, bound = next(iter(value.items()))
        return Above(bound) if kind == "above" else Below(bound)
    given = tuple(value) if isinstance(value, list | tuple | set | frozenset) else (value,)
    values = tuple(plain(v) for v in given)
    if not values or not all(is_json_scalar(v) for v in values):
        raise SpaceError(
            f"Forbidden's test of {name!r} must be a value, a non-empty list of values, Above(x) or Below(x) (in a "
            f"config file: {{above = x}} or {{below = x}}), got {name}={value!r}: write e.g. {{{name!r}: 'linear'}}, "
            f"{{{name!r}: ['a', 'b']}} or {{{name!r}: Above(1)}}"
        )
    unique = {json.dumps(v): v for v in values}
    return tuple(sorted(unique.values(), key=_sort_key))  # a set of values: stored and compared in one order


def _test_json(test: _Test) -> Any:
    if isinstance(test, Above | Below):
        return test.to_json()
    return test[0] if len(test) == 1 else list(test)


def _test_text(name: str, test: _Test) -> str:
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


class _Expression:
    """A parsed forbidden expression: checked to use only the allowed syntax, evaluated node by node."""

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise SpaceError(
                f"a forbidden expression must be a condition over the parameters, got {text!r}, which does not "
                f'parse ({exc.msg}): write e.g. "batch_size * grad_accum > 4096" or "kernel == \'linear\' and '
                'degree > 1"'
            ) from None
        self.body = tree.body
        self.names: list[str] = []
        self._condition(self.body)

    def _source(self, node: ast.expr) -> str:
        return ast.get_source_segment(self.text.strip(), node) or ast.unparse(node)

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


def _arithmetic(node: ast.expr) -> bool:
    return isinstance(node, ast.BinOp | ast.UnaryOp) and _constant(node) is None


# What a parameter takes, for the checks and their messages ------------------------------------------------
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


def _check_values(clause: Forbidden, name: str, param: Param, values: Sequence[JsonScalar]) -> None:
    """Refuse a value ``name`` can never take: the test naming it could never hold, a typo most likely."""
    for value in values:
        if not param.contains(value):
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


def _close(name: str, params: Mapping[str, Param]) -> str:
    if name in ("true", "false", "null", "none"):
        return f"write {name.capitalize() if name != 'null' else 'None'} for the value; "
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

    def check(self, params: Mapping[str, Param]) -> None:
        """Check the clause against a space's parameters: each name one of them, each test able to hold, every
        computation on numbers (tried at each parameter's lowest, middle and highest value).

        Raises:
            SpaceError: naming the clause, the parameter and the value, and the fix.
        """
        for name in self.names:
            if name not in params:
                raise SpaceError(
                    f"forbidden clause {self} names {name!r}, which is not a parameter of the space: "
                    f"{_close(name, params)}the space has {', '.join(params)}"
                )
        if self._expression is None:
            for name, test in self._tests:
                if isinstance(test, Above | Below):
                    _check_against(self, name, params[name], ast.Gt if isinstance(test, Above) else ast.Lt, test.value)
                else:
                    _check_values(self, name, params[name], test)
            return
        self._expression.check(self, params)
        for u in (0.0, 0.5, 1.0):
            self.holds({name: params[name].decode(u) for name in self.names})

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
            f"{name!r}: {test!r}" if isinstance(test, Above | Below) else f"{name!r}: {_test_json(test)!r}"
            for name, test in self._tests
        )
        return f"Forbidden({{{inner}}})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Forbidden) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_json(), sort_keys=True))


def _holds(test: _Test, value: Any) -> bool:
    if isinstance(test, Above | Below):
        return test.holds(value)
    return any(_same(value, v) for v in test)
