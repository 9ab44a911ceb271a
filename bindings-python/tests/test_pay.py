"""Every WeChat Pay operation through PayClient and AsyncPayClient against the sandbox, and every
way a call can fail. Assertions are on what the sandbox received and keeps (its request log,
stocks, media, counters) and on the spec's documented values, not only on return values."""

from __future__ import annotations

import asyncio
import builtins
import copy
import hashlib
import json
import time
import uuid
from datetime import datetime

import pytest

import weixin_kit
from weixin_kit import (
    ApiError,
    ConfigError,
    SignatureError,
    TransportError,
    UnexpectedResponseError,
    ValidationError,
    WeixinKitError,
)

from support import PNG_1X1, log_for, resolve, spec, uid

WECHATPAY = spec("wechatpay.json")
MODIFY_PATH = "/v3/marketing/busifavor/stocks/{stock_id}"
# The document's request example (doc 04), as transcribed into the spec.
DOC_MODIFY_EXAMPLE = WECHATPAY["paths"][MODIFY_PATH]["patch"]["requestBody"]["content"][
    "application/json"
]["examples"]["document"]["value"]


def documented(operation_path: str, method: str, status: int, code: str, description: str):
    """The spec's error-table row for (status, code, description) of an operation."""
    table = WECHATPAY["paths"][operation_path][method]["x-weixin-errors"]
    (row,) = [
        r
        for r in table
        if (r["status"], r["code"], r["description"]) == (status, code, description)
    ]
    return row


def new_stock(sb, **fields) -> str:
    """A fresh stock in the sandbox (12 digits, like 101156451224)."""
    stock_id = str(uuid.uuid4().int)[:12]
    sb.create_stock(stock_id, **fields)
    return stock_id


# -- ModifyStockInfo ---------------------------------------------------------------------------


def test_modify_stock_info_applies_the_documented_example(sb, pay):
    stock_id = new_stock(sb, stock_name=DOC_MODIFY_EXAMPLE["stock_name"])
    args = copy.deepcopy(DOC_MODIFY_EXAMPLE)
    args["out_request_no"] = uid("doc")

    assert resolve(pay.busifavor.modify_stock_info(stock_id=stock_id, **args)) is None

    (entry,) = sb.requests()
    assert entry["method"] == "PATCH"
    assert entry["path"] == f"/v3/marketing/busifavor/stocks/{stock_id}"
    assert entry["operation"] == "ModifyStockInfo"
    assert entry["signature"] == "ok"  # the sandbox verified our Authorization header
    assert entry["status"] == 204
    assert json.loads(entry["body"]) == args  # stock_id went into the path, not the body

    stock = sb.stock(stock_id)
    for field, value in args.items():
        if field != "out_request_no":
            assert stock[field] == value, field
    assert stock["applied_out_request_nos"] == [args["out_request_no"]]


def test_modify_stock_info_sends_only_what_was_given(sb, pay):
    stock_id = new_stock(sb)
    no = uid()
    resolve(
        pay.busifavor.modify_stock_info(
            stock_id=stock_id, out_request_no=no, comment="活动使用", goods_name=None
        )
    )
    (entry,) = log_for(sb, "ModifyStockInfo")
    assert json.loads(entry["body"]) == {"out_request_no": no, "comment": "活动使用"}
    assert sb.stock(stock_id)["comment"] == "活动使用"
    assert "goods_name" not in sb.stock(stock_id)


def test_same_out_request_no_and_body_applies_once(sb, pay):
    stock_id = new_stock(sb)
    no = uid()
    for _ in range(2):
        assert (
            resolve(
                pay.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=no, comment="a")
            )
            is None
        )
    assert sb.counters()["requests"]["ModifyStockInfo"] == 2
    assert sb.stock(stock_id)["applied_out_request_nos"] == [no]


