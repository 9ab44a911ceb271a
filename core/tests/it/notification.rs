//! `pay::notification::parse` and `pay::signing::verify` against the signed notifications in
//! `spec/vectors/notification.json`, for every compiled crypto backend.

use serde_json::Value;
use weixin_kit::crypto::{self, ApiV3Key, Backend, Certificate, PublicKey};
use weixin_kit::pay::notification::{self, NotificationEvent};
use weixin_kit::pay::signing::{self, Verifier, VerifyFailure};
use weixin_kit::pay::{BusifavorCouponEventType, BusifavorSendChannel};
use weixin_kit::Error;

use crate::common::{s, vectors};

/// Both modes at once (as during a migration): the public key by ID and the certificate by serial.
fn verifier(b: Backend) -> Verifier {
    let keys = vectors("keys.json");
    let v = Verifier::new().with_public_key(
        s(&keys["public_key_id"]),
        PublicKey::from_pem_with(b, s(&keys["platform"]["public_key_spki_pem"])).unwrap(),
    );
    v.set_certificates(vec![Certificate::from_pem_with(
        b,
        s(&keys["platform"]["certificate_pem"]),
    )
    .unwrap()]);
    v
}

fn headers(case: &Value) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in case["headers"].as_object().unwrap() {
        h.insert(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            s(v).parse().unwrap(),
        );
    }
    h
}

