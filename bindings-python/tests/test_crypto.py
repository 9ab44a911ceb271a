"""weixin_kit.crypto against the independent vectors in spec/vectors/ (made with the openssl CLI
and Python cryptography, never with weixin-kit)."""

from __future__ import annotations

import base64
import json

import pytest

from weixin_kit import ConfigError, PayClient, SignatureError, ValidationError, crypto

from support import vectors

KEYS = vectors("keys.json")
SIGNING = vectors("request_signing.json")
RESPONSES = vectors("response_verification.json")
NOTIFICATIONS = vectors("notification.json")
CARDS = vectors("card_signature.json")

PLATFORM_KEY = KEYS["platform"]["public_key_spki_pem"]
PLATFORM_KEY_PKCS1 = KEYS["platform"]["public_key_pkcs1_pem"]
PLATFORM_CERT = KEYS["platform"]["certificate_pem"]


def platform_pem_for(serial: str):
    """What Wechatpay-Serial names: the WeChat Pay public key (by its id) or the platform
    certificate (by its serial); None for a serial neither is."""
    if serial == KEYS["public_key_id"]:
        return PLATFORM_KEY
    if serial == KEYS["platform"]["certificate_serial_no"]:
        return PLATFORM_CERT
    return None


def ids(cases):
    return [c["name"] for c in cases]


# -- request signing ---------------------------------------------------------------------------


@pytest.mark.parametrize("key_format", ["private_key_pkcs8_pem", "private_key_pkcs1_pem"])
@pytest.mark.parametrize("case", SIGNING["cases"], ids=ids(SIGNING["cases"]))
def test_build_authorization_matches_the_vectors(case, key_format):
    header = crypto.build_authorization(
        SIGNING["mchid"],
        SIGNING["serial_no"],
        KEYS["merchant"][key_format],
        case["method"],
        case["url"],
        case["body"],
        case["timestamp"],
        case["nonce"],
    )
    assert header == case["authorization"]


@pytest.mark.parametrize("case", SIGNING["cases"], ids=ids(SIGNING["cases"]))
def test_build_authorization_takes_the_body_as_bytes(case):
    header = crypto.build_authorization(
        SIGNING["mchid"],
        SIGNING["serial_no"],
        KEYS["merchant"]["private_key_pkcs8_pem"],
        case["method"],
        case["url"],
        case["body"].encode("utf-8"),
        case["timestamp"],
        case["nonce"],
    )
    assert f'signature="{case["signature"]}"' in header


def test_build_authorization_errors():
    case = SIGNING["cases"][0]
    args = dict(
        mchid=SIGNING["mchid"],
        serial_no=SIGNING["serial_no"],
        private_key=KEYS["merchant"]["private_key_pkcs8_pem"],
        method=case["method"],
        url=case["url"],
        body=case["body"],
        timestamp=case["timestamp"],
        nonce=case["nonce"],
    )
    with pytest.raises(ConfigError):
        crypto.build_authorization(**{**args, "private_key": "not a key"})
    with pytest.raises(ConfigError):  # a public key is not a private key
        crypto.build_authorization(
            **{**args, "private_key": KEYS["merchant"]["public_key_spki_pem"]}
        )
    with pytest.raises(ValidationError):  # would break out of the header's quoting
        crypto.build_authorization(**{**args, "nonce": 'abc",signature="x'})


# -- response verification ---------------------------------------------------------------------


@pytest.mark.parametrize("case", RESPONSES["cases"], ids=ids(RESPONSES["cases"]))
def test_verify_signature_matches_the_vectors(case):
    pem = platform_pem_for(case["serial"])
    assert pem is not None
    verdict = crypto.verify_signature(
        pem, case["timestamp"], case["nonce"], case["body"], case["signature"]
    )
    assert verdict is case["valid"]
    # The header arrives as text; the body may be the raw bytes.
    assert (
        crypto.verify_signature(
            pem, str(case["timestamp"]), case["nonce"], case["body"].encode(), case["signature"]
        )
        is case["valid"]
    )


@pytest.mark.parametrize(
    "case",
    [c for c in RESPONSES["cases"] if c["serial"] == KEYS["public_key_id"]],
    ids=ids([c for c in RESPONSES["cases"] if c["serial"] == KEYS["public_key_id"]]),
)
def test_verify_signature_with_a_pkcs1_public_key(case):
    assert (
        crypto.verify_signature(
            PLATFORM_KEY_PKCS1, case["timestamp"], case["nonce"], case["body"], case["signature"]
        )
        is case["valid"]
    )


def test_verify_signature_with_the_wrong_key_or_garbage():
    case = RESPONSES["cases"][0]
    assert case["valid"]
    merchant = KEYS["merchant"]["public_key_spki_pem"]
    assert (
        crypto.verify_signature(
            merchant, case["timestamp"], case["nonce"], case["body"], case["signature"]
        )
        is False
    )
    assert (
        crypto.verify_signature(
            PLATFORM_KEY, case["timestamp"], case["nonce"], case["body"], "bm90IGEgc2lnbmF0dXJl"
        )
        is False
    )
    with pytest.raises(ConfigError):
        crypto.verify_signature(
            "not a key", case["timestamp"], case["nonce"], case["body"], case["signature"]
        )


# -- notifications: decryption and signatures --------------------------------------------------