def test_async_calls_run_concurrently_and_each_applies(sb):
    apay = sb.async_pay_client()
    stock_id = new_stock(sb)
    numbers = [uid() for _ in range(12)]

    async def main():
        return await asyncio.gather(
            *[
                apay.busifavor.modify_stock_info(
                    stock_id=stock_id, out_request_no=n, goods_name="x"
                )
                for n in numbers
            ]
        )

    assert asyncio.run(main()) == [None] * len(numbers)
    assert sorted(sb.stock(stock_id)["applied_out_request_nos"]) == sorted(numbers)
    assert all(r["signature"] == "ok" and r["status"] == 204 for r in sb.requests())


def test_async_method_sends_nothing_until_awaited(sb):
    apay = sb.async_pay_client()
    stock_id = new_stock(sb)
    pending = apay.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="c")
    assert sb.requests() == []
    assert asyncio.run(_await(pending)) is None
    assert len(sb.requests()) == 1


async def _await(awaitable):
    return await awaitable


# -- SetCouponNotify ---------------------------------------------------------------------------


def test_set_coupon_notify_registers_the_url(sb, pay):
    url = "https://example.com/wx/coupon-" + uid()
    answer = resolve(pay.busifavor.set_coupon_notify(notify_url=url))

    assert set(answer) == {"notify_url", "mchid", "update_time"}
    assert answer["notify_url"] == url
    assert answer["mchid"] == sb.credentials["mchid"]
    datetime.fromisoformat(answer["update_time"])  # RFC 3339
    assert sb.notify_url() == url
    (entry,) = log_for(sb, "SetCouponNotify")
    assert (entry["method"], entry["path"], entry["signature"], entry["status"]) == (
        "POST",
        "/v3/marketing/busifavor/callbacks",
        "ok",
        200,
    )
    assert json.loads(entry["body"]) == {"notify_url": url}


def test_set_coupon_notify_with_explicit_mchid(sb, pay):
    url = "https://example.com/wx/" + uid()
    mchid = sb.credentials["mchid"]
    answer = resolve(pay.busifavor.set_coupon_notify(notify_url=url, mchid=mchid))
    assert (answer["notify_url"], answer["mchid"]) == (url, mchid)
    assert json.loads(sb.requests()[-1]["body"]) == {"notify_url": url, "mchid": mchid}


def test_set_coupon_notify_documented_errors(sb, pay):
    path, method = "/v3/marketing/busifavor/callbacks", "post"
    with pytest.raises(ApiError) as info:
        resolve(
            pay.busifavor.set_coupon_notify(notify_url="https://example.com/x", mchid="1900000002")
        )
    e = info.value
    row = documented(path, method, 403, "NOAUTH", "无权限")
    assert (e.status, e.code, e.solution, e.retryable) == (403, "NOAUTH", row["solution"], False)
    assert e.request_id == sb.requests()[-1]["request_id"]
    assert sb.notify_url() != "https://example.com/x"

    # The sandbox, like WeChat Pay, wants https (http only to loopback): a 400 with a detail.
    with pytest.raises(ApiError) as info:
        resolve(pay.busifavor.set_coupon_notify(notify_url="http://example.com/plain-http"))
    e = info.value
    assert (e.status, e.code) == (400, "PARAM_ERROR")
    assert e.detail["field"] == "/notify_url"
    assert e.solution == documented(path, method, 400, "PARAM_ERROR", "参数错误")["solution"]


# -- MarketingImageUpload ----------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [bytes, bytearray])
def test_marketing_image_upload(sb, pay, wrap):
    name = uid("img") + ".png"
    answer = resolve(pay.media.marketing_image_upload(filename=name, file=wrap(PNG_1X1)))

    assert set(answer) == {"media_url"}
    (media,) = [m for m in sb.media() if m["filename"] == name]
    assert answer["media_url"] == media["media_url"]
    assert media["sha256"] == hashlib.sha256(PNG_1X1).hexdigest()
    assert media["size"] == len(PNG_1X1)
    (entry,) = log_for(sb, "MarketingImageUpload")
    assert entry["signature"] == "ok" and entry["status"] == 200  # signed over `meta`
    parts = multipart_parts(entry["body"])
    assert [p[0] for p in parts] == [
        'form-data; name="meta"',
        f'form-data; name="file"; filename="{name}"',
    ]
    assert json.loads(parts[0][1]) == {
        "filename": name,
        "sha256": hashlib.sha256(PNG_1X1).hexdigest(),
    }


