//! 卡券签名 against `spec/vectors/card_signature.json` (made with Python hashlib by
//! `spec/vectors/make_card_vectors.py`), and the `wx.addCard` cardList item builder.

use serde_json::Value;
use weixin_kit::mp::{card_ext, sign_card_ext, CardExt, CardExtBuilder};

use crate::common::validation;

/// The cases of `spec/vectors/card_signature.json`.
fn vectors() -> Vec<Value> {
    crate::common::vectors("card_signature.json")["cases"]
        .as_array()
        .unwrap()
        .clone()
}

fn opt(case: &Value, field: &str) -> Option<String> {
    case[field].as_str().map(str::to_owned)
}

#[test]
fn signatures_match_the_vectors() {
    let cases = vectors();
    assert!(cases.len() >= 6);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let signature = sign_card_ext(
            case["api_ticket"].as_str().unwrap(),
            case["card_id"].as_str().unwrap(),
            case["timestamp"].as_i64().unwrap(),
            opt(case, "nonce_str").as_deref().unwrap_or(""),
            opt(case, "code").as_deref(),
            opt(case, "openid").as_deref(),
        );
        assert_eq!(
            signature,
            case["signature"].as_str().unwrap(),
            "case {name}"
        );
    }
}

#[test]
fn the_vectors_cover_code_and_openid_present_and_absent() {
    let cases = vectors();
    let has = |code: bool, openid: bool| {
        cases
            .iter()
            .any(|c| c["code"].is_string() == code && c["openid"].is_string() == openid)
    };
    assert!(has(false, false) && has(true, false) && has(false, true) && has(true, true));
}

#[test]
fn the_documentation_example() {
    // WeChat JS-SDK documentation, 附录4, 签名说明 item 4.
    assert_eq!(
        sign_card_ext(
            "ojZ8YtyVyr30HheH3CM73y7h4jJE",
            "pjZ8Yt1XGILfi-FUsewpnnolGgZk",
            1404896688,
            "123",
            Some("1434008071"),
            None,
        ),
        "f137ab68b7f8112d20ee528ab6074564e2796250"
    );
}

#[test]
fn the_builder_signs_what_it_puts_in_card_ext() {
    for case in vectors() {
        let Some(nonce) = opt(&case, "nonce_str") else {
            continue; // the builder always sends a nonce
        };
        if !nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
            // byte_order_matters ("_x") tests the sort, not a nonce the builder accepts.
            continue;
        }
        let name = case["name"].as_str().unwrap();
        let card_id = case["card_id"].as_str().unwrap();
        let mut builder = CardExtBuilder::new(card_id)
            .timestamp(case["timestamp"].as_i64().unwrap())
            .nonce_str(nonce.clone());
        if let Some(code) = opt(&case, "code") {
            builder = builder.code(code);
        }
        if let Some(openid) = opt(&case, "openid") {
            builder = builder.openid(openid);
        }
        let item = builder.build(case["api_ticket"].as_str().unwrap()).unwrap();
        assert_eq!(item.card_id, card_id, "case {name}");

        // cardExt is a JSON string: same timestamp and nonce_str as signed, no card_id.
        let ext: Value = serde_json::from_str(&item.card_ext).unwrap();
        let obj = ext.as_object().unwrap();
        assert_eq!(ext["signature"], case["signature"], "case {name}");
        // Sent as a string: its decimal text is what was signed.
        assert_eq!(
            ext["timestamp"].as_str(),
            Some(case["timestamp"].to_string().as_str()),
            "case {name}"
        );
        assert_eq!(
            ext["nonce_str"].as_str(),
            Some(nonce.as_str()),
            "case {name}"
        );
        assert_eq!(
            ext.get("code").cloned().unwrap_or(Value::Null),
            case["code"]
        );
        assert_eq!(
            ext.get("openid").cloned().unwrap_or(Value::Null),
            case["openid"]
        );
        assert!(!obj.contains_key("card_id") && !obj.contains_key("cardId"));
        assert!(!obj.contains_key("fixed_begintimestamp") && !obj.contains_key("outer_str"));

        // And the generated type reads it back.
        let typed: CardExt = serde_json::from_str(&item.card_ext).unwrap();
        assert_eq!(typed.signature, case["signature"].as_str().unwrap());
    }
}

