"""Work for child processes, results taken in order: what lets a large re-score use every core.

The children are started with "spawn" (a fresh interpreter: safe whatever threads this process runs,
where a forked child could inherit a lock another thread held). Each child runs ``initializer(path)``
once, ``path`` being a file that holds the pickled ``payload`` (sent by file rather than as the
initializer's arguments: those travel through a pipe that the parent keeps open until it has written
them all, so a child that died while starting would leave the parent waiting for ever on a large
write). If a child fails or dies, the pool breaks and the next result taken raises. If this process
dies, each child notices within a second (it is re-parented) and exits: a child blocked sending a
result would otherwise wait for ever, since the result pipe's reading end is open in the children too.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import tempfile
import threading
import time
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
            initializer=_child_main,
            initargs=(initializer, str(path), os.getpid()),
        )
        try:
            yield pool
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _child_main(initializer: Callable[[str], None], path: str, parent: int) -> None:
    # Ctrl-C in a terminal reaches the whole process group: the parent alone decides (it cancels what
    # is queued, waits for the running work and rolls back), so the children do not print tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_when_orphaned, args=(parent,), name="orphan-watch", daemon=True).start()
    initializer(path)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(70)  # EX_SOFTWARE: the parent died; nothing of this child's is stored


ORPHAN_CHECK_S = 1.0


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
