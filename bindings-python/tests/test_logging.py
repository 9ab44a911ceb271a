"""Records of the ``weixin_kit`` logger (issue 16 part 4): what each call logs, at which level,
with which fields, and that no secret, URL, body or openid reaches them. Captured with pytest's
``caplog`` (a real ``logging`` handler) from calls against the in-process sandbox."""

from __future__ import annotations

import logging

import weixin_kit
from support import log_for, resolve, uid


def modify(client, stock: str, out_request_no: str):
    return resolve(client.busifavor.modify_stock_info(
        stock_id=stock, out_request_no=out_request_no, comment="logged-comment-body"))


def ours(caplog):
    return [r for r in caplog.records if r.name == "weixin_kit"]


def assert_no_secrets(sb, caplog, *extra: str) -> None:
    c = sb.credentials
    key_line = c["merchant_private_key"].splitlines()[5]
    text = "\n".join(r.getMessage() + repr(vars(r)) for r in ours(caplog))
    for secret in (key_line, c["apiv3_key"], c["secret"], "access_token=", "/v3/",
                   "logged-comment-body", *extra):
        assert secret and secret not in text, secret


def test_an_answer_is_logged_with_its_fields(sb, kind, caplog):
    caplog.set_level(logging.DEBUG, logger="weixin_kit")
    client = sb.pay_client() if kind == "sync" else sb.async_pay_client()
    stock = sb.create_stock(uid("9")[:12])["stock_id"]
    out_request_no = uid()
    modify(client, stock, out_request_no)

    answered = [r for r in ours(caplog) if r.weixin_kit.get("status") == 204]
    assert len(answered) == 1, [r.getMessage() for r in ours(caplog)]
    record = answered[0]
    assert record.levelno == logging.INFO
    request_id = log_for(sb, "ModifyStockInfo")[0]["request_id"]
    assert record.weixin_kit == {
        "operation": "ModifyStockInfo", "family": "pay", "attempt": 1, "host": "main",
        "status": 204, "request_id": request_id, "latency_ms": record.weixin_kit["latency_ms"],
    }
    # Each field is also an attribute of the record, and in the message.
    assert record.operation == "ModifyStockInfo" and record.request_id == request_id
    assert record.getMessage().startswith("answered ")
    assert f"request_id={request_id}" in record.getMessage()
    verified = [r for r in ours(caplog) if r.weixin_kit.get("verification") == "ok"]
    assert len(verified) == 1 and verified[0].levelno == logging.DEBUG
    assert_no_secrets(sb, caplog, stock, out_request_no)


def test_a_retry_and_a_failed_verification(sb, caplog):
    caplog.set_level(logging.INFO, logger="weixin_kit")
    client = sb.pay_client()
    stock = sb.create_stock(uid("9")[:12])["stock_id"]
    sb.inject_fault("ModifyStockInfo", "system_error", count=1)
    modify(client, stock, uid())
    retrying = [r for r in ours(caplog) if r.getMessage().startswith("retrying")]
    assert [(r.retry_reason, r.next_host) for r in retrying] == [("server error", "backup")]
    statuses = [(r.host, r.status) for r in ours(caplog) if hasattr(r, "status")]
    assert statuses == [("main", 500), ("backup", 204)]

    caplog.clear()
    sb.inject_fault("ModifyStockInfo", "tamper_signature", count=1)
    try:
        modify(client, stock, uid())
    except weixin_kit.SignatureError:
        pass
    else:
        raise AssertionError("the tampered answer verified")
    failed = [r for r in ours(caplog) if getattr(r, "verification", None) == "failed"]
    assert len(failed) == 1
    assert failed[0].levelno == logging.WARNING
    assert failed[0].error_kind == "SignatureError"
    assert_no_secrets(sb, caplog, stock)


def test_token_refreshes_are_logged_without_the_token(sb, caplog):
    caplog.set_level(logging.INFO, logger="weixin_kit")
    client = sb.mp_client()
    token = client.access_token()
    refreshed = [r for r in ours(caplog) if r.getMessage().startswith("token refreshed")]
    assert len(refreshed) == 1 and refreshed[0].key.endswith(":access_token")
    assert_no_secrets(sb, caplog, token)


def test_the_level_is_respected_natively(sb, caplog):
    # At WARNING (set before the client is created: it re-reads the level), a successful call
    # logs nothing: the records below it are not even built on the native side.
    caplog.set_level(logging.WARNING, logger="weixin_kit")
    emitted = []
    original = weixin_kit._logging.emit
    weixin_kit._logging.emit = lambda *a: emitted.append(a)
    try:
        weixin_kit._native._set_log_sink(weixin_kit._logging.emit, "error")
        client = sb.pay_client()
        modify(client, sb.create_stock(uid("9")[:12])["stock_id"], uid())
        assert emitted == [] and ours(caplog) == []
        # After the level changes, refresh_log_level passes INFO records on again.
        caplog.set_level(logging.INFO, logger="weixin_kit")
        weixin_kit.refresh_log_level()
        modify(client, sb.create_stock(uid("9")[:12])["stock_id"], uid())
        assert [a[0] for a in emitted if a[2] == "answered"] == ["info"]
    finally:
        weixin_kit._logging.emit = original
        weixin_kit._logging.install()
