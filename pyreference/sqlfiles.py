"""Render the SQL templates into the committed per-dialect files, and load named queries.

`sql/templates/migrations/*.sql.j2` become yoyo migrations in `sql/postgres/`
and `sql/sqlite/`; `sql/templates/queries.sql.j2` becomes
`sql/queries/<dialect>.sql`, a file of `-- name: x` blocks. The rendered files
are committed and reviewed; `check()` reports any that differ from a fresh
rendering (R31).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import jinja2

DIALECTS = ("postgres", "sqlite")
HEADER = (
    "-- Rendered from sql/templates by `pyreference render`; edit the template, not this file.\n"
)


def sql_dir() -> Path:
    """The `sql/` folder: beside the package in a checkout, inside it when installed."""
    for candidate in (
        Path(__file__).resolve().parent.parent / "sql",
        Path(__file__).parent / "sql",
    ):
        if (candidate / "templates").is_dir():
            return candidate
    raise FileNotFoundError("pyreference cannot find its sql/ folder")


def _environment(root: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root / "templates")),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
        lstrip_blocks=False,
    )


def _tidy(text: str) -> str:
    # Collapse the blank runs Jinja control lines leave behind.
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return HEADER + text.strip("\n") + "\n"


def render_all(root: Path | None = None) -> dict[Path, str]:
    """Every rendered file (path relative to `sql/`) and its expected content."""
    root = root or sql_dir()
    env = _environment(root)
    out: dict[Path, str] = {}
    for template in sorted((root / "templates" / "migrations").glob("*.sql.j2")):
        name = template.name.removesuffix(".j2")
        for dialect in DIALECTS:
            text = env.get_template(f"migrations/{template.name}").render(dialect=dialect)
            out[Path(dialect) / name] = _tidy(text)
    for dialect in DIALECTS:
        text = env.get_template("queries.sql.j2").render(dialect=dialect)
        out[Path("queries") / f"{dialect}.sql"] = _tidy(text)
    return out


def write(root: Path | None = None) -> list[Path]:
    """Write every rendering; return the files that changed."""
    root = root or sql_dir()
    changed = []
    for rel, text in render_all(root).items():
        path = root / rel
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            changed.append(rel)
    return changed


def check(root: Path | None = None) -> list[Path]:
    """Committed renderings that differ from their templates (missing ones included)."""
    root = root or sql_dir()
    stale = [
        rel
        for rel, text in render_all(root).items()
        if not (root / rel).exists() or (root / rel).read_text() != text
    ]
    expected = set(render_all(root))
    for dialect in DIALECTS:
        for path in sorted((root / dialect).glob("*.sql")):
            if path.relative_to(root) not in expected:
                stale.append(path.relative_to(root))  # an orphan rendering
    return stale


def migrations_dir(dialect: str) -> Path:
    return sql_dir() / dialect


_NAME = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def queries(dialect: str) -> dict[str, str]:
    """The named queries of one dialect, from its committed rendering."""
    text = (sql_dir() / "queries" / f"{dialect}.sql").read_text()
    parts = _NAME.split(text)
    named: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        sql = body.strip().rstrip(";").strip()
        if name in named:
            raise ValueError(f"query {name!r} is defined twice")
        named[name] = sql
    return named
