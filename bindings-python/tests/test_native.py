"""What the native layer promises beyond "the call works": the GIL is released while a sync call
waits, Ctrl-C interrupts it, asyncio is never blocked and cancellation reaches Rust, arguments
convert as documented, errors are the right classes with their fields (and pickle), and no
secret shows in a repr.

Operations are called by name (``_call``) so these tests do not depend on the generated
surface.
"""

import asyncio
import pickle
import signal
import sys
import threading
import time

import pytest

import weixin_kit
from weixin_kit import _native, errors
from weixin_kit.testing import Sandbox

STOCK = "101156451224"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as sb:
        sb.create_stock(STOCK, stock_name="8月1日活动券")
        yield sb


@pytest.fixture(autouse=True)
def _no_faults(sandbox):
    yield
    sandbox.clear_faults()


_seq = iter(range(10**9))


def modify(client, **extra):
    args = {"stock_id": STOCK, "out_request_no": f"t-{next(_seq)}", "comment": "c"}
    args.update(extra)
    return client._call("ModifyStockInfo", args)


def test_sync_call_releases_the_gil(sandbox):
    pay = sandbox.pay_client()
    sandbox.inject_fault("ModifyStockInfo", "latency", ms=400, count=1)
    done = threading.Event()
    failure = []

    def worker():
        try:
            modify(pay)
        except BaseException as e:  # pragma: no cover - reported below
            failure.append(e)
        finally:
            done.set()

    thread = threading.Thread(target=worker)
    thread.start()
    spins = 0
    while not done.is_set():
        spins += 1  # pure Python: only runs while the worker does not hold the GIL
    thread.join()
    assert not failure, failure
    # Had the GIL been held for the 400 ms, the loop would have run a handful of times at most
    # (the interpreter's switch interval is 5 ms, but a blocked C call never yields).
    assert spins > 1000


def test_concurrent_sync_calls_from_threads(sandbox):
    pay = sandbox.pay_client()
    results, failures = [], []

    def worker():
        try:
            results.append(modify(pay))
        except BaseException as e:  # pragma: no cover
            failures.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert results == [None] * 8


@pytest.mark.skipif(sys.platform == "win32", reason="SIGALRM")
def test_ctrl_c_interrupts_a_blocked_call(sandbox):
    pay = sandbox.pay_client()
    sandbox.inject_fault("ModifyStockInfo", "latency", ms=5000, count=1)

    def interrupt(*_):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            modify(pay)
        assert time.monotonic() - started < 2
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_async_calls_do_not_block_the_loop_and_can_be_cancelled(sandbox):
    apay = sandbox.async_pay_client()

    async def main():
        sandbox.inject_fault("ModifyStockInfo", "latency", ms=300, count=1)
        task = asyncio.ensure_future(apay._call("ModifyStockInfo", {
            "stock_id": STOCK, "out_request_no": f"a-{next(_seq)}", "comment": "c"}))
        ticks = 0
        while not task.done():
            ticks += 1
            await asyncio.sleep(0.01)
        assert await task is None
        assert ticks > 5

        results = await asyncio.gather(*[
            apay._call("ModifyStockInfo", {
                "stock_id": STOCK, "out_request_no": f"a-{next(_seq)}", "comment": "c"})
            for _ in range(10)
        ])
        assert results == [None] * 10

        with pytest.raises(errors.ApiError) as info:
            await apay._call("ModifyStockInfo", {
                "stock_id": "404404", "out_request_no": "a-x", "comment": "c"})
        assert info.value.status == 404

        sandbox.inject_fault("ModifyStockInfo", "latency", ms=3000, count=1)
        task = asyncio.ensure_future(apay._call("ModifyStockInfo", {
            "stock_id": STOCK, "out_request_no": f"a-{next(_seq)}", "comment": "c"}))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_arguments_none_dropped_bytes_kept_and_unconvertible_named(sandbox):
    pay = sandbox.pay_client()
    assert modify(pay, goods_name=None) is None  # None = absent
    with pytest.raises(errors.ValidationError) as info:
        modify(pay, comment=object())
    assert info.value.field == "comment"
    assert "JSON" in info.value.rule
    with pytest.raises(errors.ValidationError) as info:
        modify(pay, comment={"nested": b"bytes"})
    assert info.value.field == "comment"
    # bytes at the top level are file contents: the core says where they do not belong.
    with pytest.raises(errors.ValidationError) as info:
        modify(pay, comment=b"raw")
    assert info.value.field == "comment"
    png = bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c63600000000200015e2b3a0c0000000049454e44ae426082"
    )
    answer = pay._call("MarketingImageUpload", {"filename": "one.png", "file": bytearray(png)})
    assert answer["media_url"].startswith("https://")


