"""How the native layer runs a callback (``token_provider``, ``signer``).

It is called on a worker thread of the Rust runtime, with the GIL. A plain function's value is
returned as is; an awaitable is awaited on the event loop of the async call that needed it
(``loop``), or, for the sync clients (no loop), in a fresh loop on this thread.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any, Callable, Optional, Sequence


def run_callback(
    function: Callable[..., Any], args: Sequence[Any], loop: Optional[asyncio.AbstractEventLoop]
) -> Any:
    result = function(*args)
    if not inspect.isawaitable(result):
        return result
    if loop is None or loop.is_closed():
        return asyncio.run(_awaited(result))
    return asyncio.run_coroutine_threadsafe(_awaited(result), loop).result()


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
