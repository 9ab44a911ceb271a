//! The generated operations: request preparation (path, query, body bytes), validation before
//! sending, and decoding with the documented error tables. Expected values come from the API
//! documents (via the spec's transcribed examples) and from outside references, not from our code.

use std::sync::Mutex;

use serde_json::{json, Value};
use weixin_kit::operation::{self, Execute, PreparedRequest, RawResponse, RequestBody};
use weixin_kit::pay::{self, CodeDisplayMode, ModifyCustomEntrance, ModifyStockInfoRequest};
use weixin_kit::{mp, Error};

use crate::common::{spec, validation};

/// The request example of doc 04, as transcribed into the spec.
fn modify_stock_example() -> Value {
    spec("wechatpay.json")
        .pointer("/paths/~1v3~1marketing~1busifavor~1stocks~1{stock_id}/patch/requestBody/content/application~1json/examples/document/value")
        .cloned()
        .expect("doc 04 example in the spec")
}

#[test]
fn modify_stock_info_sends_the_documented_example_unchanged() {
    let example = modify_stock_example();
    let body: ModifyStockInfoRequest = operation::request_from_json(example.clone()).unwrap();
    let req = pay::prepare_modify_stock_info("101156451224", &body).unwrap();
    assert_eq!(req.operation.method, "PATCH");
    assert_eq!(
        req.path_and_query,
        "/v3/marketing/busifavor/stocks/101156451224"
    );
    let RequestBody::Json(bytes) = &req.body else {
        panic!("JSON body expected")
    };
    let sent: Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(sent, example, "every documented field is sent as given");
}

