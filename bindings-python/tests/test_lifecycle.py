"""The process around the clients: a script that uses weixin_kit and ends normally exits with
status 0 (no abort while the interpreter finalizes), and a forked child gets working clients
whose calls honour their timeouts.

Each scenario is a small script run in a subprocess several times while two busy loops keep
both cores occupied (the exit crash this guards against was a race: a tokio thread holding the
GIL while the main thread finalized; it showed up in 1 to 7 runs of 20 under load). Every run
must exit 0 and print exactly the expected lines; a run that hangs is killed after
``RUN_TIMEOUT`` and fails. Nothing here measures time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List

import pytest

RUNS = 8  # per scenario
PARALLEL = 4  # scripts running at once (plus the two busy loops)
RUN_TIMEOUT = 60  # seconds; only a hang gets near it

COMMON = """
import asyncio, os, sys, uuid
from weixin_kit import errors
from weixin_kit.testing import Sandbox

def out(*words):
    print(*words, flush=True)

def args():
    return dict(stock_id=STOCK, out_request_no=uuid.uuid4().hex, comment="lifecycle")

sb = Sandbox()  # never closed: a sandbox still open at exit is part of every scenario
STOCK = sb.create_stock()["stock_id"]
"""

SCENARIOS: Dict[str, str] = {
    # The script: sync calls, then one asyncio.run of 20 concurrent async calls.
    "gather": """
pay = sb.pay_client()
for _ in range(3):
    pay.busifavor.modify_stock_info(**args())
apay = sb.async_pay_client()

async def main():
    return await asyncio.gather(*[apay.busifavor.modify_stock_info(**args()) for _ in range(20)])

out("gathered", len(asyncio.run(main())))
""",
    # Async calls still in flight when the script ends: cancelled by asyncio.run, and left
    # pending in a loop that is never closed.
    "pending": """
apay = sb.async_pay_client()
sb.inject_fault("ModifyStockInfo", "latency", ms=2000)

async def main():
    tasks = [asyncio.ensure_future(apay.busifavor.modify_stock_info(**args())) for _ in range(8)]
    done, pending = await asyncio.wait(tasks, timeout=0.2)
    out("pending", len(pending))

asyncio.run(main())
loop = asyncio.new_event_loop()
futures = [loop.create_task(apay.busifavor.modify_stock_info(**args())) for _ in range(8)]
loop.run_until_complete(asyncio.sleep(0.2))
out("left pending", sum(not f.done() for f in futures))
""",
    # A certificate-mode client (platform certificates downloaded, the refresher started).
    "refresher": """
sb.set_signing_mode("certificate")
kwargs = dict(wechatpay_public_key_id=None, wechatpay_public_key=None, download_certificates=True)
pay = sb.pay_client(**kwargs)
pay.busifavor.modify_stock_info(**args())
apay = sb.async_pay_client(**kwargs)

async def main():
    return await asyncio.gather(*[apay.busifavor.modify_stock_info(**args()) for _ in range(8)])

asyncio.run(main())
out("serials", pay.platform_certificate_serials == [sb.credentials["platform_serial_no"]])
""",
    # fork() after sync and async calls: in the child, the parent's clients and new ones work,
    # sync and async; the child then ends normally (interpreter finalization in the child too).
    "fork": """
pay = sb.pay_client(timeout=10)
apay = sb.async_pay_client(timeout=10)
mp = sb.mp_client(timeout=10)
pay.busifavor.modify_stock_info(**args())
mp.access_token()

async def calls(client, n):
    return await asyncio.gather(*[client.busifavor.modify_stock_info(**args()) for _ in range(n)])

asyncio.run(calls(apay, 4))
pid = os.fork()
if pid == 0:
    pay.busifavor.modify_stock_info(**args())
    sb.pay_client(timeout=10).busifavor.modify_stock_info(**args())
    mp.access_token()
    asyncio.run(calls(apay, 4))
    asyncio.run(calls(sb.async_pay_client(timeout=10), 4))
    out("child calls ok")
    sys.exit(0)
_, status = os.waitpid(pid, 0)
out("child status", os.waitstatus_to_exitcode(status))
pay.busifavor.modify_stock_info(**args())
out("parent calls ok")
""",
    # In a child, a call to a slow or unreachable server ends with the client's timeout or a
    # transport error: sync and async, on a client from the parent and on one from the child.
    "fork-timeout": """
fast = dict(timeout=0.5, max_attempts=1)
pay = sb.pay_client(**fast)
apay = sb.async_pay_client(**fast)
pay.busifavor.modify_stock_info(**args())
sb.inject_fault("ModifyStockInfo", "latency", ms=5000)

async def acall(client):
    await client.busifavor.modify_stock_info(**args())

def outcome(call):
    try:
        call()
        return "ok"
    except errors.WeixinKitError as e:
        return type(e).__name__

pid = os.fork()
if pid == 0:
    out("parent client", outcome(lambda: pay.busifavor.modify_stock_info(**args())))
    out("parent async client", outcome(lambda: asyncio.run(acall(apay))))
    out("child client", outcome(lambda: sb.pay_client(**fast).busifavor.modify_stock_info(**args())))
    out("child async client", outcome(lambda: asyncio.run(acall(sb.async_pay_client(**fast)))))
    gone = sb.pay_client(base_url="http://127.0.0.1:9", backup_base_url=None, **fast)
    out("unreachable", outcome(lambda: gone.busifavor.modify_stock_info(**args())))
    os._exit(0)
_, status = os.waitpid(pid, 0)
out("child status", os.waitstatus_to_exitcode(status))
""",
}

EXPECTED: Dict[str, List[str]] = {
    "gather": ["gathered 20"],
    "pending": ["pending 8", "left pending 8"],
    "refresher": ["serials True"],
    "fork": ["child calls ok", "child status 0", "parent calls ok"],
    "fork-timeout": [
        "parent client TimeoutError",
        "parent async client TimeoutError",
        "child client TimeoutError",
        "child async client TimeoutError",
        "unreachable TransportError",
        "child status 0",
    ],
}


@pytest.fixture(scope="module")
def busy_cores():
    """Two busy loops for the module's duration (the races need contended cores)."""
    loops = [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(2)]
    yield
    for p in loops:
        p.kill()
    for p in loops:
        p.wait()


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> Dict[str, Path]:
    folder = tmp_path_factory.mktemp("lifecycle")
    paths = {}
    for name, body in SCENARIOS.items():
        path = folder / f"{name}.py"
        path.write_text(COMMON + textwrap.dedent(body), encoding="utf-8")
        paths[name] = path
    return paths


def run_script(path: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [sys.executable, str(path)],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        )
    except subprocess.TimeoutExpired as e:
        return subprocess.CompletedProcess(e.cmd, "timeout", e.stdout or "", e.stderr or "")


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_script_exits_cleanly(scenario, scripts, busy_cores):
    with ThreadPoolExecutor(PARALLEL) as pool:
        runs = list(pool.map(run_script, [scripts[scenario]] * RUNS))
    failures = [
        f"run {i}: exit {r.returncode}, stdout {r.stdout!r}, stderr tail {r.stderr[-600:]!r}"
        for i, r in enumerate(runs)
        if r.returncode != 0 or r.stdout.splitlines() != EXPECTED[scenario]
    ]
    assert not failures, f"{len(failures)} of {RUNS} runs failed:\n" + "\n".join(failures)
