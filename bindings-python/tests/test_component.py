"""The third-party platform (第三方平台) client against the sandbox as WeChat's peer: the README's
Flask app runs for real (werkzeug's ``make_server`` in a thread) as the platform's push URL, so
the sandbox's encrypted pushes reach ``parse_push`` the way WeChat's do. Expected values come
from the sandbox (its codes, deliveries and counters), never from the client's own output."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import types
import urllib.parse
from typing import Any, Dict, Iterator

import pytest
import requests
from werkzeug.datastructures import MultiDict
from werkzeug.serving import make_server

from weixin_kit import (
    AsyncComponentClient,
    AsyncMiniProgramClient,
    ComponentClient,
    ConfigError,
    MiniProgramClient,
    MiniProgramError,
    NotAuthorizedError,
    SignatureError,
    ValidationError,
)
from weixin_kit.testing import Sandbox

from support import ROOT, uid

PUSH_PATH = "/wechat/component/push"


def readme_block(name: str) -> str:
    """The code block after ``<!-- name -->`` in README.md (as xtask's ``readme_block``)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    after = text.split(f"<!-- {name} -->", 1)[1]
    match = re.search(r"```[a-z]*\n(.*?)\n```", after, re.S)
    assert match, f"no code block after <!-- {name} -->"
    return match.group(1)


def readme_app() -> types.ModuleType:
    """The README's Flask example as a module (not ``__main__``: its ``run`` is not reached)."""
    module = types.ModuleType("readme_component_app")
    code = compile(readme_block("component-python"), "README.md#component-python", "exec")
    exec(code, module.__dict__)
    return module


class PushServer:
    """The README's app, serving on a loopback port in a thread."""

    def __init__(self, platform: ComponentClient) -> None:
        self.readme = readme_app()
        self.server = make_server("127.0.0.1", 0, self.readme.create_app(platform), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}{PUSH_PATH}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as sb:
        yield sb


@pytest.fixture
def platform(sandbox: Sandbox) -> ComponentClient:
    return sandbox.component_client()


@pytest.fixture
def app(sandbox: Sandbox, platform: ComponentClient) -> Iterator[PushServer]:
    server = PushServer(platform)
    sandbox.component("config", push_url=server.url)
    yield server
    server.close()


def counters(sb: Sandbox) -> Dict[str, Any]:
    return dict(sb.component("counters"))


def query_of(delivery: Dict[str, Any]) -> Dict[str, str]:
    """The query WeChat puts on the push URL, from the sandbox's delivery report."""
    return {
        "signature": delivery["signature"],
        "timestamp": delivery["timestamp"],
        "nonce": delivery["nonce"],
        "encrypt_type": "aes",
        "msg_signature": delivery["msg_signature"],
    }


def notify_code(sb: Sandbox) -> Dict[str, str]:
    openid, code = uid("o"), uid("42")
    sb.mp_add_notify_code(openid, 1003, code)
    return {"openid": openid, "notify_code": code}


def secrets_of(sb: Sandbox) -> Dict[str, str]:
    settings = sb.component("config")
    return {k: settings[k] for k in ("component_appsecret", "token", "encoding_aes_key")}


def ticket_in(delivery: Dict[str, Any]) -> str:
    match = re.search(r"<ComponentVerifyTicket><!\[CDATA\[(.*?)\]\]>", delivery["plaintext"])
    assert match, delivery["plaintext"]
    return match.group(1)


# -- the whole chain through the README's app ------------------------------------------------


def test_ticket_push_authorize_and_call_as_the_authorizer_until_revoked(sandbox, platform, app):
    # No ticket pushed yet: a ConfigError saying so, and nothing sent.
    with pytest.raises(ConfigError) as info:
        platform.component_access_token()
    assert "component_verify_ticket" in str(info.value)
    assert counters(sandbox)["component_token_calls"] == 0

    # The ticket push reaches the app, which answers the plain text `success`.
    ticket_push = sandbox.component("push_ticket")
    assert ticket_push["delivered"] is True, ticket_push
    assert (ticket_push["status"], ticket_push["response"]) == (200, "success")
    assert ticket_push["url"].startswith(app.url + "?")
    token = platform.component_access_token()
    assert counters(sandbox)["component_token_calls"] == 1
    assert platform.component_access_token() == token  # from the store
    assert counters(sandbox)["component_token_calls"] == 1

    # The merchant authorizes: the `authorized` push carries the code, the app exchanges it.
    granted = sandbox.component("authorize")
    appid = granted["authorizer_appid"]
    assert granted["push"]["delivered"] is True, granted["push"]
    assert granted["push"]["info_type"] == "authorized"
    assert counters(sandbox)["query_auth_succeeded"] == 1
    with pytest.raises(MiniProgramError) as refused:  # single use: the app already used it
        platform.authorize(granted["authorization_code"])
    assert refused.value.errcode == 61009

    # setUserNotifyExt as the merchant, through the README's function.
    merchant = platform.authorizer(appid)
    assert isinstance(merchant, MiniProgramClient) and merchant.appid == appid
    card = notify_code(sandbox)
    assert app.readme.send_service_card_update(platform, appid, **card) is True
    received = sandbox.mp_notify_ext(card["openid"], card["notify_code"])
    assert received["count"] == 1 and received["notify_type"] == 1003
    assert merchant.access_token() == platform.authorizer_access_token(appid)
    assert counters(sandbox)["refreshes"].get(appid, 0) == 0  # queryAuth's token was used

    # The merchant revokes: the `unauthorized` push clears its tokens; no refresh any more.
    revoked = sandbox.component("revoke", authorizer_appid=appid)
    assert revoked["delivered"] is True and revoked["info_type"] == "unauthorized", revoked
    assert app.readme.send_service_card_update(platform, appid, **card) is False
    for attempt in (merchant.service_card.set_user_notify_ext, platform.authorizer(appid)
                    .service_card.set_user_notify_ext):
        with pytest.raises(NotAuthorizedError) as info:
            attempt(openid=card["openid"], notify_type=1003, notify_code=card["notify_code"],
                    ext_json={})
        assert info.value.authorizer_appid == appid
        assert info.value.detail and isinstance(info.value.detail, str)
        assert token not in str(info.value) and token not in info.value.detail
    with pytest.raises(NotAuthorizedError):
        platform.authorizer_access_token(appid)
    assert counters(sandbox)["refreshes"].get(appid, 0) == 0
    assert sandbox.mp_notify_ext(card["openid"], card["notify_code"])["count"] == 1


def test_a_refused_refresh_token_is_not_authorized_and_stops_refreshing(sandbox, platform, app):
    sandbox.component("push_ticket")
    appid = sandbox.component("authorize")["authorizer_appid"]
    # The authorization is replaced elsewhere (a new grant kills the stored refresh token) and
    # the access token expires at WeChat: the refresh answers 61023.
    sandbox.component("config", push_url="")
    sandbox.component("authorize", authorizer_appid=appid)
    sandbox.mp_expire_tokens()
    card = notify_code(sandbox)
    merchant = platform.authorizer(appid)
    with pytest.raises(NotAuthorizedError) as info:
        merchant.service_card.set_user_notify_ext(**card, notify_type=1003, ext_json={})
    assert info.value.authorizer_appid == appid
    assert "61023" in str(info.value.detail)
    refreshes = counters(sandbox)["refreshes"][appid]
    with pytest.raises(NotAuthorizedError):
        merchant.service_card.set_user_notify_ext(**card, notify_type=1003, ext_json={})
    assert counters(sandbox)["refreshes"][appid] == refreshes  # no request after 61023


def test_a_rotated_refresh_token_is_kept_and_the_old_one_never_used_again(sandbox, platform, app):
    sandbox.component("push_ticket")
    appid = sandbox.component("authorize")["authorizer_appid"]
    merchant = platform.authorizer(appid)
    card = notify_code(sandbox)
    # The next refresh answers a new refresh token (the old one dies at WeChat, 61023 after).
    sandbox.component("rotate_refresh_token", authorizer_appid=appid)
    for n in (1, 2):
        sandbox.mp_expire_tokens()
        merchant.service_card.set_user_notify_ext(**card, notify_type=1003, ext_json={})
        assert counters(sandbox)["refreshes_succeeded"][appid] == n
        assert counters(sandbox)["refreshes"][appid] == n  # no refresh refused (61023)
    assert counters(sandbox)["refresh_tokens_rotated"] == 1
    assert sandbox.mp_notify_ext(card["openid"], card["notify_code"])["count"] == 2


def test_without_permission_set_18_the_service_card_call_is_refused(sandbox, platform, app):
    sandbox.component("push_ticket")
    appid = sandbox.component("authorize", func_ids=[17, 19])["authorizer_appid"]
    with pytest.raises(MiniProgramError) as info:
        platform.authorizer(appid).service_card.set_user_notify_ext(
            **notify_code(sandbox), notify_type=1003, ext_json={}
        )
    assert info.value.errcode == sandbox.component("config")["missing_permission_errcode"]


def test_a_tampered_push_is_a_signature_error(sandbox, platform, app):
    delivery = sandbox.component("push_ticket")
    query = urllib.parse.urlsplit(delivery["url"]).query
    envelope = delivery["envelope"]
    start = envelope.index("<Encrypt><![CDATA[") + len("<Encrypt><![CDATA[")
    flipped = "A" if envelope[start + 5] != "A" else "B"
    tampered = envelope[: start + 5] + flipped + envelope[start + 6 :]

    answer = requests.post(app.url + "?" + query, data=tampered.encode(), timeout=10)
    assert answer.status_code == 403 and answer.text != "success"
    with pytest.raises(SignatureError):
        platform.parse_push(query, tampered)
    wrong_signature = dict(query_of(delivery), msg_signature="0" * 40)
    with pytest.raises(SignatureError):
        platform.parse_push(wrong_signature, envelope)
    # The untouched push verifies, given as the raw query (str or bytes) or its parameters.
    for q in (query, query.encode(), query_of(delivery), MultiDict(query_of(delivery))):
        assert platform.parse_push(q, envelope)["info_type"] == "component_verify_ticket"


def test_push_arguments_are_checked(platform):
    with pytest.raises(ValidationError) as info:
        platform.parse_push(42, "<xml/>")  # type: ignore[arg-type]
    assert info.value.field == "query"
    no_crypto = ComponentClient(
        component_appid="wx0123456789abcdef",
        component_appsecret="s",
        base_url="http://127.0.0.1:9",
    )
    with pytest.raises(ConfigError):
        no_crypto.parse_push("timestamp=1&nonce=2&encrypt_type=aes&msg_signature=x", "<xml/>")


def test_configuration_errors_name_the_key(sandbox):
    with pytest.raises(ValidationError) as info:
        sandbox.component_client(encoding_aes_key="too-short")
    assert info.value.field == "encoding_aes_key" and "43" in info.value.rule
    with pytest.raises(TypeError):
        ComponentClient(  # type: ignore[call-arg]
            component_appid="wx1", component_appsecret="s", appid="wx2"
        )
    with pytest.raises(ConfigError) as info:
        ComponentClient(component_appid="wx1", component_appsecret="s", token_store="ftp://x")
    assert "token store" in str(info.value)


def test_repr_shows_no_secret(sandbox, platform, app):
    ticket = ticket_in(sandbox.component("push_ticket"))
    appid = sandbox.component("authorize")["authorizer_appid"]
    merchant = platform.authorizer(appid)
    secrets = list(secrets_of(sandbox).values()) + [
        ticket,
        platform.component_access_token(),
        platform.authorizer_access_token(appid),
    ]
    shown = " ".join(
        [repr(platform), str(platform), repr(platform._core), repr(merchant), repr(merchant._core)]
    )
    for secret in secrets:
        assert secret not in shown, shown
    assert platform.component_appid in repr(platform) and appid in repr(merchant)


# -- instances sharing a store -----------------------------------------------------------------


def test_instances_sharing_a_redis_store_share_the_ticket_and_authorizations(sandbox, redis_port):
    """The README's deployment: the push URL reaches one instance; every other instance (and a
    forked worker) uses the ticket and the authorizations it stored in the shared redis."""
    store = f"redis://127.0.0.1:{redis_port}/6"
    receiver = sandbox.component_client(token_store=store)
    server = PushServer(receiver)
    sandbox.component("config", push_url=server.url)
    try:
        worker = sandbox.component_client(token_store=store)  # never receives a push
        sandbox.component("push_ticket")
        appid = sandbox.component("authorize")["authorizer_appid"]
        card = notify_code(sandbox)
        merchant = worker.authorizer(appid)
        merchant.service_card.set_user_notify_ext(**card, notify_type=1003, ext_json={})
        assert counters(sandbox)["component_token_calls"] == 1  # the receiver's, for queryAuth
        assert counters(sandbox)["refreshes"].get(appid, 0) == 0  # queryAuth's access token

        # A forked worker: the parent's authorizer client is built again in the child, over
        # the same store.
        pid = os.fork()
        if pid == 0:
            try:
                merchant.service_card.set_user_notify_ext(**card, notify_type=1003, ext_json={})
                worker.authorizer(appid).service_card.set_user_notify_ext(
                    **card, notify_type=1003, ext_json={}
                )
            except BaseException:
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert sandbox.mp_notify_ext(card["openid"], card["notify_code"])["count"] == 3

        # The revocation reaches the receiver; the worker sees the authorization gone.
        sandbox.component("revoke", authorizer_appid=appid)
        with pytest.raises(NotAuthorizedError) as info:
            merchant.access_token()
        assert info.value.authorizer_appid == appid
    finally:
        server.close()


# -- the async client --------------------------------------------------------------------------


def test_async_client_parses_pushes_authorizes_and_calls_as_the_authorizer(sandbox):
    platform = sandbox.async_component_client()
    delivery = sandbox.component("push_ticket")  # no push URL: parsed from the delivery report
    card = notify_code(sandbox)

    async def main() -> None:
        event = await platform.parse_push(query_of(delivery), delivery["envelope"])
        assert event["info_type"] == "component_verify_ticket" and event["ticket_received"]
        assert ticket_in(delivery) not in repr(event)
        granted = sandbox.component("authorize")
        pushed = await platform.parse_push(query_of(granted["push"]), granted["push"]["envelope"])
        assert pushed["authorization_code"] == granted["authorization_code"]
        auth = await platform.authorize(pushed["authorization_code"])
        appid = granted["authorizer_appid"]
        assert auth["authorizer_appid"] == appid
        assert sorted(auth["func_info"]) == sorted(granted["func_ids"])
        merchant = platform.authorizer(appid)
        assert isinstance(merchant, AsyncMiniProgramClient)
        await merchant.service_card.set_user_notify_ext(**card, notify_type=1003, ext_json={})
        revoked = sandbox.component("revoke", authorizer_appid=appid)
        gone = await platform.parse_push(query_of(revoked), revoked["envelope"])
        assert (gone["info_type"], gone["authorizer_appid"]) == ("unauthorized", appid)
        with pytest.raises(NotAuthorizedError) as info:
            await merchant.access_token()
        assert info.value.authorizer_appid == appid

    asyncio.run(main())
    assert sandbox.mp_notify_ext(card["openid"], card["notify_code"])["count"] == 1
    assert isinstance(platform, AsyncComponentClient)