/// Each limit the spec sets, broken once: refused before anything is sent, naming the field
/// (by its path when nested) and the rule.
#[test]
fn bodies_that_break_a_limit_are_rejected_before_sending() {
    enum Rule {
        Is(&'static str),
        Contains(&'static str),
    }
    use Rule::{Contains, Is};
    let prepare =
        |body: ModifyStockInfoRequest| pay::prepare_modify_stock_info("1", &body).map(drop);
    let from_json =
        |body: Value| operation::request_from_json::<ModifyStockInfoRequest>(body).map(drop);
    let mut nested = modify_stock_example();
    nested["custom_entrance"]["mini_programs_info"]["entrance_words"] =
        json!("一二三四五六七八九十");
    // (what, the outcome, the field named, the rule: exactly / containing)
    let cases = [
        (
            "stock_name of 22 characters (the limit is 21, counted in characters, not bytes)",
            prepare(ModifyStockInfoRequest {
                out_request_no: "6122352020010133287985742".into(),
                stock_name: Some("一二三四五六七八九十一二三四五六七八九十一二".into()),
                ..Default::default()
            }),
            "stock_name",
            Contains("at most 21 characters"),
        ),
        (
            "comment over 20 characters",
            prepare(ModifyStockInfoRequest {
                out_request_no: "x".into(),
                comment: Some("a".repeat(21)),
                ..Default::default()
            }),
            "comment",
            Contains(""),
        ),
        (
            "out_request_no missing from the JSON",
            from_json(json!({"comment": "x"})),
            "out_request_no",
            Is("is required"),
        ),
        (
            "out_request_no empty",
            prepare(ModifyStockInfoRequest::default()),
            "out_request_no",
            Contains(""),
        ),
        (
            "an enum value the spec does not list",
            prepare(ModifyStockInfoRequest {
                out_request_no: "x".into(),
                custom_entrance: Some(ModifyCustomEntrance {
                    code_display_mode: Some(CodeDisplayMode::Unknown("AZTEC".into())),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            "custom_entrance.code_display_mode",
            Is("must be one of NOT_SHOW, BARCODE, QRCODE"),
        ),
        (
            "a nested limit (entrance_words, at most 5 characters)",
            from_json(nested),
            "custom_entrance.mini_programs_info.entrance_words",
            Contains(""),
        ),
    ];
    for (what, outcome, want_field, want_rule) in cases {
        let (field, rule) = validation(outcome);
        assert_eq!(field, want_field, "{what}: {rule}");
        match want_rule {
            Is(want) => assert_eq!(rule, want, "{what}"),
            Contains(part) => assert!(rule.contains(part), "{what}: {part:?} not in {rule:?}"),
        }
    }
}

#[test]
fn limits_count_characters_not_bytes() {
    let body = ModifyStockInfoRequest {
        out_request_no: "6122352020010133287985742".into(),
        stock_name: Some("一二三四五六七八九十一二三四五六七八九十一".into()),
        ..Default::default()
    };
    assert!(
        pay::prepare_modify_stock_info("1", &body).is_ok(),
        "21 Chinese characters are within the limit"
    );
}

#[test]
fn an_enum_value_the_server_adds_later_still_decodes() {
    let decoded: ModifyCustomEntrance =
        serde_json::from_value(json!({"code_display_mode": "AZTEC"})).unwrap();
    assert_eq!(
        decoded.code_display_mode,
        Some(CodeDisplayMode::Unknown("AZTEC".into()))
    );
}

#[test]
fn path_parameters_are_escaped() {
    let body = ModifyStockInfoRequest {
        out_request_no: "x".into(),
        ..Default::default()
    };
    let req = pay::prepare_modify_stock_info("../callbacks", &body).unwrap();
    assert_eq!(
        req.path_and_query,
        "/v3/marketing/busifavor/stocks/..%2Fcallbacks"
    );
}

#[test]
fn image_upload_signs_the_meta_with_the_file_sha256() {
    let req = pay::prepare_marketing_image_upload("logo.png", b"hello".to_vec()).unwrap();
    let RequestBody::MediaUpload { meta, file, .. } = &req.body else {
        panic!("media upload expected")
    };
    // sha256("hello") as printed by `printf hello | sha256sum`
    let expected = json!({"filename": "logo.png", "sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"});
    assert_eq!(serde_json::from_slice::<Value>(meta).unwrap(), expected);
    assert_eq!(
        req.body.signed_bytes(),
        meta.as_slice(),
        "the meta JSON is what gets signed"
    );
    assert_eq!(file, b"hello");
}

#[test]
fn card_ticket_query_carries_the_type() {
    let req = mp::prepare_get_ticket(mp::GetTicketType::WxCard).unwrap();
    assert_eq!(req.path_and_query, "/cgi-bin/ticket/getticket?type=wx_card");
    let (field, _) = validation(mp::prepare_get_ticket(mp::GetTicketType::Unknown(
        "x".into(),
    )));
    assert_eq!(field, "type");
}

#[test]
fn access_tokens_never_show_in_debug_output() {
    let resp: mp::GetAccessTokenResponse =
        serde_json::from_value(json!({"access_token": "ACCESS_TOKEN_VALUE", "expires_in": 7200}))
            .unwrap();
    assert!(!format!("{resp:?}").contains("ACCESS_TOKEN_VALUE"));
    assert_eq!(resp.access_token.unwrap().expose(), "ACCESS_TOKEN_VALUE");
}

/// Answers every request with one canned response and keeps what it was asked to send.
struct Canned {
    response: RawResponse,
    sent: Mutex<Vec<PreparedRequest>>,
}

impl Canned {
    fn new(status: u16, body: &str) -> Self {
        let mut headers = http::HeaderMap::new();
        headers.insert("Request-ID", "08F8B1F1A90610A1".parse().unwrap());
        Canned {
            response: RawResponse {
                status,
                headers,
                body: body.into(),
            },
            sent: Mutex::default(),
        }
    }
}

impl Execute for Canned {
    async fn execute(&self, request: PreparedRequest) -> weixin_kit::Result<RawResponse> {
        self.sent.lock().unwrap().push(request);
        Ok(self.response.clone())
    }
}

// Clients opt in to an API family's operations.
impl pay::Operations for Canned {}
impl mp::Operations for Canned {}

#[tokio::test]
async fn documented_pay_error_carries_its_solution() {
    use pay::Operations as _;
    let server = Canned::new(
        404,
        r#"{"code":"RESOURCE_NOT_EXISTS","message":"批次不存在"}"#,
    );
    let body = ModifyStockInfoRequest {
        out_request_no: "x".into(),
        ..Default::default()
    };
    let err = server
        .busifavor()
        .modify_stock_info("9", &body)
        .await
        .unwrap_err();
    let Error::Api(api) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (api.status, api.code.as_str()),
        (404, "RESOURCE_NOT_EXISTS")
    );
    // doc 04, 业务错误码: 404 RESOURCE_NOT_EXISTS 批次不存在 → 请检查批次ID后重试
    assert_eq!(api.solution.as_deref(), Some("请检查批次ID后重试"));
    assert_eq!(api.request_id.as_deref(), Some("08F8B1F1A90610A1"));
    assert!(!api.retryable);
}

#[tokio::test]
async fn system_error_is_retryable_and_204_is_success() {
    use pay::Operations as _;
    let body = ModifyStockInfoRequest {
        out_request_no: "x".into(),
        ..Default::default()
    };
    let busy = Canned::new(
        500,
        r#"{"code":"SYSTEM_ERROR","message":"系统异常,请稍后重试"}"#,
    );
    assert!(busy
        .busifavor()
        .modify_stock_info("9", &body)
        .await
        .unwrap_err()
        .is_retryable());
    let ok = Canned::new(204, "");
    ok.busifavor().modify_stock_info("9", &body).await.unwrap();
    assert_eq!(ok.sent.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn set_coupon_notify_decodes_the_documented_response() {
    use pay::Operations as _;
    // doc 02, 返回示例
    let server = Canned::new(
        200,
        r#"{"update_time":"2019-05-20T13:29:35+08:00","notify_url":"https://pay.weixin.qq.com","mchid":"10000098"}"#,
    );
    let req = pay::SetCouponNotifyRequest {
        mchid: Some("10000098".into()),
        notify_url: "https://pay.weixin.qq.com".into(),
    };
    let resp = server.busifavor().set_coupon_notify(&req).await.unwrap();
    assert_eq!(resp.update_time, "2019-05-20T13:29:35+08:00");
    assert_eq!(resp.mchid.as_deref(), Some("10000098"));
    let short = pay::SetCouponNotifyRequest {
        mchid: None,
        notify_url: "https://a".into(),
    };
    let (field, _) = validation(server.busifavor().set_coupon_notify(&short).await);
    assert_eq!(field, "notify_url", "string[10,256]");
}

#[tokio::test]
async fn mini_program_errcode_maps_to_the_documented_solution() {
    use mp::Operations as _;
    let req = mp::SetUserNotifyExtRequest {
        openid: "o".into(),
        notify_type: 1003,
        notify_code: "c".into(),
        ext_json: "{}".into(),
    };
    // doc 01, 错误码: 85437 invalid notify_code → notify_code 不存在
    let server = Canned::new(200, r#"{"errcode":85437,"errmsg":"invalid notify_code"}"#);
    let err = server
        .service_card()
        .set_user_notify_ext(&req)
        .await
        .unwrap_err();
    let Error::MiniProgram(e) = err else {
        panic!("{err:?}")
    };
    assert_eq!(e.errcode, 85437);
    assert_eq!(e.solution.as_deref(), Some("notify_code 不存在"));

    // 85431 system error → 系统繁忙,稍后重试 (retryable)
    let busy = Canned::new(200, r#"{"errcode":85431,"errmsg":"system error"}"#);
    assert!(busy
        .service_card()
        .set_user_notify_ext(&req)
        .await
        .unwrap_err()
        .is_retryable());

    let ok = Canned::new(200, r#"{"errcode":0,"errmsg":"ok"}"#);
    let resp = ok.service_card().set_user_notify_ext(&req).await.unwrap();
    assert_eq!(resp.errmsg.as_deref(), Some("ok"));
    let sent = ok.sent.lock().unwrap();
    assert_eq!(
        sent[0].path_and_query, "/wxa/set_user_notifyext",
        "access_token is the client's to add"
    );
}
