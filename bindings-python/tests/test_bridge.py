"""What the Python package takes from the core's bridge: the configuration keys (checked by the
core, errors naming the key), the error classes (one per kind of the core's table, with its
fields), the callbacks (a signer for keys in a KMS, a token provider for tokens from elsewhere:
plain or async functions), and the sandbox driven by one generic control call.

Signatures in the signer tests are made with Python ``cryptography`` (not weixin-kit), and the
sandbox's verdict on each request is read from its log.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

import weixin_kit
from weixin_kit import _native, errors

from support import resolve, uid


def kms_signer(sb, calls):
    """A signer standing for a KMS: Python ``cryptography`` with the merchant's key."""
    key = serialization.load_pem_private_key(
        sb.credentials["merchant_private_key"].encode(), password=None
    )

    def sign(message: str) -> str:
        calls.append(message)
        signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    return sign


def no_key(sb, kind, **overrides):
    factory = sb.pay_client if kind == "sync" else sb.async_pay_client
    return factory(private_key=None, **overrides)


def modify(client, stock_id):
    return resolve(
        client.busifavor.modify_stock_info(stock_id=stock_id, out_request_no=uid(), comment="k")
    )


# -- error classes --------------------------------------------------------------------------------


def test_every_error_kind_of_the_core_is_a_class_with_its_fields():
    kinds = dict(_native.error_kinds())
    assert set(kinds) == set(errors.__all__)
    for name, fields in kinds.items():
        cls = getattr(errors, name)
        assert issubclass(cls, errors.WeixinKitError)
        assert getattr(weixin_kit, name) is cls
        assert "message" not in fields
        # The native layer passes exactly these keywords: every class takes them.
        values = {f: f"v-{f}" for f in fields}
        e = cls("text", **values)
        assert str(e) == "text"
        for f in fields:
            assert getattr(e, f) == f"v-{f}", (name, f)


# -- configuration checked by the core -------------------------------------------------------------


@pytest.mark.parametrize(
    "family,config,expected",
    [
        ("pay", {"mchid": "1", "serial_no": "2", "timout": 3}, "`timout` is not a configuration key"),
        ("pay", {"serial_no": "2"}, "`mchid` is required"),
        ("pay", {"mchid": "1", "serial_no": "2", "timeout": "soon"}, "`timeout`"),
        ("mp", {"appid": "wx1", "max_attempts": 0}, "`max_attempts` must be at least 1"),
        ("mp", {"appid": "wx1", "token_endpoint": "x"}, "`token_endpoint` must be"),
        ("sms", {}, "not a client family"),
    ],
)
def test_configuration_errors_name_the_key(family, config, expected):
    with pytest.raises(errors.ConfigError) as info:
        _native.ClientCore(family, config)
    assert expected in str(info.value)


def test_a_signer_and_a_private_key_together_are_refused(sb):
    with pytest.raises(errors.ConfigError, match="not both"):
        sb.pay_client(signer=lambda message: "")
    with pytest.raises(errors.ConfigError, match="callable"):
        sb.pay_client(private_key=None, signer="not a function")


def test_keyword_arguments_are_the_core_configuration_keys():
    """Every keyword of the client constructors is a key of the core's configuration (or a
    callback), so the languages agree on them."""
    pay_keys = set(inspect.signature(weixin_kit.PayClient.__init__).parameters) - {"self"}
    mp_keys = set(inspect.signature(weixin_kit.MiniProgramClient.__init__).parameters) - {"self"}
    callbacks_of = {"pay": {"signer"}, "mp": {"token_provider", "card_token_provider"}}
    for keys, family in ((pay_keys, "pay"), (mp_keys, "mp")):
        assert callbacks_of[family] <= keys
        for key in keys - callbacks_of[family]:
            # A key the core does not know is refused by name; a known one is not.
            try:
                _native.ClientCore(family, {key: "x"})
            except errors.ConfigError as e:
                assert "is not a configuration key" not in str(e), (family, key)
        with pytest.raises(errors.ConfigError, match="is not a configuration key"):
            _native.ClientCore(family, {"no_such_key": "x"})


