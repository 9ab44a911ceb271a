//! Operations called by name with wire-named JSON arguments (`PayClient::call`,
//! `MiniProgramClient::call`): the layer every language binding stands on. Against the
//! in-process sandbox; what it received is read back from its state and request log.

use serde_json::{json, Map, Value};
use weixin_kit::dispatch::JsonArgs;
use weixin_kit_sandbox::NewStock;

use crate::common::{self, mp_client, pay_client, sandbox, validation, CODE, NOTIFY_TYPE, OPENID};

fn args(value: Value) -> JsonArgs {
    match value {
        Value::Object(map) => JsonArgs::new(map),
        other => panic!("arguments must be an object, got {other}"),
    }
}

#[tokio::test]
async fn modify_stock_info_by_name_reaches_the_server_and_answers_null() {
    let sb = sandbox().await;
    let stock = sb.create_stock(NewStock::named("活动券")).unwrap().stock_id;
    let client = pay_client(&sb);
    let answer = client
        .call(
            "ModifyStockInfo",
            args(json!({
                "stock_id": stock,
                "out_request_no": "dispatch-1",
                "comment": "按名调用",
                "custom_entrance": {"mini_programs_info": {"mini_programs_appid": "wx234545656765876",
                    "mini_programs_path": "/path/index/index", "entrance_words": "进入"},
                    "code_display_mode": "NOT_SHOW"},
                "goods_name": null,
            })),
        )
        .await
        .unwrap();
    assert_eq!(answer, Value::Null);
    let stored = sb.stock(&stock).unwrap();
    assert_eq!(stored.field("comment"), Some(&json!("按名调用")));
    assert_eq!(
        stored
            .field("custom_entrance")
            .and_then(|c| c.pointer("/mini_programs_info/entrance_words")),
        Some(&json!("进入"))
    );
    // `goods_name: null` is absent, not an empty string.
    assert_eq!(stored.field("goods_name"), None);
}

#[tokio::test]
async fn set_coupon_notify_by_name_answers_the_documented_json() {
    let sb = sandbox().await;
    let answer = pay_client(&sb)
        .call(
            "SetCouponNotify",
            args(json!({"notify_url": "https://merchant.example.com/cb"})),
        )
        .await
        .unwrap();
    assert_eq!(answer["notify_url"], "https://merchant.example.com/cb");
    assert_eq!(answer["mchid"], sb.credentials().mchid);
    assert!(answer["update_time"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    assert_eq!(
        sb.notify_url().as_deref(),
        Some("https://merchant.example.com/cb")
    );
}

#[tokio::test]
async fn the_media_upload_takes_its_file_as_bytes() {
    let sb = sandbox().await;
    // A 1×1 PNG, as produced by any encoder (the sandbox checks size, suffix and sha256).
    let png: Vec<u8> = vec![
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0,
        0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89,
    ];
    let mut a = args(json!({"filename": "logo.png"}));
    a.bytes.insert("file".into(), png.clone());
    let answer = pay_client(&sb)
        .call("MarketingImageUpload", a)
        .await
        .unwrap();
    assert!(answer["media_url"].as_str().is_some_and(|u| !u.is_empty()));
    let media = sb.media();
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].size, png.len());

    // The file given as JSON instead of bytes is named as such.
    let (field, rule) = validation(
        pay_client(&sb)
            .call(
                "MarketingImageUpload",
                args(json!({"filename": "logo.png", "file": "not bytes"})),
            )
            .await,
    );
    assert_eq!(field, "file");
    assert!(rule.contains("must be bytes"), "{rule}");
}

