"""The sandbox driven by implementations that are not ours: requests signed with Python
`cryptography`, and the published `wechatpayv3` SDK from PyPI. If these pass, the sandbox verifies
and signs the way WeChat Pay documents it, independently of weixin-kit's own signer."""
import base64
import json
import secrets
import string
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from wechatpayv3 import WeChatPay, WeChatPayType


def sign(private_pem: str, message: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(public_pem: str, message: str, signature: str) -> None:
    key = serialization.load_pem_public_key(public_pem.encode())
    key.verify(base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256())


def nonce() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


def signed_request(sb, method: str, path: str, body: bytes, *, timestamp=None, tamper_body=None):
    c = sb.credentials
    ts = str(timestamp or int(time.time()))
    n = nonce()
    message = f"{method}\n{path}\n{ts}\n{n}\n{body.decode()}\n"
    auth = (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{c["mchid"]}",nonce_str="{n}",timestamp="{ts}",'
        f'serial_no="{c["merchant_serial_no"]}",signature="{sign(c["merchant_private_key_pem"], message)}"'
    )
    sent = tamper_body if tamper_body is not None else body
    headers = {"Authorization": auth, "Content-Type": "application/json", "Accept": "application/json"}
    return requests.request(method, sb.base_url + path, data=sent, headers=headers, timeout=10)


def verify_response(sb, resp) -> None:
    c = sb.credentials
    assert resp.headers["Wechatpay-Serial"] == c["wechatpay_public_key_id"]
    message = f'{resp.headers["Wechatpay-Timestamp"]}\n{resp.headers["Wechatpay-Nonce"]}\n{resp.text}\n'
    verify(c["wechatpay_public_key_pem"], message, resp.headers["Wechatpay-Signature"])


def new_stock(sb, **fields) -> str:
    return sb.control("POST", "/sandbox/stocks", {"stock_name": "8月1日活动券", **fields})["stock_id"]


def test_cryptography_signed_modify_stock_info_is_applied_and_the_204_is_signed(public_key_mode):
    sb = public_key_mode
    stock_id = new_stock(sb)
    body = json.dumps({"out_request_no": "py" + nonce()[:20], "comment": "活动使用"}, ensure_ascii=False).encode()
    resp = signed_request(sb, "PATCH", f"/v3/marketing/busifavor/stocks/{stock_id}", body)
    assert resp.status_code == 204, resp.text
    assert resp.text == ""
    verify_response(sb, resp)  # raises InvalidSignature when wrong
    assert sb.control("GET", f"/sandbox/stocks/{stock_id}")["comment"] == "活动使用"


def test_cryptography_signed_set_coupon_notify(public_key_mode):
    sb = public_key_mode
    body = json.dumps({"mchid": sb.credentials["mchid"], "notify_url": "https://example.com/wx/notify"}).encode()
    resp = signed_request(sb, "POST", "/v3/marketing/busifavor/callbacks", body)
    assert resp.status_code == 200, resp.text
    verify_response(sb, resp)
    assert resp.json()["notify_url"] == "https://example.com/wx/notify"


def test_tampered_body_is_rejected_with_the_expected_signing_string(public_key_mode):
    sb = public_key_mode
    stock_id = new_stock(sb)
    path = f"/v3/marketing/busifavor/stocks/{stock_id}"
    signed = json.dumps({"out_request_no": "t" + nonce()[:20], "comment": "a"}).encode()
    tampered = signed.replace(b'"a"', b'"b"')
    resp = signed_request(sb, "PATCH", path, signed, tamper_body=tampered)
    assert resp.status_code == 401
    err = resp.json()
    assert err["code"] == "SIGN_ERROR"
    # The diagnostic shows what the sandbox signed over: the bytes it received.
    assert tampered.decode() in json.dumps(err["detail"], ensure_ascii=False).replace("\\n", "\n").replace('\\"', '"')


def test_stale_timestamp_is_rejected(public_key_mode):
    sb = public_key_mode
    stock_id = new_stock(sb)
    body = json.dumps({"out_request_no": "s" + nonce()[:20]}).encode()
    resp = signed_request(sb, "PATCH", f"/v3/marketing/busifavor/stocks/{stock_id}", body,
                          timestamp=int(time.time()) - 6 * 60)
    assert resp.status_code == 401
    assert resp.json()["code"] == "SIGN_ERROR"


def wechatpayv3_client(sb, *, public_key: bool) -> WeChatPay:
    c = sb.credentials
    extra = {"public_key": c["wechatpay_public_key_pem"], "public_key_id": c["wechatpay_public_key_id"]} if public_key else {}
    # The SDK hard-codes api.mch.weixin.qq.com and, in certificate mode, downloads certificates
    # inside its constructor: point it at the sandbox before that first request.
    import wechatpayv3.core as core
    original = core.Core._init_certificates

    def init_certificates(self):
        self._gate_way = sb.base_url
        original(self)

    core.Core._init_certificates = init_certificates
    try:
        pay = WeChatPay(
            wechatpay_type=WeChatPayType.MINIPROG,
            mchid=c["mchid"],
            private_key=c["merchant_private_key_pem"],
            cert_serial_no=c["merchant_serial_no"],
            appid=c["appid"],
            apiv3_key=c["apiv3_key"],
            **extra,
        )
    finally:
        core.Core._init_certificates = original
    pay._core._gate_way = sb.base_url
    return pay


def test_wechatpayv3_public_key_mode_modify_stock_and_set_callback(public_key_mode):
    sb = public_key_mode
    pay = wechatpayv3_client(sb, public_key=True)
    stock_id = new_stock(sb)
    # wechatpayv3 raises 'failed to verify the signature' if the sandbox's response signature is off.
    code, _ = pay.marketing_busifavor_stock_modify(stock_id=stock_id, out_request_no="v3" + nonce()[:20], comment="活动使用")
    assert code == 204
    code, text = pay.marketing_busifavor_callback_update(notify_url="https://example.com/wechatpayv3")
    assert code == 200, text
    assert json.loads(text)["notify_url"] == "https://example.com/wechatpayv3"


def test_wechatpayv3_certificate_mode_downloads_and_verifies(certificate_mode):
    sb = certificate_mode
    pay = wechatpayv3_client(sb, public_key=False)  # downloads /v3/certificates, decrypts with the APIv3 key
    serials = {hex(cert.serial_number)[2:].upper() for cert in pay._core._certificates}
    assert sb.credentials["platform_serial_no"].upper().lstrip("0") in {s.lstrip("0") for s in serials}
    stock_id = new_stock(sb)
    code, _ = pay.marketing_busifavor_stock_modify(stock_id=stock_id, out_request_no="c" + nonce()[:20], goods_name="xxx商品使用")
    assert code == 204


class _Receiver(BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_coupon_notification_is_accepted_by_wechatpayv3(public_key_mode):
    sb = public_key_mode
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/wx/coupon"
        pay = wechatpayv3_client(sb, public_key=True)
        code, text = pay.marketing_busifavor_callback_update(notify_url=url)
        assert code == 200, text
        stock_id = new_stock(sb)
        report = sb.control("POST", "/sandbox/notifications/coupon",
                            {"stock_id": stock_id, "coupon_code": "123446565767", "openid": "oX1"})
        assert _Receiver.received, report
        headers, body = _Receiver.received[-1]
        event = pay.callback(headers, body)  # verifies the signature, then decrypts
        assert event is not None, "wechatpayv3 rejected the notification's signature"
        resource = event["resource"]
        assert resource["stock_id"] == stock_id
        assert resource["coupon_code"] == "123446565767"
        # And by hand, with the documented algorithm: AES-256-GCM, key = APIv3 key.
        r = json.loads(body)["resource"]
        plain = AESGCM(sb.credentials["apiv3_key"].encode()).decrypt(
            r["nonce"].encode(), base64.b64decode(r["ciphertext"]), r["associated_data"].encode())
        assert json.loads(plain)["openid"] == "oX1"
    finally:
        server.shutdown()