fn case(name: &str) -> Value {
    vectors("notification.json")["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
        .clone()
}

fn apiv3(b: Backend) -> ApiV3Key {
    ApiV3Key::new_with(b, s(&vectors("notification.json")["apiv3_key"])).unwrap()
}

fn parse_with(
    b: Backend,
    verifier: &Verifier,
    case: &Value,
) -> weixin_kit::Result<notification::Notification> {
    notification::parse(
        verifier,
        &apiv3(b),
        &headers(case),
        s(&case["body"]).as_bytes(),
        case["now"].as_i64().unwrap(),
    )
}

fn signature_detail(r: weixin_kit::Result<notification::Notification>) -> String {
    match r {
        Err(Error::Signature { detail }) => detail,
        other => panic!("expected Error::Signature, got {other:?}"),
    }
}

/// Every vector: `ok` parses, every other expectation fails with the matching error.
#[test]
fn all_notification_vectors() {
    for &b in crypto::backends() {
        let verifier = verifier(b);
        for case in vectors("notification.json")["notifications"]
            .as_array()
            .unwrap()
        {
            let name = s(&case["name"]);
            let result = parse_with(b, &verifier, case);
            let text = match &result {
                Ok(_) => String::new(),
                Err(e) => e.to_string(),
            };
            match s(&case["expect"]) {
                "ok" => {
                    let n = result.unwrap_or_else(|e| panic!("{b} {name}: {e}"));
                    let payload = match n.event {
                        NotificationEvent::BusifavorCoupon(e) => serde_json::to_value(e).unwrap(),
                        NotificationEvent::Other(v) => v,
                    };
                    // Typed fields round-trip to the same JSON (absent optionals aside).
                    for (k, v) in case["payload"].as_object().unwrap() {
                        if k != "attach_info" {
                            assert_eq!(&payload[k], v, "{b} {name} {k}");
                        }
                    }
                }
                "aead_tag_mismatch" => assert!(
                    matches!(result, Err(Error::Signature { .. }))
                        && text.contains("tag check failed"),
                    "{b} {name}: {text}"
                ),
                "unsupported_algorithm" => assert!(
                    matches!(result, Err(Error::Validation { .. }))
                        && text.contains("AEAD_SM4_GCM"),
                    "{b} {name}: {text}"
                ),
                "unknown_serial" => assert!(text.contains("unknown serial"), "{b} {name}: {text}"),
                "stale" => assert!(
                    text.contains("more than 5 minutes from now"),
                    "{b} {name}: {text}"
                ),
                "bad_signature" => assert!(
                    text.contains("signature does not match"),
                    "{b} {name}: {text}"
                ),
                "missing_header" => {
                    assert!(text.contains("header is missing"), "{b} {name}: {text}")
                }
                other => panic!("unknown expectation {other}"),
            }
        }
    }
}

#[test]
fn good_notification_is_a_typed_coupon_event() {
    for &b in crypto::backends() {
        for name in [
            "coupon_send_public_key_mode",
            "coupon_send_certificate_mode",
        ] {
            let n = parse_with(b, &verifier(b), &case(name)).unwrap();
            assert_eq!(n.id, "8b33f79f-8869-5ae5-b41b-3c0b59f957d0");
            assert_eq!(n.event_type, "COUPON.SEND");
            assert_eq!(n.resource_type, "encrypt-resource");
            assert_eq!(n.summary, "商家券领券通知");
            assert_eq!(n.create_time, "2019-12-12T16:54:38+08:00");
            let NotificationEvent::BusifavorCoupon(event) = n.event else {
                panic!("{b} {name}: not typed: {:?}", n.event)
            };
            assert_eq!(
                event.event_type,
                BusifavorCouponEventType::EventTypeBusicouponSend
            );
            assert_eq!(event.coupon_code, "sxxe34343434");
            assert_eq!(event.stock_id, "1234567890");
            assert_eq!(
                event.send_channel,
                BusifavorSendChannel::from("BUSICOUPON_SEND_CHANNEL_MINIAPP")
            );
            let attach = event.attach_info.unwrap();
            assert_eq!(attach.act_code.as_deref(), Some("满减活动-双十二"));
            assert_eq!(attach.hall_belong_mch_id, Some(1900009191));
        }
    }
}

#[test]
fn other_event_types_stay_json() {
    let n = parse_with(
        Backend::DEFAULT,
        &verifier(Backend::DEFAULT),
        &case("other_event_type"),
    )
    .unwrap();
    assert_eq!(n.event_type, "REFUND.SUCCESS");
    match n.event {
        NotificationEvent::Other(v) => assert_eq!(v["out_refund_no"], "R1"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn tampered_ciphertext_says_the_aead_tag_failed() {
    for &b in crypto::backends() {
        let detail = signature_detail(parse_with(b, &verifier(b), &case("tampered_ciphertext")));
        assert!(detail.contains("tag check failed"), "{detail}");
        assert!(detail.contains("the two cannot be told apart"), "{detail}");
        assert!(
            detail.contains("wrong APIv3 key") && detail.contains("tampered"),
            "{detail}"
        );
        assert!(
            detail.contains("8b33f79f-8869-5ae5-b41b-3c0b59f957d0"),
            "names the notification: {detail}"
        );
    }
}

#[test]
fn wrong_apiv3_key_fails_the_tag_too() {
    let c = case("coupon_send_public_key_mode");
    let wrong = ApiV3Key::new("ffffffffffffffffffffffffffffffff").unwrap();
    let r = notification::parse(
        &verifier(Backend::DEFAULT),
        &wrong,
        &headers(&c),
        s(&c["body"]).as_bytes(),
        c["now"].as_i64().unwrap(),
    );
    let detail = signature_detail(r);
    assert!(detail.contains("APIv3 key is wrong"), "{detail}");
    // Tampering and a wrong key look the same to AES-GCM; the text says so.
    assert!(detail.contains("the two cannot be told apart"), "{detail}");
}

#[test]
fn bad_signature() {
    for &b in crypto::backends() {
        let c = case("bad_signature");
        let detail = signature_detail(parse_with(b, &verifier(b), &c));
        assert!(detail.contains("signature does not match"), "{detail}");
        assert!(
            detail.contains("a key this client knows")
                && detail.contains("altered after WeChat Pay signed them"),
            "{detail}"
        );
        assert_eq!(
            signing::verify(
                &verifier(b),
                &headers(&c),
                s(&c["body"]).as_bytes(),
                c["now"].as_i64().unwrap()
            ),
            Err(VerifyFailure::BadSignature)
        );
    }
}

#[test]
fn wechat_probe_signature_is_a_bad_signature() {
    let mut c = case("coupon_send_public_key_mode");
    c["headers"]["Wechatpay-Signature"] = "WECHATPAY/SIGNTEST/3QQU+1c+yg5pTtTsIfYv3Yw".into();
    let r = signing::verify(
        &verifier(Backend::DEFAULT),
        &headers(&c),
        s(&c["body"]).as_bytes(),
        c["now"].as_i64().unwrap(),
    );
    // Refused like a bad signature, and named as WeChat's probe (signing::SIGNATURE_PROBE_PREFIX).
    assert_eq!(r, Err(VerifyFailure::Probe));
}

#[test]
fn stale_timestamp_both_directions() {
    for &b in crypto::backends() {
        for name in ["stale_timestamp", "future_timestamp"] {
            let c = case(name);
            let ts: i64 = s(&c["headers"]["Wechatpay-Timestamp"]).parse().unwrap();
            let now = c["now"].as_i64().unwrap();
            let r = signing::verify(&verifier(b), &headers(&c), s(&c["body"]).as_bytes(), now);
            assert_eq!(
                r,
                Err(VerifyFailure::Stale { timestamp: ts, now }),
                "{name}"
            );
            let detail = signature_detail(parse_with(b, &verifier(b), &c));
            assert!(
                detail.contains(&format!("timestamp {ts} is more than 5 minutes from now")),
                "{detail}"
            );
            // The skew in seconds, and its direction.
            let way = if name == "future_timestamp" {
                "ahead"
            } else {
                "behind"
            };
            assert!(
                detail.contains(&format!(
                    "{} s apart, the timestamp {way}",
                    ts.abs_diff(now)
                )),
                "{detail}"
            );
        }
        // Exactly 300 s is accepted.
        parse_with(b, &verifier(b), &case("skew_exactly_300s")).unwrap();
    }
}

#[test]
fn unknown_serial() {
    for &b in crypto::backends() {
        let c = case("unknown_serial");
        let serial = s(&c["headers"]["Wechatpay-Serial"]).to_string();
        let r = signing::verify(
            &verifier(b),
            &headers(&c),
            s(&c["body"]).as_bytes(),
            c["now"].as_i64().unwrap(),
        );
        assert_eq!(r, Err(VerifyFailure::UnknownSerial(serial.clone())));
        let detail = signature_detail(parse_with(b, &verifier(b), &c));
        assert!(
            detail.contains(&format!("unknown serial {serial}")),
            "{detail}"
        );
    }
}

#[test]
fn key_selection_by_mode() {
    let b = Backend::DEFAULT;
    let keys = vectors("keys.json");
    let public_only = Verifier::new().with_public_key(
        s(&keys["public_key_id"]),
        PublicKey::from_pem_with(b, s(&keys["platform"]["public_key_spki_pem"])).unwrap(),
    );
    let certs_only = Verifier::new();
    certs_only.set_certificates(vec![Certificate::from_pem(s(
        &keys["platform"]["certificate_pem"]
    ))
    .unwrap()]);
    assert!(public_only.has_public_key() && !certs_only.has_public_key());
    assert_eq!(
        certs_only.certificate_serials(),
        vec![s(&keys["platform"]["certificate_serial_no"]).to_string()]
    );

    let pk_case = case("coupon_send_public_key_mode");
    let cert_case = case("coupon_send_certificate_mode");
    assert!(parse_with(b, &public_only, &pk_case).is_ok());
    assert!(parse_with(b, &certs_only, &cert_case).is_ok());
    assert!(signature_detail(parse_with(b, &public_only, &cert_case)).contains("unknown serial"));
    assert!(signature_detail(parse_with(b, &certs_only, &pk_case)).contains("unknown serial"));

    // Serials match case-insensitively and with or without a leading zero nibble.
    let mut lower = cert_case.clone();
    lower["headers"]["Wechatpay-Serial"] = s(&cert_case["headers"]["Wechatpay-Serial"])
        .to_lowercase()
        .into();
    assert!(parse_with(b, &certs_only, &lower).is_ok());
    let mut padded = cert_case.clone();
    padded["headers"]["Wechatpay-Serial"] =
        format!("0{}", s(&cert_case["headers"]["Wechatpay-Serial"])).into();
    assert!(parse_with(b, &certs_only, &padded).is_ok());

    // Clones share the certificate set; replacing it takes effect for all of them.
    let clone = certs_only.clone();
    certs_only.set_certificates(Vec::new());
    assert!(signature_detail(parse_with(b, &clone, &cert_case)).contains("unknown serial"));
}

#[test]
fn unknown_algorithm_is_named() {
    for &b in crypto::backends() {
        match parse_with(b, &verifier(b), &case("unsupported_algorithm")) {
            Err(Error::Validation { field, rule }) => {
                assert_eq!(field, "notification.resource.algorithm");
                assert!(
                    rule.contains("AEAD_SM4_GCM") && rule.contains("AEAD_AES_256_GCM"),
                    "{rule}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn missing_headers_are_named() {
    let c = case("coupon_send_public_key_mode");
    for h in [
        "Wechatpay-Serial",
        "Wechatpay-Signature",
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
    ] {
        let mut hs = headers(&c);
        hs.remove(h);
        let r = signing::verify(
            &verifier(Backend::DEFAULT),
            &hs,
            s(&c["body"]).as_bytes(),
            c["now"].as_i64().unwrap(),
        );
        let failure = r.unwrap_err();
        assert!(
            matches!(failure, VerifyFailure::MissingHeader(name) if name == h),
            "{failure:?}"
        );
        let e: Error = failure.into();
        assert!(
            e.to_string()
                .contains(&format!("the {h} header is missing")),
            "{e}"
        );
    }
}

#[test]
fn body_that_is_not_an_envelope() {
    use base64::Engine as _;
    // Correctly signed (with the platform key from the vectors), but not an envelope.
    let keys = vectors("keys.json");
    let platform =
        weixin_kit::crypto::PrivateKey::from_pem(s(&keys["platform"]["private_key_pkcs8_pem"]))
            .unwrap();
    let body = br#"{"id":"x","create_time":"2019-12-12T16:54:38+08:00"}"#;
    let (ts, nonce) = (1_700_000_000i64, "n0nce");
    let mut message = format!("{ts}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    let sig =
        base64::engine::general_purpose::STANDARD.encode(platform.sign_sha256(&message).unwrap());
    let mut h = http::HeaderMap::new();
    h.insert(
        "Wechatpay-Serial",
        s(&keys["public_key_id"]).parse().unwrap(),
    );
    h.insert("Wechatpay-Signature", sig.parse().unwrap());
    h.insert("Wechatpay-Timestamp", ts.to_string().parse().unwrap());
    h.insert("Wechatpay-Nonce", nonce.parse().unwrap());
    match notification::parse(
        &verifier(Backend::DEFAULT),
        &apiv3(Backend::DEFAULT),
        &h,
        body,
        ts,
    ) {
        Err(Error::Validation { field, rule }) => {
            assert_eq!(field, "notification");
            assert!(
                rule.contains("not a WeChat Pay notification envelope")
                    && rule.contains("event_type"),
                "{rule}"
            );
        }
        other => panic!("{other:?}"),
    }
    // A different body than the one signed fails verification first.
    let c = case("coupon_send_public_key_mode");
    let r = notification::parse(
        &verifier(Backend::DEFAULT),
        &apiv3(Backend::DEFAULT),
        &headers(&c),
        b"{}",
        c["now"].as_i64().unwrap(),
    );
    assert!(signature_detail(r).contains("signature does not match"));
}
