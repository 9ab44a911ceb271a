#!/usr/bin/env python3
"""Test vectors for WeChat's message encryption (WXBizMsgCrypt, "安全模式") and the open
platform's authorization pushes, made outside weixin-kit with Python `cryptography` (AES-256-CBC)
and `hashlib` (SHA-1).

    python3 spec/vectors/make_msg_crypt_vectors.py   # rewrites spec/vectors/msg_crypt.json (deterministic)

The scheme (WeChat's official WXBizMsgCrypt samples, "消息加解密接入指引"; wechatpy
`wechatpy/crypto/__init__.py` + `wechatpy/crypto/pkcs7.py`):
- AESKey = base64_decode(EncodingAESKey + "=") (43 characters -> 32 bytes); IV = AESKey[:16];
- plaintext = random(16) | msg_len (4 bytes, big-endian) | msg | appid, PKCS#7-padded to a
  multiple of 32 bytes (pad value 1..=32), AES-256-CBC, base64 -> Encrypt;
- msg_signature = sha1(''.join(sorted([token, timestamp, nonce, Encrypt]))).hexdigest().

Published values from the official samples are checked here against this implementation before
they are written (see "published" in the JSON and spec/vectors/README.md).
"""
import base64
import hashlib
import json
import pathlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

OUT = pathlib.Path(__file__).resolve().parent / "msg_crypt.json"
BLOCK = 32

# Our own fixed test credentials (random once, public on purpose: never use them elsewhere).
KEY = "GFMjw4JMSJUAFzvXfHB2LnvvE3qx06jcXRF9mcdBIMS"
TOKEN = "ZsVhATrbOtfNcTEssUNDxRIj"
APPID = "wx3a2b1c0d9e8f7a6b"  # the component (third-party platform) appid
TIMESTAMP = "1764633600"
NONCE = "1320562132"


def aes_key(encoding_aes_key):
    # Lenient about the unused low bits of the last character, as WeChat's samples are
    # (Python's b64decode ignores them).
    key = base64.b64decode(encoding_aes_key + "=")
    assert len(key) == 32
    return key


def cbc(key, data, decrypt=False):
    c = Cipher(algorithms.AES(key), modes.CBC(key[:16]))
    op = c.decryptor() if decrypt else c.encryptor()
    return op.update(data) + op.finalize()


def pad(data):
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def layout(random, msg, appid):
    return random + len(msg).to_bytes(4, "big") + msg + appid.encode()


def encrypt(encoding_aes_key, random, msg, appid):
    return base64.b64encode(cbc(aes_key(encoding_aes_key), pad(layout(random, msg, appid)))).decode()


def raw_encrypt(encoding_aes_key, plaintext):
    """AES-CBC of an already padded (or badly padded) plaintext."""
    assert len(plaintext) % 16 == 0
    return base64.b64encode(cbc(aes_key(encoding_aes_key), plaintext)).decode()


def signature(*parts):
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def reference_decrypt(encoding_aes_key, encrypt_b64):
    """(random, msg, appid, pad) or raises ValueError naming what failed."""
    plain = cbc(aes_key(encoding_aes_key), base64.b64decode(encrypt_b64), decrypt=True)
    n = plain[-1]
    if not 1 <= n <= BLOCK or plain[-n:] != bytes([n]) * n:
        raise ValueError("padding")
    content = plain[:-n]
    if len(content) < 20:
        raise ValueError("length")
    length = int.from_bytes(content[16:20], "big")
    if 20 + length > len(content):
        raise ValueError("length")
    return content[:16], content[20 : 20 + length], content[20 + length :].decode(), n


def random_for(name):
    return hashlib.sha256(name.encode()).digest()[:16]


def message(name, msg, *, key=KEY, token=TOKEN, appid=APPID, timestamp=TIMESTAMP, nonce=NONCE, random=None, origin="made here"):
    random = random if random is not None else random_for(name)
    enc = encrypt(key, random, msg.encode(), appid)
    _, _, _, n = reference_decrypt(key, enc)
    return {
        "name": name,
        "origin": origin,
        "encoding_aes_key": key,
        "token": token,
        "appid": appid,
        "timestamp": timestamp,
        "nonce": nonce,
        "random_hex": random.hex(),
        "plaintext": msg,
        "encrypt": enc,
        "msg_signature": signature(token, timestamp, nonce, enc),
        "padding": n,
    }


