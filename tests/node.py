"""Running the npm clients the tests use (gift-pegjs, @xapi/xapi, ...) with Debian's node."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
SCRIPTS = Path(__file__).resolve().parent / "js"


def require(package: str) -> Path:
    """The installed package's folder; fails (never skips) when `make` has not installed it."""
    folder = NODE_MODULES / package
    if shutil.which("node") is None or not (folder / "package.json").exists():
        pytest.fail(
            f"node or the npm package {package} is missing: run `make node_modules/.installed`"
        )
    return folder


def run_node(script: str, *args: str, stdin: str = "", timeout: float = 60) -> Any:
    """Run tests/js/<script> and return the JSON it prints; its stderr in the failure message."""
    done = subprocess.run(
        ["node", str(SCRIPTS / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "NODE_PATH": str(NODE_MODULES)},
    )
    assert done.returncode == 0, f"node {script} failed:\n{done.stderr}"
    return json.loads(done.stdout)
