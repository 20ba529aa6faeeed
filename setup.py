"""The C extensions; everything else about the package is in pyproject.toml.

Two per-frame hot spots of a live stream, each with a Python version that is its specification:
- the endpointer's state machine (src/babelstream/engines/vad/_endpointer.c, python_endpointer.py);
- the WebSocket fast path for one whole binary frame (src/babelstream/gateway/websocket/_frames.c, frames.py).
Optional: without a C compiler the install still succeeds and babelstream runs the Python versions (same
behaviour, more CPU per live stream). Here rather than in pyproject.toml because setuptools' ext-modules table
there is experimental.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "babelstream.engines.vad._endpointer",
            sources=["src/babelstream/engines/vad/_endpointer.c"],
            optional=True,
        ),
        Extension(
            "babelstream.gateway.websocket._frames",
            sources=["src/babelstream/gateway/websocket/_frames.c"],
            optional=True,
        ),
    ]
)