def multipart_parts(text: str):
    """(Content-Disposition, content) of each part of a multipart body logged as text."""
    boundary = text.split("\r\n", 1)[0]
    assert boundary.startswith("--")
    parts = []
    for chunk in text.split(boundary)[1:-1]:
        head, content = chunk.strip("\r\n").split("\r\n\r\n", 1)
        headers = dict(line.split(": ", 1) for line in head.split("\r\n"))
        parts.append((headers["Content-Disposition"], content))
    return parts


def test_marketing_image_upload_rejected_suffix_has_the_documented_solution(sb, pay):
    with pytest.raises(ApiError) as info:
        resolve(pay.media.marketing_image_upload(filename="anim.gif", file=b"GIF89a"))
    e = info.value
    row = documented(
        "/v3/marketing/favor/media/image-upload", "post", 400, "PARAM_ERROR", "参数错误"
    )
    assert (e.status, e.code, e.msg, e.solution) == (
        400,
        "PARAM_ERROR",
        "参数错误",
        row["solution"],
    )
    assert e.detail["field"] == "/meta/filename"
    assert sb.media() == [] or all(m["filename"] != "anim.gif" for m in sb.media())


# -- notifications -----------------------------------------------------------------------------


def _deliver(sb, receiver, pay, **fields):
    """Register the receiver with SetCouponNotify (through the client under test), make the
    sandbox send a COUPON.SEND notification, and return (report, headers, body)."""
    url = receiver.url("/wx/coupon/" + uid())
    resolve(pay.busifavor.set_coupon_notify(notify_url=url))
    stock_id = new_stock(sb)
    report = sb.send_coupon_notification(stock_id, **fields)
    assert report["delivered"], report
    path, headers, body = receiver.received[-1]
    assert url.endswith(path)
    return report, {k.lower(): v for k, v in headers.items()}, body


def test_parse_notification_public_key_mode(sb, pay, receiver):
    code = uid("c")
    report, headers, body = _deliver(sb, receiver, pay, coupon_code=code, openid="oX1-" + code)
    assert headers["wechatpay-serial"] == sb.credentials["wechatpay_public_key_id"]

    event = resolve(pay.parse_notification(headers, body))

    envelope = report["envelope"]
    assert event["id"] == envelope["id"] == report["id"]
    for key in ("create_time", "event_type", "resource_type", "summary"):
        assert event[key] == envelope[key], key
    assert event["event_type"] == "COUPON.SEND"
    assert event["resource"] == report["payload"]  # decrypted = what the sandbox encrypted
    assert event["resource"]["coupon_code"] == code
    assert event["resource"]["openid"] == "oX1-" + code


def test_parse_notification_takes_any_header_case_and_text_body(sb, pay, receiver):
    report, headers, body = _deliver(sb, receiver, pay)
    title_case = {k.title(): v for k, v in headers.items()}  # Wechatpay-Signature …
    event = resolve(pay.parse_notification(title_case, body.decode("utf-8")))
    assert event["resource"] == report["payload"]


def test_parse_notification_twice_with_a_replay_guard_raises_replay_error(sb, kind, receiver):
    client = (
        sb.pay_client(replay_guard="memory")
        if kind == "sync"
        else sb.async_pay_client(replay_guard="memory")
    )
    code = uid("replay")
    report, headers, body = _deliver(sb, receiver, client, coupon_code=code, openid="oR-" + code)
    assert resolve(client.parse_notification(headers, body))["id"] == report["id"]
    with pytest.raises(weixin_kit.ReplayError) as info:
        resolve(client.parse_notification(headers, body))
    assert info.value.notification_id == report["id"]
    assert code not in str(info.value) and "oR-" + code not in str(info.value)


