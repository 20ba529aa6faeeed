"""numpy's BLAS on one thread, in every process that extracts Whisper features.

numpy's OpenBLAS starts a thread per core and, after each matrix product, keeps them spinning a while for the next
one. Our products are small (Whisper's mel filter bank over a few seconds of audio), so the spinning cost as much
CPU again as the whole decode: tiny.en on one CTranslate2 thread, sentences of 2-5 s, 207 → 112 ms of CPU (P50;
docs/benchmarks/engines.md, "Idle threads"). CTranslate2 keeps its own threads, sized by ASR_CPU_THREADS.
"""

from __future__ import annotations

import threading

from threadpoolctl import threadpool_limits

_lock = threading.Lock()
_limits: threadpool_limits | None = None


def single_threaded_blas() -> None:
    """Process-wide and once: the BLAS libraries loaded so far (numpy's) run on one thread."""
    global _limits
    with _lock:
        if _limits is None:
            _limits = threadpool_limits(limits=1, user_api="blas")
