"""Each speech model runs on a thread of its own, always the same one.

A recognizer's calls are serialised anyway (engines/asr/whisper.py holds a lock around the model), so one thread
loses no concurrency. It keeps memory flat: CTranslate2's CPU backend keeps native memory per calling thread and
input shape, and asyncio.to_thread hands each call to whichever of the default pool's threads is free, so over a
long talk every thread of the pool met every shape: with 6 threads rotating, the stage held ~100 MB more after 25
utterances than with one (bench/asr_memory.py --callers, docs/benchmarks/rooms.md "A long talk").
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from concurrent.futures import ThreadPoolExecutor

_threads: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its single-thread executor


async def run_on_model_thread(model, call, *args, **kwargs):
    """`call(*args, **kwargs)` on `model`'s own thread (made on first use, kept while the model lives)."""
    executor = _threads.get(model)
    if executor is None:
        executor = _threads[model] = ThreadPoolExecutor(1, thread_name_prefix=f"model-{type(model).__name__}")
        weakref.finalize(model, executor.shutdown, wait=False)
    return await asyncio.get_running_loop().run_in_executor(executor, functools.partial(call, *args, **kwargs))