def test_parse_notification_certificate_mode(sb, kind, receiver):
    # A client with no WeChat Pay public key: it trusts platform certificates, downloaded from
    # /v3/certificates and decrypted with the APIv3 key.
    kwargs = dict(wechatpay_public_key_id=None, wechatpay_public_key=None)
    client = sb.pay_client(**kwargs) if kind == "sync" else sb.async_pay_client(**kwargs)
    sb.set_signing_mode("certificate")
    report, headers, body = _deliver(sb, receiver, client, coupon_code="cert-" + uid())
    assert headers["wechatpay-serial"] == sb.credentials["platform_serial_no"]

    event = resolve(client.parse_notification(headers, body))

    assert event["resource"] == report["payload"]
    assert client.platform_certificate_serials == [sb.credentials["platform_serial_no"]]
    downloads = log_for(sb, "Certificates")
    assert downloads and all(r["method"] == "GET" and r["signature"] == "ok" for r in downloads)


def test_certificate_mode_without_apiv3_key_cannot_verify(sb, receiver):
    sb.set_signing_mode("certificate")
    report, headers, body = _deliver(sb, receiver, sb.pay_client())
    public_key_only = sb.pay_client(apiv3_key=None)
    # No APIv3 key: no notification can be decrypted, whatever signed it.
    with pytest.raises(ConfigError):
        public_key_only.parse_notification(headers, body)


@pytest.mark.parametrize(
    "tamper",
    ["body", "signature_header", "nonce_header", "missing_signature", "unknown_serial"],
)
def test_parse_notification_rejects_tampering(sb, pay, receiver, tamper):
    _, headers, body = _deliver(sb, receiver, pay)
    headers = dict(headers)
    if tamper == "body":
        envelope = json.loads(body)
        envelope["summary"] = "changed"
        body = json.dumps(envelope, ensure_ascii=False).encode()
    elif tamper == "signature_header":
        sig = headers["wechatpay-signature"]
        headers["wechatpay-signature"] = ("A" if sig[0] != "A" else "B") + sig[1:]
    elif tamper == "nonce_header":
        headers["wechatpay-nonce"] = headers["wechatpay-nonce"][::-1]
    elif tamper == "missing_signature":
        del headers["wechatpay-signature"]
    elif tamper == "unknown_serial":
        headers["wechatpay-serial"] = "PUB_KEY_ID_0000000000000000000000000000000000"
    with pytest.raises(SignatureError):
        resolve(pay.parse_notification(headers, body))


def test_parse_notification_takes_header_objects_that_are_not_dicts(sb, pay, receiver):
    import collections.abc
    import email.message

    report, headers, body = _deliver(sb, receiver, pay)
    message = email.message.Message()  # what http.server hands a handler as self.headers
    for name, value in headers.items():
        message[name] = value

    class ReadOnly(collections.abc.Mapping):
        def __init__(self, items):
            self._items = dict(items)

        def __getitem__(self, key):
            return self._items[key]

        def __iter__(self):
            return iter(self._items)

        def __len__(self):
            return len(self._items)

    for given in (message, ReadOnly(headers)):
        assert (
            resolve(pay.parse_notification(given, bytearray(body)))["resource"] == report["payload"]
        )


@pytest.mark.parametrize("fault", ["tamper_signature", "stale_timestamp"])
def test_parse_notification_rejects_what_the_sandbox_spoils(sb, pay, receiver, fault):
    _, headers, body = _deliver(sb, receiver, pay, **{fault: True})
    with pytest.raises(SignatureError):
        resolve(pay.parse_notification(headers, body))


def test_parse_notification_rejects_a_resource_that_does_not_decrypt(sb, pay, receiver):
    # Decrypting with another APIv3 key: the AES-GCM tag does not verify.
    _, headers, body = _deliver(sb, receiver, pay)
    other = sb.pay_client(apiv3_key="0" * 32)
    with pytest.raises(SignatureError):
        other.parse_notification(headers, body)


# -- the escape hatch --------------------------------------------------------------------------


def test_request_escape_hatch_get(sb, pay):
    answer = resolve(pay.request("GET", "/v3/certificates"))
    (entry,) = sb.requests()
    assert (entry["method"], entry["path"], entry["signature"], entry["status"]) == (
        "GET",
        "/v3/certificates",
        "ok",
        200,
    )
    assert entry["body"] == ""
    assert [c["serial_no"] for c in answer["data"]] == [sb.credentials["platform_serial_no"]]


