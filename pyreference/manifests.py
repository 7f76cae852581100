"""The 44 real connector manifests shipped with pyreference (PDPP, Apache-2.0)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

MANIFEST_DIR = Path(__file__).parent / "data" / "manifests"


@cache
def real_manifests() -> dict[str, dict[str, Any]]:
    """Manifests by connector key, in file-name order."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(MANIFEST_DIR.glob("*.json")):
        manifest = json.loads(path.read_text())
        out[manifest["connector_key"]] = manifest
    return out
