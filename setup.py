"""Build: compiles pyreference's per-row read path with mypyc (see pyreference/native.py).

Every other setting is in pyproject.toml. ``PYREFERENCE_PURE_PYTHON=1`` builds without
compiling; without a C compiler the build warns and installs the Python sources alone.
Either way the build records, beside the extensions it made, which sources they were
compiled from (``pyreference/native-build.json``): none when it did not compile them all,
so that extensions left over from an earlier build never run.
"""

import os
import runpy
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
NATIVE = runpy.run_path(str(ROOT / "pyreference" / "native.py"))


class RecordingBuildExt(build_ext):
    """build_ext that records the compiled sources beside the extensions, and in place
    (an editable install) removes the extensions an earlier build left."""

    def run(self) -> None:
        self.built: set[str] = set()
        super().run()  # into build_lib, then copied into the source tree when in place
        compiled = bool(self.extensions) and all(e.name in self.built for e in self.extensions)
        outputs = {Path(self.get_ext_fullpath(e.name)).resolve() for e in self.extensions}
        package = ROOT / "pyreference"
        NATIVE["write_record"](ROOT, compiled, into=Path(self.build_lib) / "pyreference")
        if any(path.parent == package for path in outputs):  # built in place
            NATIVE["write_record"](ROOT, compiled)
            for path in NATIVE["extension_files"](ROOT):
                if path.resolve() not in outputs:
                    path.unlink()

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
