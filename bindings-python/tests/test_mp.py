"""Every mini-program operation through MiniProgramClient and AsyncMiniProgramClient against the
sandbox: tokens, service cards, card tickets, code decryption, cardExt (its signature recomputed
here with hashlib, the documented way, with the ticket the sandbox issued), errors, the access
token lifecycle and the Redis token store."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from weixin_kit import ConfigError, MiniProgramError, UnexpectedResponseError, ValidationError

from support import log_for, resolve, spec, uid

MINIPROGRAM = spec("miniprogram.json")
# Doc 01's request example, as transcribed into the spec: ext_json whose pay_info and
# store_info are themselves JSON-encoded strings.
DOC_EXT_EXAMPLE = MINIPROGRAM["components"]["schemas"]["SetUserNotifyExtRequest"]["examples"][0]
CARD_ID = "pFS7Fjg8kV1IdDz01r4SQwMkuCKc"  # from the card documents' examples


def documented(path: str, errcode: int):
    (row,) = [
        r for r in MINIPROGRAM["paths"][path]["post"]["x-weixin-errors"] if r["errcode"] == errcode
    ]
    return row


def calls(mp_counters, operation: str) -> int:
    """Calls of one operation the sandbox counted since the test started."""
    return mp_counters().get("calls", {}).get(operation, 0)


def new_code(sb, notify_type: int = 1003, **fields):
    """A fresh user and notify_code registered in the sandbox."""
    openid, code = uid("o"), uid("42")
    sb.mp_add_notify_code(openid, notify_type, code, **fields)
    return openid, code


def raw_token(sb, account: str = "mini_program") -> str:
    """The current stable access token of the mini-program, or of the Official Account that owns
    the cards (``account="card"``), asked for with `requests` (not our client)."""
    c = sb.credentials
    appid, secret = (
        (c["card_appid"], c["card_secret"]) if account == "card" else (c["appid"], c["secret"])
    )
    answer = requests.post(
        sb.base_url + "/cgi-bin/stable_token",
        json={"grant_type": "client_credential", "appid": appid, "secret": secret},
        timeout=10,
    ).json()
    return answer["access_token"]


def raw_ticket(sb, token: str, type_: str = "wx_card") -> dict:
    return requests.get(
        sb.base_url + "/cgi-bin/ticket/getticket",
        params={"type": type_, "access_token": token},
        timeout=10,
    ).json()


# -- tokens ------------------------------------------------------------------------------------


def test_get_access_token(sb, mp, mp_counters):
    c = sb.credentials
    answer = resolve(
        mp.auth.get_access_token(
            grant_type="client_credential", appid=c["appid"], secret=c["secret"]
        )
    )
    assert set(answer) >= {"access_token", "expires_in"}
    assert answer["expires_in"] == 7200
    assert mp_counters().get("tokens_issued", 0) == 1
    (entry,) = log_for(sb, "getAccessToken")
    query = parse_qs(urlsplit(entry["path"]).query)
    assert entry["method"] == "GET"
    assert query["grant_type"] == ["client_credential"] and query["appid"] == [c["appid"]]
    # The token is one the sandbox accepts.
    assert raw_ticket(sb, answer["access_token"], "jsapi")["errcode"] == 0


def test_get_stable_access_token_and_force_refresh(sb, mp, mp_counters):
    c = sb.credentials
    creds = dict(grant_type="client_credential", appid=c["appid"], secret=c["secret"])
    first = resolve(mp.auth.get_stable_access_token(**creds))
    (entry,) = log_for(sb, "getStableAccessToken")
    assert entry["method"] == "POST"
    body = json.loads(entry["body"])
    assert body.pop("force_refresh", False) is False  # absent, or the documented default
    assert body == creds

    forced = resolve(mp.auth.get_stable_access_token(force_refresh=True, **creds))
    assert json.loads(log_for(sb, "getStableAccessToken")[-1]["body"]) == {
        **creds,
        "force_refresh": True,
    }
    assert forced["access_token"] != first["access_token"]
    assert mp_counters().get("stable_tokens_forced", 0) == 1
    # The forced refresh invalidated the first token at the sandbox.
    assert raw_ticket(sb, first["access_token"], "jsapi")["errcode"] == 40001
    assert raw_ticket(sb, forced["access_token"], "jsapi")["errcode"] == 0


def test_token_endpoint_errors_are_mini_program_errors(sb, mp):
    c = sb.credentials
    with pytest.raises(MiniProgramError) as info:
        resolve(
            mp.auth.get_stable_access_token(
                grant_type="client_credential", appid="wx0000000000000000", secret=c["secret"]
            )
        )
    e = info.value
    assert (e.errcode, e.errmsg) == (40013, "invalid appid")
    assert e.solution == documented("/cgi-bin/stable_token", 40013)["solution"]
    assert "40013" in str(e)


def test_access_token_is_the_one_the_sandbox_issued(sb, kind, mp_counters):
    client = sb.mp_client() if kind == "sync" else sb.async_mp_client()
    token = resolve(client.access_token())
    assert token == raw_token(sb)
    assert resolve(client.access_token()) == token  # cached
    assert calls(mp_counters, "getStableAccessToken") == 2  # ours once + raw_token once


def test_token_endpoint_option_uses_cgi_bin_token(sb, mp_counters):
    client = sb.mp_client(token_endpoint="token")
    openid, code = new_code(sb)
    client.service_card.set_user_notify_ext(
        openid=openid, notify_type=1003, notify_code=code, ext_json={}
    )
    counters = mp_counters()
    assert counters.get("tokens_issued", 0) == 1 and counters.get("stable_tokens_issued", 0) == 0


# -- service cards -----------------------------------------------------------------------------


def test_set_user_notify_ext_with_a_dict_sends_doc_01s_nested_form(sb, mp):
    openid, code = new_code(sb)
    doc_ext = json.loads(DOC_EXT_EXAMPLE["ext_json"])
    structured = {key: json.loads(value) for key, value in doc_ext.items()}  # plain objects

    answer = resolve(
        mp.service_card.set_user_notify_ext(
            openid=openid, notify_type=1003, notify_code=code, ext_json=structured
        )
    )

    assert answer["errcode"] == 0
    received = sb.mp_notify_ext(openid, code)
    assert received["count"] == 1 and received["notify_type"] == 1003
    sent = json.loads(received["ext_json"])
    # Doc 01's form: ext_json a JSON string whose pay_info and store_info are JSON strings.
    assert set(sent) == set(doc_ext)
    for key, value in sent.items():
        assert isinstance(value, str), key
        assert json.loads(value) == json.loads(doc_ext[key]), key
    (entry,) = log_for(sb, "setUserNotifyExt")
    body = json.loads(entry["body"])
    assert isinstance(body["ext_json"], str)
    assert {k: body[k] for k in ("openid", "notify_type", "notify_code")} == {
        "openid": openid,
        "notify_type": 1003,
        "notify_code": code,
    }


def test_set_user_notify_ext_with_the_documents_half_decoded_form(sb, mp):
    # {"pay_info": "<JSON text>", …}: values that are strings already are sent as they are.
    openid, code = new_code(sb)
    resolve(
        mp.service_card.set_user_notify_ext(
            openid=openid,
            notify_type=1003,
            notify_code=code,
            ext_json=json.loads(DOC_EXT_EXAMPLE["ext_json"]),
        )
    )
    assert json.loads(sb.mp_notify_ext(openid, code)["ext_json"]) == json.loads(
        DOC_EXT_EXAMPLE["ext_json"]
    )


def test_set_user_notify_ext_with_a_string_sends_it_verbatim(sb, mp):
    openid, code = new_code(sb)
    text = DOC_EXT_EXAMPLE["ext_json"]
    resolve(
        mp.service_card.set_user_notify_ext(
            openid=openid, notify_type=1003, notify_code=code, ext_json=text
        )
    )
    assert sb.mp_notify_ext(openid, code)["ext_json"] == text


def test_set_user_notify_ext_sandbox_refusal_has_the_documented_solution(sb, mp):
    openid, code = new_code(sb)
    # pay_info must be an object with a numeric pay_amount (doc 01's example): 85444.
    with pytest.raises(MiniProgramError) as info:
        resolve(
            mp.service_card.set_user_notify_ext(
                openid=openid,
                notify_type=1003,
                notify_code=code,
                ext_json={"pay_info": {"pay_amount": "lots"}},
            )
        )
    e = info.value
    row = documented("/wxa/set_user_notifyext", 85444)
    assert (e.errcode, e.errmsg, e.solution, e.retryable) == (
        85444,
        row["errmsg"],
        row["solution"],
        False,
    )
    assert sb.mp_notify_ext(openid, code)["count"] == 0


def test_set_user_notify_and_get_user_notify(sb, mp):
    openid, code = new_code(sb, requires_check_json=True)
    content = {"cur_status": 1, "wording": "已发货"}
    check = {"pay_amount": 2001, "pay_time": 1683546394}
    answer = resolve(
        mp.service_card.set_user_notify(
            openid=openid,
            notify_type=1003,
            notify_code=code,
            content_json=content,
            check_json=check,
        )
    )
    assert answer["errcode"] == 0

    stored = sb.mp_notify_ext(openid, code)
    assert json.loads(stored["content_json"]) == content
    body = json.loads(log_for(sb, "setUserNotify")[0]["body"])
    assert isinstance(body["content_json"], str) and isinstance(body["check_json"], str)
    assert json.loads(body["check_json"]) == check

    info = resolve(
        mp.service_card.get_user_notify(openid=openid, notify_code=code, notify_type=1003)
    )
    assert info["errcode"] == 0
    assert info["notify_info"]["notify_type"] == 1003
    assert info["notify_info"]["content_json"] == stored["content_json"]
    assert json.loads(log_for(sb, "getUserNotify")[0]["body"]) == {
        "openid": openid,
        "notify_code": code,
        "notify_type": 1003,
    }


def test_set_user_notify_content_json_as_string(sb, mp):
    openid, code = new_code(sb)
    text = '{"cur_status":2}'
    resolve(
        mp.service_card.set_user_notify(
            openid=openid, notify_type=1003, notify_code=code, content_json=text
        )
    )
    assert sb.mp_notify_ext(openid, code)["content_json"] == text


# -- cards -------------------------------------------------------------------------------------


def test_get_ticket(sb, mp, mp_counters):
    answer = resolve(mp.card.get_ticket(type="wx_card"))
    assert answer["errcode"] == 0 and answer["ticket"] and answer["expires_in"] == 7200
    assert mp_counters().get("tickets_issued_by_type", 0) == {"wx_card": 1}
    assert urlsplit(log_for(sb, "getTicket")[0]["path"]).query.startswith("type=wx_card")
    # The card operations run with the card-owning Official Account's token: the sandbox hands
    # out that account's cached ticket while it is valid, the same one when asked for raw.
    assert raw_ticket(sb, raw_token(sb, "card"))["ticket"] == answer["ticket"]
    assert raw_ticket(sb, raw_token(sb))["ticket"] != answer["ticket"]
    jsapi = resolve(mp.card.get_ticket(type="jsapi"))
    assert jsapi["ticket"] != answer["ticket"]


def test_decrypt_card_code(sb, mp):
    plain = uid("")[:12]
    encrypted = sb.mp_encrypt_card_code(CARD_ID, plain)
    answer = resolve(mp.card.decrypt_card_code(encrypt_code=encrypted))
    assert answer["code"] == plain
    assert json.loads(log_for(sb, "decryptCardCode")[0]["body"]) == {"encrypt_code": encrypted}
    altered = ("A" if encrypted[0] != "A" else "B") + encrypted[1:]
    with pytest.raises(MiniProgramError) as info:  # the sandbox refuses an altered code
        resolve(mp.card.decrypt_card_code(encrypt_code=altered))
    assert info.value.errcode == 40056


@pytest.mark.parametrize(
    "openid, code",
    [
        (None, None),
        ("oFS7Fjl0WsZ9AMZqrI80nbIq8xrA", None),
        (None, "110201201245"),
        ("oFS7Fjl0WsZ9AMZqrI80nbIq8xrA", "AB12cd34"),
    ],
)
def test_card_ext_signature_is_the_documented_sha1(sb, kind, openid, code, mp_counters):
    client = sb.mp_client() if kind == "sync" else sb.async_mp_client()  # fresh: no ticket cached
    item = resolve(client.card.card_ext(card_id=CARD_ID, openid=openid, code=code))

    assert set(item) == {"cardId", "cardExt"}
    assert item["cardId"] == CARD_ID
    ext = json.loads(item["cardExt"])
    assert "card_id" not in ext and "cardId" not in ext
    assert ext.get("openid") == openid and ext.get("code") == code
    # A string of digits (JS-SDK appendix 4: the values end up as strings; wechatpy sends one).
    assert isinstance(ext["timestamp"], str) and ext["timestamp"].isdigit()

    # The ticket the sandbox issued (it caches it: asked for raw, it is the same one).
    assert mp_counters().get("tickets_issued_by_type", 0) == {"wx_card": 1}
    ticket = raw_ticket(sb, raw_token(sb, "card"))["ticket"]  # the card owner's
    assert mp_counters().get("tickets_issued_by_type", 0) == {"wx_card": 1}
    # 卡券签名: the values of api_ticket, timestamp, card_id, code, openid, nonce_str, sorted as
    # strings, concatenated, SHA1 hex. cardExt carries the timestamp and nonce_str signed.
    values = [ticket, str(ext["timestamp"]), CARD_ID, ext["nonce_str"]]
    values += [v for v in (code, openid) if v is not None]
    assert ext["signature"] == hashlib.sha1("".join(sorted(values)).encode()).hexdigest()


def test_card_ext_reuses_the_cached_ticket(sb, mp, mp_counters):
    for _ in range(3):
        resolve(mp.card.card_ext(card_id=CARD_ID))
    assert calls(mp_counters, "getTicket") == 1
    nonces = {
        json.loads(resolve(mp.card.card_ext(card_id=CARD_ID))["cardExt"])["nonce_str"]
        for _ in range(3)
    }
    assert len(nonces) == 3  # a new nonce_str for every cardList entry


# -- errors and the token lifecycle ------------------------------------------------------------


def test_injected_errcode_is_a_mini_program_error_with_the_documented_solution(sb, mp, mp_counters):
    openid, code = new_code(sb)
    sb.mp_add_errcode_fault("/wxa/set_user_notifyext", 85436, count=1)
    with pytest.raises(MiniProgramError) as info:
        resolve(
            mp.service_card.set_user_notify_ext(
                openid=openid, notify_type=1003, notify_code=code, ext_json={}
            )
        )
    e = info.value
    row = documented("/wxa/set_user_notifyext", 85436)
    assert (e.errcode, e.errmsg, e.solution, e.retryable, e.retry_after) == (
        85436,
        row["errmsg"],
        row["solution"],
        False,
        None,
    )
    assert calls(mp_counters, "setUserNotifyExt") == 1
    assert sb.mp_notify_ext(openid, code)["count"] == 0


def test_85437_says_retry_after_a_minute_and_is_not_retried_at_once(sb, mp, mp_counters):
    # A WeChat Pay transaction id (notify_type 2001): the documented one-minute delay applies
    # (for a front-end code it does not: test_wechat_fidelity.py).
    openid, code = new_code(sb, 2001)
    sb.mp_add_errcode_fault("/wxa/set_user_notifyext", 85437)
    with pytest.raises(MiniProgramError) as info:
        resolve(
            mp.service_card.set_user_notify_ext(
                openid=openid, notify_type=2001, notify_code=code, ext_json={}
            )
        )
    e = info.value
    row = documented("/wxa/set_user_notifyext", 85437)
    assert (e.errcode, e.solution, e.retryable) == (85437, row["solution"], True)
    assert e.retry_after == row["retry_after_secs"] == 60
    assert e.advice == row["advice"]
    assert calls(mp_counters, "setUserNotifyExt") == 1


def test_a_notify_code_not_yet_valid_is_85437_from_the_sandbox(sb, mp):
    openid, code = new_code(sb, valid_after_secs=60)
    with pytest.raises(MiniProgramError) as info:
        resolve(
            mp.service_card.set_user_notify_ext(
                openid=openid, notify_type=1003, notify_code=code, ext_json={}
            )
        )
    assert info.value.errcode == 85437
    # A minute later (the sandbox's clock, moved on) the same call goes through.
    sb.mp_advance_clock(61)
    answer = resolve(
        mp.service_card.set_user_notify_ext(
            openid=openid, notify_type=1003, notify_code=code, ext_json={"a": 1}
        )
    )
    assert answer["errcode"] == 0
    assert sb.mp_notify_ext(openid, code) is not None


def test_system_busy_is_retried(sb, mp, mp_counters):
    openid, code = new_code(sb)
    sb.mp_add_errcode_fault("/wxa/set_user_notifyext", -1, count=2)
    resolve(
        mp.service_card.set_user_notify_ext(
            openid=openid, notify_type=1003, notify_code=code, ext_json={"a": 1}
        )
    )
    assert calls(mp_counters, "setUserNotifyExt") == 3
    assert sb.mp_notify_ext(openid, code)["count"] == 1


def test_85431_after_every_attempt(sb, mp, mp_counters):
    openid, code = new_code(sb)
    sb.mp_add_errcode_fault("/wxa/set_user_notifyext", 85431)
    with pytest.raises(MiniProgramError) as info:
        resolve(
            mp.service_card.set_user_notify_ext(
                openid=openid, notify_type=1003, notify_code=code, ext_json={}
            )
        )
    assert (info.value.errcode, info.value.retryable) == (85431, True)
    assert calls(mp_counters, "setUserNotifyExt") == 3  # max_attempts, default 3


def test_expired_token_is_refreshed_once_and_the_call_retried(sb, mp, mp_counters):
    openid, code = new_code(sb)
    resolve(
        mp.service_card.set_user_notify_ext(
            openid=openid, notify_type=1003, notify_code=code, ext_json={"n": 1}
        )
    )
    sb.mp_expire_tokens()
    resolve(
        mp.service_card.set_user_notify_ext(
            openid=openid, notify_type=1003, notify_code=code, ext_json={"n": 2}
        )
    )
    counters = mp_counters()
    assert counters.get("stable_tokens_issued", 0) == 2
    assert counters.get("calls", {}).get("setUserNotifyExt", 0) == 3  # ok, 42001, ok
    assert [json.loads(r["ext_json"]) for r in sb.mp_notify_ext(openid, code)["ext_history"]] == [
        {"n": 1},
        {"n": 2},
    ]


def test_a_token_error_that_persists_is_retried_once_only(sb, mp, mp_counters):
    openid, code = new_code(sb)
    sb.mp_add_errcode_fault("/wxa/set_user_notifyext", 40001)
    with pytest.raises(MiniProgramError) as info:
        resolve(
            mp.service_card.set_user_notify_ext(
                openid=openid, notify_type=1003, notify_code=code, ext_json={}
            )
        )
    assert info.value.errcode == 40001
    assert calls(mp_counters, "setUserNotifyExt") == 2  # the call, one retry after one refresh
    assert calls(mp_counters, "getStableAccessToken") == 2


def test_a_500_without_an_errcode_body_is_an_unexpected_response(sb, kind):
    client = sb.mp_client(max_attempts=1) if kind == "sync" else sb.async_mp_client(max_attempts=1)
    openid, code = new_code(sb)
    resolve(client.access_token())
    sb.inject_fault("setUserNotifyExt", "system_error")
    with pytest.raises(UnexpectedResponseError) as info:
        resolve(
            client.service_card.set_user_notify_ext(
                openid=openid, notify_type=1003, notify_code=code, ext_json={}
            )
        )
    assert info.value.status == 500 == log_for(sb, "setUserNotifyExt")[-1]["status"]


@pytest.mark.parametrize(
    "args, field",
    [
        ({"notify_type": "1003"}, "notify_type"),
        ({"ext_json": [1, 2]}, "ext_json"),
        ({"openid": None}, "openid"),
    ],
)
def test_invalid_input_is_a_validation_error_and_nothing_is_sent(sb, mp, args, field, mp_counters):
    openid, code = new_code(sb)
    call = {"openid": openid, "notify_type": 1003, "notify_code": code, "ext_json": {}, **args}
    with pytest.raises(ValidationError) as info:
        resolve(mp.service_card.set_user_notify_ext(**call))
    assert info.value.field == field
    assert calls(mp_counters, "setUserNotifyExt") == 0


def test_bad_ticket_type_is_a_validation_error(sb, mp, mp_counters):
    with pytest.raises(ValidationError) as info:
        resolve(mp.card.get_ticket(type="wx_cards"))
    assert info.value.field == "type"
    assert mp_counters().get("calls", {}) == {}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"secret": None},
        {"token_store": "mongodb://127.0.0.1/0"},
        {"token_endpoint": "cookie"},
    ],
)
def test_mini_program_config_errors(sb, kwargs):
    with pytest.raises(ConfigError):
        sb.mp_client(**kwargs)


def test_one_token_fetch_for_many_concurrent_callers(sb, kind, mp_counters):
    if kind == "sync":
        client = sb.mp_client()
        tokens, errors = [], []

        def worker():
            try:
                tokens.append(client.access_token())
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
    else:
        client = sb.async_mp_client()

        async def main():
            return await asyncio.gather(*[client.access_token() for _ in range(8)])

        tokens = asyncio.run(main())
    assert len(set(tokens)) == 1
    assert calls(mp_counters, "getStableAccessToken") == 1


# -- the Redis token store ---------------------------------------------------------------------


def test_redis_token_store_is_shared_between_clients(sb, redis_port, kind, mp_counters):
    db = "1" if kind == "sync" else "2"
    url = f"redis://127.0.0.1:{redis_port}/{db}"
    make = sb.mp_client if kind == "sync" else sb.async_mp_client
    # getAccessToken issues a new token every call and invalidates the previous one: clients
    # that did not share a store would each fetch (and invalidate each other's) token.
    first, second = make(token_store=url, token_endpoint="token"), make(
        token_store=url, token_endpoint="token"
    )
    openid, code = new_code(sb)
    for client in (first, second, first, second):
        resolve(
            client.service_card.set_user_notify_ext(
                openid=openid, notify_type=1003, notify_code=code, ext_json={}
            )
        )
    counters = mp_counters()
    assert counters.get("tokens_issued", 0) == 1
    assert counters.get("calls", {}).get("setUserNotifyExt", 0) == 4
    assert resolve(first.access_token()) == resolve(second.access_token())
    size = _redis_command_db(redis_port, db, "DBSIZE")
    assert size.startswith(b":") and int(size[1:].strip()) >= 1  # the token lives in Redis

    # One client refreshes after expiry; the other uses the refreshed token without fetching.
    sb.mp_expire_tokens()
    for client in (first, second):
        resolve(
            client.service_card.set_user_notify_ext(
                openid=openid, notify_type=1003, notify_code=code, ext_json={}
            )
        )
    assert mp_counters().get("tokens_issued", 0) == 2

    # A client with its own (memory) store fetches for itself.
    resolve(make(token_endpoint="token").access_token())
    assert mp_counters().get("tokens_issued", 0) == 3


def test_redis_single_flight_across_clients(sb, redis_port, mp_counters):
    url = f"redis://127.0.0.1:{redis_port}/3"
    clients = [sb.mp_client(token_store=url, token_endpoint="token") for _ in range(4)]
    tokens, errors = [], []

    def worker(client):
        try:
            tokens.append(client.access_token())
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(clients[i % 4],)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(tokens)) == 1
    assert mp_counters().get("tokens_issued", 0) == 1


def _redis_command_db(port: int, db: str, *args: str) -> bytes:
    def encode(*parts: str) -> bytes:
        return f"*{len(parts)}\r\n".encode() + b"".join(
            f"${len(p.encode())}\r\n".encode() + p.encode() + b"\r\n" for p in parts
        )

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(encode("SELECT", db) + encode(*args))
        data = b""
        while data.count(b"\r\n") < 2:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[1]
