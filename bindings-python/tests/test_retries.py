"""What the client sends again after a failure without an answer (README "Retries"): a request
that may have reached the server is resent only when idempotent; otherwise the error says
``may_have_been_applied``. The ``deadline`` setting bounds the whole call. Against a local
server that reads each request and drops the connection (the sandbox always answers)."""

from __future__ import annotations

import pytest

import weixin_kit
from weixin_kit.errors import TimeoutError, TransportError

from support import Dropper, resolve


@pytest.fixture
def dropper():
    d = Dropper()
    yield d
    d.close()


def client_to(sb, kind, url, **kwargs):
    kwargs = dict(base_url=url, backup_base_url=None, **kwargs)
    return sb.pay_client(**kwargs) if kind == "sync" else sb.async_pay_client(**kwargs)


def test_a_post_is_not_resent_and_says_it_may_have_been_applied(sb, kind, dropper):
    client = client_to(sb, kind, dropper.url())
    body = {"notify_url": "https://example.com/n"}
    with pytest.raises(TransportError) as info:
        resolve(client.request("POST", "/v3/marketing/busifavor/callbacks", body))
    assert dropper.requests == 1
    assert info.value.may_have_been_applied is True
    assert info.value.retryable is False
    assert "may have been applied" in str(info.value)

    with pytest.raises(TransportError) as info:
        resolve(
            client.request("POST", "/v3/marketing/busifavor/callbacks", body, idempotent=True)
        )
    assert dropper.requests == 1 + 3, "idempotent: every attempt"
    assert info.value.may_have_been_applied is False
    assert info.value.retryable is True


def test_the_deadline_bounds_the_whole_call(sb, kind):
    hanging = Dropper(hang=True)
    try:
        client = client_to(sb, kind, hanging.url(), timeout=30, deadline=0.5)
        with pytest.raises(TimeoutError) as info:
            resolve(client.request("GET", "/v3/certificates"))
        assert "deadline (500ms) was exceeded" in str(info.value)
        assert isinstance(info.value, weixin_kit.WeixinKitError)
    finally:
        hanging.close()
