"""Fixtures: one in-process sandbox per test module, reset before every test (``sb``); the sync
and async variants of a client (``kind``, ``pay``, ``mp``); the mini-program counters since the
test started (``mp_counters``); a local HTTP server receiving notifications (``receiver``); a
real ``redis-server`` per module (``redis_port``).

``test_native.py`` has its own ``sandbox`` fixture; the ones here are named so they never collide.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from typing import Any, Dict

import pytest

from weixin_kit.testing import Sandbox

from support import Receiver, control


@pytest.fixture(scope="module")
def _module_sandbox():
    with Sandbox() as s:
        yield s


@pytest.fixture
def sb(_module_sandbox: Sandbox):
    """The module's sandbox with a clean slate: no faults, public-key signing, main listener up,
    empty request log and counters, no valid mini-program token or ticket (stocks and
    mini-program users stay; tests use fresh ids)."""
    s = _module_sandbox

    def clean() -> None:
        s.clear_faults()
        s.mp_clear_errcode_faults()
        s.set_main_down(False)
        s.set_signing_mode("public_key")

    clean()
    # force_refresh is honoured 30 s apart (as WeChat does): each test starts past that.
    s.mp_advance_clock(31)
    s.mp_expire_tokens()
    s.mp_expire_tickets()
    s.reset_log()
    yield s
    clean()


def _delta(now: Any, before: Any) -> Any:
    if isinstance(now, dict):
        out = {}
        for key, value in now.items():
            d = _delta(value, (before or {}).get(key, {} if isinstance(value, dict) else 0))
            if d not in (0, {}):
                out[key] = d
        return out
    return now - before


@pytest.fixture
def mp_counters(sb: Sandbox):
    """``mp_counters()`` minus their values when the test started (``reset_log`` leaves the
    mini-program counters alone); zero entries left out."""
    before = sb.mp_counters()

    def counters() -> Dict[str, Any]:
        return _delta(sb.mp_counters(), before)

    return counters


@pytest.fixture(params=["sync", "async"])
def kind(request) -> str:
    """Run the test with the sync client and with the async one."""
    return request.param


@pytest.fixture
def pay(sb: Sandbox, kind: str):
    """A PayClient or AsyncPayClient for the sandbox (call results go through ``resolve``)."""
    return sb.pay_client() if kind == "sync" else sb.async_pay_client()


@pytest.fixture
def mp(sb: Sandbox, kind: str):
    """A MiniProgramClient or AsyncMiniProgramClient for the sandbox."""
    return sb.mp_client() if kind == "sync" else sb.async_mp_client()


@pytest.fixture(scope="module")
def _module_receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def receiver(_module_receiver: Receiver) -> Receiver:
    _module_receiver.received.clear()
    _module_receiver.status = 200
    return _module_receiver


# -- redis -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_command(port: int, *args: str) -> bytes:
    payload = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        return s.recv(65536)


@pytest.fixture(scope="module")
def redis_port():
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not on PATH (CI installs it: see .ci/run)")
        pytest.skip("redis-server is not on PATH")
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if _redis_command(port, "PING").startswith(b"+PONG"):
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
