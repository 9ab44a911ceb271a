"""weixin_kit.testing.Sandbox, the in-process WeChat server: lifecycle, credentials, configured
clients, stocks, faults, counters and the request log (with each request's signature verdict,
shown here with requests signed by `requests` + `cryptography`, not by weixin-kit)."""

from __future__ import annotations

import base64
import json
import secrets
import string
import time

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

import weixin_kit
from weixin_kit.testing import Sandbox

from support import uid

DOCUMENTED_CREDENTIALS = {
    "card_appid",
    "card_secret",
    "mchid",
    "serial_no",
    "merchant_private_key",
    "wechatpay_public_key_id",
    "wechatpay_public_key",
    "apiv3_key",
    "appid",
    "secret",
    "platform_serial_no",
    "platform_certificate",
}


def _nonce() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


def signed_by_hand(
    sb, method: str, path: str, body: bytes, *, sign_over: bytes = None, key_pem: str = None
):
    """A WeChat Pay request signed with `cryptography` (the documented algorithm), optionally
    over other bytes than the ones sent, or with another key."""
    c = sb.credentials
    ts, nonce = str(int(time.time())), _nonce()
    signed = body if sign_over is None else sign_over
    message = f"{method}\n{path}\n{ts}\n{nonce}\n".encode() + signed + b"\n"
    key = serialization.load_pem_private_key(
        (key_pem or c["merchant_private_key"]).encode(), password=None
    )
    signature = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    auth = (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{c["mchid"]}",nonce_str="{nonce}",timestamp="{ts}",'
        f'serial_no="{c["serial_no"]}",signature="{signature}"'
    )
    headers = {
        "Authorization": auth,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    return requests.request(method, sb.base_url + path, data=body, headers=headers, timeout=10)


# -- lifecycle ---------------------------------------------------------------------------------


def test_context_manager_closes_and_the_port_refuses_connections():
    with Sandbox() as sb:
        base, backup = sb.base_url, sb.backup_base_url
        assert base.startswith("http://127.0.0.1:") and backup.startswith("http://127.0.0.1:")
        assert base != backup
        assert requests.get(base + "/sandbox/counters", timeout=5).status_code == 200
        assert requests.get(backup + "/sandbox/counters", timeout=5).status_code == 200
        assert not sb.closed
    assert sb.closed
    assert "closed" in repr(sb)
    for url in (base, backup):
        with pytest.raises(requests.ConnectionError):
            requests.get(url + "/sandbox/counters", timeout=5)


def test_close_on_an_exception_inside_with():
    with pytest.raises(RuntimeError):
        with Sandbox() as sb:
            raise RuntimeError("boom")
    assert sb.closed
    with pytest.raises(requests.ConnectionError):
        requests.get(sb.base_url + "/sandbox/counters", timeout=5)


def test_two_sandboxes_are_independent():
    with Sandbox() as a, Sandbox() as b:
        assert a.base_url != b.base_url
        assert a.credentials["merchant_private_key"] != b.credentials["merchant_private_key"]
        a.create_stock("1000001")
        assert a.stock("1000001") is not None and b.stock("1000001") is None


# -- credentials and configured clients --------------------------------------------------------


def test_credentials_are_exactly_the_documented_keys(sb):
    c = sb.credentials
    assert set(c) == DOCUMENTED_CREDENTIALS
    assert c["merchant_private_key"].startswith("-----BEGIN ")
    assert "PRIVATE KEY-----" in c["merchant_private_key"]
    assert c["wechatpay_public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert c["platform_certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert c["wechatpay_public_key_id"].startswith("PUB_KEY_ID_")
    assert len(c["apiv3_key"].encode()) == 32
    assert c["mchid"].isdigit() and c["appid"].startswith("wx")
    # The same identity the control API hands out (the names there are the binary's).
    raw = requests.get(sb.base_url + "/sandbox/credentials", timeout=5).json()
    assert raw["mchid"] == c["mchid"] and raw["apiv3_key"] == c["apiv3_key"]
    assert raw["wechatpay_public_key_id"] == c["wechatpay_public_key_id"]


def test_pay_client_is_configured_for_the_sandbox(sb):
    pay = sb.pay_client()
    assert isinstance(pay, weixin_kit.PayClient)
    assert pay.mchid == sb.credentials["mchid"]
    text = repr(pay)
    assert sb.base_url in text and sb.credentials["wechatpay_public_key_id"] in text
    stock = sb.create_stock(uid("9")[:12])
    pay.busifavor.modify_stock_info(stock_id=stock["stock_id"], out_request_no=uid(), comment="c")
    (entry,) = sb.requests()
    assert entry["signature"] == "ok" and entry["listener"] == "main"
    assert isinstance(sb.async_pay_client(), weixin_kit.AsyncPayClient)
    # Overrides replace a setting.
    assert sb.pay_client(mchid="1900000009").mchid == "1900000009"


def test_mp_client_is_configured_for_the_sandbox(sb):
    mp = sb.mp_client()
    assert isinstance(mp, weixin_kit.MiniProgramClient)
    assert mp.appid == sb.credentials["appid"]
    token = mp.access_token()
    assert token and len(sb.requests()) == 1
    assert sb.requests()[0]["operation"] == "getStableAccessToken"
    assert isinstance(sb.async_mp_client(), weixin_kit.AsyncMiniProgramClient)


def test_one_base_url_serves_pay_and_mini_program_routes(sb):
    c = sb.credentials
    token = requests.post(
        sb.base_url + "/cgi-bin/stable_token",
        json={"grant_type": "client_credential", "appid": c["appid"], "secret": c["secret"]},
        timeout=5,
    ).json()
    assert token["access_token"] and token["expires_in"] > 0
    answer = signed_by_hand(sb, "GET", "/v3/certificates", b"")
    assert (
        answer.status_code == 200
        and answer.json()["data"][0]["serial_no"] == c["platform_serial_no"]
    )
    assert [r["operation"] for r in sb.requests()] == ["getStableAccessToken", "Certificates"]
    assert {r["listener"] for r in sb.requests()} == {"main"}


# -- stocks ------------------------------------------------------------------------------------


def test_create_stock_with_fields(sb):
    stock_id = uid("8")[:12]
    stock = sb.create_stock(
        stock_id, stock_name="8月1日活动券", comment="初始", goods_name="商品", subsidy=False
    )
    assert stock["stock_id"] == stock_id
    assert (stock["stock_name"], stock["comment"], stock["goods_name"], stock["subsidy"]) == (
        "8月1日活动券",
        "初始",
        "商品",
        False,
    )
    assert stock["creator_mchid"] == sb.credentials["mchid"]
    assert stock["applied_out_request_nos"] == []
    assert sb.stock(stock_id) == stock
    assert stock_id in [s["stock_id"] for s in sb.stocks()]
    assert sb.stock("no-such-stock") is None


def test_create_stock_defaults_and_generated_id(sb):
    stock = sb.create_stock()
    assert stock["stock_id"] and stock["stock_name"] == "沙箱测试券"
    assert sb.stock(stock["stock_id"]) == stock


def test_a_stock_changed_by_a_hand_signed_request(sb):
    stock_id = sb.create_stock()["stock_id"]
    no = uid()
    body = json.dumps({"out_request_no": no, "comment": "活动使用"}, ensure_ascii=False).encode()
    answer = signed_by_hand(sb, "PATCH", f"/v3/marketing/busifavor/stocks/{stock_id}", body)
    assert answer.status_code == 204
    assert sb.stock(stock_id)["comment"] == "活动使用"
    assert sb.counters()["applied_out_request_nos"][stock_id] == [no]


# -- the request log and signature verdicts ----------------------------------------------------


def test_request_log_records_a_failed_signature_verdict(sb):
    stock_id = sb.create_stock()["stock_id"]
    path = f"/v3/marketing/busifavor/stocks/{stock_id}"
    good = json.dumps({"out_request_no": uid(), "comment": "a"}).encode()

    ok = signed_by_hand(sb, "PATCH", path, good)
    tampered = signed_by_hand(sb, "PATCH", path, good.replace(b'"a"', b'"b"'), sign_over=good)
    other = another_private_key()
    wrong_key = signed_by_hand(sb, "PATCH", path, good, key_pem=other)

    assert ok.status_code == 204
    for bad in (tampered, wrong_key):
        assert bad.status_code == 401 and bad.json()["code"] == "SIGN_ERROR"
    log = sb.requests()
    assert [r["seq"] for r in log] == sorted(r["seq"] for r in log)
    assert [r["status"] for r in log] == [204, 401, 401]
    assert log[0]["signature"] == "ok"
    assert log[1]["signature"] != "ok" and log[2]["signature"] != "ok"
    assert log[1]["body"] == good.replace(b'"a"', b'"b"').decode()  # the bytes received
    for r in log:
        assert (r["method"], r["path"], r["operation"], r["listener"]) == (
            "PATCH",
            path,
            "ModifyStockInfo",
            "main",
        )
        assert r["request_id"] and r["time"] and r["faults"] == []
    assert sb.stock(stock_id)["comment"] == "a"  # only the well-signed request applied
    assert sb.counters()["requests"]["ModifyStockInfo"] == 3


def another_private_key() -> str:
    """Another RSA-2048 private key (from cryptography): the sandbox must refuse its signatures."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def test_reset_log_clears_the_log_and_counters_but_keeps_stocks(sb):
    stock_id = sb.create_stock()["stock_id"]
    sb.pay_client().busifavor.modify_stock_info(
        stock_id=stock_id, out_request_no=uid(), comment="c"
    )
    assert sb.requests() and sb.counters()["requests"] == {"ModifyStockInfo": 1}
    sb.reset_log()
    assert sb.requests() == []
    assert sb.counters()["requests"] == {}
    assert sb.stock(stock_id)["comment"] == "c"


# -- faults ------------------------------------------------------------------------------------


def test_inject_fault_list_count_and_clear(sb):
    first = sb.inject_fault("ModifyStockInfo", "system_error", count=2)
    second = sb.inject_fault(
        path_prefix="/v3/marketing/busifavor/callbacks", kind="frequency_limited"
    )
    assert first != second
    faults = {f["id"]: f for f in sb.faults()}
    assert faults[first]["operation"] == "ModifyStockInfo" and faults[first]["remaining"] == 2
    assert faults[first]["kind"] == "system_error"
    assert faults[second]["path_prefix"] == "/v3/marketing/busifavor/callbacks"

    stock_id = sb.create_stock()["stock_id"]
    body = json.dumps({"out_request_no": uid(), "comment": "c"}).encode()
    assert (
        signed_by_hand(sb, "PATCH", f"/v3/marketing/busifavor/stocks/{stock_id}", body).status_code
        == 500
    )
    assert {f["id"]: f for f in sb.faults()}[first]["remaining"] == 1
    assert (
        signed_by_hand(sb, "PATCH", f"/v3/marketing/busifavor/stocks/{stock_id}", body).status_code
        == 500
    )
    assert first not in {f["id"] for f in sb.faults()}  # used up
    assert (
        signed_by_hand(sb, "PATCH", f"/v3/marketing/busifavor/stocks/{stock_id}", body).status_code
        == 204
    )
    notify = json.dumps({"notify_url": "https://example.com/x"}).encode()
    assert (
        signed_by_hand(sb, "POST", "/v3/marketing/busifavor/callbacks", notify).status_code == 429
    )
    assert [r["faults"] for r in sb.requests()] == [
        ["system_error"],
        ["system_error"],
        [],
        ["frequency_limited"],
    ]
    sb.clear_faults()
    assert sb.faults() == []
    assert (
        signed_by_hand(sb, "POST", "/v3/marketing/busifavor/callbacks", notify).status_code == 200
    )


def test_inject_fault_without_operation_matches_everything(sb):
    sb.inject_fault(kind="system_error", count=2)
    c = sb.credentials
    answer = requests.post(
        sb.base_url + "/cgi-bin/stable_token",
        json={"grant_type": "client_credential", "appid": c["appid"], "secret": c["secret"]},
        timeout=5,
    )
    assert answer.status_code == 500
    assert signed_by_hand(sb, "GET", "/v3/certificates", b"").status_code == 500
    assert signed_by_hand(sb, "GET", "/v3/certificates", b"").status_code == 200


def test_main_down_and_signing_mode(sb):
    sb.set_main_down(True)
    with pytest.raises(requests.ConnectionError):
        signed_by_hand(sb, "GET", "/v3/certificates", b"")
    backup = requests.get(sb.backup_base_url + "/sandbox/counters", timeout=5)
    assert backup.status_code == 200
    sb.set_main_down(False)

    for mode, serial in (
        ("certificate", "platform_serial_no"),
        ("public_key", "wechatpay_public_key_id"),
    ):
        sb.set_signing_mode(mode)
        answer = signed_by_hand(sb, "GET", "/v3/certificates", b"")
        assert answer.headers["Wechatpay-Serial"] == sb.credentials[serial]


def test_counters_shape(sb):
    counters = sb.counters()
    assert set(counters) >= {"requests", "applied_out_request_nos", "notifications", "mp"}
    assert set(counters["notifications"]) == {"sent", "delivered", "attempts"}
    assert set(sb.mp_counters()) >= {
        "tokens_issued",
        "stable_tokens_issued",
        "tickets_issued",
        "calls",
    }


# -- notifications and the mini-program side ---------------------------------------------------


def test_send_coupon_notification_reports_its_delivery(sb, receiver):
    sb.pay_client().busifavor.set_coupon_notify(notify_url=receiver.url("/n"))
    assert sb.notify_url() == receiver.url("/n")
    stock_id = sb.create_stock()["stock_id"]
    report = sb.send_coupon_notification(stock_id, coupon_code="123446565767")
    assert report["delivered"] and report["notify_url"] == receiver.url("/n")
    assert [a["status"] for a in report["attempts"]] == [200]
    assert (
        report["payload"]["stock_id"] == stock_id
        and report["payload"]["coupon_code"] == "123446565767"
    )
    ((path, headers, body),) = receiver.received
    assert path == "/n" and json.loads(body) == report["envelope"]
    assert sb.notifications()[-1]["id"] == report["id"]
    assert sb.counters()["notifications"]["delivered"] == 1

    # A receiver that keeps failing: retried, then reported undelivered.
    receiver.status = 500
    report = sb.send_coupon_notification(stock_id, max_attempts=2, interval_ms=10)
    assert not report["delivered"] and [a["status"] for a in report["attempts"]] == [500, 500]


def test_mini_program_controls(sb):
    openid, code = uid("o"), uid("c")
    sb.mp_add_user(openid)
    sb.mp_add_notify_code(openid, 1003, code)
    assert sb.mp_notify_ext(openid, code)["count"] == 0
    assert sb.mp_notify_ext(openid, "unknown") is None
    mp = sb.mp_client()
    mp.service_card.set_user_notify_ext(
        openid=openid, notify_type=1003, notify_code=code, ext_json={"k": "v"}
    )
    assert json.loads(sb.mp_notify_ext(openid, code)["ext_json"]) == {"k": "v"}

    sb.mp_add_errcode_fault("*", 45009, count=1)
    with pytest.raises(weixin_kit.MiniProgramError) as info:
        mp.service_card.set_user_notify_ext(
            openid=openid, notify_type=1003, notify_code=code, ext_json={}
        )
    assert info.value.errcode == 45009
    sb.mp_add_errcode_fault("/wxa/set_user_notifyext", 85436)
    sb.mp_clear_errcode_faults()
    mp.service_card.set_user_notify_ext(
        openid=openid, notify_type=1003, notify_code=code, ext_json={}
    )

    encrypted = sb.mp_encrypt_card_code("pFS7Fjg8kV1IdDz01r4SQwMkuCKc", "110201201245")
    assert encrypted != "110201201245"
    assert mp.card.decrypt_card_code(encrypt_code=encrypted)["code"] == "110201201245"


# -- as a pytest fixture -----------------------------------------------------------------------


@pytest.fixture
def sandbox_fixture():
    with Sandbox() as sb:
        yield sb


def test_usable_as_a_pytest_fixture(sandbox_fixture):
    sandbox_fixture.create_stock("101156451224", stock_name="8月1日活动券")
    pay = sandbox_fixture.pay_client()
    pay.busifavor.modify_stock_info(
        stock_id="101156451224", out_request_no="r-1", comment="活动使用"
    )
    assert sandbox_fixture.counters()["requests"]["ModifyStockInfo"] == 1
    assert sandbox_fixture.stock("101156451224")["comment"] == "活动使用"
