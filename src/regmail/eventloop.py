"""Running the process's event loop: uvloop where it is installed (Linux and macOS).

A worker spends a large share of its time in the loop itself (sockets, callbacks);
uvloop does that part in C. Windows has no uvloop and gets asyncio's own loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - only on platforms without uvloop
        return asyncio.run(main)
    return uvloop.run(main)
