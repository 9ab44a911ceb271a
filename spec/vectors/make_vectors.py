#!/usr/bin/env python3
"""Writes the WeChat Pay APIv3 crypto test vectors in spec/vectors/*.json.

The vectors are made outside weixin-kit, with Python's `cryptography` package and the `openssl`
command-line tool, so that every language's implementation is checked against an independent one.
See README.md beside this file for the format.

    python3 spec/vectors/make_vectors.py           # rewrite the JSON from the fixed keys
    python3 spec/vectors/make_vectors.py --new-keys  # also make new keys and a new certificate

The keys and the certificate are made once (with the openssl CLI) and kept in keys.json; a rerun
reuses them, and everything else is a deterministic function of them except RSA-OAEP ciphertexts
(randomized by design), which are kept as long as they still decrypt. So a rerun without
--new-keys reproduces the committed files byte for byte.
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))

# Identities used throughout (made up, in WeChat's formats).
MCHID = "1900009191"
MERCHANT_SERIAL_NO = "3775B6A45ACD588826D15E583A95F5DD8A4D1A5C"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000091912025112300000000000001"
# 15 bytes, high bit set: the DER INTEGER gets a 0x00 sign byte that WeChat does not print.
CERT_SERIAL = "F2A6C0E1B3D5978A6C4E2013579BDF"
APIV3_KEY = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"  # 32 ASCII bytes

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"


def run(*args, input=None):
    return subprocess.run(args, input=input, capture_output=True, check=True).stdout


def write_json(name, value):
    path = os.path.join(HERE, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=2)
        f.write("\n")
    print("wrote", os.path.relpath(path))


def read_json(name):
    path = os.path.join(HERE, name)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def b64(data):
    return base64.b64encode(data).decode()


# ----------------------------------------------------------------------------------------------
# Keys and certificate (openssl CLI)


def new_keys():
    with tempfile.TemporaryDirectory() as tmp:
        out = {}
        for who in ("merchant", "platform"):
            key = os.path.join(tmp, f"{who}.pem")
            run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key)
            out[who] = {
                "private_key_pkcs8_pem": open(key).read(),
                "private_key_pkcs1_pem": run("openssl", "rsa", "-in", key, "-traditional").decode(),
                "public_key_spki_pem": run("openssl", "pkey", "-in", key, "-pubout").decode(),
                "public_key_pkcs1_pem": run("openssl", "rsa", "-in", key, "-RSAPublicKey_out").decode(),
            }
        cert = run(
            "openssl", "req", "-x509", "-new", "-key", os.path.join(tmp, "platform.pem"),
            "-subj", "/C=CN/O=weixin-kit test vectors/CN=Test WeChat Pay Platform Certificate",
            "-set_serial", "0x" + CERT_SERIAL, "-days", "3650", "-sha256",
        ).decode()
        out["platform"]["certificate_pem"] = cert
        return out


def describe_keys(raw):
    """The keys.json document: the PEMs plus facts about them computed by openssl/cryptography."""
    cert_pem = raw["platform"]["certificate_pem"]
    # The serial as openssl prints it (upper-case hex, no sign byte) is WeChat's format.
    serial = run("openssl", "x509", "-noout", "-serial", input=cert_pem.encode()).decode().strip()
    assert serial.startswith("serial="), serial
    serial = serial[len("serial="):]
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    assert serial == CERT_SERIAL and format(cert.serial_number, "X") == serial
    doc = {
        "description": "Fixed RSA-2048 keys made with `openssl genpkey`; the platform certificate "
        "is self-signed with `openssl req -x509 -set_serial`. merchant = the merchant API key "
        "(signs requests). platform = WeChat Pay's key (signs responses and notifications), "
        "known both as the WeChat Pay public key `public_key_id` and through the platform "
        "certificate `certificate_serial_no`.",
        "mchid": MCHID,
        "merchant_serial_no": MERCHANT_SERIAL_NO,
        "public_key_id": PUBLIC_KEY_ID,
        "merchant": raw["merchant"],
        "platform": dict(raw["platform"]),
    }
    doc["platform"]["certificate_serial_no"] = serial
    doc["platform"]["certificate_not_before"] = int(cert.not_valid_before_utc.timestamp())
    doc["platform"]["certificate_not_after"] = int(cert.not_valid_after_utc.timestamp())
    # Both private encodings are the same key; both public encodings match it.
    for who in ("merchant", "platform"):
        k8 = serialization.load_pem_private_key(doc[who]["private_key_pkcs8_pem"].encode(), None)
        k1 = serialization.load_pem_private_key(doc[who]["private_key_pkcs1_pem"].encode(), None)
        assert k8.private_numbers() == k1.private_numbers()
        spki = serialization.load_pem_public_key(doc[who]["public_key_spki_pem"].encode())
        pkcs1 = serialization.load_pem_public_key(doc[who]["public_key_pkcs1_pem"].encode())
        assert spki.public_numbers() == pkcs1.public_numbers() == k8.public_key().public_numbers()
        assert k8.key_size == 2048
    assert cert.public_key().public_numbers() == serialization.load_pem_public_key(
        doc["platform"]["public_key_spki_pem"].encode()).public_numbers()
    return doc


def private_key(keys, who):
    return serialization.load_pem_private_key(keys[who]["private_key_pkcs8_pem"].encode(), None)


def sign(keys, who, message):
    """RSASSA-PKCS1-v1_5 SHA-256 with cryptography, cross-checked with `openssl dgst -sign`."""
    sig = private_key(keys, who).sign(message, padding.PKCS1v15(), hashes.SHA256())
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as kf:
        kf.write(keys[who]["private_key_pkcs8_pem"])
        kf.flush()
        assert run("openssl", "dgst", "-sha256", "-sign", kf.name, input=message) == sig
    return sig


# ----------------------------------------------------------------------------------------------
# Request signing


def request_cases(keys):
    modify_body = json.dumps(
        {
            "out_request_no": "1002600620019090123143254435",
            "stock_name": "微信支付商家券·满100减10",
            "comment": "仅限门店使用,不可叠加",
            "display_pattern_info": {"description": "每人限领1张;有效期内可用", "merchant_name": "微信支付测试商户"},
            "coupon_use_rule": {"use_method": "OFF_LINE"},
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    notify_body = json.dumps(
        {"mchid": MCHID, "notify_url": "https://merchant.example.com/wechatpay/notify?src=coupon"},
        separators=(",", ":"),
    )
    specs = [
        ("get_with_query", "GET",
         "/v3/marketing/busifavor/users/oUpF8uMuAJO_M2pxb1Q9zNjWeS6o/coupons?appid=wx233544546545989&stock_id=9865000&limit=10&offset=0",
         "", 1700000000, "593BEC0C930BF1AFEB40B4A08C8FB242"),
        ("patch_json_chinese", "PATCH", "/v3/marketing/busifavor/stocks/128888000000001", modify_body,
         1700000123, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
        ("post_empty_body", "POST", "/v3/marketing/busifavor/stocks/128888000000001/restock", "",
         1700000456, "H7Z2mQ0pX9vR4sT6uW8yA1bC3dE5fG7h"),
        ("post_json", "POST", "/v3/marketing/busifavor/callbacks", notify_body,
         1700000789, "qwertyuiopASDFGHJKLzxcvbnm012345"),
    ]
    cases = []
    for name, method, url, body, ts, nonce in specs:
        signing_string = f"{method}\n{url}\n{ts}\n{nonce}\n{body}\n"
        sig = b64(sign(keys, "merchant", signing_string.encode()))
        cases.append({
            "name": name,
            "method": method,
            "url": url,
            "body": body,
            "timestamp": ts,
            "nonce": nonce,
            "signing_string": signing_string,
            "signature": sig,
            "authorization": f'{SIGNATURE_TYPE} mchid="{MCHID}",nonce_str="{nonce}",timestamp="{ts}",'
                             f'serial_no="{MERCHANT_SERIAL_NO}",signature="{sig}"',
        })
    return cases


# ----------------------------------------------------------------------------------------------
# Response verification


def response_cases(keys):
    serial_cert = keys["platform"]["certificate_serial_no"]
    stock_body = json.dumps(
        {"stock_id": "128888000000001", "stock_name": "满100减10", "stock_state": "RUNNING"},
        ensure_ascii=False, separators=(",", ":"),
    )
    specs = [
        ("json_public_key_mode", PUBLIC_KEY_ID, 1700001000, "yx7rIuEhJQ9KZlHrGzQ2VlDXJbYtAbPa", stock_body),
        ("no_content_204_certificate_mode", serial_cert, 1700001001, "kH2Ms9cXrq0Tn3aJ5pW8bLz6vE1dF4gY", ""),
        ("json_certificate_mode", serial_cert, 1700001002, "Nq8Rt2Wv6Yx0Za4Bc8De2Fg6Hi0Jk4Lm",
         '{"code":"SUCCESS","message":"成功"}'),
    ]
    cases = []
    for name, serial, ts, nonce, body in specs:
        message = f"{ts}\n{nonce}\n{body}\n"
        sig = b64(sign(keys, "platform", message.encode()))
        cases.append({"name": name, "serial": serial, "timestamp": ts, "nonce": nonce, "body": body,
                      "signature": sig, "valid": True})
    # Tampered: the first case's signature over a changed body / timestamp / nonce.
    first = cases[0]
    cases.append(dict(first, name="tampered_body", body=first["body"].replace("RUNNING", "PAUSED"), valid=False))
    cases.append(dict(first, name="tampered_timestamp", timestamp=first["timestamp"] + 1, valid=False))
    cases.append(dict(cases[1], name="tampered_empty_body", body=" ", valid=False))
    # Signed by the merchant key instead of WeChat's.
    message = f"{first['timestamp']}\n{first['nonce']}\n{first['body']}\n"
    cases.append(dict(first, name="wrong_key", signature=b64(sign(keys, "merchant", message.encode())), valid=False))
    return cases


# ----------------------------------------------------------------------------------------------
# Notifications (AEAD_AES_256_GCM)


def seal(key, nonce, aad, plaintext):
    return b64(AESGCM(key.encode()).encrypt(nonce.encode(), plaintext.encode(), aad.encode()))


def aead_cases():
    coupon_event = json.dumps(
        {
            "event_type": "EVENT_TYPE_BUSICOUPON_SEND",
            "coupon_code": "sxxe34343434",
            "stock_id": "1234567890",
            "send_time": "2019-12-12T16:54:38+08:00",
            "openid": "oDF3iY9P32sK_5GgYiRkjsCo45bk",
            "unionid": "oDF3iY9P32sK_5GgYiRkjsCo45bk",
            "send_channel": "BUSICOUPON_SEND_CHANNEL_MINIAPP",
            "send_merchant": "1900009191",
            "attach_info": {"transaction_id": "4200000000201912120000000001",
                            "act_code": "满减活动-双十二", "hall_code": "", "hall_belong_mch_id": 1900009191,
                            "card_id": "pDF3iY9P32sK_5GgYiRkjsCo45bk", "code": "sxxe34343434",
                            "activity_id": "1234567"},
        },
        ensure_ascii=False, separators=(",", ":"),
    )
    specs = [
        ("coupon_event", "j9g1wAzF9Xn1", "coupon", coupon_event),
        ("empty_associated_data", "0123456789ab", "", '{"hello":"世界"}'),
        ("certificate_resource", "4de73afd28b6", "certificate",
         "-----BEGIN CERTIFICATE-----\nnot a real certificate\n-----END CERTIFICATE-----\n"),
    ]
    return [{"name": n, "apiv3_key": APIV3_KEY, "nonce": nonce, "associated_data": aad, "plaintext": pt,
             "ciphertext": seal(APIV3_KEY, nonce, aad, pt)} for n, nonce, aad, pt in specs]


def notification_cases(keys, aead):
    coupon = aead[0]
    serial_cert = keys["platform"]["certificate_serial_no"]

    def envelope(event_type="COUPON.SEND", algorithm="AEAD_AES_256_GCM", ciphertext=None, summary="商家券领券通知",
                 plaintext=None, nonce=None):
        nonce = nonce or coupon["nonce"]
        if plaintext is not None:
            ciphertext = seal(APIV3_KEY, nonce, "coupon", plaintext)
        return json.dumps(
            {
                "id": "8b33f79f-8869-5ae5-b41b-3c0b59f957d0",
                "create_time": "2019-12-12T16:54:38+08:00",
                "resource_type": "encrypt-resource",
                "event_type": event_type,
                "summary": summary,
                "resource": {
                    "original_type": "coupon",
                    "algorithm": algorithm,
                    "ciphertext": ciphertext or coupon["ciphertext"],
                    "associated_data": "coupon",
                    "nonce": nonce,
                },
            },
            ensure_ascii=False, separators=(",", ":"),
        )

    def signed(name, body, expect, serial=PUBLIC_KEY_ID, ts=1700002000, skew=0, nonce="fdasflkja484w2b1GAxvQ0SvgdwV2vBx",
               **extra):
        sig = b64(sign(keys, "platform", f"{ts}\n{nonce}\n{body}\n".encode()))
        return dict({
            "name": name,
            "headers": {
                "Wechatpay-Serial": serial,
                "Wechatpay-Signature": sig,
                "Wechatpay-Timestamp": str(ts),
                "Wechatpay-Nonce": nonce,
                "Wechatpay-Signature-Type": SIGNATURE_TYPE,
            },
            "body": body,
            "now": ts + skew,
            "expect": expect,
        }, **extra)

    good = envelope()
    # Flip one bit of the ciphertext (keeping it valid base64), then sign the changed body.
    raw = bytearray(base64.b64decode(coupon["ciphertext"]))
    raw[5] ^= 0x01
    cases = [
        signed("coupon_send_public_key_mode", good, "ok", skew=3, payload=json.loads(coupon["plaintext"])),
        signed("coupon_send_certificate_mode", good, "ok", serial=serial_cert, skew=-3,
               payload=json.loads(coupon["plaintext"])),
        signed("skew_exactly_300s", good, "ok", skew=300, payload=json.loads(coupon["plaintext"])),
        signed("other_event_type", envelope(event_type="REFUND.SUCCESS",
                                            plaintext='{"refund_status":"SUCCESS","out_refund_no":"R1"}'),
               "ok", payload={"refund_status": "SUCCESS", "out_refund_no": "R1"}),
        signed("tampered_ciphertext", envelope(ciphertext=b64(bytes(raw))), "aead_tag_mismatch"),
        signed("unsupported_algorithm", envelope(algorithm="AEAD_SM4_GCM"), "unsupported_algorithm"),
        signed("unknown_serial", good, "unknown_serial", serial="5157F09EFDC096DE15EBE81A47057A7232F1B8E1"),
        signed("stale_timestamp", good, "stale", skew=301),
        signed("future_timestamp", good, "stale", skew=-301),
    ]
    bad = signed("bad_signature", good, "bad_signature")
    bad["body"] = envelope(summary="商家券领券通知!")  # changed after signing
    cases.append(bad)
    missing = signed("missing_nonce_header", good, "missing_header")
    del missing["headers"]["Wechatpay-Nonce"]
    cases.append(missing)
    return cases


# ----------------------------------------------------------------------------------------------
# RSA-OAEP-SHA1 and digests


def oaep_cases(keys):
    previous = {c["name"]: c for c in (read_json("oaep.json") or {}).get("cases", [])}
    priv = private_key(keys, "merchant")
    pub = priv.public_key()
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    cases = []
    for name, plaintext, producer in [
        ("chinese_name_cryptography", "张三", "cryptography"),
        ("id_number_openssl", "110101199003071234", "openssl"),
    ]:
        old = previous.get(name)
        if old and old["plaintext"] == plaintext:
            try:
                if priv.decrypt(base64.b64decode(old["ciphertext"]), oaep).decode() == plaintext:
                    cases.append(old)
                    continue
            except ValueError:
                pass
        if producer == "cryptography":
            ct = pub.encrypt(plaintext.encode(), oaep)
        else:
            with tempfile.NamedTemporaryFile("w", suffix=".pem") as kf:
                kf.write(keys["merchant"]["public_key_spki_pem"])
                kf.flush()
                ct = run("openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", kf.name,
                         "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1",
                         "-pkeyopt", "rsa_mgf1_md:sha1", input=plaintext.encode())
        assert priv.decrypt(ct, oaep).decode() == plaintext
        cases.append({"name": name, "producer": producer, "key": "merchant", "plaintext": plaintext,
                      "ciphertext": b64(ct)})
    return cases


def digest_cases():
    inputs = ["", "abc", "微信支付 APIv3", "a" * 1000,
              "api_ticket=x&card_id=pFS7Fjg8kV1IdDz01r4SQwMkuCKc&code=12345&nonce_str=abc&timestamp=1700000000"]
    cases = []
    for text in inputs:
        entry = {"input": text}
        for algo in ("sha256", "sha1"):
            out = run("openssl", "dgst", f"-{algo}", "-r", input=text.encode()).decode().split()[0]
            assert out == hashlib.new(algo, text.encode()).hexdigest()
            entry[algo] = out
        cases.append(entry)
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--new-keys", action="store_true", help="make new keys and a new certificate")
    args = parser.parse_args()

    existing = read_json("keys.json")
    if args.new_keys or existing is None:
        raw = new_keys()
    else:
        raw = {
            "merchant": existing["merchant"],
            "platform": {k: existing["platform"][k] for k in (
                "private_key_pkcs8_pem", "private_key_pkcs1_pem", "public_key_spki_pem",
                "public_key_pkcs1_pem", "certificate_pem")},
        }
    keys = describe_keys(raw)
    write_json("keys.json", keys)

    write_json("request_signing.json", {
        "description": "Request signatures: signing_string = METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n, "
                       "signature = base64(RSASSA-PKCS1-v1_5-SHA256(merchant key, signing_string)), "
                       "authorization = the Authorization header value. Signed by cryptography, "
                       "checked equal to `openssl dgst -sha256 -sign`.",
        "mchid": MCHID,
        "serial_no": MERCHANT_SERIAL_NO,
        "cases": request_cases(keys),
    })
    write_json("response_verification.json", {
        "description": "Response signatures: message = TIMESTAMP\\nNONCE\\nBODY\\n, signed with the platform key; "
                       "serial = Wechatpay-Serial (the public key ID or the certificate serial). valid=false "
                       "cases must fail verification.",
        "cases": response_cases(keys),
    })
    aead = aead_cases()
    write_json("notification.json", {
        "description": "AEAD_AES_256_GCM decryption (ciphertext = base64(ciphertext || tag), made with "
                       "cryptography's AESGCM) and full signed notifications (headers + raw body + now). "
                       "expect: ok | aead_tag_mismatch | unsupported_algorithm | unknown_serial | stale | "
                       "bad_signature | missing_header.",
        "apiv3_key": APIV3_KEY,
        "decrypt": aead,
        "notifications": notification_cases(keys, aead),
    })
    write_json("oaep.json", {
        "description": "RSAES-OAEP with SHA-1 and MGF1-SHA-1 ciphertexts for the merchant key, made by "
                       "cryptography or by `openssl pkeyutl -encrypt` (randomized: kept while they decrypt).",
        "cases": oaep_cases(keys),
    })
    write_json("digests.json", {
        "description": "Digests of UTF-8 inputs from `openssl dgst -r` (lower-case hex).",
        "cases": digest_cases(),
    })


if __name__ == "__main__":
    sys.exit(main())
