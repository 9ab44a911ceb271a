"""The four clients: WeChat Pay and mini-program, each sync and async.

Each wraps one native core (``weixin_kit._native.PayCore`` / ``MpCore``: the Rust client, with
its connection pool, keys, token cache and retries) and inherits the per-operation methods from
the generated mixins (``weixin_kit._generated``), which all end in ``self._call(name, args)``.
A client is safe to share between threads (sync) or tasks (async); create one per credential
set and keep it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ._generated.mp import AsyncMiniProgramOperations, MiniProgramOperations
from ._generated.pay import AsyncPayOperations, PayOperations
from ._native import MpCore, PayCore

__all__ = ["PayClient", "AsyncPayClient", "MiniProgramClient", "AsyncMiniProgramClient"]

Headers = Mapping[str, str]
Body = Union[bytes, bytearray, str]


def _pem(value: Union[str, bytes]) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("ascii")
    return value


def _opt_pem(value: Union[str, bytes, None]) -> Optional[str]:
    return None if value is None else _pem(value)


def _renamed(core: Any, name: str) -> str:
    text = repr(core)
    return name + text[text.index("(") :]


class _PayBase:
    """What the sync and async WeChat Pay clients share: construction and properties."""

    _core: PayCore

    def __init__(
        self,
        *,
        mchid: str,
        serial_no: str,
        private_key: Union[str, bytes],
        wechatpay_public_key_id: Optional[str] = None,
        wechatpay_public_key: Union[str, bytes, None] = None,
        platform_certificates: Optional[Sequence[Union[str, bytes]]] = None,
        apiv3_key: Optional[str] = None,
        base_url: Optional[str] = None,
        backup_base_url: Optional[str] = None,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        max_attempts: Optional[int] = None,
        download_certificates: Optional[bool] = None,
    ) -> None:
        """Configure a WeChat Pay APIv3 client. Keys are parsed here, once.

        Args:
            mchid: the merchant id (商户号).
            serial_no: serial of the merchant API certificate (商户API证书序列号).
            private_key: the merchant private key PEM (``apiclient_key.pem``; PKCS#8 or PKCS#1).
            wechatpay_public_key_id: public-key mode: the WeChat Pay public key id
                (``PUB_KEY_ID_…``); give ``wechatpay_public_key`` with it.
            wechatpay_public_key: public-key mode: the WeChat Pay public key PEM (``pub_key.pem``).
            platform_certificates: certificate mode: platform certificate PEMs you already have.
            apiv3_key: the 32-byte APIv3 key: decrypts notifications and, in certificate mode,
                downloaded platform certificates.
            base_url: the main host (default ``https://api.mch.weixin.qq.com``).
            backup_base_url: the failover host (default ``https://api2.mch.weixin.qq.com``, or
                none when ``base_url`` is given: a proxy or sandbox never fails over to WeChat).
            timeout: seconds for one attempt (default 30).
            connect_timeout: seconds to connect (default 5).
            max_attempts: requests sent in total, retries included (default 3; 1 = no retry).
            download_certificates: download platform certificates from ``/v3/certificates``
                (default: whenever ``apiv3_key`` is given).

        Raises:
            ConfigError: a key does not parse, the APIv3 key is not 32 bytes, or nothing to
                verify WeChat Pay's responses with was given.
        """
        self._core = PayCore(
            mchid=mchid,
            serial_no=serial_no,
            private_key=_pem(private_key),
            wechatpay_public_key_id=wechatpay_public_key_id,
            wechatpay_public_key=_opt_pem(wechatpay_public_key),
            platform_certificates=(
                None if platform_certificates is None else [_pem(c) for c in platform_certificates]
            ),
            apiv3_key=apiv3_key,
            base_url=base_url,
            backup_base_url=backup_base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_attempts=max_attempts,
            download_certificates=download_certificates,
        )

    @property
    def mchid(self) -> str:
        """The merchant id."""
        return self._core.mchid

    @property
    def platform_certificate_serials(self) -> List[str]:
        """Serials of the platform certificates currently trusted."""
        return self._core.platform_certificate_serials

    def __repr__(self) -> str:
        return _renamed(self._core, type(self).__name__)


class PayClient(_PayBase, PayOperations):
    """WeChat Pay APIv3 client (blocking; the GIL is released while waiting).

    Every request is signed over the exact bytes sent, every answer's signature verified (204
    included), 5xx/429 retried with backoff and failed over to the backup host; bad input
    raises :class:`~weixin_kit.ValidationError` before anything is sent::

        pay = PayClient(mchid="1900000001", serial_no="...", private_key=pem,
                        wechatpay_public_key_id="PUB_KEY_ID_...", wechatpay_public_key=pub_pem,
                        apiv3_key=key)
        pay.busifavor.modify_stock_info(stock_id="1212", out_request_no="...", comment="...")
    """

    def _call(self, name: str, args: Dict[str, Any]) -> Any:
        return self._core.call(name, args)

    def parse_notification(self, headers: Headers, body: Body) -> Dict[str, Any]:
        """Verify a notification WeChat Pay POSTed to you and decrypt its ``resource``.

        Args:
            headers: the request headers as received (any mapping; names case-insensitive).
            body: the raw request body, unchanged (bytes, or the text exactly as received).

        Returns:
            ``{"id", "create_time", "event_type", "resource_type", "summary", "resource"}`` with
            ``resource`` the decrypted JSON. De-duplicate by ``id``.

        Raises:
            SignatureError: the signature, key serial or timestamp does not verify, or the
                resource does not decrypt (answer WeChat Pay with an error status).
            ValidationError: the body is not a notification envelope.
            ConfigError: the client has no APIv3 key.
        """
        return self._core.parse_notification(headers, body)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """A signed request to an endpoint the generated methods do not cover yet.

        ``path`` starts with ``/v3/`` and is signed and sent as given (percent-encode it
        yourself); ``body`` is JSON. Returns the decoded JSON (None for 204). Same signing,
        verification, retries and errors as the generated methods.
        """
        return self._core.request(method, path, body)


class AsyncPayClient(_PayBase, AsyncPayOperations):
    """WeChat Pay APIv3 client for asyncio: the same as :class:`PayClient`, every method
    awaitable. The Rust side runs on its own runtime; the event loop is never blocked."""

    async def _call(self, name: str, args: Dict[str, Any]) -> Any:
        # A coroutine, not the native future: nothing starts before it is awaited, and it can
        # be created outside a running loop (``asyncio.run(client.group.method(...))``).
        return await self._core.call_async(name, args)

    async def parse_notification(self, headers: Headers, body: Body) -> Dict[str, Any]:
        """See :meth:`PayClient.parse_notification`."""
        return await self._core.parse_notification_async(headers, body)

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        """See :meth:`PayClient.request`."""
        return await self._core.request_async(method, path, body)


class _MpBase:
    """What the sync and async mini-program clients share."""

    _core: MpCore

    def __init__(
        self,
        *,
        appid: str,
        secret: Optional[str] = None,
        token_store: Optional[str] = None,
        base_url: Optional[str] = None,
        timeout: Optional[float] = None,
        connect_timeout: Optional[float] = None,
        max_attempts: Optional[int] = None,
        token_endpoint: Optional[str] = None,
    ) -> None:
        """Configure a mini-program API client.

        Args:
            appid: the mini-program's AppID.
            secret: its AppSecret (fetches access tokens).
            token_store: where access tokens and card tickets are cached: ``"memory://"``
                (default, this client only) or ``"redis://host:port/db"`` (shared by every
                instance; connected on first use).
            base_url: the host (default ``https://api.weixin.qq.com``).
            timeout: seconds for one attempt (default 30).
            connect_timeout: seconds to connect (default 5).
            max_attempts: requests sent in total, retries included (default 3).
            token_endpoint: ``"stable_token"`` (getStableAccessToken, default) or ``"token"``.

        Raises:
            ConfigError: appid or secret missing, a bad token store URL or option.
        """
        self._core = MpCore(
            appid=appid,
            secret=secret,
            token_store=token_store,
            base_url=base_url,
            timeout=timeout,
            connect_timeout=connect_timeout,
            max_attempts=max_attempts,
            token_endpoint=token_endpoint,
        )

    @property
    def appid(self) -> str:
        """The mini-program's AppID."""
        return self._core.appid

    def __repr__(self) -> str:
        return _renamed(self._core, type(self).__name__)


class MiniProgramClient(_MpBase, MiniProgramOperations):
    """Mini-program server API client (blocking; the GIL is released while waiting).

    Access tokens are fetched, cached and refreshed for you (once per expiry, however many
    callers; on 40001/42001/40014 refreshed once and the call retried once)::

        mp = MiniProgramClient(appid="wx...", secret="...", token_store="redis://127.0.0.1/0")
        mp.service_card.set_user_notify_ext(openid=..., notify_type=1003, notify_code=...,
                                            ext_json={"pay_info": {...}})
    """

    def _call(self, name: str, args: Dict[str, Any]) -> Any:
        return self._core.call(name, args)

    def access_token(self) -> str:
        """A valid access token (from the cache, or fetched once for every concurrent caller)."""
        return self._core.access_token()


class AsyncMiniProgramClient(_MpBase, AsyncMiniProgramOperations):
    """Mini-program server API client for asyncio: :class:`MiniProgramClient`, awaitable."""

    async def _call(self, name: str, args: Dict[str, Any]) -> Any:
        # A coroutine, not the native future: nothing starts before it is awaited, and it can
        # be created outside a running loop (``asyncio.run(client.group.method(...))``).
        return await self._core.call_async(name, args)

    async def access_token(self) -> str:
        """See :meth:`MiniProgramClient.access_token`."""
        return await self._core.access_token_async()