def cdata(v):
    return f"<![CDATA[{v}]]>"


TICKET = "ticket@@@lEHjsBEi_TPDey0IZxw4Zbb7JRYLOtEf9ksvDpSwzkwog3R6xEpdaK0yIee7JOyOXM0V7cp0dpM58GKmb8FSKA"
TICKET_XML = (
    f"<xml><AppId>{cdata(APPID)}</AppId><CreateTime>1764633000</CreateTime>"
    f"<InfoType>{cdata('component_verify_ticket')}</InfoType>"
    f"<ComponentVerifyTicket>{cdata(TICKET)}</ComponentVerifyTicket></xml>"
)
AUTH_CODE = "queryauthcode@@@2pd1_o9UbxuBxZ4qg7bGwPTGDZWF1EYHkQSsIeU1Tx5tMjTm0b46RgHeXmTTWeu3FEsaYLDsm3-QWoCVX9fHyA"


def auth_xml(info_type, authorizer, *, code=True):
    fields = f"<AppId>{cdata(APPID)}</AppId><CreateTime>1764633100</CreateTime><InfoType>{cdata(info_type)}</InfoType>"
    fields += f"<AuthorizerAppid>{cdata(authorizer)}</AuthorizerAppid>"
    if code:
        fields += (
            f"<AuthorizationCode>{cdata(AUTH_CODE)}</AuthorizationCode>"
            f"<AuthorizationCodeExpiredTime>1764636700</AuthorizationCodeExpiredTime>"
            f"<PreAuthCode>{cdata('preauthcode@@@C2gD7Dnr_-ZMlDd5mWrvAS5XhgIAf0rUDmJ1Nq6mxQR2r1YTasXQWR')}</PreAuthCode>"
        )
    return f"<xml>{fields}</xml>"


AUTHORIZER = "wxf8b4f85f3a794e77"
messages = [
    message("ticket_push", TICKET_XML),
    message("authorized_push", auth_xml("authorized", AUTHORIZER)),
    message("updateauthorized_push", auth_xml("updateauthorized", AUTHORIZER)),
    message("unauthorized_push", auth_xml("unauthorized", AUTHORIZER, code=False)),
    message(
        "unknown_info_type_push",
        f"<xml><AppId>{cdata(APPID)}</AppId><CreateTime>1764633200</CreateTime>"
        f"<InfoType>{cdata('notify_third_fasteregister')}</InfoType><appid>wx0000000000000001</appid>"
        f"<status>0</status><auth_code>{cdata('xxx')}</auth_code><msg>{cdata('OK')}</msg>"
        f"<info><name>{cdata('公司')}</name></info></xml>",
    ),
    # A verify ticket in plain text with entity references instead of CDATA (still one value).
    message(
        "ticket_push_escaped",
        f"<xml>\n  <AppId>{APPID}</AppId>\n  <CreateTime>1764633300</CreateTime>\n"
        f"  <InfoType>component_verify_ticket</InfoType>\n"
        f"  <ComponentVerifyTicket>ticket@@@a&amp;b&lt;c&#x3E;d</ComponentVerifyTicket>\n</xml>",
    ),
    message("reply", "success"),
    message("non_ascii", "<xml><Content><![CDATA[第三方平台：验证票据与授权变更通知 ✓ 😀]]></Content></xml>"),
    message("empty_message", ""),
]
# A message whose padding is a whole 32-byte block: 20 + len(msg) + len(appid) ≡ 0 (mod 32).
full = "x" * (BLOCK * 3 - 20 - len(APPID))
messages.append(message("full_block_padding", full))
assert messages[-1]["padding"] == 32

