"""The exceptions weixin-kit raises: one class per kind of error the Rust core reports.

Every exception derives from :class:`WeixinKitError`. ``str(e)`` is the core's message (it never
contains a private key, the APIv3 key, an AppSecret, an access token or an Authorization
header); the fields of the error are attributes. Where a built-in exception fits, it is a second
base, so existing ``except ValueError`` / ``except ConnectionError`` / ``except TimeoutError``
handlers keep working::

    try:
        client.busifavor.modify_stock_info(stock_id="1212", out_request_no="...", comment="...")
    except weixin_kit.ValidationError as e:   # nothing was sent
        print(e.field, e.rule)
    except weixin_kit.ApiError as e:          # WeChat Pay answered with an error
        print(e.status, e.code, e.msg, e.solution, e.request_id)
        if e.retryable:
            ...                               # send the same request again (same out_request_no)
"""

from __future__ import annotations

import builtins
from typing import Any, Optional

__all__ = [
    "WeixinKitError",
    "ApiError",
    "MiniProgramError",
    "SignatureError",
    "ValidationError",
    "TransportError",
    "TimeoutError",
    "ConfigError",
    "UnexpectedResponseError",
    "CallbackError",
    "ReplayError",
    "NotAuthorizedError",
]


class WeixinKitError(Exception):
    """Base class of every weixin-kit error.

    Attributes:
        detail: what went wrong, beyond the message (a string for most kinds; the JSON ``detail``
            object of a WeChat Pay error for :class:`ApiError`), or ``None``.
        retryable: whether the same request may be sent again (the client has already retried
            what it could within its retry policy).
    """

    retryable: bool = False

    def __init__(self, message: str = "", *, detail: Any = None) -> None:
        super().__init__(message)
        self.detail = detail


class ApiError(WeixinKitError):
    """WeChat Pay answered with an error status and a ``{"code", "message", "detail"}`` body.

    Attributes:
        status: the HTTP status (400, 403, 404, 429, 500 …).
        code: WeChat Pay's error code (``PARAM_ERROR``, ``RESOURCE_NOT_EXISTS`` …).
        msg: WeChat Pay's ``message`` text (also part of ``str(e)``).
        detail: the ``detail`` object of the body (e.g. ``{"field": ..., "issue": ...}``), or None.
        request_id: the ``Request-ID`` response header: quote it to WeChat Pay support.
        solution: the documented solution (解决方案) for this status and code, when there is one.
        advice: further documented guidance, when there is some.
        retryable: the documents say the same request may be sent again.
        retry_after: seconds to wait before sending it again, when the documents name a delay.
        sign_diagnosis: for a 401 SIGN_ERROR, WeChat's signing string compared with the one
            signed (a dict: ``first_difference`` — method, url, timestamp, nonce, body or None —,
            ``ours_len``/``theirs_len``, ``ours_body_len``/``theirs_body_len``,
            ``ours_truncated``/``theirs_truncated``, ``clock_skew_secs``, ``cause`` —
            body_changed, query_encoding, url_changed, method_changed, header_mismatch,
            clock_skew, wrong_mchid, wrong_serial, key_mismatch, unknown — and ``explanation``),
            else None.
    """

    def __init__(
        self,
        message: str = "",
        *,
        status: int = 0,
        code: str = "",
        msg: str = "",
        detail: Any = None,
        request_id: Optional[str] = None,
        solution: Optional[str] = None,
        advice: Optional[str] = None,
        retryable: bool = False,
        retry_after: Optional[float] = None,
        sign_diagnosis: Optional[dict] = None,
    ) -> None:
        super().__init__(message, detail=detail)
        self.sign_diagnosis = sign_diagnosis
        self.status = status
        self.code = code
        self.msg = msg
        self.request_id = request_id
        self.solution = solution
        self.advice = advice
        self.retryable = retryable
        self.retry_after = retry_after


