//! The open platform's message encryption (WXBizMsgCrypt) and push parser against
//! `spec/vectors/msg_crypt.json` (made by `make_msg_crypt_vectors.py` with Python `cryptography`
//! and `hashlib`, plus the official samples' published values), on every crypto backend compiled
//! into this build.

use serde_json::Value;
use weixin_kit::component::msg_crypt::MsgCrypt;
use weixin_kit::component::push::{parse_push, ComponentPush, PushQuery};
use weixin_kit::crypto::{self, Backend};
use weixin_kit::Error;

use crate::common::{s, vectors};

fn doc() -> Value {
    vectors("msg_crypt.json")
}

fn list<'a>(doc: &'a Value, key: &str) -> &'a Vec<Value> {
    let items = doc[key].as_array().unwrap();
    assert!(!items.is_empty(), "no {key} in msg_crypt.json");
    items
}

fn crypt(b: Backend, case: &Value) -> MsgCrypt {
    MsgCrypt::new_with(
        b,
        s(&case["token"]),
        s(&case["encoding_aes_key"]),
        s(&case["appid"]),
    )
    .unwrap()
}

/// The component crypto of the made-here vectors (the pushes' key, token and appid).
fn component(b: Backend) -> MsgCrypt {
    let d = doc();
    let ticket = list(&d, "messages")
        .iter()
        .find(|m| m["name"] == "ticket_push")
        .unwrap();
    crypt(b, ticket)
}

/// An error's text must not show the credentials.
fn assert_no_secret(text: &str, case: &Value) {
    for secret in [s(&case["token"]), s(&case["encoding_aes_key"])] {
        assert!(!text.contains(secret), "the text shows a secret: {text}");
    }
}

/// The typed error a vector expects: `error` (`signature` / `validation`), then `field` or
/// `detail_contains`.
fn check_error(name: &str, case: &Value, got: Error) {
    match (s(&case["error"]), got) {
        ("signature", Error::Signature { detail }) => {
            let want = s(&case["detail_contains"]);
            assert!(detail.contains(want), "{name}: {detail:?} lacks {want:?}");
        }
        ("validation", Error::Validation { field, rule }) => {
            if let Some(want) = case["field"].as_str() {
                assert_eq!(field, want, "{name}: {rule}");
            }
            if let Some(want) = case["detail_contains"].as_str() {
                assert!(rule.contains(want), "{name}: {rule:?} lacks {want:?}");
            }
        }
        (want, other) => panic!("{name}: expected a {want} error, got {other:?}"),
    }
}

#[test]
fn every_message_signs_decrypts_and_encrypts_as_the_vectors_say() {
    let d = doc();
    for &b in crypto::backends() {
        for m in list(&d, "messages") {
            let name = s(&m["name"]);
            let c = crypt(b, m);
            let (ts, nonce, encrypt) = (s(&m["timestamp"]), s(&m["nonce"]), s(&m["encrypt"]));
            assert_eq!(
                c.signature(ts, nonce, encrypt),
                s(&m["msg_signature"]),
                "{b} {name}"
            );
            let plain = c
                .decrypt(s(&m["msg_signature"]), ts, nonce, encrypt)
                .unwrap_or_else(|e| panic!("{b} {name}: {e}"));
            assert_eq!(plain, s(&m["plaintext"]), "{b} {name}");
            let random: [u8; 16] = hex::decode(s(&m["random_hex"]))
                .unwrap()
                .try_into()
                .unwrap();
            let out = c
                .encrypt_with_random(s(&m["plaintext"]), ts, nonce, &random)
                .unwrap();
            assert_eq!(out.encrypt, encrypt, "{b} {name}");
            assert_eq!(out.msg_signature, s(&m["msg_signature"]), "{b} {name}");
        }
    }
}

#[test]
fn the_vectors_cover_the_published_samples_and_a_full_padding_block() {
    let d = doc();
    let names: Vec<&str> = list(&d, "messages").iter().map(|m| s(&m["name"])).collect();
    for want in [
        "official_java_sample",
        "official_java_sample_2",
        "official_python_sample",
        "full_block_padding",
        "non_ascii",
    ] {
        assert!(names.contains(&want), "{want} missing");
    }
    let full = list(&d, "messages")
        .iter()
        .find(|m| m["name"] == "full_block_padding")
        .unwrap();
    assert_eq!(full["padding"], 32);
}

