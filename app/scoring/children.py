"""Work for child processes, results taken in order: what lets a large re-score use every core.

The children are started with "spawn" (a fresh interpreter: safe whatever threads this process runs,
where a forked child could inherit a lock another thread held). Each child runs ``initializer(path)``
once, ``path`` being a file that holds the pickled ``payload`` (sent by file rather than as the
initializer's arguments: those travel through a pipe that the parent keeps open until it has written
them all, so a child that died while starting would leave the parent waiting for ever on a large
write). If a child fails or dies, the pool breaks and the next result taken raises; if this process
dies, the children read end-of-file from their queue and exit.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

_R = TypeVar("_R")


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@contextmanager
def child_pool(
    processes: int, initializer: Callable[[str], None], payload: Any
) -> Iterator[ProcessPoolExecutor]:
    """``processes`` children, each started with ``initializer(path of the pickled payload)``; shut
    down (queued work cancelled, running work awaited) on leaving."""
    with tempfile.TemporaryDirectory(prefix="bie-children-") as directory:
        path = Path(directory) / "payload.pickle"
        path.write_bytes(pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))
        pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=initializer,
            initargs=(str(path),),
        )
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def in_order(
    pool: ProcessPoolExecutor, work: Callable[..., _R], items: Iterable[tuple[Any, ...]], *, ahead: int
) -> Iterator[_R]:
    """``work(*item)`` for each item, run by the pool, yielded in the items' order; at most ``ahead``
    items are submitted and not yet taken (bounding the results held in memory)."""
    pending: deque[Future[_R]] = deque()
    for item in items:
        pending.append(pool.submit(work, *item))
        if len(pending) >= ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
