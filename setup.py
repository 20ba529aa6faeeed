"""The one C extension; everything else about the package is in pyproject.toml.

The endpointer's per-frame state machine in C (src/babelstream/engines/vad/_endpointer.c). Optional: without a
C compiler the install still succeeds and babelstream runs the Python endpointer (same behaviour, more CPU per
live stream). Here rather than in pyproject.toml because setuptools' ext-modules table there is experimental.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "babelstream.engines.vad._endpointer",
            sources=["src/babelstream/engines/vad/_endpointer.c"],
            optional=True,
        )
    ]
)
