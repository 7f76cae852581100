"""Build: compiles pyreference's per-row read path with mypyc (see pyreference/native.py).

Every other setting is in pyproject.toml. ``PYREFERENCE_PURE_PYTHON=1`` builds without
compiling; without a C compiler the build warns and installs the Python sources alone.
"""

import os
import runpy
from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent


def ext_modules() -> list:
    if os.environ.get("PYREFERENCE_PURE_PYTHON") == "1":
        return []
    from mypyc.build import mypycify

    native = runpy.run_path(str(ROOT / "pyreference" / "native.py"))
    sources = [str(native["source_path"](m, ROOT).relative_to(ROOT)) for m in native["MODULES"]]
    # The rest of the package (psycopg, jinja2...) is not in the build's environment.
    extensions = mypycify(["--ignore-missing-imports", *sources], opt_level="3")
    for extension in extensions:
        extension.optional = True  # a failed compile warns; the sources run instead
    native["write_record"](ROOT)
    return extensions


setup(ext_modules=ext_modules())
