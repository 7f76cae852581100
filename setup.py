"""Build: compiles pyreference's per-row read path with mypyc (see pyreference/native.py).

Every other setting is in pyproject.toml. ``PYREFERENCE_PURE_PYTHON=1`` builds without
compiling; without a C compiler the build warns and installs the Python sources alone.
Either way the build records which sources its extensions were compiled from
(``pyreference/native-build.json``): none when it compiled nothing, so that extensions
left over from an earlier build never run.
"""

import os
import runpy
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
NATIVE = runpy.run_path(str(ROOT / "pyreference" / "native.py"))


class RecordingBuildExt(build_ext):
    """build_ext that records the compiled sources once every extension has built."""

    def build_extensions(self) -> None:
        self.built: set[str] = set()
        super().build_extensions()
        NATIVE["write_record"](ROOT, all(e.name in self.built for e in self.extensions))

    def build_extension(self, ext) -> None:
        super().build_extension(ext)  # a failure raises (then warns: the ext is optional)
        self.built.add(ext.name)


def ext_modules() -> list:
    if os.environ.get("PYREFERENCE_PURE_PYTHON") == "1":
        NATIVE["write_record"](ROOT, False)
        return []
    from mypyc.build import mypycify

    sources = [str(NATIVE["source_path"](m, ROOT).relative_to(ROOT)) for m in NATIVE["MODULES"]]
    # The rest of the package (psycopg, jinja2...) is not in the build's environment.
    extensions = mypycify(["--ignore-missing-imports", *sources], opt_level="3")
    for extension in extensions:
        extension.optional = True  # a failed compile warns; the sources run instead
    return extensions


setup(ext_modules=ext_modules(), cmdclass={"build_ext": RecordingBuildExt})
