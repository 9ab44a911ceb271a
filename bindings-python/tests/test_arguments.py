"""How Python values become the core's arguments and configuration, at their limits: nesting
deeper than 64 levels (``weixin_kit`` converts recursively: unbounded nesting would overflow the
stack and kill the interpreter), ``ext_json`` given as bytes that are not UTF-8, and clear-text
base URLs (``danger_allow_insecure_http``). Nothing is sent in any of the refused cases."""

from __future__ import annotations

from typing import Any

import pytest

from weixin_kit import ConfigError, ValidationError

from support import resolve, uid

MAX_DEPTH = 64  # bindings-python/src/convert.rs MAX_DEPTH


def nested_lists(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def nested_dicts(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def set_ext(mp, **overrides: Any) -> Any:
    call = {"openid": uid("o"), "notify_type": 1003, "notify_code": uid("42"), "ext_json": {}}
    call.update(overrides)
    return resolve(mp.service_card.set_user_notify_ext(**call))


def nothing_sent(mp_counters) -> bool:
    return mp_counters().get("calls", {}) == {}


@pytest.mark.parametrize(
    "value",
    [
        nested_lists(MAX_DEPTH + 1),
        nested_dicts(MAX_DEPTH + 1),
        nested_lists(200_000),  # overflowed the stack before the limit
    ],
    ids=["lists-65", "dicts-65", "lists-200000"],
)
def test_too_deep_an_argument_is_a_validation_error_naming_it(sb, mp, mp_counters, value):
    with pytest.raises(ValidationError) as info:
        set_ext(mp, ext_json=value)
    assert info.value.field == "ext_json"
    assert info.value.rule == "nests lists/dicts more than 64 levels deep"
    assert nothing_sent(mp_counters)


def test_a_list_that_contains_itself_is_too_deep(sb, mp, mp_counters):
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValidationError) as info:
        set_ext(mp, ext_json={"pay_info": loop})
    assert info.value.field == "ext_json"
    assert nothing_sent(mp_counters)


@pytest.mark.parametrize("value", [nested_lists(MAX_DEPTH - 1), nested_dicts(MAX_DEPTH - 1)],
                         ids=["lists-64", "dicts-64"])
def test_64_levels_are_converted(sb, mp, mp_counters, value):
    # 64 levels with the outer dict: converted; the call then fails on notify_type, which the
    # core checks after every argument was converted.
    with pytest.raises(ValidationError) as info:
        set_ext(mp, notify_type="not a number", ext_json={"deep": value})
    assert info.value.field == "notify_type"
    assert nothing_sent(mp_counters)


def test_too_deep_a_configuration_is_a_config_error(sb):
    with pytest.raises(ConfigError) as info:
        sb.mp_client(token_store=nested_lists(MAX_DEPTH + 1))
    assert "nests lists/dicts more than 64 levels deep" in str(info.value)


@pytest.mark.parametrize("ext_json", [b"\xff\xfe{}", bytearray(b'{"a":"\xe4\xb8"}')],
                         ids=["bytes", "bytearray"])
def test_ext_json_as_bytes_that_are_not_utf8_is_a_validation_error(sb, mp, mp_counters, ext_json):
    with pytest.raises(ValidationError) as info:
        set_ext(mp, ext_json=ext_json)
    assert info.value.field == "ext_json"
    assert info.value.rule == "must be a JSON value, not bytes"
    assert nothing_sent(mp_counters)


# -- clear-text base URLs ------------------------------------------------------------------------

REMOTE = "http://api.weixin.invalid"  # .invalid never resolves


@pytest.mark.parametrize("family", ["pay", "mp"])
def test_clear_text_to_a_remote_host_needs_the_loud_opt_in(sb, family):
    make = sb.pay_client if family == "pay" else sb.mp_client
    with pytest.raises(ConfigError) as info:
        make(base_url=REMOTE)
    detail = str(info.value)
    assert "`base_url` (http://api.weixin.invalid)" in detail, detail
    assert "not loopback" in detail and "danger_allow_insecure_http" in detail, detail
    client = make(base_url=REMOTE, danger_allow_insecure_http=True)
    assert client._core.info["base_url"] == REMOTE
    # The sandbox is loopback: no opt-in.
    assert sb.base_url.startswith("http://127.0.0.1:")
    make()