def test_request_escape_hatch_patch_changes_the_stock(sb, pay):
    stock_id = new_stock(sb)
    body = {"out_request_no": uid(), "goods_name": "xxx商品使用"}
    assert resolve(pay.request("PATCH", f"/v3/marketing/busifavor/stocks/{stock_id}", body)) is None
    assert json.loads(sb.requests()[-1]["body"]) == body
    assert sb.stock(stock_id)["goods_name"] == "xxx商品使用"


def test_request_escape_hatch_errors(sb, pay):
    stock_id = new_stock(sb)
    # Nothing validates the body client-side: the sandbox answers 400 with a detail.
    with pytest.raises(ApiError) as info:
        resolve(
            pay.request("PATCH", f"/v3/marketing/busifavor/stocks/{stock_id}", {"comment": "c"})
        )
    e = info.value
    assert (e.status, e.code) == (400, "PARAM_ERROR")
    assert e.detail["field"] == "/out_request_no"
    assert e.request_id == sb.requests()[-1]["request_id"]

    # A path that would not be sent as signed never leaves the process.
    sb.reset_log()
    for path in ("/v3/marketing/busifavor/stocks/with space", "/v3/x/../certificates", "/notv3/x"):
        with pytest.raises(ValidationError) as info:
            resolve(pay.request("GET", path))
        assert info.value.field == "path"
    assert sb.requests() == []


# -- retries, failover, faults -----------------------------------------------------------------


def test_two_system_errors_then_success_sends_the_same_body_three_times(sb, pay):
    stock_id = new_stock(sb)
    no = uid()
    sb.inject_fault("ModifyStockInfo", "system_error", count=2)

    assert (
        resolve(pay.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=no, comment="r"))
        is None
    )

    log = log_for(sb, "ModifyStockInfo")
    assert [r["status"] for r in log] == [500, 500, 204]
    assert [r["faults"] for r in log] == [["system_error"], ["system_error"], []]
    assert {json.loads(r["body"])["out_request_no"] for r in log} == {no}
    assert len({r["body"] for r in log}) == 1  # the same bytes, re-signed
    assert all(r["signature"] == "ok" for r in log)
    assert "backup" in [r["listener"] for r in log]  # 5xx fails over to the backup host
    assert sb.stock(stock_id)["applied_out_request_nos"] == [no]


def test_persistent_system_error_is_an_api_error_after_max_attempts(sb):
    stock_id = new_stock(sb)
    sb.inject_fault("ModifyStockInfo", "system_error")
    for attempts in (1, 3):
        sb.reset_log()
        with pytest.raises(ApiError) as info:
            sb.pay_client(max_attempts=attempts).busifavor.modify_stock_info(
                stock_id=stock_id, out_request_no=uid(), comment="c"
            )
        e = info.value
        row = documented(MODIFY_PATH, "patch", 500, "SYSTEM_ERROR", "系统异常,请稍后重试")
        assert (e.status, e.code, e.retryable, e.solution) == (
            500,
            "SYSTEM_ERROR",
            True,
            row["solution"],
        )
        assert len(sb.requests()) == attempts
        assert e.request_id == sb.requests()[-1]["request_id"]
    assert sb.stock(stock_id)["applied_out_request_nos"] == []


def test_429_is_retried(sb, pay):
    stock_id = new_stock(sb)
    sb.inject_fault("ModifyStockInfo", "frequency_limited", count=1)
    assert (
        resolve(
            pay.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="c")
        )
        is None
    )
    assert [r["status"] for r in sb.requests()] == [429, 204]


def test_429_is_retryable_even_where_the_table_has_no_row(sb, pay):
    # Doc 04's ModifyStockInfo table lists no 429; the protocol still makes it retryable, and the
    # error must say what the client itself did (it retried).
    stock_id = new_stock(sb)
    sb.inject_fault("ModifyStockInfo", "frequency_limited")
    with pytest.raises(ApiError) as info:
        resolve(
            pay.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="c")
        )
    assert (info.value.status, info.value.retryable, info.value.solution) == (429, True, None)
    assert [r["status"] for r in sb.requests()] == [429, 429, 429]