# Published: the official Java sample's test (WXBizMsgCryptTest.java, shipped with Tencent's
# "消息加解密示例代码"; also WxJava weixin-java-common WxCryptUtilTest): EncodingAESKey, appId,
# randomStr and replyMsg/replyMsg2 -> afterAesEncrypt/afterAesEncrypt2.
SAMPLE_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
JAVA_REPLY = "我是中文abcd123"
JAVA_ENCRYPT = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
JAVA_REPLY2 = (
    "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName>"
    "<![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType>"
    "<![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqd"
    "Ukjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title>"
    "<Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>"
)
JAVA_ENCRYPT2 = (
    "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkup"
    "qcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvF"
    "b3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04s"
    "q7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9Oxch"
    "WVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ"
    "6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57c"
    "ExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb"
)
JAVA_SOURCE = (
    "official Java sample WXBizMsgCryptTest.java (Tencent 消息加解密示例代码), as copied in e.g. "
    "github.com/Wyl015/wuyiling work-test/src/main/resources/Utils/aes/WXBizMsgCryptTest.java and "
    "WxJava weixin-java-common/src/test/java/me/chanjar/weixin/common/util/crypto/WxCryptUtilTest.java"
)
for name, reply, published in (("official_java_sample", JAVA_REPLY, JAVA_ENCRYPT), ("official_java_sample_2", JAVA_REPLY2, JAVA_ENCRYPT2)):
    m = message(
        name, reply, key=SAMPLE_KEY, token="pamtest", appid="wxb11529c136998cb6", timestamp="1409304348",
        nonce="xxxxxx", random=b"aaaabbbbccccdddd", origin=JAVA_SOURCE + " (msg_signature computed here: the sample publishes none)",
    )
    assert m["encrypt"] == published, f"{name}: our encryption differs from the published afterAesEncrypt"
    messages.append(m)

# Published: the official Python sample (Sample.py, "WXBizMsgCrypt 使用demo文件", jonyqin, Tencent):
# a received message with its msg_signature. Decrypted here; signature and appid must match.
PY_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PG"
    "HQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6"
    "tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp"
    "3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhv"
    "Ql+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
py = {"token": "spamtest", "appid": "wx2c2769f8efd9abc2", "timestamp": "1409735669", "nonce": "1320562132"}
assert signature(py["token"], py["timestamp"], py["nonce"], PY_ENCRYPT) == "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
random, msg, appid, n = reference_decrypt(SAMPLE_KEY, PY_ENCRYPT)
assert appid == py["appid"]
messages.append(
    {
        "name": "official_python_sample",
        "origin": "official Python sample Sample.py (Tencent, jonyqin), as copied in e.g. "
        "github.com/charlesXu86/Chatbot_CN Chatbot_Web/impl/weixin/Sample.py; msg_signature and Encrypt published, "
        "plaintext decrypted here",
        "encoding_aes_key": SAMPLE_KEY,
        **py,
        "random_hex": random.hex(),
        "plaintext": msg.decode(),
        "encrypt": PY_ENCRYPT,
        "msg_signature": "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
        "padding": n,
    }
)

# Negative cases: each is checked here with the reference decryption to fail as stated.
by_name = {m["name"]: m for m in messages}
base = by_name["ticket_push"]
negatives = []


def negative(name, encrypt_b64, error, contains, *, field=None, msg_signature=None):
    case = {
        "name": name,
        "encoding_aes_key": KEY,
        "token": TOKEN,
        "appid": APPID,
        "timestamp": TIMESTAMP,
        "nonce": NONCE,
        "encrypt": encrypt_b64,
        "msg_signature": msg_signature or signature(TOKEN, TIMESTAMP, NONCE, encrypt_b64),
        "error": error,
        "detail_contains": contains,
    }
    if field:
        case["field"] = field
    negatives.append(case)


sig = base["msg_signature"]
tampered = sig[:-1] + ("0" if sig[-1] != "0" else "1")
negative("tampered_signature", base["encrypt"], "signature", "msg_signature", msg_signature=tampered)
negative("signature_of_other_timestamp", base["encrypt"], "signature", "msg_signature",
         msg_signature=signature(TOKEN, "1764633601", NONCE, base["encrypt"]))
negative("signature_with_other_token", base["encrypt"], "signature", "msg_signature",
         msg_signature=signature("wrongtoken", TIMESTAMP, NONCE, base["encrypt"]))

