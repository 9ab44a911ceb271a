"""The clients: WeChat Pay, mini-program and third-party platform (第三方平台), each sync and
async.

Each wraps one native core (``weixin_kit._native.ClientCore`` of family ``"pay"``, ``"mp"`` or
``"component"``: the Rust client, with its connection pool, keys, token cache and retries). The
constructors (``weixin_kit._generated.config``) are generated from the core's configuration
structures; the per-operation methods are inherited from the generated mixins
(``weixin_kit._generated``), which all end in ``self._call(name, args)``.
A client is safe to share between threads (sync) or tasks (async); create one per credential
set and keep it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Union

from ._generated.config import ComponentConfig, MiniProgramConfig, PayConfig
from ._generated.component import AsyncThirdPartyPlatformOperations, ThirdPartyPlatformOperations
from ._generated.mp import AsyncMiniProgramOperations, MiniProgramOperations
from ._generated.pay import AsyncPayOperations, PayOperations
from ._native import ClientCore
from ._logging import refresh_log_level
from .errors import ValidationError

__all__ = [
    "PayClient",
    "AsyncPayClient",
    "MiniProgramClient",
    "AsyncMiniProgramClient",
    "ComponentClient",
    "AsyncComponentClient",
]

Headers = Mapping[str, str]
#: A push URL's query: the raw query string (``request.query_string``) or its parameters (any
#: mapping: a dict, Flask's ``request.args``).
Query = Union[str, bytes, bytearray, Mapping[str, str]]
Body = Union[bytes, bytearray, str]


def _config(arguments: Dict[str, Any]) -> Dict[str, Any]:
    """The constructor's keyword arguments as the core's configuration (``PayConfig`` /
    ``MiniProgramConfig`` / ``ComponentConfig``: the same keys, validated there): absent ones
    dropped, PEM bytes as text."""

    def text(value: Any) -> Any:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value).decode("ascii")
        if isinstance(value, (list, tuple)):
            return [text(v) for v in value]
        return value

    return {k: text(v) for k, v in arguments.items() if v is not None}


def _headers(headers: Headers) -> Dict[str, Any]:
    """A request's headers (a dict, or a framework's headers object: anything with
    ``.items()``) as the core takes them: name → value, or → [values] when repeated."""
    items = getattr(headers, "items", None)
    if not callable(items):
        rule = "must be a mapping of header name to value"
        raise ValidationError(f"invalid `headers`: {rule}", field="headers", rule=rule)
    out: Dict[str, Any] = {}
    for name, value in items():
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("latin-1")
        if name in out:
            previous = out[name]
            out[name] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            out[name] = value
    return out


def _query(query: Query) -> Any:
    """A push URL's query as the core takes it: the query string as text, or name → value."""
    if isinstance(query, (bytes, bytearray)):
        return bytes(query).decode("latin-1")
    if isinstance(query, str):
        return query
    items = getattr(query, "items", None)
    if not callable(items):
        rule = "must be the query string or a mapping of parameter name to value"
        raise ValidationError(f"invalid `query`: {rule}", field="query", rule=rule)
    return {str(name): value for name, value in items()}


def _repr(client: Any) -> str:
    shown = ", ".join(f"{k}={v!r}" for k, v in client._core.info.items() if k != "family")
    return f"{type(client).__name__}({shown})"


class _Client:
    """Every client: the constructor (``weixin_kit._generated.config``, from the core's
    configuration structures) builds the native core here."""

    _core: ClientCore

    def _configure(self, family: str, config: Dict[str, Any], **callbacks: Any) -> None:
        self._core = ClientCore(family, _config(config), **callbacks)
        refresh_log_level()

    def __repr__(self) -> str:
        return _repr(self)


class _PayBase(_Client, PayConfig):
    """What the sync and async WeChat Pay clients share: the constructor (generated from the
    core's ``PayConfig``) and properties."""

    @property
    def mchid(self) -> str:
        """The merchant id."""
        return str(self._core.info["mchid"])

    @property
    def platform_certificate_serials(self) -> List[str]:
        """Serials of the platform certificates currently trusted."""
        return list(self._core.call("platformCertificateSerials"))


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
        return self._core.call("parseNotification", {"headers": _headers(headers), "body": body})

    def request(
        self, method: str, path: str, body: Any = None, *, idempotent: Optional[bool] = None
    ) -> Any:
        """A signed request to an endpoint the generated methods do not cover yet.

        ``path`` starts with ``/v3/`` and is signed and sent as given (percent-encode it
        yourself); ``body`` is JSON. Returns the decoded JSON (None for 204). Same signing,
        verification, retries and errors as the generated methods. ``idempotent``: whether
        sending it twice has the effect of sending it once (default: by method — GET, HEAD,
        OPTIONS, PUT, DELETE yes; POST, PATCH no); a request that is not is never resent after
        a failure that may have come after WeChat Pay received it (the error's
        ``may_have_been_applied`` is then true).
        """
        args = {"method": method, "path": path, "body": body, "idempotent": idempotent}
        return self._core.call("request", args)


