"""WeChat Pay signatures and decryption, and the card signature, for code that does its own HTTP.

These are the Rust core's functions (the ones the clients use), not a reimplementation; the RSA
operations run with the GIL released. The clients already sign, verify and decrypt everything
they send and receive: use these when you build requests or check notifications yourself.
"""

from __future__ import annotations

from typing import Optional, Union

from . import _native

__all__ = ["build_authorization", "verify_signature", "decrypt_resource", "sign_card_ext"]


def build_authorization(
    mchid: str,
    serial_no: str,
    private_key: str,
    method: str,
    url: str,
    body: Union[str, bytes],
    timestamp: int,
    nonce: str,
) -> str:
    """The ``Authorization`` header value for a WeChat Pay APIv3 request.

    Signs ``METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n`` with RSA-SHA256 (PKCS#1 v1.5) and
    returns ``WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",
    signature="…"``.

    Args:
        mchid: the merchant id.
        serial_no: serial of the merchant API certificate.
        private_key: the merchant private key PEM (PKCS#8 or PKCS#1).
        method: the HTTP method (``GET``, ``POST`` …).
        url: path and query exactly as sent (``/v3/certificates``).
        body: the exact bytes sent (``""`` when there is no body).
        timestamp: Unix seconds.
        nonce: a fresh random string (32 alphanumerics).

    Raises:
        ConfigError: the private key does not parse.
        ValidationError: mchid, serial_no or nonce cannot go into the header.
    """
    return _native.build_authorization(
        mchid, serial_no, private_key, method, url, body, timestamp, nonce
    )


def verify_signature(
    public_key: str,
    timestamp: Union[str, int],
    nonce: str,
    body: Union[str, bytes],
    signature: str,
) -> bool:
    """Whether ``signature`` is WeChat Pay's signature of a response or notification.

    Checks the base64 RSA-SHA256 ``signature`` over ``TIMESTAMP\\nNONCE\\nBODY\\n`` (the
    ``Wechatpay-Timestamp`` and ``Wechatpay-Nonce`` headers and the raw body). Does not check the
    clock: reject timestamps more than 5 minutes off yourself.

    Args:
        public_key: the WeChat Pay public key PEM (``pub_key.pem``) or a platform certificate
            PEM, whichever ``Wechatpay-Serial`` names.
        timestamp: the ``Wechatpay-Timestamp`` header.
        nonce: the ``Wechatpay-Nonce`` header.
        body: the raw body, unchanged.
        signature: the ``Wechatpay-Signature`` header.

    Raises:
        ConfigError: ``public_key`` is neither a public key nor a certificate PEM.
    """
    return _native.verify_signature(public_key, timestamp, nonce, body, signature)


def decrypt_resource(apiv3_key: str, nonce: str, associated_data: str, ciphertext: str) -> str:
    """Decrypt a notification's ``resource`` (AEAD_AES_256_GCM with the APIv3 key).

    Args:
        apiv3_key: the 32-byte APIv3 key.
        nonce: ``resource.nonce``.
        associated_data: ``resource.associated_data`` (``""`` when absent).
        ciphertext: ``resource.ciphertext`` (base64, the 16-byte tag at the end).

    Returns:
        The plaintext (JSON text).

    Raises:
        ConfigError: the APIv3 key is not 32 bytes.
        SignatureError: the authentication tag does not verify (wrong key, or tampering).
    """
    return _native.decrypt_resource(apiv3_key, nonce, associated_data, ciphertext)


def sign_card_ext(
    api_ticket: str,
    card_id: str,
    timestamp: int,
    nonce_str: str,
    code: Optional[str] = None,
    openid: Optional[str] = None,
) -> str:
    """The 卡券签名 of a ``wx.addCard`` ``cardExt``.

    SHA1 hex of the values of api_ticket, card_id, timestamp, nonce_str and (when given) code
    and openid, sorted and concatenated. ``cardExt`` must carry the same timestamp and nonce_str.
    ``MiniProgramClient`` builds whole ``cardList`` entries (operation ``cardExt``) with its
    cached api_ticket; use this when you hold the ticket yourself.
    """
    return _native.sign_card_ext(api_ticket, card_id, timestamp, nonce_str, code, openid)