other = encrypt(KEY, random_for("wrong_appid"), TICKET_XML.encode(), "wx0000000000000000")
assert reference_decrypt(KEY, other)[2] != APPID
negative("wrong_appid", other, "signature", "appid")

body = layout(random_for("bad_padding"), b"success", APPID)  # 16 + 4 + 7 + 18 = 45 bytes
bad = body + bytes([1, 2, 3] * 6) + bytes([19])  # 64 bytes, ends in 19 but the pad bytes differ
for name, plaintext in (
    ("bad_padding_mixed", bad),
    ("bad_padding_zero", body + bytes(19)),
    ("bad_padding_over_block", body + bytes([33]) * 19),
):
    enc = raw_encrypt(KEY, plaintext)
    try:
        reference_decrypt(KEY, enc)
        raise AssertionError(name)
    except ValueError as e:
        assert str(e) == "padding"
    negative(name, enc, "signature", "padding")

# A ciphertext cut by one AES block (still a multiple of 16 bytes): the new last block is message
# text, not padding.
cut = base64.b64encode(base64.b64decode(base["encrypt"])[:-16]).decode()
try:
    reference_decrypt(KEY, cut)
    raise AssertionError("truncated")
except ValueError as e:
    assert str(e) == "padding"
negative("truncated_ciphertext", cut, "signature", "padding")
# Cut to a length that is no multiple of the AES block: malformed input.
negative("truncated_not_a_block_multiple", base64.b64encode(base64.b64decode(base["encrypt"])[:-7]).decode(),
         "validation", "16", field="Encrypt")
negative("not_base64", "not*base64!", "validation", "base64", field="Encrypt")
negative("empty_encrypt", "", "validation", "16", field="Encrypt")

# msg_len points past the end (well padded): 16 random + len 1000 + "hi" + appid.
long = random_for("msg_len") + (1000).to_bytes(4, "big") + b"hi" + APPID.encode()
negative("msg_len_past_end", raw_encrypt(KEY, pad(long)), "signature", "length")
# Shorter than random(16) + msg_len(4) after unpadding.
negative("shorter_than_header", raw_encrypt(KEY, pad(b"0123456789abcdef")), "signature", "length")

bad_keys = [
    {"encoding_aes_key": KEY[:-1], "reason": "42 characters"},
    {"encoding_aes_key": KEY + "A", "reason": "44 characters"},
    {"encoding_aes_key": KEY[:-1] + "!", "reason": "not base64"},
    {"encoding_aes_key": KEY[:-1] + "=", "reason": "padding character inside"},
    {"encoding_aes_key": "", "reason": "empty"},
]


# Pushes to the component's authorization URL: query string, XML envelope body, expected event.
def query(m, *, encrypt_type="aes", drop=None):
    params = {
        "signature": signature(m["token"], m["timestamp"], m["nonce"]),
        "timestamp": m["timestamp"],
        "nonce": m["nonce"],
        "encrypt_type": encrypt_type,
        "msg_signature": m["msg_signature"],
    }
    if drop:
        del params[drop]
    return "&".join(f"{k}={v}" for k, v in params.items())


def envelope(m, *, cdata_style=True):
    if cdata_style:
        return f"<xml><AppId>{cdata(m['appid'])}</AppId><Encrypt>{cdata(m['encrypt'])}</Encrypt></xml>"
    return f"<xml>\n    <AppId>{m['appid']}</AppId>\n    <Encrypt>{m['encrypt']}</Encrypt>\n</xml>\n"


def auth_expect(info_type, *, code=True):
    return {
        "info_type": info_type,
        "app_id": APPID,
        "create_time": 1764633100,
        "authorizer_appid": AUTHORIZER,
        "authorization_code": AUTH_CODE if code else None,
        "authorization_code_expired_time": 1764636700 if code else None,
        "pre_auth_code": "preauthcode@@@C2gD7Dnr_-ZMlDd5mWrvAS5XhgIAf0rUDmJ1Nq6mxQR2r1YTasXQWR" if code else None,
    }


