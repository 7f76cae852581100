"""The modules pyreference compiles with mypyc, and which of them run compiled here.

A cold page spends most of its time in Python, building each row's evidence, its
now-free preparation and its summary (issue #15). Compiled by mypyc, the same
modules do that work in one half to two thirds of the time. ``setup.py`` compiles
the modules listed in `MODULES` when the package is installed (``pip install -e .``,
``make``) and, once all of them compiled, records a digest of each source they were
compiled from (`RECORD`). The Python sources stay the reference: they run wherever a module was
not compiled (no C compiler, or ``PYREFERENCE_PURE_PYTHON=1`` at build time).

`use_sources` (run when ``pyreference/__init__.py`` imports this module, before any
of these modules is imported) makes a process run the Python sources instead of the compiled
modules when the environment asks for it (``PYREFERENCE_PURE_PYTHON=1`` at run
time: an A/B measurement, or the same tests on both) or when a compiled module is
stale: the record does not vouch for its current source (a checkout edited since its
last build, or extensions left from an earlier build when the last one compiled
nothing). A stale module is never run; a warning says how to rebuild.

Run as a script (``python pyreference/native.py``), this file prints the source
paths of `MODULES` and `DEPENDENCIES`, the Makefile's prerequisites of an install.
It imports nothing of pyreference, so ``setup.py`` can read it before the package is
importable.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

# The per-row read path: evidence decoding, the memo, and the pure synthesis package.
# Not synthesis.model: compiled, its classes' annotations become bare runtime types, and
# the API's OpenAPI document is made from them (web/schemas.py). Compiled or not, its
# classes are plain Python classes (fast_init is a decorator mypyc does not compile), so
# leaving it out costs nothing measurable. `make test` runs tests/unit on both.
MODULES = (
    "pyreference.evidence",
    "pyreference.reads",
    "pyreference.memo",
    "pyreference.synthesis",
    "pyreference.synthesis._time",
    "pyreference.synthesis.attention",
    "pyreference.synthesis.backoff",
    "pyreference.synthesis.collection_report",
    "pyreference.synthesis.counts",
    "pyreference.synthesis.coverage",
    "pyreference.synthesis.freshness",
    "pyreference.synthesis.health",
    "pyreference.synthesis.known_gaps",
    "pyreference.synthesis.owner_state",
    "pyreference.synthesis.posture",
    "pyreference.synthesis.prepared",
    "pyreference.synthesis.profile",
    "pyreference.synthesis.readiness",
    "pyreference.synthesis.runs",
    "pyreference.synthesis.summary",
    "pyreference.synthesis.verdict",
)
# Modules the compiled ones import without being compiled: mypyc builds in the types it
# saw there, so a change to them makes the compiled modules stale too.
DEPENDENCIES = (
    "pyreference.errors",
    "pyreference.frozen",
    "pyreference.timeutil",
    "pyreference.synthesis.model",
)
PURE_ENV = "PYREFERENCE_PURE_PYTHON"
# {"extension_suffix": ..., "sources": {module: sha256}}: what the extensions beside it
# were compiled from, by the interpreter whose extensions have that suffix.
RECORD = "native-build.json"
_PACKAGE = Path(__file__).resolve().parent


def source_path(module: str, root: Path | None = None) -> Path:
    """The ``.py`` file of one of `MODULES` (a package's ``__init__.py``), under
    `root` (the folder holding ``pyreference/``; by default this installation's)."""
    base = root if root is not None else _PACKAGE.parent
    path = base.joinpath(*module.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def digest(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_record(root: Path, compiled: bool, into: Path | None = None) -> None:
    """Record the digests of the sources under `root` of `MODULES` and `DEPENDENCIES`,
    when every extension was just compiled from them, else record none (extensions left
    from an earlier build then never run). Written into `into` (where the extensions were
    built), by default the package folder under `root` (``setup.py`` calls this)."""
    sources = {m: digest(source_path(m, root)) for m in (*MODULES, *DEPENDENCIES)}
    record = {"extension_suffix": _SUFFIX, "sources": sources if compiled else {}}
    target = into if into is not None else root / "pyreference"
    (target / RECORD).write_text(json.dumps(record, indent=1) + "\n")


def extension_files(root: Path) -> list[Path]:
    """Every compiled extension file of the package under `root`, and mypyc's shared
    runtime beside it (``setup.py`` removes those a build in place did not make)."""
    found: list[Path] = []
    for suffix in _EXTENSION_ENDINGS:
        found += root.glob(f"*__mypyc*.{suffix}")
        found += (root / "pyreference").rglob(f"*.{suffix}")
    return sorted(found)


def compiled() -> tuple[str, ...]:
    """The names of `MODULES` this process imported compiled (empty before they are
    imported, or where none was compiled)."""
    return tuple(
        name
        for name in MODULES
        if isinstance(getattr(sys.modules.get(name), "__loader__", None), _EXTENSION)
    )


def pure_requested() -> bool:
    """Was this process asked to run the Python sources (``PYREFERENCE_PURE_PYTHON=1``)?"""
    return os.environ.get(PURE_ENV) == "1"


def environment(pure: bool) -> dict[str, str]:
    """This process's environment for a child process that runs the read path from its
    Python sources (`pure`) or as built (tests and the bench compare the two)."""
    env = {k: v for k, v in os.environ.items() if k != PURE_ENV}
    return {**env, PURE_ENV: "1"} if pure else env


def status() -> str:
    """One line saying how the read path runs in this process (``pyreference --version``);
    imports `MODULES`."""
    for name in MODULES:
        importlib.import_module(name)
    count = len(compiled())
    if count == len(MODULES):
        return f"read path compiled by mypyc ({count} modules)"
    if pure_requested():
        return f"read path from Python source ({PURE_ENV}=1)"
    if count == 0 and stale():
        return "read path from Python source (its compiled modules are stale: rebuild)"
    if count == 0:
        return "read path from Python source (not compiled)"
    return f"read path partly compiled ({count} of {len(MODULES)} modules)"


def stale() -> tuple[str, ...]:
    """The names of the modules that have a compiled extension here which the record
    does not vouch for: its source or a dependency's changed since it was compiled, the
    last build compiled nothing, it is no longer one of `MODULES` (left by an earlier
    build), or it was built for another interpreter."""
    found = built()
    try:
        record = json.loads((_PACKAGE / RECORD).read_text())
        sources = record["sources"] if record["extension_suffix"] == _SUFFIX else {}
    except (OSError, ValueError, TypeError, KeyError):
        sources = {}
    if any(sources.get(m) != _digest_or_none(m) for m in DEPENDENCIES):
        return tuple(found)
    return tuple(
        name for name in found if name not in MODULES or sources.get(name) != _digest_or_none(name)
    )


def _digest_or_none(module: str) -> str | None:
    source = source_path(module)
    return digest(source) if source.exists() else None


def use_sources() -> tuple[str, ...]:
    """Run the Python source of every module that has a compiled extension here, instead
    of the extension, when ``PYREFERENCE_PURE_PYTHON=1`` or when any of them is `stale`
    (with a warning). All or none: compiled modules share native code that a module run
    from source would not know. Must run before any of them is imported.

    Returns:
        The names of the compiled modules that will run from source instead.
    """
    pure = pure_requested()
    outdated = () if pure else stale()
    if not pure and not outdated:
        return ()
    chosen = tuple(name for name in built() if source_path(name).exists())
    if chosen:
        sys.meta_path.insert(0, _SourceFinder(frozenset(chosen)))
    if outdated:  # after the finder: an error filter raising here still leaves it safe
        named = ", ".join(outdated[:3]) + (", ..." if len(outdated) > 3 else "")
        warnings.warn(
            f"pyreference: {len(outdated)} compiled module(s) the last build did not make "
            f"from their current sources ({named}), so every module runs from its Python "
            "source; rebuild with `pip install -e .` (or `make`), or remove them with "
            "`make clean`",
            RuntimeWarning,
            stacklevel=2,
        )
    return chosen


_EXTENSION = importlib.machinery.ExtensionFileLoader
_SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]  # this interpreter's own (setuptools')
_EXTENSION_ENDINGS = sorted({s.rsplit(".", 1)[-1] for s in importlib.machinery.EXTENSION_SUFFIXES})


def built() -> list[str]:
    """The names of the package's modules that have a compiled extension here, whether
    or not they are `MODULES` now (an earlier build may have compiled others)."""
    names = set()
    for suffix in _EXTENSION_ENDINGS:
        for path in _PACKAGE.rglob(f"*.{suffix}"):
            parts = path.relative_to(_PACKAGE.parent).parts
            module = [*parts[:-1], path.name.split(".", 1)[0]]
            names.add(".".join(module[:-1] if module[-1] == "__init__" else module))
    return sorted(names)


class _SourceFinder:
    """A meta path finder that loads the named modules from their ``.py`` sources."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name not in self.names:
            return None
        source = source_path(name)
        locations = [str(source.parent)] if source.name == "__init__.py" else None
        return importlib.util.spec_from_file_location(
            name, source, submodule_search_locations=locations
        )


if __name__ == "pyreference.native":  # imported by the package, before the compiled modules
    use_sources()
elif __name__ == "__main__":  # the sources a build depends on (the Makefile's prerequisites)
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else _PACKAGE.parent
    names = (*MODULES, *DEPENDENCIES)
    print("\n".join(str(source_path(m, root).relative_to(root)) for m in names))
