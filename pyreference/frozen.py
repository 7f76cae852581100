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

`frozen_record` goes further for the classes a cold page builds most (evidence): written
as plain classes with an explicit ``__init__``, compiled by mypyc they are native classes,
built about fifteen times faster than a frozen dataclass and read directly by compiled
code, with the dataclass protocol added at import.
"""

from __future__ import annotations

import dataclasses
import inspect
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


def frozen_record(cls: type[T]) -> type[T]:
    """Give a class written with its fields and an explicit ``__init__`` (each field a
    parameter, in order, stored as it is given) the protocol of a frozen dataclass, in place.

    Compiled by mypyc (a module of `native.MODULES`, the class not decorated: a decorator
    would make it a Python class), the class is native: its compiled ``__init__`` builds it
    about fifteen times faster than a frozen dataclass's, and compiled code reads its
    attributes straight from the object. The evidence a cold page decodes is mostly these
    (issue #15). The dataclass protocol is added here, at import: ``dataclasses.replace``
    and ``fields`` (each field's default is its ``__init__`` default), equality, hashing,
    ``repr``, ``FrozenInstanceError`` on assignment, and pickling through the constructor
    (the same pickles either way). From source the ``__init__`` stores into the instance's
    ``__dict__``. Compiled, the class cannot be subclassed by interpreted code, and its
    fields' types read as ``Any``.

    Args:
        cls: such a class (called after its definition, not as a decorator).

    Returns:
        ``cls``, changed in place.

    Raises:
        TypeError: its fields are not its ``__init__``'s parameters, in order.
    """
    params = list(inspect.signature(cls).parameters.values())
    fields = [p.name for p in params]
    compiled = cls.__dict__.get("__mypyc_attrs__")
    declared = (
        [n for n in compiled if not n.startswith("__")]
        if compiled is not None
        else list(inspect.get_annotations(cls))
    )
    if declared != fields:
        raise TypeError(f"{cls.__qualname__}: fields {declared} are not __init__'s {fields}")
    if compiled is not None:
        cls.__annotations__ = dict.fromkeys(fields, Any)  # mypyc keeps none of its own
    else:  # (`init=False` below leaves this __init__ alone)
        cls.__init__ = _dict_init(cls, params)  # type: ignore[misc,method-assign]
    dataclasses.dataclass(frozen=True, init=False)(cls)
    for f, p in zip(dataclasses.fields(cls), params, strict=True):  # type: ignore[arg-type]
        f.default = dataclasses.MISSING if p.default is p.empty else p.default

    def __reduce__(self: Any) -> tuple[Any, ...]:
        return (type(self), tuple(getattr(self, n) for n in fields))

    cls.__reduce__ = __reduce__  # type: ignore[method-assign,assignment]
    return cls


def _dict_init(cls: type, params: list[inspect.Parameter]) -> Any:
    """An ``__init__`` with these parameters and defaults that stores each in the
    instance's ``__dict__`` (past a frozen dataclass's ``__setattr__``): `frozen_record`'s
    classes from source, as fast to build as a dataclass."""
    if any(p.kind is not p.POSITIONAL_OR_KEYWORD for p in params):
        raise TypeError(f"frozen_record needs plain parameters ({cls!r})")
    namespace: dict[str, Any] = {}
    heads = []
    for i, p in enumerate(params):
        if p.default is p.empty:
            heads.append(p.name)
        else:
            namespace[f"_default{i}"] = p.default
            heads.append(f"{p.name}=_default{i}")
    stores = ", ".join(f"{p.name}={p.name}" for p in params)
    exec(f"def __init__(self, {', '.join(heads)}):\n    self.__dict__.update({stores})", namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init
