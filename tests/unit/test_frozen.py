"""`fast_init` and `frozen_record`: the per-row frozen dataclasses build faster and stay the
same objects (`frozen_record`'s, compiled, are native classes with the dataclass protocol)."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
import typing

import pytest

from pyreference import evidence
from pyreference.frozen import fast_init
from pyreference.synthesis import model, prepared

# The evidence classes a cold page builds most (`frozen_record`), with a value for each
# field: the first one's fields are required, the rest have defaults in `__init__`.
RECORDS = {
    evidence.StreamFacts: {"stream": "s", "checkpoint": "committed", "collected": 3},
    evidence.RunEvidence: {"run_id": "r1", "status": "succeeded"},
    evidence.StreamStats: {"stream": "s", "live_count": 2, "row_count": 3},
    evidence.Identity: {
        "connection_id": "c",
        "connector_id": "x",
        "display_name": None,
        "status": "active",
        "source_kind": "account",
    },
}


def _fast_classes() -> list[type]:
    found = []
    for module in (evidence, model, prepared):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and value.__module__ == module.__name__
                and dataclasses.is_dataclass(value)
                and value not in RECORDS
                and value is not evidence.Evidence
            ):
                found.append(value)
    return found


FAST = _fast_classes()


def test_every_frozen_dataclass_of_a_read_builds_through_fast_init() -> None:
    assert len(FAST) >= 30
    for cls in FAST:
        assert "_set0" in cls.__init__.__code__.co_names, cls  # the slot setters, not setattr


@pytest.mark.parametrize("cls", FAST, ids=lambda c: c.__name__)
def test_fast_init_keeps_the_dataclass(cls: type) -> None:
    fields = dataclasses.fields(cls)
    # The same parameters, in order, with the same defaults.
    params = list(inspect.signature(cls).parameters.values())
    assert [p.name for p in params] == [f.name for f in fields]
    for p, f in zip(params, fields, strict=True):
        if f.default is not dataclasses.MISSING:
            assert p.default is f.default
    # Every field set, positionally and by keyword; defaults as declared.
    values = {f.name: object() for f in fields}
    by_keyword = cls(**values)
    assert by_keyword == cls(*values.values())
    assert all(getattr(by_keyword, name) is value for name, value in values.items())
    required = {
        f.name: values[f.name]
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    minimal = cls(**required)
    for f in fields:
        if f.default is not dataclasses.MISSING:
            assert getattr(minimal, f.name) is f.default
        elif f.default_factory is not dataclasses.MISSING:
            assert getattr(minimal, f.name) == f.default_factory()
            assert getattr(minimal, f.name) is not getattr(cls(**required), f.name)
    # Still frozen; replace, repr and pickling are the dataclass's own.
    name = fields[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(minimal, name, 1)
    assert getattr(dataclasses.replace(minimal, **{name: "x"}), name) == "x"
    assert repr(minimal).startswith(f"{cls.__name__}(")
    with pytest.raises(TypeError):
        cls(**required, unexpected=1)


def test_pickles_and_hashes_as_before() -> None:
    run = evidence.RunEvidence("r1", "succeeded", finished_at="2026-01-01T00:00:00.000000Z")
    assert pickle.loads(pickle.dumps(run)) == run
    assert hash(run) == hash(evidence.RunEvidence("r1", "succeeded", finished_at=run.finished_at))


def test_fast_init_refuses_what_it_cannot_copy() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class NotInit:
        a: int = dataclasses.field(init=False, default=1)

    for cls in (Mutable, NoSlots, PostInit, NotInit, int):
        with pytest.raises(TypeError):
            fast_init(cls)


@pytest.mark.parametrize("cls", list(RECORDS), ids=lambda c: c.__name__)
def test_frozen_record_has_the_dataclass_protocol(cls: type) -> None:
    """Compiled (a native class) or from source: the same fields in order, keyword and
    positional construction with the `__init__`'s defaults, frozen, replace, equality,
    hashing, repr and pickling."""
    values = RECORDS[cls]
    made = cls(**values)
    names = [f.name for f in dataclasses.fields(cls)]
    params = inspect.signature(cls).parameters
    assert names == list(params) and names[: len(values)] == list(values)
    for f in dataclasses.fields(cls):  # each field's default is its __init__ default
        default = params[f.name].default
        if default is inspect.Parameter.empty:
            assert f.default is dataclasses.MISSING
        else:
            assert f.default == default
        if f.default is not dataclasses.MISSING:
            assert getattr(cls(**{n: values[n] for n in names if n in values}), f.name) == (
                values.get(f.name, f.default)
            )
    assert typing.get_type_hints(cls)  # resolvable (compiled: Any)
    assert cls(*values.values()) == made
    assert made == cls(**values) and hash(made) == hash(cls(**values))
    assert made != dataclasses.replace(made, **{names[0]: "other"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, names[0], "other")
    with pytest.raises(dataclasses.FrozenInstanceError):
        delattr(made, names[0])
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(made, protocol)) == made
    # The same pickle whichever way the class was built: through the constructor.
    assert made.__reduce__() == (cls, tuple(getattr(made, n) for n in names))
    assert repr(made).startswith(f"{cls.__name__}({names[0]}=")
    assert dataclasses.asdict(made)[names[0]] == values[names[0]]
    with pytest.raises(TypeError):
        cls(**values, unexpected=1)


def test_evidence_is_a_frozen_record_too() -> None:
    base = evidence.Evidence(
        evidence.Identity(**RECORDS[evidence.Identity]),  # type: ignore[arg-type]
        evidence.ConnectorProfile("x"),
    )
    assert base.available and base.state == "ok" and base.streams == () and base.reliable
    changed = dataclasses.replace(base, dirty=True)
    assert changed.dirty and not changed.reliable and changed != base
    assert pickle.loads(pickle.dumps(changed)) == changed
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.dirty = True  # type: ignore[misc]


def test_frozen_record_refuses_fields_that_are_not_its_parameters() -> None:
    from pyreference.frozen import frozen_record

    class Drifted:
        a: int
        b: int

        def __init__(self, b: int, a: int) -> None:
            self.a, self.b = a, b

    with pytest.raises(TypeError, match="not __init__"):
        frozen_record(Drifted)
