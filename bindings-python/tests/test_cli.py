"""``python -m weixin_kit``: the command line of the ``weixin-kit`` binary, run as a user runs it
(a real ``python -m weixin_kit sandbox`` process in the background, then ``call`` against it)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, List

import pytest


def _cli(args: List[str], **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "weixin_kit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


@pytest.fixture
def cli_sandbox(tmp_path: Path):
    """``python -m weixin_kit sandbox`` in the background: its JSON line; stopped with SIGTERM."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "weixin_kit", "sandbox", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = json.loads(proc.stdout.readline())
        yield line
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def _control(base_url: str, method: str, path: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        base_url + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def test_python_m_weixin_kit_call_against_the_sandbox(cli_sandbox):
    base = cli_sandbox["base_url"]
    profile = ["--config", cli_sandbox["config_file"], "--profile", cli_sandbox["profile"]]
    _control(base, "POST", "/sandbox/stocks", {"stock_name": "py", "stock_id": "1313131313"})

    modify = [*profile, "call", "ModifyStockInfo"]
    done = _cli([*modify, "stock_id=1313131313", "out_request_no=py-1", "comment=cli"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {}
    stock = _control(base, "GET", "/sandbox/stocks/1313131313")
    assert stock["applied_out_request_nos"] == ["py-1"]

    refused = _cli([*modify, "stock_id=404404404", "out_request_no=py-2", "comment=x"])
    assert refused.returncode == 6
    error = json.loads(refused.stderr)
    assert (error["kind"], error["status"]) == ("ApiError", 404)
    assert error["code"] == "RESOURCE_NOT_EXISTS"

    key = Path(cli_sandbox["credentials"]["apiv3_key_file"]).read_text()
    for out in (done, refused):
        assert key not in out.stdout + out.stderr


def test_python_m_weixin_kit_help_and_usage_errors():
    helped = _cli(["call", "--help"])
    assert helped.returncode == 0
    assert "Usage: weixin-kit call" in helped.stdout
    wrong = _cli(["no-such-command"])
    assert wrong.returncode == 2
    assert "no-such-command" in wrong.stderr
