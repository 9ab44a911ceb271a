//! Per-call cost of the crypto and protocol layer, per compiled crypto backend:
//! RSA-2048 sign and verify, `build_authorization` (signing string + sign + header), a signed
//! request plus a verified response per call against the raw sign + verify floor, a notification
//! (verify + AES-256-GCM decrypt + typing), and building the ModifyStockInfo request from the
//! documented example. Keys and notification come from `spec/vectors/`.
//!
//! `cargo bench -p weixin-kit --bench crypto -- --warm-up-time 1 --measurement-time 3`
//! (add `--all-features` to compare aws-lc-rs with rust-crypto). Nothing is asserted.

use std::hint::black_box;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::Value;
use weixin_kit::crypto::{self, ApiV3Key, Backend, PrivateKey, PublicKey};
use weixin_kit::pay::signing::{self, Verifier};
use weixin_kit::pay::{self, notification, ModifyStockInfoRequest};

fn read(path: &str) -> Value {
    let path = format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

struct Fixture {
    merchant: PrivateKey,
    platform_private: PrivateKey,
    verifier: Verifier,
    platform_public: PublicKey,
    apiv3: ApiV3Key,
    notification: Value,
    public_key_id: String,
}

fn fixture(b: Backend) -> Fixture {
    let keys = read("spec/vectors/keys.json");
    let vectors = read("spec/vectors/notification.json");
    let platform_public =
        PublicKey::from_pem_with(b, s(&keys["platform"]["public_key_spki_pem"])).unwrap();
    Fixture {
        merchant: PrivateKey::from_pem_with(b, s(&keys["merchant"]["private_key_pkcs8_pem"]))
            .unwrap(),
        platform_private: PrivateKey::from_pem_with(
            b,
            s(&keys["platform"]["private_key_pkcs8_pem"]),
        )
        .unwrap(),
        verifier: Verifier::new()
            .with_public_key(s(&keys["public_key_id"]), platform_public.clone()),
        platform_public,
        apiv3: ApiV3Key::new_with(b, s(&vectors["apiv3_key"])).unwrap(),
        notification: vectors["notifications"][0].clone(),
        public_key_id: s(&keys["public_key_id"]).to_string(),
    }
}

fn modify_stock_example() -> ModifyStockInfoRequest {
    let example = read("spec/wechatpay.json")
        .pointer("/paths/~1v3~1marketing~1busifavor~1stocks~1{stock_id}/patch/requestBody/content/application~1json/examples/document/value")
        .cloned()
        .expect("the ModifyStockInfo example in the spec");
    serde_json::from_value(example).unwrap()
}

fn headers(pairs: &[(&'static str, String)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, v.parse().unwrap());
    }
    h
}

fn bench(c: &mut Criterion) {
    let example = modify_stock_example();
    let prepared = pay::prepare_modify_stock_info("101156451224", &example).unwrap();
    let url = prepared.path_and_query.clone();
    let body = match &prepared.body {
        weixin_kit::operation::RequestBody::Json(b) => b.clone(),
        _ => unreachable!("ModifyStockInfo has a JSON body"),
    };
    let (ts, nonce) = (1_700_000_000i64, "593BEC0C930BF1AFEB40B4A08C8FB242");

    c.bench_function("request_build/prepare_modify_stock_info", |bench| {
        bench.iter(|| {
            pay::prepare_modify_stock_info(black_box("101156451224"), black_box(&example)).unwrap()
        })
    });
    c.bench_function("nonce", |bench| bench.iter(crypto::nonce));

    for &b in crypto::backends() {
        let f = fixture(b);
        let message = signing::signing_string("PATCH", &url, ts, nonce, &body);
        let signature = f.merchant.sign_sha256(&message).unwrap();
        let merchant_public = {
            let keys = read("spec/vectors/keys.json");
            PublicKey::from_pem_with(b, s(&keys["merchant"]["public_key_spki_pem"])).unwrap()
        };
        // A 204 response as WeChat signs it.
        let response_message = format!("{ts}\n{nonce}\n\n");
        let response_signature_raw = f
            .platform_private
            .sign_sha256(response_message.as_bytes())
            .unwrap();
        let response_signature = BASE64.encode(&response_signature_raw);
        let response_headers = headers(&[
            ("wechatpay-serial", f.public_key_id.clone()),
            ("wechatpay-signature", response_signature),
            ("wechatpay-timestamp", ts.to_string()),
            ("wechatpay-nonce", nonce.to_string()),
        ]);

        c.bench_function(&format!("{b}/rsa_sign"), |bench| {
            bench.iter(|| f.merchant.sign_sha256(black_box(&message)).unwrap())
        });
        c.bench_function(&format!("{b}/rsa_verify"), |bench| {
            bench.iter(|| {
                assert!(merchant_public.verify_sha256(black_box(&message), black_box(&signature)))
            })
        });
        c.bench_function(&format!("{b}/build_authorization"), |bench| {
            bench.iter(|| {
                signing::build_authorization(
                    "1900009191",
                    "3775B6A45ACD588826D15E583A95F5DD8A4D1A5C",
                    &f.merchant,
                    "PATCH",
                    &url,
                    black_box(&body),
                    ts,
                    nonce,
                )
                .unwrap()
            })
        });
        c.bench_function(&format!("{b}/call_sign_and_verify"), |bench| {
            bench.iter(|| {
                let auth = signing::build_authorization(
                    "1900009191",
                    "3775B6A45ACD588826D15E583A95F5DD8A4D1A5C",
                    &f.merchant,
                    "PATCH",
                    &url,
                    black_box(&body),
                    ts,
                    nonce,
                )
                .unwrap();
                signing::verify(&f.verifier, black_box(&response_headers), b"", ts).unwrap();
                auth
            })
        });
        c.bench_function(&format!("{b}/floor_raw_sign_and_verify"), |bench| {
            bench.iter(|| {
                let sig = f.merchant.sign_sha256(black_box(&message)).unwrap();
                assert!(f.platform_public.verify_sha256(
                    black_box(response_message.as_bytes()),
                    black_box(&response_signature_raw)
                ));
                sig
            })
        });
        let n = &f.notification;
        let n_headers = {
            let mut h = http::HeaderMap::new();
            for (k, v) in n["headers"].as_object().unwrap() {
                h.insert(
                    http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    s(v).parse().unwrap(),
                );
            }
            h
        };
        let n_body = s(&n["body"]).as_bytes().to_vec();
        let n_now = n["now"].as_i64().unwrap();
        c.bench_function(&format!("{b}/notification_verify_decrypt"), |bench| {
            bench.iter(|| {
                notification::parse(
                    &f.verifier,
                    &f.apiv3,
                    black_box(&n_headers),
                    black_box(&n_body),
                    n_now,
                )
                .unwrap()
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