def test_429_after_every_attempt_is_the_documented_frequency_limit(sb, pay):
    sb.inject_fault("SetCouponNotify", "frequency_limited")
    with pytest.raises(ApiError) as info:
        resolve(pay.busifavor.set_coupon_notify(notify_url="https://example.com/" + uid()))
    e = info.value
    row = documented(
        "/v3/marketing/busifavor/callbacks", "post", 429, "FREQUENCY_LIMITED", "频率限制"
    )
    assert (e.status, e.code, e.solution, e.retryable) == (
        429,
        "FREQUENCY_LIMITED",
        row["solution"],
        True,
    )
    assert [r["status"] for r in sb.requests()] == [429, 429, 429]


def test_connection_reset_without_failover_is_a_transport_error(sb, kind):
    kwargs = dict(backup_base_url=None)
    client = sb.pay_client(**kwargs) if kind == "sync" else sb.async_pay_client(**kwargs)
    stock_id = new_stock(sb)
    sb.inject_fault("ModifyStockInfo", "connection_reset")
    with pytest.raises(TransportError) as info:
        resolve(
            client.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="c")
        )
    assert isinstance(info.value, ConnectionError)
    assert info.value.retryable
    log = sb.requests()
    assert len(log) == 3 and {r["listener"] for r in log} == {"main"}
    assert all(r["faults"] == ["connection_reset"] and r["status"] is None for r in log)
    assert sb.stock(stock_id)["applied_out_request_nos"] == []


def test_connection_reset_fails_over_to_the_backup_host(sb, pay):
    stock_id = new_stock(sb)
    sb.inject_fault("ModifyStockInfo", "connection_reset", count=1)
    no = uid()
    assert (
        resolve(pay.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=no, comment="c"))
        is None
    )
    log = sb.requests()
    assert [(r["listener"], r["status"]) for r in log] == [("main", None), ("backup", 204)]
    assert sb.stock(stock_id)["applied_out_request_nos"] == [no]


def test_main_host_down_fails_over(sb, pay):
    stock_id = new_stock(sb)
    sb.set_main_down(True)
    assert (
        resolve(
            pay.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="c")
        )
        is None
    )
    assert [r["listener"] for r in sb.requests()][-1] == "backup"
    assert sb.requests()[0]["faults"] == ["main_down"]


def test_latency_beyond_the_timeout_is_a_timeout_error(sb, kind):
    kwargs = dict(timeout=0.2, max_attempts=2)
    client = sb.pay_client(**kwargs) if kind == "sync" else sb.async_pay_client(**kwargs)
    stock_id = new_stock(sb)
    sb.inject_fault("ModifyStockInfo", "latency", ms=1500)
    with pytest.raises(weixin_kit.TimeoutError) as info:
        resolve(
            client.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="c")
        )
    assert isinstance(info.value, builtins.TimeoutError)
    assert isinstance(info.value, WeixinKitError) and info.value.retryable
    assert weixin_kit.TimeoutError is weixin_kit.errors.TimeoutError
    # The sandbox logs each attempt when it answers, 1.5 s after the client gave up on it: wait
    # for both, or they land in the next test's request log (seen in CI: a stray PATCH there).
    deadline = time.monotonic() + 10
    while len(sb.requests()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(sb.requests()) == 2


@pytest.mark.parametrize("fault", ["tamper_signature", "stale_timestamp"])
def test_response_that_fails_verification_is_a_signature_error(sb, pay, fault):
    stock_id = new_stock(sb)
    sb.inject_fault("ModifyStockInfo", fault)
    with pytest.raises(SignatureError):
        resolve(
            pay.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="c")
        )
    # The request itself was fine and answered 204: only the answer's signature was spoiled.
    assert sb.requests()[0]["status"] == 204 and sb.requests()[0]["faults"] == [fault]


