"""The third-party platform (第三方平台) part of spec/miniprogram.json: the `component` tag, its
operations, security scheme, error tables and the authorization-event push (issue 15), and the
rule that every credential field is marked secret, in both files.

The seed documents in spec/sources/ do not cover these endpoints; the expected values below are
WeChat's published facts (the pages and SDK files the spec cites in x-weixin-source), written
here independently of the spec. Run from the repository root: python -m pytest -q spec/tests
"""

import re

import pytest

from test_spec import MP, SPECS, operations, pointer, resolve, schema, schema_errors

COMPONENT_OPS = {
    # operationId: (method, path, security scheme or None, request body required fields)
    "getComponentAccessToken": ("post", "/cgi-bin/component/api_component_token", None,
                                {"component_appid", "component_appsecret",
                                 "component_verify_ticket"}),
    "queryAuth": ("post", "/cgi-bin/component/api_query_auth", "ComponentAccessToken",
                  {"component_appid", "authorization_code"}),
    "getAuthorizerAccessToken": ("post", "/cgi-bin/component/api_authorizer_token",
                                 "ComponentAccessToken",
                                 {"component_appid", "authorizer_appid",
                                  "authorizer_refresh_token"}),
}

# errcode -> errmsg as WeChat's 开放平台全局返回码 / the endpoints' tables give them.
DOCUMENTED_ERRORS = {
    "getComponentAccessToken": {61004: "access clientip is not registered",
                                61005: "component ticket is expired",
                                61006: "component ticket is invalid",
                                61011: "invalid component", 40125: "invalid appsecret",
                                41004: "appsecret missing", 48001: "api unauthorized"},
    "queryAuth": {61009: "code is invalid", 61010: "code is expired",
                  40001: "invalid credential, access_token is invalid or not latest",
                  42001: "access_token expired"},
    "getAuthorizerAccessToken": {61023: "refresh_token is invalid",
                                 61003: "component is not authorized by this account",
                                 40001: "invalid credential, access_token is invalid or not latest",
                                 42001: "access_token expired"},
}

INFO_TYPES = {"component_verify_ticket", "authorized", "updateauthorized", "unauthorized"}


def component_tag():
    [tag] = [t for t in MP["tags"] if t["name"] == "component"]
    return tag


def component_operations():
    return {op["operationId"]: (method, path, op) for path, method, op in operations(MP)
            if op["tags"] == ["component"]}


def test_the_component_tag_selects_the_component_client():
    tag = component_tag()
    assert tag["x-weixin-client"] == "component"
    assert tag.get("x-weixin-source")
    others = [t["name"] for t in MP["tags"] if t is not tag and "x-weixin-client" in t]
    assert not others, f"tags giving operations to another client: {others}"


def test_component_operations_are_where_the_documents_put_them():
    ops = component_operations()
    assert set(ops) == set(COMPONENT_OPS)
    for op_id, (method, path, scheme, required) in COMPONENT_OPS.items():
        got_method, got_path, op = ops[op_id]
        assert (got_method, got_path) == (method, path), op_id
        assert op["security"] == ([{scheme: []}] if scheme else []), op_id
        body = resolve(MP, op["requestBody"]["content"]["application/json"]["schema"])
        assert set(body["required"]) == required, op_id
        names = {p["name"] for p in op.get("parameters", [])}
        assert "component_access_token" not in names, f"{op_id}: the client injects the token"


