"""Starts the stand-alone sandbox binary once per test session and hands its line of JSON
(base_url, backup_base_url, credentials) to the tests.

The binary comes from WEIXIN_KIT_SANDBOX_BIN (set by `cargo xtask test`) or target/debug.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[3]


def _binary() -> str:
    path = os.environ.get("WEIXIN_KIT_SANDBOX_BIN") or str(ROOT / "target" / "debug" / "weixin-kit-sandbox")
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} not found: run `cargo build -p weixin-kit-sandbox` first")
    return path


class SandboxProcess:
    def __init__(self):
        self.proc = subprocess.Popen([_binary()], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"sandbox did not start: {self.proc.stderr.read()}")
        info = json.loads(line)
        self.base_url = info["base_url"]
        self.backup_base_url = info["backup_base_url"]
        self.credentials = info["credentials"]

    def control(self, method: str, path: str, body=None):
        resp = requests.request(method, self.base_url + path, json=body, timeout=10)
        assert resp.status_code < 300, f"control {method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture(scope="session")
def sandbox():
    sb = SandboxProcess()
    yield sb
    sb.close()


@pytest.fixture
def public_key_mode(sandbox):
    sandbox.control("POST", "/sandbox/signing_mode", {"mode": "public_key"})
    yield sandbox


@pytest.fixture
def certificate_mode(sandbox):
    sandbox.control("POST", "/sandbox/signing_mode", {"mode": "certificate"})
    yield sandbox
    sandbox.control("POST", "/sandbox/signing_mode", {"mode": "public_key"})