def test_certificate_signed_responses_verify_in_certificate_mode(sb, kind):
    kwargs = dict(wechatpay_public_key_id=None, wechatpay_public_key=None)
    client = sb.pay_client(**kwargs) if kind == "sync" else sb.async_pay_client(**kwargs)
    sb.set_signing_mode("certificate")
    stock_id = new_stock(sb)
    assert (
        resolve(
            client.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="c")
        )
        is None
    )
    assert log_for(sb, "Certificates")
    # A public-key-only client cannot verify a certificate-signed answer.
    with pytest.raises(SignatureError):
        sb.pay_client(apiv3_key=None).busifavor.modify_stock_info(
            stock_id=stock_id, out_request_no=uid(), comment="c"
        )


# -- documented errors -------------------------------------------------------------------------


def test_unknown_stock_is_the_documented_404(sb, pay):
    with pytest.raises(ApiError) as info:
        resolve(
            pay.busifavor.modify_stock_info(stock_id="404404404", out_request_no=uid(), comment="c")
        )
    e = info.value
    row = documented(MODIFY_PATH, "patch", 404, "RESOURCE_NOT_EXISTS", "批次不存在")
    assert row["solution"] == "请检查批次ID后重试"
    assert (e.status, e.code, e.msg, e.solution) == (
        404,
        "RESOURCE_NOT_EXISTS",
        "批次不存在",
        "请检查批次ID后重试",
    )
    assert e.detail is None  # the sandbox's 404 carries no detail object
    assert e.retryable is False and e.retry_after is None
    (entry,) = sb.requests()
    assert e.request_id == entry["request_id"] and e.request_id in str(e)
    assert entry["status"] == 404
    assert isinstance(e, WeixinKitError)


def test_another_creators_stock_is_the_documented_403(sb, pay):
    stock_id = new_stock(sb, creator_mchid="1900000002")
    with pytest.raises(ApiError) as info:
        resolve(
            pay.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="c")
        )
    e = info.value
    row = documented(MODIFY_PATH, "patch", 403, "RULE_LIMIT", "修改流程中仅允许创建方进行操作")
    assert (e.status, e.code, e.msg, e.solution) == (
        403,
        "RULE_LIMIT",
        row["description"],
        row["solution"],
    )
    assert "comment" not in sb.stock(stock_id)


def test_reused_out_request_no_with_another_body_is_refused(sb, pay):
    stock_id = new_stock(sb)
    no = uid()
    resolve(pay.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=no, comment="first"))
    with pytest.raises(ApiError) as info:
        resolve(
            pay.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=no, comment="second")
        )
    assert (info.value.status, info.value.code) == (400, "INVALID_REQUEST")
    assert sb.stock(stock_id)["comment"] == "first"


@pytest.mark.parametrize("stock_id", ["12/34", "批次", "a b", "x?y=1", "%2F"])
def test_stock_id_is_one_percent_encoded_path_segment(sb, pay, stock_id):
    from urllib.parse import quote

    with pytest.raises(ApiError) as info:
        resolve(
            pay.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="c")
        )
    assert (info.value.status, info.value.code) == (404, "RESOURCE_NOT_EXISTS")
    (entry,) = sb.requests()
    assert entry["path"] == "/v3/marketing/busifavor/stocks/" + quote(stock_id, safe="")
    assert entry["operation"] == "ModifyStockInfo" and entry["signature"] == "ok"


@pytest.mark.parametrize("stock_id", ["..", "."])
def test_dot_segment_stock_id_is_refused_before_sending(sb, pay, stock_id):
    # `.`/`..` would be dropped from the URL by the HTTP stack: the request sent would not be the
    # request signed.
    with pytest.raises(ValidationError) as info:
        resolve(
            pay.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="c")
        )
    assert info.value.field == "stock_id"
    assert sb.requests() == []


# -- validation and configuration --------------------------------------------------------------


