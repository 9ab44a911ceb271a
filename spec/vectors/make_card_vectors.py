#!/usr/bin/env python3
"""Writes spec/vectors/card_signature.json: test vectors for the WeChat card signature (卡券签名).

Made outside weixin-kit with Python's hashlib, so every language's implementation is checked
against an independent one. Deterministic: a rerun reproduces the file byte for byte.

    python3 spec/vectors/make_card_vectors.py

The algorithm (WeChat JS-SDK documentation, 附录4-卡券扩展字段及签名生成算法, 签名说明): take the
values of api_ticket (the card api_ticket, type wx_card), timestamp, card_id, code, openid and
nonce_str; sort them as strings in lexicographic order; concatenate; SHA1; lower-case hex.
Absent values are left out. timestamp is signed in its decimal string form.
"""

import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "card_signature.json")

# Made-up values in WeChat's formats (ASCII, as WeChat issues them), plus the documentation's own.
TICKET = "IpK_1T69hDhZkLQTlwsAX7FEM1uUtFLJkSMc8pKZlTDzW1EhnT9Ktz7HDzqE5Gu5eQsMHFCEzZIvIExKjzS1Aw"
CARD_ID = "pFS7Fjg8kV1IdDz01r4SQwMkuCKc"
OPENID = "oFS7Fjl0WsZ9AMZqrI80nbIq8xrA"

CASES = [
    {
        "name": "wechat_doc_example",
        "source": "WeChat JS-SDK documentation, 附录4-卡券扩展字段及签名生成算法, 签名说明 item 4 "
        "(https://developers.weixin.qq.com/doc/offiaccount/OA_Web_Apps/JS-SDK.html): "
        "signature=sha1(12314048966881434008071ojZ8YtyVyr30HheH3CM73y7h4jJEpjZ8Yt1XGILfi-FUsewpnnolGgZk)"
        "=f137ab68b7f8112d20ee528ab6074564e2796250",
        "api_ticket": "ojZ8YtyVyr30HheH3CM73y7h4jJE",
        "card_id": "pjZ8Yt1XGILfi-FUsewpnnolGgZk",
        "timestamp": 1404896688,
        "nonce_str": "123",
        "code": "1434008071",
        "openid": None,
        "expected_signature_from_doc": "f137ab68b7f8112d20ee528ab6074564e2796250",
    },
    {
        "name": "no_code_no_openid",
        "api_ticket": TICKET,
        "card_id": CARD_ID,
        "timestamp": 1735689600,
        "nonce_str": "Wm3WZYTPz0wzccnWNonceStr1234567",
        "code": None,
        "openid": None,
    },
    {
        "name": "code_only",
        "api_ticket": TICKET,
        "card_id": CARD_ID,
        "timestamp": 1735689600,
        "nonce_str": "k8JdQ2nXb7LmP4sR",
        "code": "110201201245",
        "openid": None,
    },
    {
        "name": "openid_only",
        "api_ticket": TICKET,
        "card_id": CARD_ID,
        "timestamp": 1735689601,
        "nonce_str": "k8JdQ2nXb7LmP4sR",
        "code": None,
        "openid": OPENID,
    },
    {
        "name": "code_and_openid",
        "api_ticket": TICKET,
        "card_id": CARD_ID,
        "timestamp": 1735689602,
        "nonce_str": "aZ09aZ09aZ09aZ09aZ09aZ09aZ09aZ09",
        "code": "AB12cd34",
        "openid": OPENID,
    },
    {
        # Byte order, not case-insensitive or numeric: "Z" < "a", "10" < "9".
        "name": "byte_order_matters",
        "api_ticket": "abc",
        "card_id": "ZZZ",
        "timestamp": 9,
        "nonce_str": "_x",
        "code": "10",
        "openid": "Abc",
    },
    {
        "name": "no_nonce",
        "api_ticket": TICKET,
        "card_id": CARD_ID,
        "timestamp": 1735689603,
        "nonce_str": None,
        "code": None,
        "openid": None,
    },
]


def sign(case):
    values = [case["api_ticket"], case["card_id"], str(case["timestamp"])]
    for field in ("nonce_str", "code", "openid"):
        if case[field] is not None:
            values.append(case[field])
    joined = "".join(sorted(values))
    return joined, hashlib.sha1(joined.encode("utf-8")).hexdigest()


def main():
    cases = []
    for case in CASES:
        joined, signature = sign(case)
        expected = case.pop("expected_signature_from_doc", None)
        if expected is not None and expected != signature:
            raise SystemExit(f"{case['name']}: hashlib gives {signature}, the doc says {expected}")
        cases.append({**case, "sorted_concatenation": joined, "signature": signature})
    doc = {
        "description": "卡券签名 (WeChat card signature): SHA1 lower-case hex of the lexicographically "
        "sorted, concatenated values of api_ticket, timestamp (decimal), card_id, code, openid, "
        "nonce_str; null means absent (left out). Made by make_card_vectors.py with Python hashlib.",
        "cases": cases,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