# -- the signer callback ------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["plain", "async"])
def test_a_kms_signer_signs_every_request(sb, kind, flavour):
    stock = sb.create_stock(uid("9")[:12])["stock_id"]
    calls = []
    sign = kms_signer(sb, calls)
    if flavour == "async":
        plain = sign

        async def sign(message: str) -> str:  # noqa: F811 - the async flavour
            await asyncio.sleep(0)
            return plain(message)

    client = no_key(sb, kind, signer=sign)
    # One 500 first: the retry is signed again, with a fresh timestamp and nonce.
    sb.inject_fault("ModifyStockInfo", "system_error", count=1)
    assert modify(client, stock) is None
    assert len(calls) == 2 and calls[0] != calls[1]
    assert calls[0].startswith(f"PATCH\n/v3/marketing/busifavor/stocks/{stock}\n")
    assert [r["signature"] for r in sb.requests()] == ["ok", "ok"]
    assert "PRIVATE" not in repr(client)


def test_a_failing_slow_or_wrong_signer_sends_nothing(sb, kind):
    stock = sb.create_stock(uid("9")[:12])["stock_id"]

    def raising(message):
        raise RuntimeError("the KMS is unreachable")

    def slow(message):
        time.sleep(2)
        return "c2ln"

    cases = [
        (raising, errors.CallbackError, "RuntimeError: the KMS is unreachable"),
        (slow, errors.TimeoutError, "did not answer within 0.3 s"),
        (lambda message: 42, errors.CallbackError, "must return a string"),
        (lambda message: "not base64!", errors.ConfigError, "invalid signature"),
    ]
    for signer, cls, text in cases:
        client = no_key(sb, kind, signer=signer, callback_timeout=0.3)
        with pytest.raises(cls) as info:
            modify(client, stock)
        assert text in str(info.value)
        if cls is errors.CallbackError:
            assert info.value.callback == "signer"
    assert sb.requests() == []


# -- the token provider callback ----------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["plain", "async"])
def test_a_token_provider_supplies_the_access_token(sb, kind, flavour, mp_counters):
    token = sb.mp_client().access_token()  # the "central token service" got it from WeChat
    calls = []

    def provide() -> str:
        calls.append(1)
        return token

    async def provide_async() -> str:
        await asyncio.sleep(0)
        return provide()

    provider = provide if flavour == "plain" else provide_async
    factory = sb.mp_client if kind == "sync" else sb.async_mp_client
    client = factory(secret=None, token_provider=provider)
    openid, code = uid("o"), uid("42")
    sb.mp_add_notify_code(openid, 2001, code)
    before = mp_counters()
    info = resolve(
        client.service_card.get_user_notify(openid=openid, notify_type=2001, notify_code=code)
    )
    assert info["notify_info"]["notify_type"] == 2001
    assert resolve(client.access_token()) == token
    assert len(calls) == 2
    # No token of its own was fetched.
    after = mp_counters()
    assert after.get("stable_tokens_issued") == before.get("stable_tokens_issued")


def test_a_failing_token_provider_is_a_callback_error(sb, kind):
    def provide():
        raise LookupError("no token for this authorizer")

    factory = sb.mp_client if kind == "sync" else sb.async_mp_client
    client = factory(secret=None, token_provider=provide)
    with pytest.raises(errors.CallbackError) as info:
        resolve(client.access_token())
    assert info.value.callback == "token_provider"
    assert "LookupError: no token for this authorizer" in str(info.value)
    with pytest.raises(errors.ConfigError, match="not both"):
        sb.mp_client(token_provider=provide)


# -- the sandbox through one control call -------------------------------------------------------


def test_the_sandbox_helper_is_one_generic_control_call(sb):
    core = sb._core
    assert set(n for n in dir(core) if not n.startswith("_")) == {
        "backup_base_url",
        "base_url",
        "close",
        "closed",
        "control",
    }
    stock = core.control("POST", "/sandbox/stocks", {"stock_name": "控制"})
    assert sb.stock(stock["stock_id"])["stock_name"] == "控制"
    assert core.control("GET", "/sandbox/stocks/404404") is None
    with pytest.raises(errors.ValidationError):
        core.control("POST", "/sandbox/signing_mode", {"mode": "rot13"})
    with pytest.raises(errors.ValidationError, match="not a sandbox control route"):
        core.control("GET", "/sandbox/nowhere")
    assert core.control("GET", "/sandbox/client/pay_config")["base_url"] == sb.base_url
