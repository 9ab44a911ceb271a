#!/usr/bin/env python3
"""Seed inputs for the fuzz targets, from spec/vectors/ (made outside weixin-kit).

    python3 fuzz/make_seeds.py      # writes fuzz/corpus/<target>/* (then minimised with `cargo fuzz cmin`)

Inputs that carry headers are HTTP-like: `Name: value` lines, `@now: <unix seconds>` (the
receiver's clock), an empty line, the body (see core/src/fuzzing.rs). The certificate listings
are made here with Python `cryptography`: the vectors' platform certificate, encrypted with the
vectors' APIv3 key (fixed nonce) and signed with the platform key over TIMESTAMP\\nNONCE\\nBODY\\n.
"""
import base64
import json
import pathlib

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ROOT = pathlib.Path(__file__).resolve().parent.parent
VECTORS = ROOT / "spec" / "vectors"
OUT = ROOT / "fuzz" / "corpus"


def load(name):
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def message(headers, now, body):
    lines = [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"@now: {now}")
    return ("\n".join(lines) + "\n\n").encode() + body


def write(target, name, data):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


keys = load("keys.json")
notification = load("notification.json")
responses = load("response_verification.json")

# response_signature: the response vectors (verified at their own timestamp) and the
# notifications' headers.
for case in responses["cases"]:
    headers = {
        "Wechatpay-Serial": case["serial"],
        "Wechatpay-Signature": case["signature"],
        "Wechatpay-Timestamp": case["timestamp"],
        "Wechatpay-Nonce": case["nonce"],
    }
    write("response_signature", case["name"], message(headers, case["timestamp"], case["body"].encode()))

# notification: every notification vector (ok, tag mismatch, unsupported algorithm, stale …).
for i, case in enumerate(notification["notifications"]):
    data = message(case["headers"], case["now"], case["body"].encode())
    write("notification", f"{i:02}_{case['expect']}", data)
    if case["expect"] == "ok":
        write("response_signature", f"notification_{i:02}", data)

# pem: every PEM of keys.json, and the certificate as DER.
for owner in ("merchant", "platform"):
    for field, value in keys[owner].items():
        if isinstance(value, str) and "-----BEGIN" in value:
            write("pem", f"{owner}_{field}", value.encode())
cert_pem = keys["platform"]["certificate_pem"]
cert_der = base64.b64decode("".join(l for l in cert_pem.splitlines() if not l.startswith("-----")))
write("pem", "platform_certificate_der", cert_der)

# certificate_listing: signed by the public key (verified directly) and by the listed
# certificate (the bootstrap path).
apiv3_key = notification["apiv3_key"].encode()
platform_key = serialization.load_pem_private_key(
    keys["platform"]["private_key_pkcs8_pem"].encode(), password=None
)
serial = keys["platform"]["certificate_serial_no"]
nonce = "certnonce012"
aad = "certificate"
ciphertext = base64.b64encode(AESGCM(apiv3_key).encrypt(nonce.encode(), cert_pem.encode(), aad.encode())).decode()
listing = json.dumps(
    {
        "data": [
            {
                "serial_no": serial,
                "effective_time": "2023-11-01T00:00:00+08:00",
                "expire_time": "2033-11-01T00:00:00+08:00",
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": aad,
                    "ciphertext": ciphertext,
                },
            }
        ]
    },
    separators=(",", ":"),
).encode()
timestamp, response_nonce = "1700002000", "listingnonce0123456789abcdefABCD"
signature = base64.b64encode(
    platform_key.sign(f"{timestamp}\n{response_nonce}\n".encode() + listing + b"\n", padding.PKCS1v15(), hashes.SHA256())
).decode()
for name, by in (("signed_by_public_key", keys["public_key_id"]), ("signed_by_certificate", serial)):
    headers = {
        "Wechatpay-Serial": by,
        "Wechatpay-Signature": signature,
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": response_nonce,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    write("certificate_listing", name, message(headers, timestamp, listing))

# mp_error_body: status byte (even: HTTP 200) + body.
for i, body in enumerate(
    [
        b'{"errcode":0,"errmsg":"ok"}',
        b'{"errcode":85437,"errmsg":"invalid notify_code"}',
        b'{"errcode":-1,"errmsg":"system error"}',
        b'{"errcode":40001,"errmsg":"invalid credential","notify_type":1001}',
        b'{"errcode":9223372036854775807}',
    ]
):
    write("mp_error_body", f"{i:02}", b"\x00" + body)

# json_args: operation index byte + arguments (pay: 0 ModifyStockInfo, 1 SetCouponNotify,
# 2 MarketingImageUpload; mini-program from 3).
write("json_args", "modify_stock_info", b"\x00" + json.dumps({
    "stock_id": "1234567", "out_request_no": "r-1", "comment": "按名调用", "goods_name": None,
    "custom_entrance": {"mini_programs_info": {"mini_programs_appid": "wx234545656765876",
        "mini_programs_path": "/path/index/index", "entrance_words": "进入"}, "code_display_mode": "NOT_SHOW"},
}, ensure_ascii=False).encode())
write("json_args", "set_coupon_notify", b"\x01" + json.dumps({"notify_url": "https://merchant.example.com/cb"}).encode())
write("json_args", "media_upload", b"\x02" + json.dumps({"filename": "logo.png", "file": {"$bytes": "\u0089PNG"}}).encode())
write("json_args", "set_user_notify_ext", b"\x06" + json.dumps({
    "openid": "oUser-client-1", "notify_type": 2001, "notify_code": "4200001855202305090060871147",
    "ext_json": {"st": 1, "et": 2},
}).encode())
write("json_args", "get_stable_access_token", b"\x04" + json.dumps({"grant_type": "client_credential", "appid": "wx1", "secret": "s", "force_refresh": False}).encode())

# component_push: the URL's query string on the first line, then the body (spec/vectors/msg_crypt.json:
# pushes that parse, and pushes that fail each check).
msg_crypt = load("msg_crypt.json")
for group in ("pushes", "bad_pushes"):
    for case in msg_crypt[group]:
        write("component_push", f"{group}_{case['name']}", (case["query"] + "\n" + case["body"]).encode())
