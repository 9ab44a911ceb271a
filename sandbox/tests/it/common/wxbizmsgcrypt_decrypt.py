"""Independent WXBizMsgCrypt check of one captured push, for the sandbox's tests.

Written from WeChat's "消息加解密" description and wechatpy (wechatpy/crypto/__init__.py,
wechatpy/crypto/base.py, wechatpy/crypto/pkcs7.py), with Python `cryptography`; shares no code
with weixin-kit or the sandbox.

stdin: {"token", "encoding_aes_key", "appid", "query": {"timestamp", "nonce", "msg_signature",
        "signature", "encrypt_type"}, "body": "<xml>…</xml>"}
stdout: {"xml": the decrypted event, "fields": {tag: text}, "envelope_appid": …}
Any failed check: a message on stderr and exit status 1.
"""

import base64
import hashlib
import json
import sys
import xml.etree.ElementTree as ET

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def fail(msg):
    sys.stderr.write(msg + "\n")
    sys.exit(1)


def sha1_sorted(*parts):
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def main():
    req = json.load(sys.stdin)
    q = req["query"]
    if q.get("encrypt_type") != "aes":
        fail("encrypt_type is not aes: %r" % q.get("encrypt_type"))
    envelope = ET.fromstring(req["body"])
    encrypt = envelope.findtext("Encrypt")
    if not encrypt:
        fail("no Encrypt in the envelope")
    token = req["token"]
    if sha1_sorted(token, q["timestamp"], q["nonce"]) != q["signature"]:
        fail("signature (token, timestamp, nonce) does not verify")
    if sha1_sorted(token, q["timestamp"], q["nonce"], encrypt) != q["msg_signature"]:
        fail("msg_signature does not verify")
    key = base64.b64decode(req["encoding_aes_key"] + "=")
    if len(key) != 32:
        fail("EncodingAESKey does not decode to 32 bytes")
    dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = dec.update(base64.b64decode(encrypt)) + dec.finalize()
    if len(plain) % 32 != 0:
        fail("plaintext is not a multiple of 32 bytes (PKCS#7 block 32)")
    pad = plain[-1]
    if not 1 <= pad <= 32 or plain[-pad:] != bytes([pad]) * pad:
        fail("bad PKCS#7 padding: %d" % pad)
    content = plain[16:-pad]
    length = int.from_bytes(content[:4], "big")
    xml_bytes = content[4:4 + length]
    appid = content[4 + length:].decode()
    if appid != req["appid"]:
        fail("trailing appid %r is not %r" % (appid, req["appid"]))
    event = ET.fromstring(xml_bytes)
    json.dump({
        "xml": xml_bytes.decode(),
        "fields": {child.tag: (child.text or "") for child in event},
        "envelope_appid": envelope.findtext("AppId"),
    }, sys.stdout)


main()
