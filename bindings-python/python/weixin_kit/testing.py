"""An in-process WeChat sandbox for tests: the same server the Rust, spec and demo suites use.

It speaks the real protocol on two loopback ports (main and backup, same state, one base URL
for both WeChat Pay and mini-program routes): it verifies request signatures as WeChat Pay does
(a bad one answers ``401 SIGN_ERROR``), signs every response, keeps merchant-coupon stocks, sends
signed and encrypted notifications, issues mini-program tokens and card tickets, plays WeChat for
a third-party platform (encrypted authorization pushes, authorizer tokens:
:meth:`Sandbox.component`, :meth:`Sandbox.component_client`), and injects faults. ::

    from weixin_kit.testing import Sandbox

    with Sandbox() as sb:
        sb.create_stock("101156451224", stock_name="8月1日活动券")
        pay = sb.pay_client()
        pay.busifavor.modify_stock_info(stock_id="101156451224", out_request_no="r-1",
                                        comment="活动使用")
        assert sb.counters()["requests"]["ModifyStockInfo"] == 1

As a pytest fixture::

    @pytest.fixture
    def sandbox():
        with Sandbox() as sb:
            yield sb
"""

from __future__ import annotations

import urllib.parse
from typing import Any, Dict, List, Optional

from ._clients import (
    AsyncComponentClient,
    AsyncMiniProgramClient,
    AsyncPayClient,
    ComponentClient,
    MiniProgramClient,
    PayClient,
)
from ._native import SandboxCore

__all__ = ["Sandbox"]