ticket_json = {"info_type": "component_verify_ticket", "app_id": APPID, "create_time": 1764633000, "ticket_received": True}
pushes = [
    {"name": "verify_ticket", "query": query(base), "body": envelope(base), "expect": ticket_json, "ticket": TICKET},
    {"name": "verify_ticket_plain_text_envelope", "query": query(base), "body": envelope(base, cdata_style=False),
     "expect": ticket_json, "ticket": TICKET},
    {"name": "verify_ticket_escaped", "query": query(by_name["ticket_push_escaped"]), "body": envelope(by_name["ticket_push_escaped"]),
     "expect": {**ticket_json, "create_time": 1764633300}, "ticket": "ticket@@@a&b<c>d"},
    {"name": "authorized", "query": query(by_name["authorized_push"]), "body": envelope(by_name["authorized_push"]),
     "expect": auth_expect("authorized")},
    {"name": "updateauthorized", "query": query(by_name["updateauthorized_push"]), "body": envelope(by_name["updateauthorized_push"]),
     "expect": auth_expect("updateauthorized")},
    {"name": "unauthorized", "query": query(by_name["unauthorized_push"]), "body": envelope(by_name["unauthorized_push"]),
     "expect": auth_expect("unauthorized", code=False)},
    {"name": "unknown_info_type", "query": query(by_name["unknown_info_type_push"]), "body": envelope(by_name["unknown_info_type_push"]),
     "expect": {"info_type": "notify_third_fasteregister", "app_id": APPID, "create_time": 1764633200}},
]
# Pushes that must fail, with the typed error and the field or detail named.
foreign = message("foreign_inner_appid", TICKET_XML.replace(APPID, "wx1111111111111111"))
bad_pushes = [
    {"name": "encrypt_type_raw", "query": query(base, encrypt_type="raw"), "body": envelope(base), "error": "validation", "field": "encrypt_type"},
    {"name": "missing_msg_signature", "query": query(base, drop="msg_signature"), "body": envelope(base), "error": "validation", "field": "msg_signature"},
    {"name": "missing_timestamp", "query": query(base, drop="timestamp"), "body": envelope(base), "error": "validation", "field": "timestamp"},
    {"name": "missing_nonce", "query": query(base, drop="nonce"), "body": envelope(base), "error": "validation", "field": "nonce"},
    {"name": "missing_encrypt_type", "query": query(base, drop="encrypt_type"), "body": envelope(base), "error": "validation", "field": "encrypt_type"},
    {"name": "envelope_not_xml", "query": query(base), "body": "{\"Encrypt\": \"x\"}", "error": "validation", "field": "body"},
    {"name": "envelope_without_encrypt", "query": query(base), "body": f"<xml><AppId>{APPID}</AppId></xml>", "error": "validation", "field": "Encrypt"},
    {"name": "envelope_unclosed", "query": query(base), "body": envelope(base)[:-6], "error": "validation", "field": "body"},
    {"name": "envelope_two_encrypts", "query": query(base), "body": envelope(base).replace("</xml>", f"<Encrypt>{cdata('x')}</Encrypt></xml>"),
     "error": "validation", "field": "Encrypt"},
    {"name": "tampered_signature", "query": query(base).replace(base["msg_signature"], tampered), "body": envelope(base),
     "error": "signature", "detail_contains": "msg_signature"},
    {"name": "inner_appid_not_ours", "query": query(foreign), "body": envelope(foreign), "error": "signature", "detail_contains": "AppId"},
    {"name": "plain_reply_is_not_a_push", "query": query(by_name["reply"]), "body": envelope(by_name["reply"]),
     "error": "validation", "field": "decrypted push"},
]

doc = {
    "about": "WXBizMsgCrypt (安全模式) vectors made by spec/vectors/make_msg_crypt_vectors.py with Python "
    "cryptography (AES-256-CBC) and hashlib (SHA-1); see spec/vectors/README.md",
    "messages": messages,
    "negative": negatives,
    "bad_keys": bad_keys,
    "pushes": pushes,
    "bad_pushes": bad_pushes,
}
OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"wrote {OUT} ({len(messages)} messages, {len(negatives)} negative, {len(pushes)} pushes, {len(bad_pushes)} bad pushes)")
