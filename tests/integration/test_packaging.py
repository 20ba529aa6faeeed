"""The package builds into a pure-Python wheel, the way `pip install` would, and runs from it.

babelstream has no C extension (docs/benchmarks/gateway-capacity.md: the two it had saved nothing measurable),
so a machine without a compiler installs it as any other: the wheel builds with the compiler taken away.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


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
    (wheel,) = out.glob("babelstream-*-py3-none-any.whl")  # pure Python: no platform tag
    return wheel


def test_without_a_compiler_the_wheel_builds_carries_what_runs_and_runs(tmp_path):
    wheel = build_wheel(tmp_path, {"CC": "/bin/false"})
    names = zipfile.ZipFile(wheel).namelist()
    assert not [name for name in names if name.endswith((".so", ".c"))]
    for shipped in ("babelstream/contracts/schemas/babelstream.SpeechSegmentEvent.avsc",
                    "babelstream/gateway/static/index.html", "babelstream/engines/mt/quality_table.json"):
        assert shipped in names, shipped
    installed = tmp_path / "installed"
    zipfile.ZipFile(wheel).extractall(installed)
    # The unpacked wheel first on the path: its babelstream, not the development tree's.
    probe = """
import babelstream
from babelstream.engines.vad import WebRtcVad, split_recording
from tests.support.speech import silence, white_noise
stream = silence(500) + white_noise(1200, level_dbfs=-15, seed=3) + silence(700)
print(babelstream.__file__, len(split_recording(WebRtcVad(16000, 20, 2), stream)))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], env={**os.environ, "PYTHONPATH": f"{installed}{os.pathsep}{REPO}"},
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    location, utterances = result.stdout.split()
    assert location.startswith(str(installed)) and utterances == "1"