#[test]
fn unsigned_fields_go_in_card_ext_without_changing_the_signature() {
    let base = CardExtBuilder::new("pFS7Fjg8kV1IdDz01r4SQwMkuCKc")
        .timestamp(1735689600)
        .nonce_str("k8JdQ2nXb7LmP4sR")
        .code("110201201245");
    let plain = base.build_card_ext("ticket").unwrap();
    let extra = base
        .clone()
        .fixed_begintimestamp(1735600000)
        .outer_str("channel_a")
        .build("ticket")
        .unwrap();
    let ext: Value = serde_json::from_str(&extra.card_ext).unwrap();
    assert_eq!(ext["signature"].as_str(), Some(plain.signature.as_str()));
    assert_eq!(ext["fixed_begintimestamp"], 1735600000);
    assert_eq!(ext["outer_str"], "channel_a");
}

#[test]
fn defaults_are_now_and_a_fresh_32_character_nonce() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let a = card_ext("ticket", "pFS7Fjg8kV1IdDz01r4SQwMkuCKc").unwrap();
    let b = card_ext("ticket", "pFS7Fjg8kV1IdDz01r4SQwMkuCKc").unwrap();
    let a: CardExt = serde_json::from_str(&a.card_ext).unwrap();
    let b: CardExt = serde_json::from_str(&b.card_ext).unwrap();
    // Sent as a string of digits (the JS-SDK appendix: values end up as strings).
    let ts: i64 = a.timestamp.parse().unwrap();
    assert!((ts - before).abs() <= 5);
    let raw: serde_json::Value =
        serde_json::from_str(&card_ext("t", "c").unwrap().card_ext).unwrap();
    assert!(raw["timestamp"].is_string(), "{raw}");
    let nonce = a.nonce_str.clone().unwrap();
    assert_eq!(nonce.len(), 32);
    assert!(nonce.bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(a.nonce_str, b.nonce_str);
    assert_eq!(
        a.signature,
        sign_card_ext(
            "ticket",
            "pFS7Fjg8kV1IdDz01r4SQwMkuCKc",
            ts,
            &nonce,
            None,
            None
        )
    );
}

#[test]
fn invalid_input_is_caught_before_anything_is_built() {
    let b = || CardExtBuilder::new("card");
    // (what, builder, api_ticket, the field named)
    let cases = [
        (
            "a nonce over 32 characters",
            b().nonce_str("x".repeat(33)),
            "ticket",
            "cardExt.nonce_str",
        ),
        (
            "an empty nonce (signs like an absent one: replayable)",
            b().nonce_str(""),
            "ticket",
            "cardExt.nonce_str",
        ),
        (
            "a nonce with punctuation",
            b().nonce_str("abc-123"),
            "ticket",
            "cardExt.nonce_str",
        ),
        (
            "a nonce with a space",
            b().nonce_str("abc 123"),
            "ticket",
            "cardExt.nonce_str",
        ),
        (
            "a non-ASCII nonce",
            b().nonce_str("随机字符串"),
            "ticket",
            "cardExt.nonce_str",
        ),
        (
            "a zero timestamp",
            b().timestamp(0),
            "ticket",
            "cardExt.timestamp",
        ),
        (
            "a negative timestamp",
            b().timestamp(-1404896688),
            "ticket",
            "cardExt.timestamp",
        ),
        ("an empty code", b().code(""), "ticket", "cardExt.code"),
        (
            "an empty openid",
            b().openid(""),
            "ticket",
            "cardExt.openid",
        ),
        (
            "an empty card_id",
            CardExtBuilder::new(""),
            "ticket",
            "cardId",
        ),
        ("an empty api_ticket", b(), "", "api_ticket"),
    ];
    for (what, builder, ticket, want_field) in cases {
        let (field, rule) = validation(builder.build(ticket));
        assert_eq!(field, want_field, "{what}: {rule}");
    }
    assert!(b().nonce_str("x".repeat(32)).build("ticket").is_ok());
    assert!(b().nonce_str("A").timestamp(1).build("ticket").is_ok());
    let (_, rule) = validation(b().nonce_str("").build("ticket"));
    assert_eq!(
        rule,
        "must be 1 to 32 ASCII letters and digits (an empty nonce_str signs like an absent one, \
         which can be replayed)"
    );
    let (_, rule) = validation(b().timestamp(0).build("ticket"));
    assert_eq!(rule, "must be a positive number of Unix seconds");
}

#[test]
fn errors_never_show_the_ticket() {
    let err = CardExtBuilder::new("card")
        .nonce_str("n".repeat(40))
        .build("secret-ticket-value")
        .unwrap_err();
    assert!(!err.to_string().contains("secret-ticket-value"));
    assert!(!format!("{err:?}").contains("secret-ticket-value"));
}
