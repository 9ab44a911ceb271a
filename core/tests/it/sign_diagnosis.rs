//! `401 SIGN_ERROR` diagnoses against the real sandbox: each cause built for real (a proxy
//! rewriting the body or re-encoding the query, a server clock ahead, another private key, a
//! wrong mchid) and the diagnosis must name it. The lengths expected are what a proxy on the
//! wire saw, not what the client computed.

use std::sync::Arc;

use serde_json::json;
use weixin_kit::bridge::ErrorDescription;
use weixin_kit::pay::{PayClient, SignCause, SignDiagnosis, SignPart};
use weixin_kit::{ApiError, Error};
use weixin_kit_sandbox::{NewStock, Sandbox, SandboxConfig, SigningMode};

use crate::common::proxy::{Proxy, Rewrite};
use crate::common::{api_error, identity, pay_builder, pay_builder_with_public_key, sandbox};

const STOCKS: &str = "/v3/marketing/busifavor/stocks";

fn stock(sb: &Sandbox) -> String {
    sb.create_stock(NewStock::named("诊断券")).unwrap().stock_id
}

/// A public-key client sending through `proxy`.
fn client_via(sb: &Sandbox, proxy: &Proxy) -> PayClient {
    pay_builder_with_public_key(sb)
        .base_url(&proxy.base_url)
        .backup_base_url(&proxy.base_url)
        .build()
        .unwrap()
}

/// The 401 SIGN_ERROR and its diagnosis; panics on anything else.
fn diagnosed(result: weixin_kit::Result<serde_json::Value>) -> (Box<ApiError>, SignDiagnosis) {
    let api = api_error(result.expect_err("the call must fail"));
    assert_eq!(
        (api.status, api.code.as_str()),
        (401, "SIGN_ERROR"),
        "{api}"
    );
    let d = api
        .sign_diagnosis
        .clone()
        .unwrap_or_else(|| panic!("no diagnosis: {api}"));
    (api, *d)
}

/// No part of the merchant private key in what the error shows.
fn no_key_in(error: &ApiError, sb: &Sandbox) {
    let pem = sb
        .credentials()
        .merchant_private_key_pem
        .expose()
        .to_owned();
    let shown = format!("{error} {error:?}");
    for line in pem.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!shown.contains(line), "a key line in the error");
    }
}