@pytest.mark.parametrize("case", NOTIFICATIONS["decrypt"], ids=ids(NOTIFICATIONS["decrypt"]))
def test_decrypt_resource_matches_the_vectors(case):
    plain = crypto.decrypt_resource(
        case["apiv3_key"], case["nonce"], case["associated_data"], case["ciphertext"]
    )
    assert plain == case["plaintext"]


def _flip_last_byte(ciphertext_b64: str) -> str:
    raw = bytearray(base64.b64decode(ciphertext_b64))
    raw[-1] ^= 0x01  # inside the 16-byte GCM tag
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("case", NOTIFICATIONS["decrypt"], ids=ids(NOTIFICATIONS["decrypt"]))
def test_decrypt_resource_rejects_tampering(case):
    key, nonce, aad, ct = (
        case["apiv3_key"],
        case["nonce"],
        case["associated_data"],
        case["ciphertext"],
    )
    with pytest.raises(SignatureError):  # tag changed
        crypto.decrypt_resource(key, nonce, aad, _flip_last_byte(ct))
    with pytest.raises(SignatureError):  # associated data changed
        crypto.decrypt_resource(key, nonce, aad + "x", ct)
    with pytest.raises(SignatureError):  # another 32-byte key
        crypto.decrypt_resource(key[::-1], nonce, aad, ct)
    with pytest.raises(ConfigError):  # not a 32-byte key
        crypto.decrypt_resource(key[:31], nonce, aad, ct)


SIGNED = [n for n in NOTIFICATIONS["notifications"] if "Wechatpay-Nonce" in n["headers"]]


@pytest.mark.parametrize("case", SIGNED, ids=ids(SIGNED))
def test_notification_vectors_signature_and_resource(case):
    h = case["headers"]
    pem = platform_pem_for(h["Wechatpay-Serial"])
    if case["expect"] == "unknown_serial":
        assert pem is None  # nothing to verify it with: a receiver must refuse it
        return
    verdict = crypto.verify_signature(
        pem, h["Wechatpay-Timestamp"], h["Wechatpay-Nonce"], case["body"], h["Wechatpay-Signature"]
    )
    # Only a body changed after signing fails the signature; stale ones fail the clock rule
    # (checked by parse_notification, not by verify_signature).
    assert verdict is (case["expect"] != "bad_signature")
    if case["expect"] == "stale":
        assert abs(case["now"] - int(h["Wechatpay-Timestamp"])) > 300

    resource = json.loads(case["body"])["resource"]
    if case["expect"] == "ok":
        assert resource["algorithm"] == "AEAD_AES_256_GCM"
        plain = crypto.decrypt_resource(
            NOTIFICATIONS["apiv3_key"],
            resource["nonce"],
            resource.get("associated_data", ""),
            resource["ciphertext"],
        )
        assert json.loads(plain) == case["payload"]
    elif case["expect"] == "aead_tag_mismatch":
        with pytest.raises(SignatureError):
            crypto.decrypt_resource(
                NOTIFICATIONS["apiv3_key"],
                resource["nonce"],
                resource.get("associated_data", ""),
                resource["ciphertext"],
            )


def _vector_client() -> PayClient:
    """A client holding the vectors' keys (public-key mode). It never sends anything."""
    return PayClient(
        mchid=KEYS["mchid"],
        serial_no=KEYS["merchant_serial_no"],
        private_key=KEYS["merchant"]["private_key_pkcs8_pem"],
        wechatpay_public_key_id=KEYS["public_key_id"],
        wechatpay_public_key=PLATFORM_KEY,
        apiv3_key=NOTIFICATIONS["apiv3_key"],
        base_url="http://127.0.0.1:9",
        download_certificates=False,
    )


PUBLIC_KEY_MODE = [
    n
    for n in NOTIFICATIONS["notifications"]
    if n["headers"]["Wechatpay-Serial"] == KEYS["public_key_id"]
]


@pytest.mark.parametrize("case", PUBLIC_KEY_MODE, ids=ids(PUBLIC_KEY_MODE))
def test_parse_notification_refuses_every_vector_at_todays_clock(case):
    # The vectors were signed in 2023: even the valid ones are far outside the 5-minute window
    # now, and parse_notification (unlike verify_signature) checks the clock.
    with pytest.raises(SignatureError) as info:
        _vector_client().parse_notification(case["headers"], case["body"])
    if case["expect"] == "ok":
        assert "Wechatpay-Timestamp" in str(info.value)


# -- the card signature ------------------------------------------------------------------------


@pytest.mark.parametrize("case", CARDS["cases"], ids=ids(CARDS["cases"]))
def test_sign_card_ext_matches_the_vectors(case):
    # An absent nonce_str contributes nothing to the sorted concatenation: "" stands for it.
    nonce = case["nonce_str"] if case["nonce_str"] is not None else ""
    signature = crypto.sign_card_ext(
        case["api_ticket"],
        case["card_id"],
        case["timestamp"],
        nonce,
        code=case["code"],
        openid=case["openid"],
    )
    assert signature == case["signature"]


def test_sign_card_ext_the_js_sdk_documentation_example():
    (doc,) = [c for c in CARDS["cases"] if c["name"] == "wechat_doc_example"]
    assert (
        crypto.sign_card_ext(
            "ojZ8YtyVyr30HheH3CM73y7h4jJE",
            "pjZ8Yt1XGILfi-FUsewpnnolGgZk",
            1404896688,
            "123",
            code="1434008071",
        )
        == doc["signature"]
        == "f137ab68b7f8112d20ee528ab6074564e2796250"
    )
