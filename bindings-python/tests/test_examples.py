"""Executable documentation: the example and the README quick start run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from conftest import BINDING_DIR, REPO_DIR


def test_quickstart_example(tmp_path: Path) -> None:
    script = REPO_DIR / "examples" / "python" / "quickstart.py"
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "hello from quickstart" in out.stdout
    assert "value" in out.stdout


def test_readme_quick_start(tmp_path: Path) -> None:
    readme = (BINDING_DIR / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "README.md has no python block"
    for block in blocks:
        out = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, cwd=tmp_path, timeout=60)
        assert out.returncode == 0, out.stderr
