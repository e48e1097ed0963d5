"""The JSON machinery behind `tunesmith.attributes`: typed reads of stored objects, exact writes back."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, ClassVar, TypeVar

from tunesmith.errors import AttributeShapeError

__all__ = [
    "read_list",
    "Fields", "JsonObject", "is_flag", "is_integer", "is_number", "is_object", "is_text", "json_safe", "shape_error",
]  # fmt: skip


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``None``: JSON has no NaN or infinity, and
    ``json.dumps``'s ``NaN`` and ``Infinity`` are refused by strict parsers (JavaScript's) and misread by
    others (jq 1.6 reads ``Infinity`` as the largest float)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


_Item = TypeVar("_Item")


def read_list(value: Any, where: str, what: str, read: Callable[[Any, str], _Item]) -> tuple[_Item, ...]:
    """A stored JSON list attribute at ``where``, each entry read by ``read(entry, "<where>[i]")``; ``what`` names
    the list for the error ("a list of openings")."""
    if not isinstance(value, list):
        raise shape_error(where, what, value)
    return tuple(read(entry, f"{where}[{i}]") for i, entry in enumerate(value))


def shape_error(where: str, what: str, value: Any) -> AttributeShapeError:
    """The error for a stored value at ``where`` that is not ``what``: the rule, the value and the fix."""
    return AttributeShapeError(
        f"study attribute {where} must be {what}, got {reprlib.repr(value)}: store it in the shape tunesmith "
        "writes (see tunesmith.attributes) or remove it"
    )


def is_text(value: Any) -> bool:
    return isinstance(value, str)


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_flag(value: Any) -> bool:
    return isinstance(value, bool)


def is_object(value: Any) -> bool:
    return isinstance(value, Mapping)


class Fields:
    """Reads one JSON object key by key with type checks; the keys it never read become ``extra``."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, Mapping):
            raise shape_error(where, "a JSON object", value)
        self._data, self._where, self._read = value, where, set[str]()

    def get(self, name: str, check: Callable[[Any], bool], what: str, *, required: bool = False,
            nullable: bool = False) -> Any:  # fmt: skip
        """The value under ``name``; ``None`` when absent or null, unless ``required`` (and not ``nullable``)."""
        self._read.add(name)
        if name not in self._data and required:
            raise shape_error(f"{self._where}", f"an object with {name!r} ({what})", dict(self._data))
        value = self._data.get(name)
        if value is None:
            if required and not nullable:
                raise shape_error(f"{self._where}.{name}", what, value)
            return None
        if not check(value):
            raise shape_error(f"{self._where}.{name}", what, value)
        return value

    def text(self, name: str, **how: bool) -> Any:
        return self.get(name, is_text, "a string", **how)

    def integer(self, name: str, **how: bool) -> Any:
        return self.get(name, is_integer, "an integer", **how)

    def number(self, name: str, **how: bool) -> Any:
        return self.get(name, is_number, "a number", **how)

    def flag(self, name: str, **how: bool) -> Any:
        return self.get(name, is_flag, "true or false", **how)

    def mapping(self, name: str, values: Callable[[Any], bool] | None = None, what: str = "a JSON object",
                **how: bool) -> Any:  # fmt: skip
        """A copy of the object under ``name``; ``values`` checks each of its values."""
        value = self.get(name, lambda v: is_object(v) and all(values is None or values(x) for x in v.values()),
                         what, **how)  # fmt: skip
        return None if value is None else dict(value)

    def items(self, name: str, check: Callable[[Any], bool], what: str, **how: bool) -> Any:
        """The list under ``name`` as a tuple, each element checked (objects are copied)."""
        value = self.get(name, lambda v: isinstance(v, list) and all(check(x) for x in v), f"a list of {what}", **how)
        return None if value is None else tuple(dict(x) if isinstance(x, Mapping) else x for x in value)

    def nested(self, name: str, kind: Any, **how: bool) -> Any:
        """The list of objects under ``name``, each read by ``kind.from_json``."""
        value = self.get(name, lambda v: isinstance(v, list), "a list of objects", **how)
        if value is None:
            return None
        return tuple(kind.from_json(x, f"{self._where}.{name}[{i}]") for i, x in enumerate(value))

    def rest(self) -> dict[str, Any]:
        """``extra`` (the keys not read) and ``stored_keys``, for the dataclass's constructor."""
        extra = {k: v for k, v in self._data.items() if k not in self._read}
        return {"extra": extra, "stored_keys": frozenset(self._data)}


def _default(f: Field[Any]) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return MISSING


def _json(value: Any) -> Any:
    if isinstance(value, JsonObject):
        return value.to_json()
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, kw_only=True)
class JsonObject:
    """An attribute stored as a JSON object whose keys are the dataclass's field names.

    Attributes:
        extra: keys this version does not know (written by older or newer versions), kept as read.
        stored_keys: the keys of the stored value it was read from (``None`` when built in code).
    """

    # Keys written even when they hold their default (a JSON null, an empty list), as tunesmith always has.
    ALWAYS: ClassVar[frozenset[str]] = frozenset()
    extra: dict[str, Any] = field(default_factory=dict)
    stored_keys: frozenset[str] | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The stored JSON: a key at its default is left out unless the stored value had it (or it is in
        ``ALWAYS`` for a value built in code), so a value read from storage is written back unchanged."""
        kept = self.ALWAYS if self.stored_keys is None else self.stored_keys
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("extra", "stored_keys"):
                continue
            value = getattr(self, f.name)
            if f.name in kept or value != _default(f):
                out[f.name] = _json(value)
        return {**out, **self.extra}

    def missing(self, name: str, where: str | None = None) -> AttributeShapeError:
        """The error to raise when a reader needs ``name`` and the stored value (at ``where``) has none."""
        where = where or getattr(self, "KEY", type(self).__name__)
        return AttributeShapeError(
            f"study attribute {where} has no {name!r}, which is needed here: store it in the shape tunesmith "
            "writes (see tunesmith.attributes) or remove it"
        )