def test_error_classes_and_fields(sandbox):
    pay = sandbox.pay_client()
    with pytest.raises(errors.ApiError) as info:
        modify(pay, stock_id="404404")
    e = info.value
    assert (e.status, e.code, e.retryable, e.retry_after) == (404, "RESOURCE_NOT_EXISTS", False, None)
    assert e.msg and e.msg in str(e) and e.request_id and e.solution
    assert isinstance(e, weixin_kit.WeixinKitError)
    again = pickle.loads(pickle.dumps(e))
    assert (type(again), again.status, again.code, str(again)) == (type(e), e.status, e.code, str(e))

    sandbox.inject_fault("ModifyStockInfo", "tamper_signature")
    with pytest.raises(errors.SignatureError):
        modify(pay)
    sandbox.clear_faults()

    sandbox.inject_fault(None, "connection_reset")
    with pytest.raises(errors.TransportError) as info:
        modify(pay)
    assert isinstance(info.value, ConnectionError) and info.value.retryable
    sandbox.clear_faults()

    sandbox.inject_fault("ModifyStockInfo", "latency", ms=1500, count=1)
    with pytest.raises(errors.TimeoutError) as info:
        modify(sandbox.pay_client(timeout=0.2, max_attempts=1))
    assert isinstance(info.value, TimeoutError)

    with pytest.raises(errors.ConfigError) as info:
        sandbox.pay_client(apiv3_key="too short")
    assert isinstance(info.value, ValueError) and "32 bytes" in str(info.value)

    mp = sandbox.mp_client(max_attempts=1)
    with pytest.raises(errors.MiniProgramError) as info:
        mp._call("setUserNotifyExt", {
            "openid": "o-nobody", "notify_type": 1003, "notify_code": "x", "ext_json": {}})
    assert info.value.errcode == 40003

    sandbox.inject_fault("getStableAccessToken", "system_error")
    with pytest.raises(errors.UnexpectedResponseError) as info:
        sandbox.mp_client(max_attempts=1).access_token()  # a new client: no cached token
    assert info.value.status == 500


def test_reprs_hold_no_secrets(sandbox):
    c = sandbox.credentials
    texts = [repr(sandbox.pay_client()), repr(sandbox.mp_client()), repr(sandbox)]
    texts.append(repr(sandbox.mp_client(token_store="redis://:hunter2@127.0.0.1:1/0")))
    for text in texts:
        for secret in ("PRIVATE KEY", c["apiv3_key"], c["secret"], "hunter2"):
            assert secret not in text, text


def test_native_module_surface():
    assert _native.__version__ == weixin_kit.__version__
    # The native layer is the bridge's adapter: one client class, the sandbox's three entry
    # points, the error-kind table and the crypto functions; nothing per operation.
    for name in ("ClientCore", "SandboxCore", "error_kinds", "build_authorization",
                 "verify_signature", "decrypt_resource", "sign_card_ext"):
        assert hasattr(_native, name), name


def test_sandbox_close_is_idempotent():
    sb = Sandbox()
    base = sb.base_url
    sb.close()
    sb.close()
    assert sb.closed and sb.base_url == base
    with pytest.raises(errors.ConfigError):
        sb.counters()
