"""Where WeChat's documents and our own earlier beliefs differed (issue 11), as the Python
package meets them: cards belong to the Official Account that created them, published
notifications without ``summary``/``original_type``, quota errors as errcodes, and the key a
request names in ``Wechatpay-Serial``. Expected values come from the sandbox (which follows the
documents) or from ``hashlib``, never from the client under test.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap

import pytest

from weixin_kit import MiniProgramError

from support import resolve, uid
from test_mp import raw_ticket, raw_token


def claim(sb, item, openid=None):
    return sb.wx_add_card([{"cardId": item["cardId"], "cardExt": item["cardExt"]}], openid=openid)


def test_card_ext_signed_by_the_owner_is_claimed_and_its_code_decrypts(sb, mp):
    card_id = uid("p")
    sb.mp_create_card(card_id)
    item = resolve(
        mp.card.card_ext(card_id=card_id, outer_str="shelf-3", fixed_begintimestamp=1700000000)
    )
    ext = json.loads(item["cardExt"])
    # outer_str and fixed_begintimestamp ride along unsigned: the SHA1 covers only
    # api_ticket, timestamp, card_id, nonce_str here.
    assert (ext["outer_str"], ext["fixed_begintimestamp"]) == ("shelf-3", 1700000000)
    added = claim(sb, item, openid="oClaimer")
    (result,) = added["cardList"]
    assert result["isSuccess"] is True, added
    assert resolve(mp.card.decrypt_card_code(encrypt_code=result["code"]))["code"]


def test_a_card_ext_signed_with_the_mini_programs_own_ticket_is_refused(sb, kind):
    card_id = uid("p")
    sb.mp_create_card(card_id)
    c = sb.credentials
    # What the client did before: the mini-program's own ticket for a card it does not own.
    make = sb.mp_client if kind == "sync" else sb.async_mp_client
    wrong = make(card_appid=c["appid"], card_secret=c["secret"])
    item = resolve(wrong.card.card_ext(card_id=card_id))
    added = claim(sb, item)
    assert added["cardList"][0]["isSuccess"] is False, added
    # The owner's code does not decrypt with another account's token.
    owner = make()
    good = claim(sb, resolve(owner.card.card_ext(card_id=card_id)))["cardList"][0]
    with pytest.raises(MiniProgramError) as info:
        resolve(wrong.card.decrypt_card_code(encrypt_code=good["code"]))
    assert info.value.errcode == 40056


def test_without_the_card_account_card_operations_say_what_to_configure(sb):
    mp = sb.mp_client(card_appid=None, card_secret=None)
    with pytest.raises(Exception) as info:
        mp.card.card_ext(card_id="pAny")
    assert "card_appid" in str(info.value)
    assert type(info.value).__name__ == "ConfigError"


def test_the_owners_token_and_ticket_are_fetched_once_across_processes(sb, redis_port):
    """Four processes share a Redis token store: the card account's token and wx_card ticket
    are fetched once for all of them."""
    url = f"redis://127.0.0.1:{redis_port}/5"
    card_id = uid("p")
    sb.mp_create_card(card_id)
    script = textwrap.dedent(
        f"""
        import json, sys
        from weixin_kit import MiniProgramClient
        config = json.loads(sys.argv[1])
        mp = MiniProgramClient(token_store={url!r}, **config)
        print(json.dumps(mp.card.card_ext(card_id={card_id!r})))
        """
    )
    config = {k: v for k, v in sb._control("GET", "/sandbox/client/mp_config").items()}
    before = sb.mp_counters()["by_appid"].get(sb.credentials["card_appid"], {})
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, json.dumps(config)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    items = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    after = sb.mp_counters()["by_appid"][sb.credentials["card_appid"]]
    fetched = {k: after.get(k, 0) - before.get(k, 0) for k in ("stable_tokens_issued", "tickets_issued")}
    assert fetched == {"stable_tokens_issued": 1, "tickets_issued": 1}, (before, after)
    for item in items:
        assert claim(sb, item)["cardList"][0]["isSuccess"] is True


def test_a_published_notification_without_summary_is_accepted(sb, pay, receiver):
    stock = sb.create_stock(uid("9")[:12])["stock_id"]
    url = receiver.url("/wx/coupon/" + uid())
    report = sb.send_coupon_notification(stock, notify_url=url, variant="minimal", coupon_code="c-9")
    assert report["delivered"], report
    _, headers, body = receiver.received[-1]
    envelope = json.loads(body)
    assert "summary" not in envelope and "original_type" not in envelope["resource"]
    assert envelope["resource"]["associated_data"] == ""
    event = resolve(pay.parse_notification(headers, body))
    assert event["summary"] == "" and event["resource"]["coupon_code"] == "c-9"


def test_quota_errors_are_errcodes_with_their_documented_retry_advice(sb, mp):
    openid, code = uid("o"), uid("42")
    sb.mp_add_notify_code(openid, 1003, code)

    def call():
        return resolve(
            mp.service_card.set_user_notify_ext(
                openid=openid, notify_type=1003, notify_code=code, ext_json={}
            )
        )

    sb.inject_fault("setUserNotifyExt", "frequency_limited", count=1)
    with pytest.raises(MiniProgramError) as info:
        call()
    assert (info.value.errcode, info.value.retryable, info.value.retry_after) == (45011, True, 60)
    sb.inject_fault("setUserNotifyExt", "daily_quota", count=1)
    with pytest.raises(MiniProgramError) as info:
        call()
    assert (info.value.errcode, info.value.retryable) == (45009, False)
    # Both were answered with HTTP 200, as WeChat answers mini-program errors.
    assert [r["status"] for r in sb.requests() if r["operation"] == "setUserNotifyExt"] == [200, 200]
    call()


def test_card_ext_is_signed_with_the_owners_ticket_over_the_timestamp_text(sb, mp):
    card_id = uid("p")
    item = resolve(mp.card.card_ext(card_id=card_id))
    ext = json.loads(item["cardExt"])
    assert isinstance(ext["timestamp"], str) and ext["timestamp"].isdigit()
    # The Official Account's ticket, fetched here with `requests`; the SHA1 with hashlib.
    ticket = raw_ticket(sb, raw_token(sb, "card"))["ticket"]
    values = sorted([ticket, ext["timestamp"], card_id, ext["nonce_str"]])
    assert ext["signature"] == hashlib.sha1("".join(values).encode()).hexdigest()


@pytest.mark.parametrize("notify_type, retry_after", [(2001, 60), (1003, None)])
def test_notify_code_not_found_advice_fits_where_the_code_comes_from(sb, mp, notify_type, retry_after):
    """85437: a WeChat Pay transaction id (2001–2011) may need about a minute after payment;
    a front-end code (1001/1003/1004/1005) has only 5 minutes, so no delay is suggested."""
    openid, code = uid("o"), uid("42")
    sb.mp_add_notify_code(openid, notify_type, code, valid_after_secs=60)
    with pytest.raises(MiniProgramError) as info:
        resolve(
            mp.service_card.set_user_notify_ext(
                openid=openid, notify_type=notify_type, notify_code=code, ext_json={}
            )
        )
    assert (info.value.errcode, info.value.retry_after) == (85437, retry_after)
    assert info.value.retryable is (retry_after is not None)


def test_a_card_token_provider_supplies_the_owners_token(sb, kind):
    """A third-party platform holds the Official Account's authorizer_access_token: the card
    operations take it from a callback instead of card_secret."""
    card_id = uid("p")
    sb.mp_create_card(card_id)
    token = raw_token(sb, "card")
    asked = []

    async def provide() -> str:
        asked.append(1)
        return token

    make = sb.mp_client if kind == "sync" else sb.async_mp_client
    mp = make(card_secret=None, card_token_provider=provide)
    item = resolve(mp.card.card_ext(card_id=card_id))
    assert claim(sb, item)["cardList"][0]["isSuccess"] is True
    assert asked