class MiniProgramError(WeixinKitError):
    """A mini-program API answered ``{"errcode": N, "errmsg": ...}`` with N ≠ 0.

    Attributes:
        errcode: WeChat's error code (85437 notify_code not found, 40001 invalid token …).
        errmsg: WeChat's error text.
        solution: the documented solution for this errcode, when there is one.
        advice: further documented guidance (85437: a transaction id may need about a minute
            after payment before it can be used), when there is some.
        retryable: the documents say the same request may be sent again.
        retry_after: seconds to wait before sending it again, when the documents name a delay
            (85437: 60).
    """

    def __init__(
        self,
        message: str = "",
        *,
        errcode: int = 0,
        errmsg: str = "",
        solution: Optional[str] = None,
        advice: Optional[str] = None,
        retryable: bool = False,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(message)
        self.errcode = errcode
        self.errmsg = errmsg
        self.solution = solution
        self.advice = advice
        self.retryable = retryable
        self.retry_after = retry_after


class SignatureError(WeixinKitError):
    """A response or notification failed verification: missing or bad signature, a key serial
    that is neither the WeChat Pay public key ID nor a known platform certificate, a timestamp
    more than 5 minutes off, or an encrypted resource whose authentication tag does not verify
    (wrong APIv3 key, or tampering). Never act on the data that came with it.

    Attributes:
        detail: which check failed.
    """


class ValidationError(WeixinKitError, ValueError):
    """Bad input, caught before anything was sent.

    Attributes:
        field: the wire name (path) of the offending argument, e.g.
            ``custom_entrance.mini_programs_info.entrance_words``.
        rule: the rule it breaks, e.g. ``is required`` or ``must be at most 20 characters``.
    """

    def __init__(self, message: str = "", *, field: str = "", rule: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule


class _MaybeApplied(WeixinKitError):
    """A failure without an answer: ``may_have_been_applied`` says whether the request may have
    reached the server (then it was not sent again, and ``retryable`` is false)."""

    retryable = True

    def __init__(
        self,
        message: str = "",
        *,
        detail: Any = None,
        retryable: Optional[bool] = None,
        may_have_been_applied: bool = False,
    ) -> None:
        super().__init__(message, detail=detail)
        self.may_have_been_applied = may_have_been_applied
        self.retryable = not may_have_been_applied if retryable is None else retryable


class TransportError(_MaybeApplied, ConnectionError):
    """The request could not be delivered or the connection failed (after the client's retries
    and failover to the backup host). The same request may be sent again unless
    ``may_have_been_applied``.

    Attributes:
        detail: what failed.
        may_have_been_applied: the connection failed after the request may have reached the
            server (a non-idempotent request is then not resent): check its outcome (e.g. by
            ``out_request_no``) before sending it again.
    """


class TimeoutError(_MaybeApplied, builtins.TimeoutError):  # noqa: A001 - the kind's name
    """The request (or the call's ``deadline``) did not complete in time, after the client's
    retries. The same request may be sent again unless ``may_have_been_applied``.

    Attributes:
        detail: what timed out.
        may_have_been_applied: as for :class:`TransportError`.
    """


class ConfigError(WeixinKitError, ValueError):
    """The client is misconfigured: a key that does not parse (the accepted formats are named),
    an APIv3 key that is not 32 bytes, a missing credential, a bad option.

    Attributes:
        detail: what is wrong.
    """


class UnexpectedResponseError(WeixinKitError):
    """The server answered, but not in the documented shape (a body that is not the expected
    JSON, an error status without a WeChat error body …).

    Attributes:
        status: the HTTP status.
        detail: what did not match.
    """

    def __init__(self, message: str = "", *, status: int = 0, detail: Any = None) -> None:
        super().__init__(message, detail=detail)
        self.status = status


class CallbackError(WeixinKitError):
    """A function you gave the client (``token_provider``, ``signer``) raised or returned
    something unusable (not a string, an empty one). Nothing was sent with it. A callback that
    takes longer than ``callback_timeout`` is a :class:`TimeoutError` instead.

    Attributes:
        callback: which callback (``"token_provider"`` or ``"signer"``).
        detail: what it raised (the exception's type and text) or returned.
    """

    def __init__(self, message: str = "", *, callback: str = "", detail: Any = None) -> None:
        super().__init__(message, detail=detail)
        self.callback = callback


class ReplayError(WeixinKitError):
    """A notification already received was parsed again (only with ``replay_guard``): its
    ``id``, or its signed serial, nonce and timestamp, was seen before by this client or any
    instance sharing the guard. A replay, or WeChat Pay delivering it again: answer success if
    you already processed ``notification_id``. Carries the id only, never the decrypted content.

    Attributes:
        notification_id: the notification's ``id``.
        detail: which check matched.
    """

    def __init__(self, message: str = "", *, notification_id: str = "", detail: Any = None) -> None:
        super().__init__(message, detail=detail)
        self.notification_id = notification_id


class NotAuthorizedError(WeixinKitError):
    """A third-party platform (第三方平台) may no longer act for the merchant's account
    ``authorizer_appid``: the merchant revoked the authorization (an ``unauthorized`` push), WeChat
    refused its refresh token (errcode 61023), or it was never authorized through this platform.
    Its tokens were cleared and no refresh is attempted any more: the merchant must authorize the
    platform again (a new authorization code, then ``authorize``).

    Attributes:
        authorizer_appid: the merchant's appid.
        detail: why (which errcode or push).
    """

    def __init__(
        self, message: str = "", *, authorizer_appid: str = "", detail: Any = None
    ) -> None:
        super().__init__(message, detail=detail)
        self.authorizer_appid = authorizer_appid
