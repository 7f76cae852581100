"""Faster construction for the frozen, slotted dataclasses a read builds per row.

A frozen dataclass's generated ``__init__`` sets every field through
``object.__setattr__`` (its own ``__setattr__`` refuses): a generic call per field
that makes building one about five times slower than a plain slotted class. A
cold page builds some 30 of these per row (evidence, prepared facts, the
summary), so that cost was about a quarter of its Python.

``fast_init`` gives such a class an ``__init__`` with the same parameters and
defaults that stores each field through its slot descriptor's bound ``__set__``
instead: the same objects, still frozen (assignment still raises
``FrozenInstanceError``; ``dataclasses.replace``, equality, hashing, ``repr`` and
pickling are the dataclass's own), about a quarter cheaper to build.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")
_NO_ARGUMENT = object()  # a default_factory field's parameter when not passed


def fast_init(cls: type[T]) -> type[T]:
    """Replace the generated ``__init__`` of a frozen, slotted dataclass (see the module).

    Args:
        cls: a class decorated with ``@dataclass(frozen=True, slots=True)`` whose fields
            are all ``init`` fields, positional-or-keyword, and which has no
            ``__post_init__`` (anything else is refused: its ``__init__`` does more).

    Returns:
        ``cls`` itself, its ``__init__`` replaced.

    Raises:
        TypeError: ``cls`` is not such a class.
    """
    params = getattr(cls, "__dataclass_params__", None)
    fields = dataclasses.fields(cls) if params is not None else ()  # type: ignore[arg-type]
    if (
        params is None
        or not params.frozen
        or "__slots__" not in cls.__dict__
        or hasattr(cls, "__post_init__")
        or any(not f.init or f.kw_only for f in fields)
    ):
        raise TypeError(f"fast_init needs a plain frozen slotted dataclass, not {cls!r}")
    namespace: dict[str, Any] = {"_NO_ARGUMENT": _NO_ARGUMENT}
    signature, body = [], []
    for i, f in enumerate(fields):
        namespace[f"_set{i}"] = getattr(cls, f.name).__set__  # the slot's member descriptor
        if f.default is not dataclasses.MISSING:
            namespace[f"_default{i}"] = f.default
            signature.append(f"{f.name}=_default{i}")
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory{i}"] = f.default_factory
            signature.append(f"{f.name}=_NO_ARGUMENT")
            body.append(f"    if {f.name} is _NO_ARGUMENT:\n        {f.name} = _factory{i}()")
        else:
            signature.append(f.name)
        body.append(f"    _set{i}(self, {f.name})")
    source = f"def __init__(self, {', '.join(signature)}):\n" + "\n".join(body or ["    pass"])
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init  # type: ignore[misc,method-assign]
    return cls