class AsyncPayClient(_PayBase, AsyncPayOperations):
    """WeChat Pay APIv3 client for asyncio: the same as :class:`PayClient`, every method
    awaitable. The Rust side runs on its own runtime; the event loop is never blocked."""

    async def _call(self, name: str, args: Dict[str, Any]) -> Any:
        # A coroutine, not the native future: nothing starts before it is awaited, and it can
        # be created outside a running loop (``asyncio.run(client.group.method(...))``).
        return await self._core.call_async(name, args)

    async def parse_notification(self, headers: Headers, body: Body) -> Dict[str, Any]:
        """See :meth:`PayClient.parse_notification`."""
        args = {"headers": _headers(headers), "body": body}
        return await self._core.call_async("parseNotification", args)

    async def request(
        self, method: str, path: str, body: Any = None, *, idempotent: Optional[bool] = None
    ) -> Any:
        """See :meth:`PayClient.request`."""
        args = {"method": method, "path": path, "body": body, "idempotent": idempotent}
        return await self._core.call_async("request", args)


class _MpBase(_Client, MiniProgramConfig):
    """What the sync and async mini-program clients share: the constructor (generated from the
    core's ``MiniProgramConfig``) and properties."""

    @classmethod
    def _of(cls, core: ClientCore) -> Any:
        """A client around an existing native core (``ComponentClient.authorizer``)."""
        client = cls.__new__(cls)
        client._core = core
        return client

    @property
    def appid(self) -> str:
        """The mini-program's AppID."""
        return str(self._core.info["appid"])


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
        return str(self._core.call("accessToken"))


class AsyncMiniProgramClient(_MpBase, AsyncMiniProgramOperations):
    """Mini-program server API client for asyncio: :class:`MiniProgramClient`, awaitable."""

    async def _call(self, name: str, args: Dict[str, Any]) -> Any:
        # A coroutine, not the native future: nothing starts before it is awaited, and it can
        # be created outside a running loop (``asyncio.run(client.group.method(...))``).
        return await self._core.call_async(name, args)

    async def access_token(self) -> str:
        """See :meth:`MiniProgramClient.access_token`."""
        return str(await self._core.call_async("accessToken"))


class _ComponentBase(_Client, ComponentConfig):
    """What the sync and async third-party platform clients share: the constructor (generated
    from the core's ``ComponentConfig``) and properties."""

    @property
    def component_appid(self) -> str:
        """The third-party platform's AppID."""
        return str(self._core.info["component_appid"])


