"""One way to build a plug-in: from a name, a table ``{"name": ..., **options}`` or an instance.

Samplers, schedulers, executors and storages each keep one `Registry` that maps names to
factories (usually the classes themselves). A registry is a mutable mapping, so a plug-in of
one's own is registered with ``SAMPLERS["mine"] = MySampler`` and then built by name.

Example:
    >>> from tunesmith.samplers import SAMPLERS
    >>> sampler = SAMPLERS.build({"name": "tpe", "gamma": 0.2})
    >>> SAMPLERS.build("tpee")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    tunesmith.errors.ConfigError: unknown sampler 'tpee': sampler must be 'auto', ... or 'tpe': did you mean 'tpe'?
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, Generic, TypeVar, cast

from tunesmith.errors import ConfigError

__all__ = ["Registry"]

T = TypeVar("T")


def _quoted(names: list[str]) -> str:
    """``'a', 'b' or 'c'``: the names as a sentence."""
    quoted = [repr(name) for name in names]
    if not quoted:
        return "registered first (none is)"
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


class Registry(MutableMapping[str, Callable[..., T]], Generic[T]):
    """Names of one kind of plug-in mapped to the factories that build them.

    Names are case-insensitive (stored lower-case). Not thread-safe for registration; build
    from any thread once the registry is filled.

    Args:
        kind: what the plug-ins are, as messages name them (``"sampler"``, ``"executor"``).
        base: the plug-ins' base class: an instance of it is returned as it is by `build`.
        factories: the initial names and factories.
        default: what `build` makes from ``None`` (``None``: ``None`` is refused).
        error: the exception raised for an unknown name or invalid options (a subclass of
            `ConfigError` or `StorageError`, say).
    """

    def __init__(
        self,
        kind: str,
        base: type[Any],
        factories: Mapping[str, Callable[..., T]] | None = None,
        *,
        default: Callable[[], T] | None = None,
        error: type[Exception] = ConfigError,
    ) -> None:
        self.kind = kind
        self.base = base
        self.default = default
        self.error = error
        self._factories: dict[str, Callable[..., T]] = {}
        for name, factory in (factories or {}).items():
            self[name] = factory

    # The mapping -------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Callable[..., T]:
        return self._factories[str(name).lower()]

    def __setitem__(self, name: str, factory: Callable[..., T]) -> None:
        if not isinstance(name, str) or not name:
            raise self.error(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if not callable(factory):
            raise self.error(f"a {self.kind} factory must be callable (a class or a function), got {factory!r}")
        self._factories[name.lower()] = factory

    def __delitem__(self, name: str) -> None:
        del self._factories[str(name).lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._factories)

    def __len__(self) -> int:
        return len(self._factories)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._factories

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {sorted(self._factories)})"

    # Building ----------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._factories)

    def lookup(self, name: str) -> Callable[..., T]:
        """The factory registered as ``name``.

        Raises:
            the registry's error: no such name; the message lists the known names and, when one
            is close, suggests it.
        """
        key = str(name).lower()
        if key in self._factories:
            return self._factories[key]
        close = difflib.get_close_matches(key, self.names(), n=1)
        hint = f": did you mean {close[0]!r}?" if close else ""
        raise self.error(f"unknown {self.kind} {key!r}: {self.kind} must be {_quoted(self.names())}{hint}")

    def build(self, spec: str | Mapping[str, Any] | T | None, /, **options: Any) -> T:
        """Build a plug-in from ``spec``.

        Args:
            spec: an instance of the base class (returned as it is), a name (``"tpe"``), a table
                with ``name`` and the factory's options (``{"name": "grid", "points": 3}``), or
                ``None`` for the registry's default.
            **options: further keyword arguments for the factory (not used for an instance).

        Raises:
            the registry's error: the name is unknown, the spec is of no accepted form, or the
            factory refuses the options (a `TypeError` it raises is turned into that error).
        """
        if spec is None:
            if self.default is None:
                raise self.error(f"{self.kind} must be a name, got None: use one of {_quoted(self.names())}")
            return self.default()
        if isinstance(spec, self.base):
            return cast(T, spec)
        if isinstance(spec, str):
            name, table = spec, {}
        elif isinstance(spec, Mapping) and "name" in spec:
            table = {str(key): value for key, value in spec.items()}
            name = str(table.pop("name"))
        elif isinstance(spec, Mapping) and isinstance(spec.get("type"), str):  # the key a space's parameter takes
            rest = ", ".join(f"{key} = {value!r}" for key, value in spec.items() if key != "type")
            raise self.error(
                f"{self.kind} names its kind with 'name', not 'type' (the key a space's parameter takes), got "
                f"{spec!r}: write name = {spec['type']!r}" + (f", beside {rest}" if rest else "")
            )
        else:
            raise self.error(
                f"{self.kind} must be a name or a table with 'name', got {spec!r}: "
                f"use one of {_quoted(self.names())}, or a {self.base.__name__} instance"
            )
        factory = self.lookup(name)
        try:
            return factory(**table, **options)
        except TypeError as exc:
            raise self.error(f"invalid options for {self.kind} {name.lower()!r}: {exc}") from None