def test_the_component_token_is_a_query_parameter():
    scheme = MP["components"]["securitySchemes"]["ComponentAccessToken"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == (
        "apiKey", "query", "component_access_token")
    # Only the component tag's operations use it.
    users = [op["operationId"] for _, _, op in operations(MP)
             if {"ComponentAccessToken": []} in op["security"]]
    assert set(users) == {"queryAuth", "getAuthorizerAccessToken"}


def test_component_operations_mint_credentials_and_are_never_resent():
    for op_id, (_, _, op) in component_operations().items():
        assert op["x-weixin-idempotent"] is False, op_id
        reason = op["x-weixin-idempotent-reason"]
        assert "developers.weixin.qq.com/doc/oplatform" in reason, (op_id, reason)


def test_component_error_tables_carry_the_documented_codes():
    ops = component_operations()
    for op_id, expected in DOCUMENTED_ERRORS.items():
        rows = {e["errcode"]: e for e in ops[op_id][2]["x-weixin-errors"]}
        for code, errmsg in expected.items():
            assert code in rows, f"{op_id}: errcode {code} missing"
            assert rows[code]["errmsg"] == errmsg, (op_id, code, rows[code]["errmsg"])
        for code, row in rows.items():
            # Only "system busy, try again later" is retried as it is; the token errors are
            # handled by the client (a new component token, one resend), not by retrying.
            assert row["retryable"] is (code == -1), (op_id, code)
            assert row["solution"].strip() or row["description"].strip(), (op_id, code)


def test_the_token_answers_state_the_documented_lifetimes():
    token = schema(MP, "GetComponentAccessTokenResponse")
    assert [e["expires_in"] for e in token["examples"]] == [7200]
    authorizer = schema(MP, "GetAuthorizerAccessTokenResponse")
    assert [e["expires_in"] for e in authorizer["examples"]] == [7200]
    _, _, push = next(operations(MP, "webhooks"))
    # 每隔 10 分钟 … 推送; 有效时间为12小时 (验证票据)
    assert "每隔 10 分钟" in push["description"] and "12小时" in push["description"]


def test_the_authorization_push_is_a_webhook():
    hooks = {op["operationId"]: (path, op) for path, _, op in operations(MP, "webhooks")}
    assert set(hooks) == {"componentAuthorizationPush"}
    _, push = hooks["componentAuthorizationPush"]
    assert push["tags"] == ["component"]
    query = {p["name"] for p in push["parameters"] if p["in"] == "query"}
    assert query == {"timestamp", "nonce", "encrypt_type", "msg_signature", "signature"}
    envelope = pointer(MP, push["requestBody"]["content"]["application/xml"]["schema"]["$ref"])
    assert set(envelope["required"]) == {"AppId", "Encrypt"}
    event = schema(MP, push["x-weixin-resource-schema"])
    info_type = resolve(MP, event["properties"]["InfoType"])
    assert set(info_type["enum"]) == INFO_TYPES == set(push["x-weixin-info-types"])
    for field in ("AppId", "CreateTime", "InfoType", "ComponentVerifyTicket", "AuthorizerAppid",
                  "AuthorizationCode", "AuthorizationCodeExpiredTime", "PreAuthCode"):
        assert field in event["properties"], field
    answer = push["responses"]["200"]["content"]["text/plain"]["schema"]
    assert answer == {"type": "string", "const": "success"}


@pytest.mark.parametrize("name", [
    "GetComponentAccessTokenRequest", "GetComponentAccessTokenResponse", "QueryAuthRequest",
    "QueryAuthResponse", "AuthorizationInfo", "AuthorizerFuncInfo", "FuncscopeCategory",
    "GetAuthorizerAccessTokenRequest", "GetAuthorizerAccessTokenResponse",
    "ComponentPushEnvelope", "ComponentPushEvent",
])
def test_component_examples_validate(name):
    examples = schema(MP, name).get("examples")
    assert examples, f"{name} has no example"
    for example in examples:
        assert not schema_errors(MP, name, example), (name, example)


def test_an_example_with_a_wrong_type_is_rejected():
    """The example check above can fail."""
    assert schema_errors(MP, "ComponentPushEvent",
                         {"AppId": "a", "CreateTime": "not a number", "InfoType": "authorized"})
    assert schema_errors(MP, "QueryAuthRequest", {"component_appid": "a"})


# ---------------------------------------------------------------------------------------------
# Credentials are secret, in both files

CREDENTIAL = re.compile(r"(?i)(secret|token|ticket|authorization_?code)$")


def credential_fields(spec):
    """(where, node) for every schema property and parameter whose name is a credential's."""
    for name, sch in spec["components"]["schemas"].items():
        for prop, node in sch.get("properties", {}).items():
            if CREDENTIAL.search(prop):
                yield f"components.schemas.{name}.{prop}", node
    for section_name in ("paths", "webhooks"):
        for path, method, op in operations(spec, section_name):
            for p in map(lambda node: resolve(spec, node), op.get("parameters", [])):
                if CREDENTIAL.search(p["name"]):
                    yield f"{method.upper()} {path} parameter {p['name']}", p


def test_the_credential_pattern_is_not_vacuous():
    assert CREDENTIAL.search("component_appsecret") and CREDENTIAL.search("AuthorizationCode")
    assert CREDENTIAL.search("authorizer_refresh_token") and CREDENTIAL.search("ticket")
    assert not CREDENTIAL.search("expires_in") and not CREDENTIAL.search("PreAuthCode")
    assert not CREDENTIAL.search("AuthorizationCodeExpiredTime")
    found = {where for where, _ in credential_fields(MP)}
    assert "components.schemas.GetComponentAccessTokenRequest.component_verify_ticket" in found


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_credential_field_is_secret(name):
    loose = [where for where, node in credential_fields(SPECS[name])
             if node.get("x-weixin-secret") is not True]
    assert not loose, f"{name}: credential fields without x-weixin-secret: {loose}"
