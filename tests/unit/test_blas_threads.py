"""numpy's BLAS is held to one thread once a process extracts Whisper features (engines/blas_threads.py)."""

import numpy  # noqa: F401 - loads the OpenBLAS the limit applies to
from threadpoolctl import threadpool_info

from babelstream.engines.blas_threads import single_threaded_blas


def test_numpy_blas_runs_on_one_thread_after_the_limit_and_calling_it_again_changes_nothing():
    single_threaded_blas()
    single_threaded_blas()
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas), blas