def _present(fields: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


# The third-party platform's control routes read with GET (when given no fields).
_COMPONENT_READS = ("config", "counters", "pushes")


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class Sandbox:
    """A running sandbox (started by the constructor, stopped by :meth:`close` or ``with``)."""

    def __init__(self) -> None:
        self._core = SandboxCore()

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        """One call of the sandbox's control API (sandbox/README.md), in-process."""
        return self._core.control(method, path, body)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Stop both listeners. Idempotent."""
        self._core.close()

    @property
    def closed(self) -> bool:
        return self._core.closed

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Sandbox(base_url={self.base_url!r}{', closed' if self.closed else ''})"

    # -- where and who -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The main listener: stands for api.mch.weixin.qq.com and api.weixin.qq.com."""
        return self._core.base_url

    @property
    def backup_base_url(self) -> str:
        """The backup listener (api2.mch.weixin.qq.com): same routes, same state."""
        return self._core.backup_base_url

    @property
    def credentials(self) -> Dict[str, str]:
        """``mchid``, ``serial_no``, ``merchant_private_key``, ``wechatpay_public_key_id``,
        ``wechatpay_public_key``, ``apiv3_key``, ``appid``, ``secret``, ``platform_serial_no``,
        ``platform_certificate``."""
        return dict(self._control("GET", "/sandbox/client/credentials"))

    # -- clients configured for it -------------------------------------------------------

    def _pay_kwargs(self, overrides: Dict[str, Any]) -> Dict[str, Any]:
        kwargs: Dict[str, Any] = dict(self._control("GET", "/sandbox/client/pay_config"))
        kwargs.update(overrides)
        return kwargs

    def _mp_kwargs(self, overrides: Dict[str, Any]) -> Dict[str, Any]:
        kwargs: Dict[str, Any] = dict(self._control("GET", "/sandbox/client/mp_config"))
        kwargs.update(overrides)
        return kwargs

    def _component_kwargs(self, overrides: Dict[str, Any]) -> Dict[str, Any]:
        kwargs: Dict[str, Any] = dict(self._control("GET", "/sandbox/client/component_config"))
        kwargs.update(overrides)
        return kwargs

    def pay_client(self, **overrides: Any) -> PayClient:
        """A :class:`~weixin_kit.PayClient` for this sandbox (public-key mode, APIv3 key, main and
        backup URLs); keyword arguments replace any of its settings."""
        return PayClient(**self._pay_kwargs(overrides))

    def async_pay_client(self, **overrides: Any) -> AsyncPayClient:
        """An :class:`~weixin_kit.AsyncPayClient` configured like :meth:`pay_client`."""
        return AsyncPayClient(**self._pay_kwargs(overrides))

    def mp_client(self, **overrides: Any) -> MiniProgramClient:
        """A :class:`~weixin_kit.MiniProgramClient` for this sandbox (its appid and secret)."""
        return MiniProgramClient(**self._mp_kwargs(overrides))

    def async_mp_client(self, **overrides: Any) -> AsyncMiniProgramClient:
        """An :class:`~weixin_kit.AsyncMiniProgramClient` configured like :meth:`mp_client`."""
        return AsyncMiniProgramClient(**self._mp_kwargs(overrides))

    def component_client(self, **overrides: Any) -> ComponentClient:
        """A :class:`~weixin_kit.ComponentClient` for this sandbox's third-party platform (its
        component_appid, AppSecret, message-check token and EncodingAESKey)."""
        return ComponentClient(**self._component_kwargs(overrides))

    def async_component_client(self, **overrides: Any) -> AsyncComponentClient:
        """An :class:`~weixin_kit.AsyncComponentClient` configured like
        :meth:`component_client`."""
        return AsyncComponentClient(**self._component_kwargs(overrides))

    # -- WeChat Pay state ----------------------------------------------------------------

    def create_stock(self, stock_id: Optional[str] = None, **fields: Any) -> Dict[str, Any]:
        """Create a merchant-coupon stock that ModifyStockInfo can change; returns it.

        ``fields``: ``stock_name`` (default "沙箱测试券"), ``comment``, ``goods_name``,
        ``subsidy``, ``creator_mchid`` (another merchant: ModifyStockInfo then answers 403),
        ``available_end_time`` (RFC 3339; in the past: 403), or any other stock field.
        ``stock_id`` is generated when absent.
        """
        stock = _present(fields)
        stock.setdefault("stock_name", "沙箱测试券")
        if stock_id is not None:
            stock["stock_id"] = stock_id
        return dict(self._control("POST", "/sandbox/stocks", stock))

    def stock(self, stock_id: str) -> Optional[Dict[str, Any]]:
        """The stock (with ``applied_out_request_nos``), or None."""
        return self._control("GET", f"/sandbox/stocks/{_segment(stock_id)}")

    def stocks(self) -> List[Dict[str, Any]]:
        return list(self._control("GET", "/sandbox/stocks"))

    def media(self) -> List[Dict[str, Any]]:
        """Images uploaded through MarketingImageUpload."""
        return list(self._control("GET", "/sandbox/media"))

    def notify_url(self) -> Optional[str]:
        """The URL registered with SetCouponNotify."""
        return self._control("GET", "/sandbox/notify_url")["notify_url"]

    def send_coupon_notification(self, stock_id: str, **fields: Any) -> Dict[str, Any]:
        """Send a COUPON.SEND notification, signed and encrypted as WeChat Pay does, to the URL
        registered with SetCouponNotify (or ``notify_url=``), and wait for its delivery (the
        receiver may be a server in this process: the GIL is released meanwhile).

        ``fields``: ``coupon_code``, ``openid``, ``unionid``, ``send_channel``,
        ``send_merchant``, ``send_time``, ``attach_info``, ``event_type``, ``notify_url``,
        ``max_attempts``, ``interval_ms``, ``tamper_signature``, ``stale_timestamp``.

        Returns:
            ``{"id", "notify_url", "delivered", "attempts", "envelope", "payload"}``.
        """
        notification = _present(fields)
        notification["stock_id"] = stock_id
        return dict(self._control("POST", "/sandbox/notifications/coupon", notification))

    def notifications(self) -> List[Dict[str, Any]]:
        """Delivery reports of the notifications sent since :meth:`reset_log`."""
        return list(self._control("GET", "/sandbox/notifications"))

    # -- faults --------------------------------------------------------------------------

    def inject_fault(
        self,
        operation: Optional[str] = None,
        kind: str = "system_error",
        *,
        path_prefix: Optional[str] = None,
        count: Optional[int] = None,
        **fields: Any,
    ) -> int:
        """Make matching requests fail; returns the rule's id.

        Args:
            operation: ``ModifyStockInfo``, ``SetCouponNotify``, ``MarketingImageUpload``,
                ``Certificates`` or a mini-program operation (``setUserNotifyExt``); with
                neither this nor ``path_prefix`` every request matches.
            kind: ``system_error`` (500), ``frequency_limited`` (429), ``daily_quota``,
                ``connection_reset``, ``latency`` (``ms=``), ``tamper_signature``,
                ``stale_timestamp`` (``seconds=``, default 600); after the change is applied
                (and logged): ``reset_after_apply`` (no answer), ``latency_after_apply``
                (``ms=``). ``probability=`` (0 < p <= 1) and ``seed=`` hit a seeded random share
                of the matching requests.
            path_prefix: match by path instead (``/v3/marketing/``, ``/cgi-bin/``).
            count: the next N matching requests (default: until :meth:`clear_faults`).
        """
        fault = _present(fields)
        fault.update(_present({"operation": operation, "path_prefix": path_prefix, "count": count}))
        fault["kind"] = kind
        return int(self._control("POST", "/sandbox/faults", fault)["id"])

    def faults(self) -> List[Dict[str, Any]]:
        """The active fault rules (with ``remaining``)."""
        return list(self._control("GET", "/sandbox/faults"))

    def clear_faults(self) -> None:
        self._control("DELETE", "/sandbox/faults")

    def set_main_down(self, down: bool = True) -> None:
        """While down, the main listener drops every request; the backup keeps serving."""
        self._control("POST", "/sandbox/main/down" if down else "/sandbox/main/up")

    def set_signing_mode(self, mode: str) -> None:
        """``"public_key"`` (default) or ``"certificate"``: which key signs responses."""
        self._control("POST", "/sandbox/signing_mode", {"mode": mode})

    # -- observation ---------------------------------------------------------------------

    def counters(self) -> Dict[str, Any]:
        """``{"requests": {operation: n}, "applied_out_request_nos": {stock_id: [...]},
        "notifications": {...}, "mp": {...}}``."""
        return dict(self._control("GET", "/sandbox/counters"))

    def requests(self) -> List[Dict[str, Any]]:
        """The request log, oldest first: ``seq, time, listener, method, path, operation, body,
        signature, status, faults, request_id``."""
        return list(self._control("GET", "/sandbox/requests"))

    def reset_log(self) -> None:
        """Clear the request log and the WeChat Pay counters (stocks stay; the mini-program
        counters, :meth:`mp_counters`, keep counting)."""
        self._control("DELETE", "/sandbox/requests")

    # -- third-party platform (第三方平台) -------------------------------------------------

    def component(self, action: str, **fields: Any) -> Any:
        """One control call of the third-party platform peer: ``/sandbox/component/{action}``
        (sandbox/README.md; every route in ``sandbox/src/component/mod.rs``), ``fields`` as its
        JSON body. ``config``, ``counters`` and ``pushes`` without fields are read (GET); every
        other call is a POST, which waits for the push it causes to be delivered (the receiver
        may be a server in this process: the GIL is released meanwhile). E.g.::

            sb.component("config", push_url="http://127.0.0.1:5000/wechat/component/push")
            sb.component("push_ticket")                   # → the delivery report
            sb.component("authorize", func_ids=[18])      # → {authorizer_appid,
                                                          #    authorization_code, push, …}
            sb.component("revoke", authorizer_appid=appid)
            sb.component("rotate_refresh_token", authorizer_appid=appid)
            sb.component("counters"); sb.component("pushes")
        """
        path = f"/sandbox/component/{_segment(action)}"
        if not fields and action in _COMPONENT_READS:
            return self._control("GET", path)
        return self._control("POST", path, _present(fields))

    # -- mini-program side ---------------------------------------------------------------

    def mp_add_user(self, openid: str) -> None:
        """Register a user (openid)."""
        self._control("POST", "/sandbox/mp/users", {"openid": openid})

    def mp_add_notify_code(
        self, openid: str, notify_type: int, notify_code: str, **fields: Any
    ) -> None:
        """Register a notify_code for setUserNotifyExt. ``fields``: ``valid_after_secs`` (85437
        until then), ``banned`` (85436), ``expire_after_secs``, ``code_state``,
        ``requires_check_json``."""
        registration = _present(fields)
        registration.update(openid=openid, notify_type=notify_type, notify_code=notify_code)
        self._control("POST", "/sandbox/mp/notify_codes", registration)

    def mp_notify_ext(self, openid: str, notify_code: str) -> Optional[Dict[str, Any]]:
        """What setUserNotifyExt delivered for this code (``ext_json`` as sent, ``ext`` decoded,
        ``ext_history``, ``count`` …), or None."""
        query = urllib.parse.urlencode({"openid": openid, "notify_code": notify_code})
        return self._control("GET", f"/sandbox/mp/notify_ext?{query}")

    def mp_create_card(
        self, card_id: str, owner_appid: Optional[str] = None, **fields: Any
    ) -> Dict[str, Any]:
        """Register a card, owned by ``owner_appid`` (default: the sandbox's Official Account,
        ``credentials["card_appid"]``: cards belong to the account that created them).
        ``fields``: ``custom_code``, ``bind_openid``."""
        card = _present(fields)
        card["card_id"] = card_id
        if owner_appid is not None:
            card["owner_appid"] = owner_appid
        return dict(self._control("POST", "/sandbox/mp/cards", card))

    def wx_add_card(
        self, card_list: List[Dict[str, Any]], openid: Optional[str] = None
    ) -> Dict[str, Any]:
        """What the front end's ``wx.addCard`` does with ``cardList`` (items as ``card_ext``
        returns them): each cardExt signature is checked against the card owner's wx_card
        ticket. Returns the success callback's ``{"errMsg", "cardList": [{"cardId", "cardExt",
        "code" (encrypted: decrypt it with ``decrypt_card_code``), "isSuccess"}]}``."""
        return dict(self._control("POST", "/sandbox/card/add", _present({"cardList": card_list, "openid": openid})))

    def mp_encrypt_card_code(self, card_id: str, code: str) -> str:
        """A card code encrypted as ``wx.addCard`` returns it (for decryptCardCode)."""
        body = {"card_id": card_id, "code": code}
        return str(self._control("POST", "/sandbox/mp/card_codes", body)["encrypt_code"])

    def mp_add_errcode_fault(
        self, path: str, errcode: int, count: Optional[int] = None, errmsg: Optional[str] = None
    ) -> None:
        """The route ``path`` (``/wxa/set_user_notifyext``, or ``*``) answers ``errcode`` for the
        next ``count`` calls (default: until :meth:`mp_clear_errcode_faults`)."""
        fault = _present({"path": path, "errcode": errcode, "count": count, "errmsg": errmsg})
        self._control("POST", "/sandbox/mp/errcode_faults", fault)

    def mp_clear_errcode_faults(self) -> None:
        self._control("DELETE", "/sandbox/mp/errcode_faults")

    def mp_expire_tokens(self) -> None:
        """Every access token expires now (the next call answers 42001)."""
        self._control("POST", "/sandbox/mp/expire_tokens")

    def mp_expire_tickets(self) -> None:
        """Every card/JS-SDK ticket expires now (the next ``card_ext`` fetches a new one)."""
        self._control("POST", "/sandbox/mp/expire_tickets")

    def mp_advance_clock(self, seconds: float) -> None:
        """Move the mini-program side's clock forward: token and ticket lifetimes, and a
        notify_code's "valid after" delay (85437), pass without waiting."""
        self._control("POST", "/sandbox/mp/advance_clock", {"seconds": seconds})

    def mp_counters(self) -> Dict[str, Any]:
        """Tokens and tickets issued, calls per operation, faults injected."""
        return dict(self._control("GET", "/sandbox/mp/counters"))
