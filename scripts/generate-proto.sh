#!/usr/bin/env bash
# Regenerates the Python code of proto/babelstream/v1/stream.proto into src/babelstream/v1/, with the pinned
# grpcio-tools (pyproject.toml, [test]). The generated files are checked in: `pip install` needs no protoc, and
# tests/unit/test_grpc_proto.py fails when they and the .proto drift apart.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
OUT="${1:-src}"
"$PYTHON" -m grpc_tools.protoc -I proto --python_out="$OUT" --pyi_out="$OUT" --grpc_python_out="$OUT" \
  proto/babelstream/v1/stream.proto
