"""Helpers of the test suite (the fixtures are in conftest.py): the spec and the vectors read as
JSON (expected values come from them or from the sandbox, never from our own output), unique
ids, a way to drive sync and async clients with one test body, and a local HTTP server that
receives the sandbox's notifications."""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Tuple

import requests

from weixin_kit.testing import Sandbox

ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = ROOT / "spec"
VECTORS_DIR = SPEC_DIR / "vectors"

# A valid 1x1 PNG (the sandbox accepts .png/.jpg/.bmp up to 2 MiB).
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63600000000200015e2b3a0c0000000049454e44ae426082"
)


def load_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def vectors(name: str) -> Any:
    return load_json(VECTORS_DIR / name)


def spec(name: str) -> Any:
    return load_json(SPEC_DIR / name)


def uid(prefix: str = "t") -> str:
    """A fresh id (out_request_no, stock_id, notify_code …): 1 + 20 characters."""
    return prefix + uuid.uuid4().hex[:20]


def resolve(value: Any) -> Any:
    """The result of a client call: awaited to completion (on a fresh loop) when the client is
    async, as is when it is sync. Lets one test body drive both kinds of client."""
    if inspect.isawaitable(value):

        async def wait() -> Any:
            return await value

        return asyncio.run(wait())
    return value


def log_for(sb: Sandbox, operation: str) -> List[Dict[str, Any]]:
    """The sandbox's request-log entries of one operation, oldest first."""
    return [r for r in sb.requests() if r["operation"] == operation]


def control(sb: Sandbox, method: str, path: str, body: Any = None) -> Any:
    """A sandbox control route that ``weixin_kit.testing.Sandbox`` has no method for, called over
    HTTP (``/sandbox/mp/expire_tickets`` …)."""
    resp = requests.request(method, sb.base_url + path, json=body, timeout=10)
    assert resp.status_code < 300, f"{method} {path}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


# -- a notification receiver ------------------------------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST (path, headers, raw body) and answers
    ``status`` (200 by default, with WeChat Pay's documented success body)."""

    def __init__(self) -> None:
        self.received: List[Tuple[str, Dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.received.append((self.path, dict(self.headers.items()), body))
                answer = json.dumps({"code": "SUCCESS", "message": "成功"}).encode()
                self.send_response(receiver.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/wx/coupon") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Dropper:
    """An HTTP server on 127.0.0.1 that reads every request and answers nothing: it closes the
    connection (the request reached the server, the client gets no response), or with
    ``hang=True`` holds it open until :meth:`close`. ``requests`` counts what it read."""

    def __init__(self, hang: bool = False) -> None:
        self.requests = 0
        self.release = threading.Event()
        dropper = self

        class Handler(BaseHTTPRequestHandler):
            def _drop(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                dropper.requests += 1
                if hang:
                    dropper.release.wait(60)
                self.close_connection = True

            do_GET = do_POST = do_PATCH = _drop  # noqa: N815 - http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