#[test]
fn every_negative_case_fails_with_its_typed_error() {
    let d = doc();
    for &b in crypto::backends() {
        for case in list(&d, "negative") {
            let name = format!("{b} {}", s(&case["name"]));
            let got = crypt(b, case)
                .decrypt(
                    s(&case["msg_signature"]),
                    s(&case["timestamp"]),
                    s(&case["nonce"]),
                    s(&case["encrypt"]),
                )
                .expect_err(&name);
            assert_no_secret(&format!("{got} {got:?}"), case);
            check_error(&name, case, got);
        }
    }
}

#[test]
fn every_bad_key_is_a_validation_error_of_encoding_aes_key() {
    let d = doc();
    for case in list(&d, "bad_keys") {
        let key = s(&case["encoding_aes_key"]);
        match MsgCrypt::new("token", key, "wx1") {
            Err(Error::Validation { field, rule }) => {
                assert_eq!(field, "encoding_aes_key", "{}", s(&case["reason"]));
                assert!(rule.contains("43"), "{rule}");
                assert!(key.is_empty() || !rule.contains(key), "{rule}");
            }
            other => panic!("{}: {other:?}", s(&case["reason"])),
        }
    }
}

#[test]
fn every_push_parses_to_its_event() {
    let d = doc();
    for &b in crypto::backends() {
        let c = component(b);
        for p in list(&d, "pushes") {
            let name = format!("{b} {}", s(&p["name"]));
            let query = PushQuery::parse(s(&p["query"])).unwrap();
            let push = parse_push(&c, &query, s(&p["body"]).as_bytes())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(push.to_json(), p["expect"], "{name}");
            assert_eq!(push.info_type(), s(&p["expect"]["info_type"]), "{name}");
            let shown = format!("{push:?}");
            match &push {
                ComponentPush::VerifyTicket { ticket, .. } => {
                    assert_eq!(ticket.expose(), s(&p["ticket"]), "{name}");
                    assert!(!shown.contains(ticket.expose()), "{name}: {shown}");
                    assert!(!push.to_json().to_string().contains(ticket.expose()));
                }
                ComponentPush::Authorized(e) | ComponentPush::UpdateAuthorized(e) => {
                    let code = e.authorization_code.as_ref().unwrap();
                    assert_eq!(code.expose(), s(&p["expect"]["authorization_code"]));
                    assert!(!shown.contains(code.expose()), "{name}: {shown}");
                }
                ComponentPush::Unauthorized(e) => {
                    assert_eq!(e.authorizer_appid, s(&p["expect"]["authorizer_appid"]));
                    assert!(e.authorization_code.is_none());
                }
                ComponentPush::Other { .. } => {}
                other => panic!("{name}: {other:?}"),
            }
        }
    }
}

#[test]
fn every_bad_push_fails_with_its_typed_error() {
    let d = doc();
    let c = component(Backend::DEFAULT);
    let secrets = &list(&d, "messages")[0];
    for p in list(&d, "bad_pushes") {
        let name = s(&p["name"]);
        let got = PushQuery::parse(s(&p["query"]))
            .and_then(|q| parse_push(&c, &q, s(&p["body"]).as_bytes()))
            .expect_err(name);
        let shown = format!("{got} {got:?}");
        assert!(!shown.contains("ticket@@@"), "{name}: {shown}");
        assert_no_secret(&shown, secrets);
        check_error(name, p, got);
    }
}

#[test]
fn pairs_from_a_framework_work_like_the_query_string() {
    let d = doc();
    let p = &list(&d, "pushes")[0];
    let pairs: Vec<(String, String)> = s(&p["query"])
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    let query = PushQuery::from_pairs(pairs).unwrap();
    assert_eq!(query, PushQuery::parse(s(&p["query"])).unwrap());
    let push = parse_push(
        &component(Backend::DEFAULT),
        &query,
        s(&p["body"]).as_bytes(),
    )
    .unwrap();
    assert_eq!(push.to_json(), p["expect"]);
}