class ComponentClient(_ComponentBase, ThirdPartyPlatformOperations):
    """Third-party platform (第三方平台) client (blocking; the GIL is released while waiting).

    Receives the authorization-event pushes (``parse_push``: the component_verify_ticket is
    stored, an ``unauthorized`` authorizer forgotten), keeps the component_access_token and every
    authorizer's access and refresh tokens in ``token_store``, and calls the mini-program APIs as
    an authorizer (``authorizer(appid)``)::

        platform = ComponentClient(component_appid="wx...", component_appsecret="...",
                                   token="...", encoding_aes_key="...",
                                   token_store="redis://127.0.0.1/0")
        event = platform.parse_push(request.query_string, request.get_data())  # answer "success"
        if event["info_type"] == "authorized":
            platform.authorize(event["authorization_code"])
        platform.authorizer(event["authorizer_appid"]).service_card.set_user_notify_ext(...)
    """

    def _call(self, name: str, args: Dict[str, Any]) -> Any:
        return self._core.call(name, args)

    def authorizer(self, authorizer_appid: str) -> MiniProgramClient:
        """A :class:`MiniProgramClient` acting for the merchant's account ``authorizer_appid``
        (its ``authorizer_access_token``, refreshed with the stored refresh token), sharing this
        client's connections and store. Its calls raise :class:`~weixin_kit.NotAuthorizedError`
        once the merchant must authorize again."""
        return MiniProgramClient._of(self._core.authorizer(authorizer_appid))

    def parse_push(self, query: Query, body: Body) -> Dict[str, Any]:
        """Verify (``msg_signature``), decrypt and type an authorization-event push WeChat
        POSTed to the platform's push URL (授权事件接收URL).

        Args:
            query: the URL's query string as received (``request.query_string``), or its
                parameters (``request.args``): ``timestamp``, ``nonce``, ``encrypt_type``,
                ``msg_signature``.
            body: the raw request body (``<xml><AppId/><Encrypt/></xml>``), unchanged.

        Returns:
            ``{"info_type", "app_id", "create_time", …}``: for ``component_verify_ticket``
            ``ticket_received`` (the ticket is stored, never returned; a newer one wins); for
            ``authorized`` / ``updateauthorized`` / ``unauthorized`` ``authorizer_appid``,
            ``authorization_code``, ``authorization_code_expired_time``, ``pre_auth_code`` (an
            ``unauthorized`` authorizer's tokens are cleared). Answer the plain text
            ``success``.

        Raises:
            SignatureError: the signature does not verify or the body does not decrypt.
            ValidationError: the query or body is not a push.
            ConfigError: the client has no ``token`` / ``encoding_aes_key``.
        """
        return self._core.call("parsePush", {"query": _query(query), "body": body})

    def component_access_token(self) -> str:
        """A valid component_access_token (from the store, or fetched once for every caller with
        the last verify ticket pushed)."""
        return str(self._core.call("componentAccessToken"))

    def authorize(self, authorization_code: str) -> Dict[str, Any]:
        """Exchange an authorization code (from an ``authorized`` / ``updateauthorized`` push,
        or the authorization page's redirect) for the authorizer's tokens, stored (the refresh
        token first). Returns ``{"authorizer_appid", "func_info": [permission set ids],
        "expires_in"}`` — no token."""
        return dict(self._core.call("authorize", {"authorization_code": authorization_code}))

    def authorizer_access_token(self, authorizer_appid: str) -> str:
        """A valid authorizer_access_token for ``authorizer_appid``; raises
        :class:`~weixin_kit.NotAuthorizedError` when the merchant must authorize again."""
        args = {"authorizer_appid": authorizer_appid}
        return str(self._core.call("authorizerAccessToken", args))

    def forget_authorizer(self, authorizer_appid: str) -> None:
        """Delete ``authorizer_appid``'s stored tokens (what an ``unauthorized`` push does)."""
        self._core.call("forgetAuthorizer", {"authorizer_appid": authorizer_appid})


class AsyncComponentClient(_ComponentBase, AsyncThirdPartyPlatformOperations):
    """Third-party platform client for asyncio: :class:`ComponentClient`, awaitable;
    ``authorizer(appid)`` returns an :class:`AsyncMiniProgramClient` (no I/O: not awaited)."""

    async def _call(self, name: str, args: Dict[str, Any]) -> Any:
        return await self._core.call_async(name, args)

    def authorizer(self, authorizer_appid: str) -> AsyncMiniProgramClient:
        """See :meth:`ComponentClient.authorizer`."""
        return AsyncMiniProgramClient._of(self._core.authorizer(authorizer_appid))

    async def parse_push(self, query: Query, body: Body) -> Dict[str, Any]:
        """See :meth:`ComponentClient.parse_push`."""
        return await self._core.call_async("parsePush", {"query": _query(query), "body": body})

    async def component_access_token(self) -> str:
        """See :meth:`ComponentClient.component_access_token`."""
        return str(await self._core.call_async("componentAccessToken"))

    async def authorize(self, authorization_code: str) -> Dict[str, Any]:
        """See :meth:`ComponentClient.authorize`."""
        args = {"authorization_code": authorization_code}
        return dict(await self._core.call_async("authorize", args))

    async def authorizer_access_token(self, authorizer_appid: str) -> str:
        """See :meth:`ComponentClient.authorizer_access_token`."""
        args = {"authorizer_appid": authorizer_appid}
        return str(await self._core.call_async("authorizerAccessToken", args))

    async def forget_authorizer(self, authorizer_appid: str) -> None:
        """See :meth:`ComponentClient.forget_authorizer`."""
        await self._core.call_async("forgetAuthorizer", {"authorizer_appid": authorizer_appid})
