"""The compiled read path (pyreference/native.py): which modules run compiled, the switch to
their sources, and a stale build never run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyreference import native

ROOT = Path(native.__file__).resolve().parent.parent
BUILT = [m for m in native.MODULES if m in native.built()]
PROBE = (
    "import json, sys, pyreference.memo, pyreference.synthesis.summary\n"
    "from pyreference import native\n"
    "print(json.dumps({'compiled': native.compiled(),"
    " 'files': {m: sys.modules[m].__file__ for m in native.MODULES if m in sys.modules}}))"
)


def _probe(root: Path, **env: str) -> tuple[dict, str]:
    """Import the package from `root` in a fresh interpreter; what ran compiled."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**native.environment(pure=False), "PYTHONPATH": str(root), **env},
        cwd=root,  # `python -c` puts the working directory first on sys.path
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout), done.stderr


def test_this_process_runs_what_was_built() -> None:
    # CI builds with a compiler (PYREFERENCE_REQUIRE_NATIVE=1): every module must run compiled.
    import pyreference.memo
    import pyreference.synthesis.summary  # noqa: F401

    if native.pure_requested():
        assert native.compiled() == ()
    else:
        assert native.stale() == ()
        assert set(native.compiled()) == {m for m in BUILT if m in sys.modules}
    if os.environ.get("PYREFERENCE_REQUIRE_NATIVE") == "1":
        assert list(native.MODULES) == BUILT, "modules not compiled: run `pip install -e .`"
        if not native.pure_requested():
            assert "pyreference.reads" in native.compiled()


def test_version_says_how_the_read_path_runs() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "pyreference.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    assert shown.startswith("pyreference ")
    if native.pure_requested():
        assert "from Python source (PYREFERENCE_PURE_PYTHON=1)" in shown
    elif len(BUILT) == len(native.MODULES):
        assert f"compiled by mypyc ({len(native.MODULES)} modules)" in shown


def test_sources_listed_are_the_modules() -> None:
    for name in native.MODULES:
        path = native.source_path(name)
        assert path.is_file(), name
    printed = subprocess.run(
        [sys.executable, str(ROOT / "pyreference" / "native.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    listed = (*native.MODULES, *native.DEPENDENCIES)
    assert printed == [str(native.source_path(m).relative_to(ROOT)) for m in listed]


def test_pure_python_switch_runs_every_source() -> None:
    got, _ = _probe(ROOT, **{native.PURE_ENV: "1"})
    assert got["compiled"] == []
    assert all(path.endswith(".py") for path in got["files"].values())


def _installation(tmp_path: Path) -> None:
    """A copy of this installation (sources, extensions, record) under `tmp_path`."""
    shutil.copytree(ROOT / "pyreference", tmp_path / "pyreference")
    for shared in ROOT.glob("*__mypyc*"):
        shutil.copy(shared, tmp_path)


@pytest.mark.skipif(not BUILT, reason="no compiled modules in this build")
def test_a_stale_build_is_never_run(tmp_path: Path) -> None:
    # A copy of the installation whose one compiled module's source changed afterwards.
    _installation(tmp_path)
    fresh, warned = _probe(tmp_path)
    assert sorted(fresh["compiled"]) == sorted(m for m in BUILT if m in fresh["files"])
    assert "RuntimeWarning" not in warned
    source = native.source_path("pyreference.synthesis.counts", tmp_path)
    source.write_text(source.read_text() + "\n# edited after the build\n")
    got, warned = _probe(tmp_path)
    assert got["compiled"] == []
    assert all(path.endswith(".py") for path in got["files"].values())
    assert "pyreference.synthesis.counts" in warned and "pip install -e ." in warned


@pytest.mark.skipif(not BUILT, reason="no compiled modules in this build")
def test_extensions_left_by_an_earlier_build_are_never_run(tmp_path: Path) -> None:
    # The last build compiled nothing (PYREFERENCE_PURE_PYTHON=1, or no compiler): the
    # record vouches for no source, so the extensions an earlier build left do not run.
    _installation(tmp_path)
    native.write_record(tmp_path, compiled=False)
    got, warned = _probe(tmp_path)
    assert got["compiled"] == []
    assert "the last build did not make from their current sources" in warned
    native.write_record(tmp_path, compiled=True)
    assert len(_probe(tmp_path)[0]["compiled"]) == len([m for m in BUILT if m in got["files"]])


def test_public_classes_stay_python_classes() -> None:
    # A class mypyc compiles natively checks its fields' types and refuses pickling and
    # copying; the package's public classes must behave alike compiled or not.
    import copy
    import pickle

    import pyreference

    for name in pyreference.__all__:
        cls = getattr(pyreference, name)
        if isinstance(cls, type):
            native_fields = [
                attr
                for attr, value in vars(cls).items()
                if type(value).__name__ == "getset_descriptor"
                and attr not in ("__dict__", "__weakref__")
            ]
            assert native_fields == [], name
    runtime = pyreference.Runtime(live_run_ids=frozenset({"r1"}))
    assert pickle.loads(pickle.dumps(runtime)) == runtime == copy.deepcopy(runtime)


@pytest.mark.skipif(not BUILT, reason="no compiled modules in this build")
def test_an_extension_no_longer_listed_is_never_run(tmp_path: Path) -> None:
    # An earlier build compiled a module that MODULES no longer lists: its extension is
    # left in the tree, and nothing vouches for it any more.
    _installation(tmp_path)
    listing = tmp_path / "pyreference" / "native.py"
    text = listing.read_text()
    assert '    "pyreference.synthesis.verdict",\n' in text
    listing.write_text(text.replace('    "pyreference.synthesis.verdict",\n', ""))
    got, warned = _probe(tmp_path)
    assert got["compiled"] == []
    assert all(path.endswith(".py") for path in got["files"].values())
    assert "pyreference.synthesis.verdict" in warned


@pytest.mark.skipif(not BUILT, reason="no compiled modules in this build")
@pytest.mark.parametrize("change", ["dependency", "interpreter"])
def test_a_build_for_other_types_or_another_interpreter_is_never_run(
    tmp_path: Path, change: str
) -> None:
    # mypyc builds in the types of the modules the compiled ones import (synthesis.model):
    # a change there makes them stale too. Extensions of another interpreter (a checkout
    # shared by two venvs) are not vouched for by this one's record.
    _installation(tmp_path)
    if change == "dependency":
        model = native.source_path("pyreference.synthesis.model", tmp_path)
        model.write_text(model.read_text() + "\n# a field's type changed\n")
    else:
        record = tmp_path / "pyreference" / native.RECORD
        data = json.loads(record.read_text())
        record.write_text(json.dumps({**data, "extension_suffix": ".cpython-399-other.so"}))
    got, warned = _probe(tmp_path)
    assert got["compiled"] == []
    assert "the last build did not make from their current sources" in warned
