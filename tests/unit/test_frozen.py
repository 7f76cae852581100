"""`fast_init`: the per-row frozen dataclasses build faster and stay the same objects."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

from pyreference import evidence
from pyreference.frozen import fast_init
from pyreference.synthesis import model, prepared


def _fast_classes() -> list[type]:
    found = []
    for module in (evidence, model, prepared):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and value.__module__ == module.__name__
                and dataclasses.is_dataclass(value)
            ):
                found.append(value)
    return found


FAST = _fast_classes()


def test_every_frozen_dataclass_of_a_read_builds_through_fast_init() -> None:
    assert len(FAST) >= 35
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
