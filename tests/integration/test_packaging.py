"""The package builds with its C extensions where a compiler exists, and without them where none does.

setup.py declares both extensions optional: a machine without gcc must still get a working babelstream (the
Python endpointer and frame parser). These build real wheels with pip, the way `pip install` would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXTENSIONS = ("babelstream/engines/vad/_endpointer", "babelstream/gateway/websocket/_frames")


def build_wheel(tmp_path: Path, env: dict[str, str]) -> Path:
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".venv", ".cache", ".git", "test-output", "build", "dist", "*.egg-info", "__pycache__", "*.so", "node_modules"
    ))
    out = tmp_path / "wheels"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(out)],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = out.glob("babelstream-*.whl")
    return wheel


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no C compiler on this machine")
def test_wheel_carries_both_c_extensions_and_no_sources(tmp_path):
    names = zipfile.ZipFile(build_wheel(tmp_path, {})).namelist()
    for extension in EXTENSIONS:
        assert any(name.startswith(extension) and name.endswith(".so") for name in names), extension
    assert not [name for name in names if name.endswith(".c")]


def test_without_a_compiler_the_wheel_builds_without_them_and_runs_the_python_versions(tmp_path):
    wheel = build_wheel(tmp_path, {"CC": "/bin/false"})
    names = zipfile.ZipFile(wheel).namelist()
    assert not [name for name in names if name.endswith((".so", ".c"))]
    installed = tmp_path / "installed"
    zipfile.ZipFile(wheel).extractall(installed)
    # The unpacked wheel first on the path: its babelstream, not the development tree's.
    probe = """
import babelstream, babelstream.engines.vad.endpointer as endpointer, babelstream.gateway.websocket.frames as frames
from babelstream.engines.vad import WebRtcVad, split_recording
from tests.support.speech import silence, white_noise
stream = silence(500) + white_noise(1200, level_dbfs=-15, seed=3) + silence(700)
print(babelstream.__file__, endpointer.Endpointer.__name__, frames.WholeBinaryFrame.__name__,
      len(split_recording(WebRtcVad(16000, 20, 2), stream)))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], env={**os.environ, "PYTHONPATH": f"{installed}{os.pathsep}{REPO}"},
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    location, endpointer_class, fast_path, utterances = result.stdout.split()
    assert location.startswith(str(installed))
    assert (endpointer_class, fast_path, utterances) == ("PythonEndpointer", "PythonWholeBinaryFrame", "1")
