"""What bounds a clock move's real-time cost: the move's one shared deadline for the outside work it
drives (webhook attempts), and `wait_or_cut`, which waits for that work until the deadline and then
cuts what is still running. The webhook `Sender` (`delivery.py`) uses it; `World.catch_up` sets the
deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from typing import Any

from .clock import monotonic


def remaining(deadline: float) -> float:
    """Seconds left before `deadline` (a `monotonic()` instant); 0 once it passed."""
    return max(deadline - monotonic(), 0.0)


async def wait_or_cut(tasks: Collection[asyncio.Task[Any]], deadline: float | None,
                      cut: Callable[[asyncio.Task[Any]], None]) -> None:
    """Wait for `tasks`; with a deadline, `cut` each one still running when it passes (the task then
    records its own outcome, e.g. a timeout) and wait for it to finish doing so. Never cancels a task
    because the caller was cancelled."""
    if not tasks:
        return
    if deadline is None:
        await asyncio.wait(tasks)
        return
    running = {task for task in tasks if not task.done()}
    left = remaining(deadline)
    if running and left > 0:
        _, running = await asyncio.wait(running, timeout=left)
    for task in running:
        cut(task)
    if running:
        await asyncio.wait(running)
