"""What every bench/fuzz_*.py shares: a seeded random driver, a shrinker for what it finds, and the report.

A target says how to make one case from a `random.Random` (`generate`), what must hold for it (`check`: raise
`Broken` naming the property, or let an unexpected exception out), and how to make a failing case smaller
(`shrink`: smaller candidates, tried greedily). The driver runs cases until `--cases` or `--seconds`, keeps the
first failing case of each kind (a broken property, or an exception type), shrinks it to a minimal reproducer and
reports every kind with how often it happened.

Why not hypothesis or atheris: hypothesis's own work per example is many times what these parsers cost, so a
million cases would take tens of minutes per target; atheris needs clang's libFuzzer. A plain seeded mutator
that knows each format runs a million cases in minutes on one core (both measured: docs/benchmarks/fuzzing.md).

Memory: the peak RSS of the process is read every 1,024 cases and must stay within `rss_growth_limit` of what
it was before the run, so a case that allocates what a length field claims (2 GB) fails the run even when it
does not crash it. `traced=True` also runs the cases under tracemalloc and bounds the peak of Python's
allocations (slower; the bounded tests in make test use it, since a test process's RSS peak may already be high).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

MB = 1 << 20
DEFAULT_CASES = 1_000_000
SHRINK_BUDGET = 3_000  # checks spent shrinking one failure


class Broken(AssertionError):
    """A property of the target does not hold for a case; `name` is the property, `detail` what was seen."""

    def __init__(self, name: str, detail: str = ""):
        super().__init__(f"{name}: {detail}" if detail else name)
        self.name = name
        self.detail = detail


def signature(error: BaseException) -> str:
    """The kind of a failure: the broken property, or the type of an exception nobody expected."""
    if isinstance(error, Broken):
        return error.name
    return f"unexpected {type(error).__name__}"


class Target(Protocol):
    name: str
    bound: str  # the memory bound this target checks, in words, for the report

    def generate(self, rng: random.Random) -> Any: ...

    def check(self, case: Any) -> None: ...

    def shrink(self, case: Any) -> Iterator[Any]: ...

    def show(self, case: Any) -> str: ...


@dataclass
class Failure:
    kind: str
    count: int
    first_case: int  # its index in the run (the run is seeded: the same seed makes the same cases)
    error: str
    minimal: str  # the shrunk case, as Python a reproducer can paste


@dataclass
class Outcome:
    target: str
    seed: int
    cases: int = 0
    seconds: float = 0.0
    failures: dict[str, Failure] = field(default_factory=dict)
    rss_before_mb: float = 0.0
    rss_peak_mb: float = 0.0
    traced_peak_mb: float | None = None
    bound: str = ""
    memory_ok: bool = True

    @property
    def rate(self) -> float:
        return self.cases / self.seconds if self.seconds else 0.0

    def failed(self, known: frozenset[str] = frozenset()) -> list[Failure]:
        return [failure for kind, failure in self.failures.items() if kind not in known]

    def report(self) -> str:
        lines = [
            f"{self.target}: {self.cases:,} cases in {self.seconds:.1f} s = {self.rate:,.0f} cases/s (seed {self.seed})",
            f"  memory: {self.bound}; peak RSS {self.rss_peak_mb:.0f} MB (was {self.rss_before_mb:.0f} MB before the run)"
            + (f"; peak traced {self.traced_peak_mb:.1f} MB" if self.traced_peak_mb is not None else "")
            + ("" if self.memory_ok else "  ** OVER THE BOUND **"),
            f"  failures: {sum(f.count for f in self.failures.values())} cases, {len(self.failures)} kinds",
        ]
        for failure in self.failures.values():
            lines.append(f"  - {failure.kind}: {failure.count} cases, first #{failure.first_case}")
            lines.append(f"      error:   {failure.error[:300]}")
            lines.append(f"      minimal: {failure.minimal[:600]}")
        return "\n".join(lines)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run(target: Target, *, cases: int = DEFAULT_CASES, seconds: float | None = None, seed: int = 0,
        rss_growth_limit_mb: float = 256, traced: bool = False, traced_limit_mb: float = 64) -> Outcome:
    rng = random.Random(seed)
    outcome = Outcome(target.name, seed, bound=target.bound)
    outcome.rss_before_mb = peak_rss_mb()
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    deadline = start + seconds if seconds else None
    index = 0
    try:
        for index in range(cases):
            if not index & 1023:
                if deadline is not None and time.perf_counter() > deadline:
                    break
                if peak_rss_mb() - outcome.rss_before_mb > rss_growth_limit_mb:
                    outcome.memory_ok = False
                    break
            case = target.generate(rng)
            try:
                target.check(case)
            except Exception as error:  # noqa: BLE001 - anything a check lets out is a finding
                _record(target, outcome, index, case, error)
        else:
            index = cases
    finally:
        outcome.seconds = time.perf_counter() - start
        if traced:
            outcome.traced_peak_mb = tracemalloc.get_traced_memory()[1] / MB
            tracemalloc.stop()
            outcome.memory_ok &= outcome.traced_peak_mb <= traced_limit_mb
    outcome.cases = index
    outcome.rss_peak_mb = peak_rss_mb()
    outcome.memory_ok &= outcome.rss_peak_mb - outcome.rss_before_mb <= rss_growth_limit_mb
    return outcome


def _record(target: Target, outcome: Outcome, index: int, case: Any, error: Exception) -> None:
    kind = signature(error)
    known = outcome.failures.get(kind)
    if known is not None:
        known.count += 1
        return
    minimal, minimal_error = shrink(target, case, kind, error)
    outcome.failures[kind] = Failure(kind, 1, index, f"{type(minimal_error).__name__}: {minimal_error}",
                                     target.show(minimal))


def shrink(target: Target, case: Any, kind: str, error: Exception) -> tuple[Any, Exception]:
    """Greedy: take the first smaller candidate that fails the same way, until none does or the budget is spent."""
    budget = SHRINK_BUDGET
    progress = True
    while progress and budget > 0:
        progress = False
        for candidate in target.shrink(case):
            budget -= 1
            if budget <= 0:
                break
            try:
                target.check(candidate)
            except Exception as candidate_error:  # noqa: BLE001
                if signature(candidate_error) == kind:
                    case, error, progress = candidate, candidate_error, True
                    break
    return case, error


# -- shrinking helpers for the targets --------------------------------------------------------------------


def smaller_sequences(value: bytes | str | tuple) -> Iterator[bytes | str | tuple]:
    """Shorter versions of a sequence: chunks cut out, halves first, then ever smaller."""
    size = len(value)
    chunk = size // 2 or 1
    while size and chunk >= 1:
        for start in range(0, size, chunk):
            yield value[:start] + value[start + chunk :]
        if chunk == 1:
            break
        chunk //= 2


def simpler_bytes(value: bytes) -> Iterator[bytes]:
    """The same length with bytes made zero, one at a time (after the shorter versions are exhausted)."""
    for index, byte in enumerate(value):
        if byte:
            yield value[:index] + b"\0" + value[index + 1 :]


def command_line(make_target: Callable[[], Target], description: str, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--cases", type=int, default=DEFAULT_CASES, help="cases to run (default 1,000,000)")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long, whatever --cases says")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tracemalloc", action="store_true", help="also bound the peak of traced allocations")
    args = parser.parse_args(argv)
    outcome = run(make_target(), cases=args.cases, seconds=args.seconds, seed=args.seed, traced=args.tracemalloc)
    print(outcome.report())
    return 1 if outcome.failures or not outcome.memory_ok else 0


def main(make_target: Callable[[], Target], description: str) -> None:
    sys.exit(command_line(make_target, description))