#[tokio::test]
async fn a_proxy_that_changes_nothing_changes_nothing() {
    let sb = sandbox().await;
    let proxy = Proxy::passthrough(sb.base_url()).await;
    let path = format!("{STOCKS}/{}", stock(&sb));
    client_via(&sb, &proxy)
        .request(
            "PATCH",
            &path,
            Some(json!({"out_request_no": "d-0", "comment": "a"})),
            None,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn body_changed_after_signing_is_named_with_both_lengths() {
    let sb = sandbox().await;
    // Re-serialises the JSON with other spacing, as a gateway that parses and re-emits it.
    let rewrite: Rewrite = Arc::new(|_, body: &mut Vec<u8>| {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        *body = serde_json::to_vec_pretty(&v).unwrap();
    });
    let proxy = Proxy::start(sb.base_url(), rewrite).await;
    let path = format!("{STOCKS}/{}", stock(&sb));
    let result = client_via(&sb, &proxy)
        .request(
            "PATCH",
            &path,
            Some(json!({"out_request_no": "d-1", "comment": "a"})),
            None,
        )
        .await;
    let (api, d) = diagnosed(result);
    let seen = proxy.seen().pop().unwrap();
    let (signed, sent) = (seen.received.1.len(), seen.forwarded.1.len());
    assert_ne!(signed, sent);
    assert_eq!(d.cause, SignCause::BodyChanged, "{d}");
    assert_eq!(d.first_difference, Some(SignPart::Body));
    assert_eq!((d.ours_body_len, d.theirs_body_len), (signed, Some(sent)));
    assert_eq!(d.theirs_len, Some(d.ours_len - signed + sent));
    let text = api.to_string();
    // What the README shows (`cargo test -p weixin-kit --test it body_changed -- --nocapture`).
    println!("{text}\n{d:#?}");
    assert!(text.contains("body_changed"), "{text}");
    assert!(text.contains("changed after signing"), "{text}");
    assert!(text.contains(&format!("body {signed} vs {sent}")), "{text}");
    no_key_in(&api, &sb);
    // The sandbox's detail has the spec's shape (spec/wechatpay.json ErrorDetail.sign_information).
    let detail: weixin_kit::pay::ErrorDetail =
        serde_json::from_value(api.detail.clone().unwrap()).unwrap();
    let info = detail.sign_information.unwrap();
    assert_eq!(info.method.as_deref(), Some("PATCH"));
    assert_eq!(info.url.as_deref(), Some(path.as_str()));
    assert_eq!(info.sign_message_length, d.theirs_len.map(|l| l as i64));
    assert_eq!(info.truncated_sign_message, d.theirs_truncated);
    // Every binding receives it through the bridge.
    let description = ErrorDescription::from(&Error::Api(api));
    let field = description.field("sign_diagnosis");
    assert_eq!(field["cause"], "body_changed");
    assert_eq!(field["first_difference"], "body");
    assert_eq!(field["theirs_body_len"], sent);
}

#[tokio::test]
async fn query_encoded_differently_is_named() {
    let sb = sandbox().await;
    // Decodes `%2C` to `,` (the same query to a server, other bytes to a signature).
    let rewrite: Rewrite = Arc::new(|path: &mut String, _| *path = path.replace("%2C", ","));
    let proxy = Proxy::start(sb.base_url(), rewrite).await;
    let path = format!("{STOCKS}/{}?filter=a%2Cb", stock(&sb));
    let result = client_via(&sb, &proxy)
        .request("GET", &path, None, None)
        .await;
    let (api, d) = diagnosed(result);
    assert_eq!(proxy.seen()[0].forwarded.0, path.replace("%2C", ","));
    assert_eq!(d.cause, SignCause::QueryEncoding, "{d}");
    assert_eq!(d.first_difference, Some(SignPart::Url));
    // Two bytes shorter (`%2C` → `,`), on the wire and in WeChat's length.
    assert_eq!(d.theirs_len, Some(d.ours_len - 2));
    assert!(api.to_string().contains("encoded differently"), "{api}");
}

#[tokio::test]
async fn clock_skew_is_named() {
    // WeChat Pay's clock 15 minutes ahead of this machine's.
    let sb = Sandbox::start(SandboxConfig {
        identity: Some(identity()),
        signing_mode: SigningMode::PublicKey,
        clock_offset_secs: 900,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let path = format!("{STOCKS}/{}", stock(&sb));
    let client = pay_builder_with_public_key(&sb).build().unwrap();
    let (api, d) = diagnosed(client.request("GET", &path, None, None).await);
    assert_eq!(d.cause, SignCause::ClockSkew, "{d}");
    assert_eq!(d.first_difference, None);
    assert!(api.to_string().contains("clock skew"), "{api}");
}

/// A PKCS#8 RSA key made by the openssl CLI: not the merchant's.
fn other_private_key() -> String {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl CLI");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn a_private_key_that_is_not_the_serials_is_named() {
    let sb = sandbox().await;
    let path = format!("{STOCKS}/{}", stock(&sb));
    let other = other_private_key();
    let client = pay_builder_with_public_key(&sb)
        .private_key_pem(&other)
        .unwrap()
        .build()
        .unwrap();
    let (api, d) = diagnosed(client.request("GET", &path, None, None).await);
    assert_eq!(d.cause, SignCause::KeyMismatch, "{d}");
    assert_eq!(d.first_difference, None);
    assert_eq!(d.theirs_len, Some(d.ours_len));
    let text = api.to_string();
    assert!(
        text.contains("private key does not belong to the certificate serial_no"),
        "{text}"
    );
    for line in other.lines().filter(|l| !l.starts_with("-----")) {
        assert!(
            !format!("{text} {api:?}").contains(line),
            "a key line in the error"
        );
    }
}

#[tokio::test]
async fn a_wrong_mchid_is_named() {
    let sb = sandbox().await;
    let path = format!("{STOCKS}/{}", stock(&sb));
    let client = pay_builder(&sb)
        .mchid("1900000999")
        .wechatpay_public_key(
            &sb.credentials().wechatpay_public_key_id,
            &sb.credentials().wechatpay_public_key_pem,
        )
        .unwrap()
        .build()
        .unwrap();
    let (api, d) = diagnosed(client.request("GET", &path, None, None).await);
    assert_eq!(d.cause, SignCause::WrongMchid, "{d}");
    assert!(api.to_string().contains("wrong mchid"), "{api}");
}
