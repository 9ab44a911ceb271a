//! The operation runtime end to end: path building, decoding, the error tables of both
//! families, and what Debug output hides.

use super::*;
use crate::error::Error;
use crate::validate::Validate;
static OP: OperationSpec = OperationSpec {
    name: "Example",
    tag: "t",
    family: ApiFamily::Pay,
    method: "PATCH",
    path: "/v3/x/{id}",
    auth: Auth::WechatPay2,
    idempotent: true,
    success_status: 204,
    common_errors: &[],
    errors: &[
        ErrorDoc {
            key: ErrorKey::Pay {
                status: 400,
                code: "INVALID_REQUEST",
            },
            description: "原因一",
            solution: "方案一",
            retryable: false,
            retry_after_secs: None,
            advice: None,
        },
        ErrorDoc {
            key: ErrorKey::Pay {
                status: 400,
                code: "INVALID_REQUEST",
            },
            description: "原因二",
            solution: "方案二",
            retryable: false,
            retry_after_secs: None,
            advice: None,
        },
        ErrorDoc {
            key: ErrorKey::Pay {
                status: 500,
                code: "SYSTEM_ERROR",
            },
            description: "系统异常",
            solution: "请稍后重试",
            retryable: true,
            retry_after_secs: None,
            advice: None,
        },
    ],
};

fn response(status: u16, body: &str) -> RawResponse {
    let mut headers = http::HeaderMap::new();
    headers.insert("Request-ID", "req-1".parse().unwrap());
    RawResponse {
        status,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn path_parameters_are_escaped_and_required() {
    let p = PathBuilder::new("/v3/x/{id}", &[("id", "a/b c")])
        .unwrap()
        .query("k", "v&w")
        .finish();
    assert_eq!(p, "/v3/x/a%2Fb%20c?k=v%26w");
    assert!(matches!(
        PathBuilder::new("/v3/x/{id}", &[("id", "")]),
        Err(Error::Validation { .. })
    ));
    for dots in [".", ".."] {
        assert!(matches!(
            PathBuilder::new("/v3/x/{id}", &[("id", dots)]),
            Err(Error::Validation { field, .. }) if field == "id"
        ));
    }
    // Dots inside a segment are ordinary characters.
    let p = PathBuilder::new("/v3/x/{id}", &[("id", "a..b")])
        .unwrap()
        .finish();
    assert_eq!(p, "/v3/x/a..b");
}

#[test]
fn exact_description_selects_one_solution() {
    let err = decode_empty(
        &OP,
        &response(400, r#"{"code":"INVALID_REQUEST","message":"原因二"}"#),
    )
    .unwrap_err();
    let Error::Api(api) = err else {
        panic!("{err:?}")
    };
    assert_eq!(api.solution.as_deref(), Some("方案二"));
    assert_eq!(api.request_id.as_deref(), Some("req-1"));
    assert!(!api.retryable);
}

#[test]
fn ambiguous_code_lists_every_documented_cause() {
    let err = decode_empty(
        &OP,
        &response(400, r#"{"code":"INVALID_REQUEST","message":"其他"}"#),
    )
    .unwrap_err();
    let Error::Api(api) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        api.solution.as_deref(),
        Some("原因一: 方案一; 原因二: 方案二")
    );
}

#[test]
fn retryable_comes_from_the_table() {
    let err = decode_empty(
        &OP,
        &response(500, r#"{"code":"SYSTEM_ERROR","message":"x"}"#),
    )
    .unwrap_err();
    assert!(err.is_retryable());
}

#[test]
fn debug_of_a_prepared_token_request_hides_the_secret() {
    let request = crate::mp::prepare_get_access_token(
        crate::mp::ClientCredentialGrantType::ClientCredential,
        "wx1234567890abcdef",
        "APPSECRET0123456789",
    )
    .unwrap();
    assert!(request.path_and_query.contains("APPSECRET0123456789"));
    let debug = format!("{request:?} {request:#?}");
    assert!(!debug.contains("APPSECRET0123456789"), "{debug}");
    assert!(!debug.contains("wx1234567890abcdef"), "{debug}");
    assert!(debug.contains("/cgi-bin/token?<redacted>"), "{debug}");
    // Without a query, the path is shown as is.
    let plain = PreparedRequest {
        operation: &OP,
        path_and_query: "/v3/x/1".into(),
        body: RequestBody::Empty,
    };
    assert!(format!("{plain:?}").contains("\"/v3/x/1\""));
}

#[test]
fn debug_of_a_raw_response_hides_the_body_and_header_values() {
    let mut r = response(
        200,
        r#"{"access_token":"ACCESSTOKEN123","expires_in":7200}"#,
    );
    r.headers
        .insert("Set-Cookie", "session=COOKIEVALUE".parse().unwrap());
    let debug = format!("{r:?} {r:#?}");
    assert!(!debug.contains("ACCESSTOKEN123"), "{debug}");
    assert!(!debug.contains("COOKIEVALUE"), "{debug}");
    assert!(!debug.contains("req-1"), "{debug}");
    assert!(
        debug.contains("set-cookie") && debug.contains("200"),
        "{debug}"
    );
    assert!(
        debug.contains(&format!("{} bytes", r.body.len())),
        "{debug}"
    );
}

#[test]
fn decoding_errors_do_not_quote_response_values() {
    static MP: OperationSpec = OperationSpec {
        name: "Mp",
        tag: "t",
        family: ApiFamily::MiniProgram,
        method: "GET",
        path: "/x",
        auth: Auth::None,
        idempotent: true,
        success_status: 200,
        common_errors: &[],
        errors: &[],
    };
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Out {
        count: u32,
    }
    let err = decode_json::<Out>(&MP, &response(200, r#"{"errcode":0,"count":"oOPENID42"}"#))
        .unwrap_err();
    let text = err.to_string();
    assert!(!text.contains("oOPENID42"), "{text}");
    assert!(
        text.contains("count") && text.contains("expected u32"),
        "{text}"
    );

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct In {
        openid: u32,
    }
    impl Validate for In {
        fn validate_at(&self, _prefix: &str) -> Result<()> {
            Ok(())
        }
    }
    let err = request_from_json::<In>(serde_json::json!({"openid": "oOPENID42"})).unwrap_err();
    let Error::Validation { field, rule } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(field, "openid");
    assert_eq!(rule, "has the wrong type: expected u32");
}

#[test]
fn non_json_error_body_is_unexpected_response() {
    let err = decode_empty(&OP, &response(502, "<html>bad gateway</html>")).unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedResponse { status: 502, .. }),
        "{err:?}"
    );
}