@pytest.mark.parametrize(
    "args, field, rule_words",
    [
        ({"stock_name": "一" * 22}, "stock_name", "21"),  # 字数上限为21个
        ({"comment": "一" * 21}, "comment", "20"),  # 字数上限为20个
        ({"goods_name": "一" * 16}, "goods_name", "15"),  # 字数上限为15个
        (
            {"custom_entrance": {"mini_programs_info": {"entrance_wordz": "欢迎选购"}}},
            "custom_entrance.mini_programs_info.entrance_wordz",
            "not a field",
        ),
        (
            {"custom_entrance": {"code_display_mode": "STRIPES"}},
            "custom_entrance.code_display_mode",
            "one of",
        ),
        ({"out_request_no": None}, "out_request_no", "required"),
        ({"subsidy": "yes"}, "subsidy", ""),
    ],
)
def test_invalid_input_is_a_validation_error_and_nothing_is_sent(sb, pay, args, field, rule_words):
    stock_id = new_stock(sb)
    call = {"stock_id": stock_id, "out_request_no": uid(), **args}
    with pytest.raises(ValidationError) as info:
        resolve(pay.busifavor.modify_stock_info(**call))
    e = info.value
    assert e.field == field
    assert rule_words in e.rule
    assert field in str(e)
    assert isinstance(e, ValueError)
    assert sb.requests() == []
    assert sb.stock(stock_id)["applied_out_request_nos"] == []


def test_bad_private_key_pem_is_a_config_error(sb):
    bad = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ConfigError) as info:
        sb.pay_client(private_key=bad)
    assert isinstance(info.value, ValueError)
    assert "PKCS#8" in str(info.value) and "PKCS#1" in str(info.value)  # names accepted formats
    for kwargs in (
        {"wechatpay_public_key": "not a pem"},
        {"apiv3_key": "too short"},
        {"wechatpay_public_key": None},  # an id without its key
    ):
        with pytest.raises(ConfigError):
            sb.pay_client(**kwargs)
    with pytest.raises(ConfigError):  # nothing to verify WeChat Pay's answers with
        weixin_kit.PayClient(
            mchid="1900000001", serial_no="X", private_key=sb.credentials["merchant_private_key"]
        )


def test_unexpected_response_error_for_an_answer_without_a_wechat_error_body(sb, pay):
    # GET on a PATCH-only route: the sandbox answers 405 with no WeChat Pay error body.
    stock_id = new_stock(sb)
    with pytest.raises(UnexpectedResponseError) as info:
        resolve(pay.request("GET", f"/v3/marketing/busifavor/stocks/{stock_id}"))
    assert info.value.status == 405 == sb.requests()[-1]["status"]


def test_pem_bytes_are_accepted(sb):
    c = sb.credentials
    client = weixin_kit.PayClient(
        mchid=c["mchid"],
        serial_no=c["serial_no"],
        private_key=c["merchant_private_key"].encode(),
        wechatpay_public_key_id=c["wechatpay_public_key_id"],
        wechatpay_public_key=c["wechatpay_public_key"].encode(),
        base_url=sb.base_url,
    )
    stock_id = new_stock(sb)
    client.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="b")
    assert sb.requests()[-1]["signature"] == "ok"
    assert client.mchid == c["mchid"]


def test_sign_error_carries_the_diagnosis(sb):
    # A mchid that is not the certificate's merchant: the sandbox answers 401 SIGN_ERROR with
    # WeChat's sign_information, and the error says which cause (the core's diagnosis).
    c = sb.credentials
    client = weixin_kit.PayClient(
        mchid="1900000999",
        serial_no=c["serial_no"],
        private_key=c["merchant_private_key"],
        wechatpay_public_key_id=c["wechatpay_public_key_id"],
        wechatpay_public_key=c["wechatpay_public_key"],
        base_url=sb.base_url,
    )
    stock_id = new_stock(sb)
    with pytest.raises(ApiError) as info:
        client.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="b")
    e = info.value
    assert (e.status, e.code) == (401, "SIGN_ERROR")
    d = e.sign_diagnosis
    assert d["cause"] == "wrong_mchid"
    assert d["first_difference"] is None
    assert d["theirs_len"] == e.detail["sign_information"]["sign_message_length"] == d["ours_len"]
    assert "wrong mchid" in str(e)
    assert c["merchant_private_key"].splitlines()[1] not in str(e) + repr(d)
