"""Small name -> object registries: the config names parts, the trainer looks them up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """A dict from name to a function or class, filled where the thing is defined."""

    def __init__(self, kind: str, ordered: bool = False) -> None:
        """`ordered`: names are listed in registration order (e.g. headline metrics first), else sorted."""
        self.kind = kind
        self.ordered = ordered
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = obj
            return obj

        return add

    def unregister(self, name: str) -> T:
        """Take a name out again (tests that register a stand-in restore the registry with this)."""
        try:
            return self._items.pop(name)
        except KeyError:
            raise ValueError(f"{self.kind} {name!r} is not registered") from None

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(self.names())
            raise ConfigError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        return list(self._items) if self.ordered else sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
