"""The core's tracing events as records of the ``weixin_kit`` logger (:mod:`logging`).

Each call logs, at INFO, every answer (``status``, WeChat's ``request_id``, ``latency_ms``,
with the call's ``operation`` / ``family`` and the attempt's ``attempt`` / ``host``), every
retry (``retry_reason``, ``next_host``, ``delay_ms``) and token refresh; at DEBUG the
response verification (``verification``); at WARNING failures (``no answer``, a failed
verification with ``error_kind``). Never a secret, URL, body or openid.

The fields are on the record as attributes (``record.status``) and together as
``record.weixin_kit`` (a dict), and appended to the message (``key=value``).

The native side builds records only for levels the logger is enabled for: the level is read
when ``weixin_kit`` is imported and whenever a client is created; after changing the level of
``weixin_kit`` (or of the root logger) later, call :func:`weixin_kit.refresh_log_level`.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Optional

from . import _native

__all__ = ["LOGGER_NAME", "refresh_log_level"]

LOGGER_NAME = "weixin_kit"
_logger = logging.getLogger(LOGGER_NAME)

# The core's levels, most verbose last, with the logging level each maps to.
_LEVELS = (("error", logging.ERROR), ("warn", logging.WARNING), ("info", logging.INFO),
           ("debug", logging.DEBUG), ("trace", 5))
_TO_PY = dict(_LEVELS)
# LogRecord attributes a field may not overwrite (``extra`` refuses them).
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _most_verbose() -> Optional[str]:
    level = None
    for name, py_level in _LEVELS:
        if _logger.isEnabledFor(py_level):
            level = name
    return level


def emit(level: str, target: str, message: str, fields: Dict[str, Any]) -> None:
    """Called by the native sink with one record."""
    py_level = _TO_PY.get(level, logging.DEBUG)
    if not _logger.isEnabledFor(py_level):
        return
    text = " ".join([message] + [f"{k}={v}" for k, v in fields.items()])
    extra: Dict[str, Any] = {k: v for k, v in fields.items() if k not in _RESERVED}
    extra["weixin_kit"] = dict(fields)
    _logger.log(py_level, "%s", text, extra=extra)


def refresh_log_level() -> None:
    """Re-reads the ``weixin_kit`` logger's effective level (the native side passes on only
    the records it would keep)."""
    _native._set_log_level(_most_verbose())


def install() -> None:
    """Registers :func:`emit` as the core's log sink (once per process, at import)."""
    _native._set_log_sink(emit, _most_verbose() or "error")
    refresh_log_level()