#[tokio::test]
async fn bad_arguments_are_named_and_nothing_is_sent() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    // (what is wrong, operation, arguments, the field named, what the rule says)
    let cases: &[(&str, &str, Value, &str, &[&str])] = &[
        (
            "a misspelt argument, with the real ones listed",
            "ModifyStockInfo",
            json!({"stock_id": "1", "out_request_no": "x", "coment": "typo"}),
            "coment",
            &["not an argument of ModifyStockInfo", "comment"],
        ),
        (
            "a required body field missing",
            "ModifyStockInfo",
            json!({"stock_id": "1"}),
            "out_request_no",
            &["required"],
        ),
        (
            "the path parameter missing",
            "ModifyStockInfo",
            json!({"out_request_no": "x", "comment": "c"}),
            "stock_id",
            &[],
        ),
        (
            "the spec's own rules: stock_name is at most 21 characters",
            "ModifyStockInfo",
            json!({"stock_id": "1", "out_request_no": "x",
                   "stock_name": "一二三四五六七八九十一二三四五六七八九十一二"}),
            "stock_name",
            &["21"],
        ),
        (
            "a nested field of the wrong type, named by its path",
            "ModifyStockInfo",
            json!({"stock_id": "1", "out_request_no": "x",
                   "custom_entrance": {"mini_programs_info": {"entrance_words": 5}}}),
            "custom_entrance.mini_programs_info.entrance_words",
            &[],
        ),
        (
            "a misspelt nested field, not dropped silently",
            "ModifyStockInfo",
            json!({"stock_id": "1", "out_request_no": "x",
                   "custom_entrance": {"code_display_mod": "NOT_SHOW"}}),
            "custom_entrance.code_display_mod",
            &["not a field"],
        ),
        (
            "an operation that does not exist, with the real ones listed",
            "DeleteEverything",
            json!({}),
            "operation",
            &["DeleteEverything", "ModifyStockInfo"],
        ),
    ];
    for (what, operation, arguments, want_field, rule_parts) in cases {
        let (field, rule) = validation(client.call(operation, args(arguments.clone())).await);
        assert_eq!(field, *want_field, "{what}: {rule}");
        for part in *rule_parts {
            assert!(rule.contains(part), "{what}: {part:?} not in {rule:?}");
        }
    }
    assert!(sb.requests().is_empty(), "nothing may reach the server");
}

