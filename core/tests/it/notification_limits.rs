//! What a notification may cost and show: bodies over `MAX_NOTIFICATION_BYTES` are refused
//! before anything else, and `Debug` never prints the decrypted resource (personal data).

use weixin_kit::fuzzing::Fixture;
use weixin_kit::pay::notification::{self, MAX_NOTIFICATION_BYTES};
use weixin_kit::Error;

use crate::common::{repo_file, s, vectors};

fn fixture() -> Fixture {
    let read = |name: &str| std::fs::read_to_string(repo_file(name)).unwrap();
    Fixture::from_vectors(
        &read("spec/vectors/keys.json"),
        &read("spec/vectors/notification.json"),
    )
}

#[test]
fn a_body_over_the_cap_is_refused_before_the_signature_is_looked_at() {
    let f = fixture();
    let headers = http::HeaderMap::new();
    // No headers at all: a check that came first would say a header is missing.
    let over = vec![b' '; MAX_NOTIFICATION_BYTES + 1];
    let e = notification::parse(&f.verifier, &f.apiv3_key, &headers, &over, 0).unwrap_err();
    match e {
        Error::Validation { field, rule } => {
            assert_eq!(field, "notification");
            assert!(
                rule.contains(
                    "1048577 bytes, more than MAX_NOTIFICATION_BYTES (1048576 bytes, 1 MiB)"
                ),
                "{rule}"
            );
        }
        other => panic!("expected Error::Validation, got {other:?}"),
    }
    // At the cap, the next check (the headers) speaks.
    let at = vec![b' '; MAX_NOTIFICATION_BYTES];
    let e = notification::parse(&f.verifier, &f.apiv3_key, &headers, &at, 0).unwrap_err();
    assert!(
        e.to_string()
            .contains("the Wechatpay-Serial header is missing"),
        "{e}"
    );
}

#[test]
fn debug_shows_the_envelope_not_the_decrypted_resource() {
    let f = fixture();
    let case = vectors("notification.json")["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["expect"] == "ok")
        .unwrap()
        .clone();
    let mut headers = http::HeaderMap::new();
    for (k, v) in case["headers"].as_object().unwrap() {
        headers.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            s(v).parse().unwrap(),
        );
    }
    let n = notification::parse(
        &f.verifier,
        &f.apiv3_key,
        &headers,
        s(&case["body"]).as_bytes(),
        case["now"].as_i64().unwrap(),
    )
    .unwrap();
    let shown = format!("{n:?} {:?} {n:#?}", n.event);
    for field in [&n.id, &n.event_type, &n.resource_type, &n.create_time] {
        assert!(shown.contains(field.as_str()), "{field} not in {shown}");
    }
    // Every string of the decrypted payload (openid, coupon code, stock id …) stays out.
    let payload = &case["payload"];
    let mut secrets = Vec::new();
    collect_strings(payload, &mut secrets);
    assert!(!secrets.is_empty());
    let envelope = [&n.id, &n.event_type, &n.resource_type, &n.create_time];
    for value in secrets
        .iter()
        .filter(|v| v.len() >= 6 && !envelope.contains(v))
    {
        assert!(!shown.contains(value.as_str()), "{value} shown in {shown}");
    }
    assert!(shown.contains("<redacted>"), "{shown}");
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(o) => o.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}