#[tokio::test]
async fn set_user_notify_ext_accepts_the_object_and_encodes_it_as_the_documents_show() {
    let sb = sandbox().await;
    let client = mp_client(&sb);
    let ext = json!({
        "pay_info": {"transaction_id": CODE, "pay_amount": 2001, "pay_time": 1683546394},
        "store_info": {"store_name": "westore", "latitude": 22},
    });
    let answer = client
        .call(
            "setUserNotifyExt",
            args(
                json!({"openid": OPENID, "notify_type": NOTIFY_TYPE, "notify_code": CODE,
                        "ext_json": ext}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(answer["errcode"], 0);
    let received = sb.mp().received_ext_json(OPENID, CODE);
    let last = received.last().expect("the sandbox stored ext_json");
    // Doc 01's example: the nested objects arrive as JSON strings inside the JSON.
    let outer: Value = serde_json::from_str(last).unwrap();
    let pay_info = outer["pay_info"].as_str().expect("pay_info is a string");
    assert_eq!(
        serde_json::from_str::<Value>(pay_info).unwrap()["pay_amount"],
        2001
    );

    // A string is sent as given, and must already be a JSON object.
    let raw = r#"{"pay_info":"{\"pay_amount\":1}"}"#;
    client
        .call(
            "setUserNotifyExt",
            args(
                json!({"openid": OPENID, "notify_type": NOTIFY_TYPE, "notify_code": CODE,
                        "ext_json": raw}),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        sb.mp()
            .received_ext_json(OPENID, CODE)
            .last()
            .map(String::as_str),
        Some(raw)
    );
    let (field, rule) = validation(
        client
            .call(
                "setUserNotifyExt",
                args(json!({"openid": OPENID, "notify_type": NOTIFY_TYPE,
                            "notify_code": CODE, "ext_json": "[1, 2]"})),
            )
            .await,
    );
    assert_eq!(field, "ext_json");
    assert!(rule.contains("JSON object"), "{rule}");
}

#[tokio::test]
async fn mini_program_errors_come_back_documented() {
    let sb = sandbox().await;
    let result = mp_client(&sb)
        .call(
            "setUserNotifyExt",
            args(
                json!({"openid": "nobody", "notify_type": NOTIFY_TYPE, "notify_code": CODE,
                        "ext_json": {}}),
            ),
        )
        .await;
    let e = common::mp_error(result);
    assert_ne!(e.errcode, 0);
    assert!(e.solution.is_some(), "documented errcode {}", e.errcode);
}

#[tokio::test]
async fn get_user_notify_and_decrypt_card_code_by_name() {
    let sb = sandbox().await;
    let client = mp_client(&sb);
    let state = client
        .call(
            "getUserNotify",
            args(json!({"openid": OPENID, "notify_type": NOTIFY_TYPE, "notify_code": CODE})),
        )
        .await
        .unwrap();
    assert_eq!(state["errcode"], 0);

    let encrypted = sb
        .mp()
        .encrypt_card_code("pFS7Fjg8kV1IdDz01r4SQwMkuCKc", "812345678901");
    let answer = client
        .call("decryptCardCode", args(json!({"encrypt_code": encrypted})))
        .await
        .unwrap();
    assert_eq!(answer["code"], "812345678901");
}

#[tokio::test]
async fn every_local_operation_is_implemented() {
    let sb = sandbox().await;
    let client = mp_client(&sb);
    assert!(!weixin_kit::mp::LOCAL_OPERATIONS.is_empty());
    for name in weixin_kit::mp::LOCAL_OPERATIONS {
        // No arguments: a validation error about a missing argument, not "unknown operation".
        let (field, rule) = validation(client.call(name, JsonArgs::new(Map::new())).await);
        assert_ne!(field, "operation", "{name} is not implemented: {rule}");
    }
}

#[tokio::test]
async fn card_ext_by_name_is_signed_with_the_cached_ticket() {
    let sb = sandbox().await;
    let client = mp_client(&sb);
    let item = client
        .call(
            "cardExt",
            args(json!({"card_id": "pFS7Fjg8kV1IdDz01r4SQwMkuCKc", "openid": OPENID})),
        )
        .await
        .unwrap();
    assert_eq!(item["cardId"], "pFS7Fjg8kV1IdDz01r4SQwMkuCKc");
    let ext: Value = serde_json::from_str(item["cardExt"].as_str().unwrap()).unwrap();
    let ticket = client.card_api_ticket().await.unwrap();
    let expected = weixin_kit::mp::sign_card_ext(
        ticket.expose(),
        "pFS7Fjg8kV1IdDz01r4SQwMkuCKc",
        ext["timestamp"].as_str().unwrap().parse().unwrap(),
        ext["nonce_str"].as_str().unwrap(),
        None,
        Some(OPENID),
    );
    assert_eq!(ext["signature"], expected);
    assert_eq!(ext["openid"], OPENID);
}

#[tokio::test]
async fn every_generated_operation_is_in_the_json_table() {
    let pay_names: Vec<&str> = weixin_kit::pay::JSON_OPERATIONS
        .iter()
        .map(|o| o.spec.name)
        .collect();
    let pay_specs: Vec<&str> = weixin_kit::pay::OPERATIONS.iter().map(|o| o.name).collect();
    assert_eq!(pay_names, pay_specs);
    let mp_names: Vec<&str> = weixin_kit::mp::JSON_OPERATIONS
        .iter()
        .map(|o| o.spec.name)
        .collect();
    let mp_specs: Vec<&str> = weixin_kit::mp::OPERATIONS.iter().map(|o| o.name).collect();
    assert_eq!(mp_names, mp_specs);
}

/// The client picks the card account's token by tag name; the spec says which tag that is.
#[test]
fn the_card_account_tag_is_the_one_the_spec_marks() {
    let spec = crate::common::spec("miniprogram.json");
    let marked: Vec<&str> = spec["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["x-weixin-account"] == "card_account")
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(marked, vec![weixin_kit::mp::client::CARD_TAG]);
}
