//! The bridge (`weixin_kit::bridge`) as a binding uses it: clients from configuration objects,
//! every operation and action by name, errors as descriptions, host callbacks, and the sandbox
//! through its generic control call only. Against the in-process sandbox.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use weixin_kit::bridge::callbacks::BoxFuture;
use weixin_kit::bridge::{
    callable, Callbacks, Client, ErrorDescription, ErrorKind, Family, HostFunction, ACTIONS,
    ERROR_KINDS,
};
use weixin_kit::dispatch::JsonArgs;
use weixin_kit::Error;
use weixin_kit_sandbox::Sandbox;

use crate::common::sandbox;

const UA: &str = "bridge-test/0";

async fn control(sb: &Sandbox, method: &str, path: &str, body: Option<Value>) -> Value {
    sb.control(method, path, body).await.unwrap()
}

/// The sandbox's own PayConfig / MiniProgramConfig, with `changes` applied (null removes).
async fn config(sb: &Sandbox, family: &str, changes: Value) -> Value {
    let mut config = control(sb, "GET", &format!("/sandbox/client/{family}_config"), None).await;
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            config.as_object_mut().unwrap().remove(k);
        } else {
            config[k] = v.clone();
        }
    }
    config
}

async fn pay(sb: &Sandbox, changes: Value) -> Client {
    Client::new(
        Family::Pay,
        config(sb, "pay", changes).await,
        &Callbacks::default(),
        UA,
    )
    .unwrap()
}

async fn mp(sb: &Sandbox, changes: Value) -> Client {
    Client::new(
        Family::MiniProgram,
        config(sb, "mp", changes).await,
        &Callbacks::default(),
        UA,
    )
    .unwrap()
}

fn args(value: Value) -> JsonArgs {
    match value {
        Value::Object(map) => JsonArgs::new(map),
        other => panic!("arguments must be an object, got {other}"),
    }
}

async fn new_stock(sb: &Sandbox) -> String {
    let stock = control(
        sb,
        "POST",
        "/sandbox/stocks",
        Some(json!({"stock_name": "桥接测试券"})),
    )
    .await;
    stock["stock_id"].as_str().unwrap().to_owned()
}

fn config_error(result: weixin_kit::Result<Client>) -> String {
    match result {
        Err(Error::Config { detail }) => detail,
        other => panic!("expected Error::Config, got {other:?}"),
    }
}

// -- configuration ---------------------------------------------------------------------------

#[tokio::test]
async fn configuration_errors_name_the_key_and_the_rule() {
    let sb = sandbox().await;
    let none = Callbacks::default();
    let cases: &[(&str, Value, &str)] = &[
        (
            "pay",
            json!({"timout": 3}),
            "`timout` is not a configuration key",
        ),
        ("pay", json!({"mchid": null}), "`mchid` is required"),
        ("pay", json!({"timeout": "soon"}), "`timeout`"),
        (
            "pay",
            json!({"timeout": 0}),
            "`timeout` must be a positive number of seconds",
        ),
        (
            "pay",
            json!({"max_attempts": 0}),
            "`max_attempts` must be at least 1",
        ),
        (
            "pay",
            json!({"wechatpay_public_key": null}),
            "needs both `wechatpay_public_key_id`",
        ),
        ("pay", json!({"apiv3_key": "short"}), "32"),
        ("pay", json!({"private_key": "not a pem"}), "PKCS"),
        ("mp", json!({"appid": null}), "`appid` is required"),
        (
            "mp",
            json!({"token_endpoint": "x"}),
            "`token_endpoint` must be",
        ),
        ("mp", json!({"callback_timeout": -1}), "`callback_timeout`"),
    ];
    for (family, changes, expected) in cases {
        let family_enum = Family::parse(family).unwrap();
        let detail = config_error(Client::new(
            family_enum,
            config(&sb, family, changes.clone()).await,
            &none,
            UA,
        ));
        assert!(
            detail.contains(expected),
            "{family} {changes}: {detail:?} lacks {expected:?}"
        );
        // Never the value of a secret.
        let c = sb.credentials();
        let key_body = c.merchant_private_key_pem.expose().lines().nth(1).unwrap();
        assert!(!detail.contains(c.apiv3_key.expose()) && !detail.contains(key_body));
    }
    let detail = config_error(Client::new(Family::Pay, json!([1]), &none, UA));
    assert!(detail.contains("must be a map"), "{detail}");
    assert!(Family::parse("sms").is_err());
}

// -- every action by name ----------------------------------------------------------------------

#[tokio::test]
async fn every_action_and_operation_is_listed_by_name() {
    for family in [Family::Pay, Family::MiniProgram] {
        let names = callable(family);
        for a in ACTIONS.iter().filter(|a| a.family == family) {
            assert!(names.iter().any(|(n, m)| *n == a.name && m == a.method));
        }
    }
    let pay_names: Vec<_> = callable(Family::Pay).into_iter().map(|(n, _)| n).collect();
    assert!(pay_names.contains(&"ModifyStockInfo") && pay_names.contains(&"parseNotification"));
    let mp = callable(Family::MiniProgram);
    assert!(mp.contains(&("cardExt", "card_ext".to_owned())));
    assert!(mp.contains(&("setUserNotifyExt", "set_user_notify_ext".to_owned())));
}

#[tokio::test]
async fn pay_actions_by_name() {
    let sb = sandbox().await;
    let client = pay(&sb, json!({})).await;
    assert_eq!(client.info()["mchid"], sb.credentials().mchid.as_str());
    let shown = client.info().to_string();
    assert!(!shown.contains("PRIVATE") && !shown.contains(sb.credentials().apiv3_key.expose()));

    // An operation, then the escape hatch to the same route.
    let stock = new_stock(&sb).await;
    let answer = client
        .call(
            "ModifyStockInfo",
            args(json!({"stock_id": stock, "out_request_no": "b-1", "comment": "桥"})),
        )
        .await
        .unwrap();
    assert_eq!(answer, Value::Null);
    let answer = client
        .call(
            "request",
            args(json!({
                "method": "POST",
                "path": "/v3/marketing/busifavor/callbacks",
                "body": {"notify_url": "https://example.com/cb"},
            })),
        )
        .await
        .unwrap();
    assert_eq!(answer["notify_url"], "https://example.com/cb");
    let log = control(&sb, "GET", "/sandbox/requests", None).await;
    let ops: Vec<_> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["operation"].clone(), e["signature"].clone()))
        .collect();
    assert_eq!(
        ops,
        vec![
            (json!("ModifyStockInfo"), json!("ok")),
            (json!("SetCouponNotify"), json!("ok"))
        ]
    );

    // Public-key mode: no certificates; a refresh downloads the sandbox's one.
    let serials = client
        .call("platformCertificateSerials", JsonArgs::default())
        .await
        .unwrap();
    assert_eq!(serials, json!([]));
    let serials = client
        .call("refreshCertificates", JsonArgs::default())
        .await
        .unwrap();
    assert_eq!(serials, json!([sb.credentials().platform_serial_no]));

    // Unknown names and arguments are validation errors naming them; nothing is sent.
    let before = control(&sb, "GET", "/sandbox/requests", None).await;
    for (name, a, field) in [
        ("NoSuchThing", json!({}), "operation"),
        ("request", json!({"method": "GET"}), "path"),
        (
            "request",
            json!({"method": "GET", "path": "/v3/x", "bogus": 1}),
            "bogus",
        ),
        ("platformCertificateSerials", json!({"x": 1}), "x"),
    ] {
        match client.call(name, args(a)).await {
            Err(Error::Validation { field: f, .. }) => assert_eq!(f, field, "{name}"),
            other => panic!("{name}: expected a validation error, got {other:?}"),
        }
    }
    assert_eq!(control(&sb, "GET", "/sandbox/requests", None).await, before);
}

#[tokio::test]
async fn parse_notification_by_name_takes_headers_as_json_and_the_body_as_text_or_bytes() {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    let sb = sandbox().await;
    let received: Arc<std::sync::Mutex<Vec<(HeaderMap, Bytes)>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((headers, body));
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let stock = new_stock(&sb).await;
    let report = control(
        &sb,
        "POST",
        "/sandbox/notifications/coupon",
        Some(json!({"stock_id": stock, "notify_url": url, "coupon_code": "c-1"})),
    )
    .await;
    assert_eq!(report["delivered"], true, "{report}");
    let (headers, body) = received.lock().unwrap()[0].clone();
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
        .collect();
    let client = pay(&sb, json!({})).await;

    let text = String::from_utf8(body.to_vec()).unwrap();
    let event = client
        .call(
            "parseNotification",
            args(json!({"headers": headers, "body": text})),
        )
        .await
        .unwrap();
    assert_eq!(event["event_type"], "COUPON.SEND");
    assert_eq!(event["resource"]["coupon_code"], "c-1");

    let mut as_bytes = args(json!({"headers": headers}));
    as_bytes.bytes.insert("body".into(), body.to_vec());
    let again = client.call("parseNotification", as_bytes).await.unwrap();
    assert_eq!(again, event);

    // The published variant (no summary, no original_type, associated_data ""): accepted, not
    // answered 4xx (which would make WeChat retry and lose the coupon event).
    let report = control(
        &sb,
        "POST",
        "/sandbox/notifications/coupon",
        Some(json!({"stock_id": stock, "notify_url": url, "coupon_code": "c-2", "variant": "minimal"})),
    )
    .await;
    assert_eq!(report["delivered"], true, "{report}");
    let (min_headers, min_body) = received.lock().unwrap()[1].clone();
    assert!(!String::from_utf8_lossy(&min_body).contains("summary"));
    let min_headers: serde_json::Map<String, Value> = min_headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
        .collect();
    let mut minimal = args(json!({"headers": min_headers}));
    minimal.bytes.insert("body".into(), min_body.to_vec());
    let event = client.call("parseNotification", minimal).await.unwrap();
    assert_eq!(
        (
            event["summary"].as_str(),
            event["resource"]["coupon_code"].as_str()
        ),
        (Some(""), Some("c-2"))
    );

    // One byte changed: the signature no longer verifies.
    let tampered = text.replacen("\"id\"", "\"id \"", 1);
    let err = client
        .call(
            "parseNotification",
            args(json!({"headers": headers, "body": tampered})),
        )
        .await
        .unwrap_err();
    assert_eq!(ErrorDescription::from(&err).kind, ErrorKind::Signature);
}

#[tokio::test]
async fn mini_program_actions_by_name() {
    let sb = sandbox().await;
    let client = mp(&sb, json!({"token_store": "memory://"})).await;
    assert_eq!(client.info()["token_store"], "memory");
    let token = client
        .call("accessToken", JsonArgs::default())
        .await
        .unwrap();
    let again = client
        .call("accessToken", JsonArgs::default())
        .await
        .unwrap();
    assert_eq!(token, again);
    let fresh = client
        .call("refreshAccessToken", JsonArgs::default())
        .await
        .unwrap();
    assert_ne!(fresh, token);
    let counters = control(&sb, "GET", "/sandbox/mp/counters", None).await;
    assert_eq!(counters["stable_tokens_forced"], 1, "{counters}");

    let item = client
        .call("cardExt", args(json!({"card_id": "pCard-bridge"})))
        .await
        .unwrap();
    assert_eq!(item["cardId"], "pCard-bridge");
    let encrypted = control(
        &sb,
        "POST",
        "/sandbox/mp/card_codes",
        Some(json!({"card_id": "pCard-bridge", "code": "1234567"})),
    )
    .await;
    let code = client
        .call(
            "decryptCardCode",
            args(json!({"encrypt_code": encrypted["encrypt_code"]})),
        )
        .await
        .unwrap();
    assert_eq!(code["code"], "1234567");

    // A Redis URL's password never shows.
    #[cfg(feature = "redis")]
    {
        let client = mp(
            &sb,
            json!({"token_store": "redis://:hunter2@127.0.0.1:1/0"}),
        )
        .await;
        assert_eq!(client.info()["token_store"], "redis");
        assert!(!format!("{client:?}").contains("hunter2"));
    }
    // Without the `redis` cargo feature a Redis URL is a configuration error that says so.
    #[cfg(not(feature = "redis"))]
    {
        let err = Client::new(
            Family::MiniProgram,
            config(
                &sb,
                "mp",
                json!({"token_store": "redis://:hunter2@127.0.0.1:1/0"}),
            )
            .await,
            &Callbacks::default(),
            UA,
        )
        .unwrap_err();
        let text = format!("{err:?}");
        assert!(text.contains("`redis` cargo feature"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

// -- errors as descriptions ------------------------------------------------------------------

#[tokio::test]
async fn every_error_kind_is_described_with_its_fields_from_a_real_condition() {
    let sb = sandbox().await;
    let stock = new_stock(&sb).await;
    let client = pay(&sb, json!({"max_attempts": 1, "timeout": 0.5})).await;
    let modify = |no: &str| args(json!({"stock_id": stock, "out_request_no": no, "comment": "c"}));
    let mut seen = std::collections::BTreeSet::new();
    let mut check = |err: Error, kind: ErrorKind| {
        let d = ErrorDescription::from(&err);
        assert_eq!(d.kind, kind, "{err:?}");
        assert_eq!(d.text, err.to_string());
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["kind"], kind.class_name());
        assert!(json.get("message").is_none(), "no `message` field: {json}");
        for (name, value) in d.fields() {
            if !matches!(
                name,
                "detail" | "request_id" | "solution" | "advice" | "retry_after" | "sign_diagnosis"
            ) {
                assert!(!value.is_null(), "{}: {name} is null", kind.class_name());
            }
        }
        seen.insert(kind.class_name());
        d
    };

    let d = check(
        client
            .call(
                "ModifyStockInfo",
                args(json!({"stock_id": stock, "comment": "c"})),
            )
            .await
            .unwrap_err(),
        ErrorKind::Validation,
    );
    assert_eq!(d.field.as_deref(), Some("out_request_no"));

    let d = check(
        client
            .call(
                "ModifyStockInfo",
                args(json!({"stock_id": "0000", "out_request_no": "e-1", "comment": "c"})),
            )
            .await
            .unwrap_err(),
        ErrorKind::Api,
    );
    assert_eq!(
        (d.status, d.code.as_deref()),
        (Some(404), Some("RESOURCE_NOT_EXISTS"))
    );
    assert!(d.request_id.is_some() && d.msg.is_some());

    for (kind, fault, expected) in [
        ("tamper_signature", json!({}), ErrorKind::Signature),
        ("connection_reset", json!({}), ErrorKind::Transport),
        ("latency", json!({"ms": 2000}), ErrorKind::Timeout),
        ("system_error", json!({}), ErrorKind::Api),
    ] {
        let mut rule = json!({"operation": "ModifyStockInfo", "kind": kind, "count": 1});
        rule.as_object_mut()
            .unwrap()
            .extend(fault.as_object().unwrap().clone());
        control(&sb, "POST", "/sandbox/faults", Some(rule)).await;
        let d = check(
            client
                .call("ModifyStockInfo", modify(&format!("f-{kind}")))
                .await
                .unwrap_err(),
            expected,
        );
        if kind == "system_error" {
            assert!(d.retryable && d.status == Some(500));
        }
    }

    check(
        Client::new(Family::Pay, json!({}), &Callbacks::default(), UA).unwrap_err(),
        ErrorKind::Config,
    );

    let m = mp(&sb, json!({})).await;
    control(
        &sb,
        "POST",
        "/sandbox/mp/errcode_faults",
        Some(json!({"path": "/cgi-bin/stable_token", "errcode": 40013, "count": 1})),
    )
    .await;
    let d = check(
        m.call("accessToken", JsonArgs::default())
            .await
            .unwrap_err(),
        ErrorKind::MiniProgram,
    );
    assert_eq!(d.errcode, Some(40013));

    let failing = Callbacks {
        signer: Some(Arc::new(Raising)),
        ..Callbacks::default()
    };
    let signerless = Client::new(
        Family::Pay,
        config(&sb, "pay", json!({"private_key": null})).await,
        &failing,
        UA,
    )
    .unwrap();
    let d = check(
        signerless
            .call("ModifyStockInfo", modify("cb-1"))
            .await
            .unwrap_err(),
        ErrorKind::Callback,
    );
    assert_eq!(d.callback.as_deref(), Some("signer"));

    // A notification parsed twice with `replay_guard`.
    let guarded = pay(&sb, json!({"replay_guard": "memory"})).await;
    let (headers, body, id) = crate::common::notify::coupon_notification(&sb, "oBridge").await;
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
        .collect();
    let parse = || {
        let mut a = args(json!({"headers": headers}));
        a.bytes.insert("body".into(), body.clone());
        guarded.call("parseNotification", a)
    };
    parse().await.unwrap();
    let d = check(parse().await.unwrap_err(), ErrorKind::Replay);
    assert_eq!(d.notification_id.as_deref(), Some(id.as_str()));

    // A third-party platform asked for an authorizer that never authorized it.
    let s = sb.component_settings();
    let component = Client::new(
        Family::Component,
        json!({
            "component_appid": s.component_appid,
            "component_appsecret": s.component_appsecret.expose(),
            "base_url": sb.base_url(),
        }),
        &Callbacks::default(),
        "test/0",
    )
    .unwrap();
    let d = check(
        component
            .call(
                "authorizerAccessToken",
                args(json!({"authorizer_appid": "wx00000000000000aa"})),
            )
            .await
            .unwrap_err(),
        ErrorKind::NotAuthorized,
    );
    assert_eq!(d.authorizer_appid.as_deref(), Some("wx00000000000000aa"));

    // Every kind but the base and UnexpectedResponse (a server outside the documents) came
    // from a real condition above.
    let all: std::collections::BTreeSet<_> = ERROR_KINDS
        .iter()
        .map(|k| k.class_name)
        .filter(|n| !matches!(*n, "WeixinKitError" | "UnexpectedResponseError"))
        .collect();
    assert_eq!(seen, all);
}

#[test]
fn error_kind_table_is_complete_and_named_once() {
    let names: std::collections::BTreeSet<_> = ERROR_KINDS.iter().map(|k| k.class_name).collect();
    assert_eq!(names.len(), ERROR_KINDS.len());
    for k in ERROR_KINDS {
        assert_eq!(k.kind.class_name(), k.class_name);
        assert!(k.class_name.ends_with("Error"));
        assert!(
            !k.fields.contains(&"message"),
            "uniffi's Kotlin reserves `message`"
        );
        // Every field is one the description can carry.
        let d = ErrorDescription::internal("x");
        for f in k.fields {
            let _ = d.field(f);
            assert!(serde_json::to_value(&d).is_ok(), "{}: {f}", k.class_name);
        }
    }
    let unexpected = Error::UnexpectedResponse {
        status: 502,
        detail: "not JSON".into(),
    };
    let d = ErrorDescription::from(&unexpected);
    assert_eq!(
        (d.kind, d.status),
        (ErrorKind::UnexpectedResponse, Some(502))
    );
}

// -- callbacks ---------------------------------------------------------------------------------

/// A host signer standing for a KMS: signs with the sandbox's merchant key, counting calls.
struct KmsSigner {
    key: weixin_kit::crypto::PrivateKey,
    calls: AtomicUsize,
}

impl HostFunction for KmsSigner {
    fn call(&self, args: Vec<Value>) -> BoxFuture<'static, Result<Value, String>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let message = args[0].as_str().unwrap().to_owned();
        let signature = self
            .key
            .sign_sha256(message.as_bytes())
            .map(|s| base64::engine::general_purpose::STANDARD.encode(s));
        Box::pin(async move {
            signature
                .map(Value::String)
                .map_err(|e| format!("kms: {e}"))
        })
    }
}

struct Raising;

impl HostFunction for Raising {
    fn call(&self, _args: Vec<Value>) -> BoxFuture<'static, Result<Value, String>> {
        Box::pin(async { Err("raised RuntimeError: the KMS is unreachable".to_owned()) })
    }
}

struct Answers(Value, Duration);

impl HostFunction for Answers {
    fn call(&self, _args: Vec<Value>) -> BoxFuture<'static, Result<Value, String>> {
        let (value, delay) = (self.0.clone(), self.1);
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            Ok(value)
        })
    }
}

#[tokio::test]
async fn a_host_signer_signs_every_attempt_and_nothing_unsigned_is_sent() {
    let sb = sandbox().await;
    let stock = new_stock(&sb).await;
    let key = weixin_kit::crypto::PrivateKey::from_pem(
        sb.credentials().merchant_private_key_pem.expose(),
    )
    .unwrap();
    let kms = Arc::new(KmsSigner {
        key,
        calls: AtomicUsize::new(0),
    });
    let callbacks = Callbacks {
        signer: Some(kms.clone()),
        ..Callbacks::default()
    };
    let no_key = config(&sb, "pay", json!({"private_key": null})).await;
    let client = Client::new(Family::Pay, no_key.clone(), &callbacks, UA).unwrap();
    // One 500 first: the retry is signed again (fresh timestamp and nonce).
    control(
        &sb,
        "POST",
        "/sandbox/faults",
        Some(json!({"operation": "ModifyStockInfo", "kind": "system_error", "count": 1})),
    )
    .await;
    client
        .call(
            "ModifyStockInfo",
            args(json!({"stock_id": stock, "out_request_no": "kms-1", "comment": "k"})),
        )
        .await
        .unwrap();
    assert_eq!(kms.calls.load(Ordering::SeqCst), 2);
    let log = control(&sb, "GET", "/sandbox/requests", None).await;
    let verdicts: Vec<_> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["signature"].clone())
        .collect();
    assert_eq!(verdicts, vec![json!("ok"), json!("ok")]);

    // Both a key and a signer: refused.
    let both = config(&sb, "pay", json!({})).await;
    assert!(config_error(Client::new(Family::Pay, both, &callbacks, UA)).contains("not both"));

    // Failing, slow, empty or mistyped signers: typed errors, nothing sent.
    control(&sb, "DELETE", "/sandbox/requests", None).await;
    let cases: Vec<(Arc<dyn HostFunction>, ErrorKind, &str)> = vec![
        (Arc::new(Raising), ErrorKind::Callback, "KMS is unreachable"),
        (
            Arc::new(Answers(json!("x"), Duration::from_secs(5))),
            ErrorKind::Timeout,
            "did not answer within 0.3 s",
        ),
        (
            Arc::new(Answers(json!(""), Duration::ZERO)),
            ErrorKind::Callback,
            "empty",
        ),
        (
            Arc::new(Answers(json!(42), Duration::ZERO)),
            ErrorKind::Callback,
            "must return a string",
        ),
        (
            Arc::new(Answers(json!("not base64!"), Duration::ZERO)),
            ErrorKind::Config,
            "invalid signature",
        ),
    ];
    for (signer, kind, text) in cases {
        let mut cfg = no_key.clone();
        cfg["callback_timeout"] = json!(0.3);
        let client = Client::new(
            Family::Pay,
            cfg,
            &Callbacks {
                signer: Some(signer),
                ..Callbacks::default()
            },
            UA,
        )
        .unwrap();
        let err = client
            .call(
                "ModifyStockInfo",
                args(json!({"stock_id": stock, "out_request_no": "kms-2", "comment": "k"})),
            )
            .await
            .unwrap_err();
        let d = ErrorDescription::from(&err);
        assert_eq!(d.kind, kind, "{err}");
        assert!(d.text.contains(text), "{:?} lacks {text:?}", d.text);
    }
    assert_eq!(
        control(&sb, "GET", "/sandbox/requests", None).await,
        json!([])
    );
}

/// A token provider standing for a central token service: hands out the token it holds.
struct TokenService {
    token: std::sync::Mutex<String>,
    calls: AtomicUsize,
}

impl HostFunction for TokenService {
    fn call(&self, args: Vec<Value>) -> BoxFuture<'static, Result<Value, String>> {
        assert!(args.is_empty());
        self.calls.fetch_add(1, Ordering::SeqCst);
        let token = self.token.lock().unwrap().clone();
        Box::pin(async move { Ok(Value::String(token)) })
    }
}

#[tokio::test]
async fn a_host_token_provider_supplies_the_token_and_a_rejected_one_is_asked_for_again() {
    let sb = sandbox().await;
    let (openid, code) = ("oUser-provider", "4200001855202305090060871999");
    control(
        &sb,
        "POST",
        "/sandbox/mp/notify_codes",
        Some(json!({"openid": openid, "notify_type": 2001, "notify_code": code})),
    )
    .await;
    let get_notify = || args(json!({"openid": openid, "notify_type": 2001, "notify_code": code}));
    // The "central service" got its token from WeChat itself.
    let owner = mp(&sb, json!({})).await;
    let token = owner
        .call("accessToken", JsonArgs::default())
        .await
        .unwrap();
    let service = Arc::new(TokenService {
        token: std::sync::Mutex::new(token.as_str().unwrap().to_owned()),
        calls: AtomicUsize::new(0),
    });
    let callbacks = Callbacks {
        token_provider: Some(service.clone()),
        ..Callbacks::default()
    };
    let no_secret = config(&sb, "mp", json!({"secret": null})).await;
    let client = Client::new(Family::MiniProgram, no_secret.clone(), &callbacks, UA).unwrap();
    let info = client.call("getUserNotify", get_notify()).await.unwrap();
    assert_eq!(info["notify_info"]["notify_type"], 2001, "{info}");
    assert_eq!(service.calls.load(Ordering::SeqCst), 1);
    let tokens_before =
        control(&sb, "GET", "/sandbox/mp/counters", None).await["stable_tokens_issued"].clone();

    // The token expires on WeChat's side; the provider still has the old one: the call is
    // answered with the rejection, after asking the provider once more (no loop).
    control(&sb, "POST", "/sandbox/mp/expire_tokens", None).await;
    let calls = service.calls.load(Ordering::SeqCst);
    let err = client
        .call("getUserNotify", get_notify())
        .await
        .unwrap_err();
    assert_eq!(ErrorDescription::from(&err).errcode, Some(42001), "{err}");
    assert_eq!(service.calls.load(Ordering::SeqCst) - calls, 2);
    // The client never fetched a token of its own.
    assert_eq!(
        control(&sb, "GET", "/sandbox/mp/counters", None).await["stable_tokens_issued"],
        tokens_before
    );

    // The service refreshes: the next call works with the new token.
    let fresh = owner
        .call("refreshAccessToken", JsonArgs::default())
        .await
        .unwrap();
    *service.token.lock().unwrap() = fresh.as_str().unwrap().to_owned();
    client.call("getUserNotify", get_notify()).await.unwrap();

    // A provider that fails: a typed error. With a secret too: refused.
    let failing = Callbacks {
        token_provider: Some(Arc::new(Raising)),
        ..Callbacks::default()
    };
    let client = Client::new(Family::MiniProgram, no_secret, &failing, UA).unwrap();
    let err = client
        .call("accessToken", JsonArgs::default())
        .await
        .unwrap_err();
    let d = ErrorDescription::from(&err);
    assert_eq!(
        (d.kind, d.callback.as_deref()),
        (ErrorKind::Callback, Some("token_provider"))
    );
    let with_secret = config(&sb, "mp", json!({})).await;
    assert!(
        config_error(Client::new(Family::MiniProgram, with_secret, &failing, UA))
            .contains("not both")
    );
}

/// Cards belong to the Official Account that created them: cardExt is signed with its ticket,
/// which the sandbox's wx.addCard stand-in checks against the card's owner; its codes decrypt
/// only with its token. Without the card account, the card operations say how to configure it.
#[tokio::test]
async fn cards_are_signed_and_decrypted_by_the_card_owning_account() {
    let sb = sandbox().await;
    control(
        &sb,
        "POST",
        "/sandbox/mp/cards",
        Some(json!({"card_id": "pOwned"})),
    )
    .await;
    let client = mp(&sb, json!({})).await;
    let claim = |item: Value| json!({"cardList": [{"cardId": item["cardId"], "cardExt": item["cardExt"]}], "openid": "oClaimer"});
    let item = client
        .call(
            "cardExt",
            args(json!({"card_id": "pOwned", "outer_str": "shelf-3", "fixed_begintimestamp": 1700000000})),
        )
        .await
        .unwrap();
    let ext: Value = serde_json::from_str(item["cardExt"].as_str().unwrap()).unwrap();
    assert_eq!(ext["outer_str"], "shelf-3");
    assert_eq!(ext["fixed_begintimestamp"], 1700000000);
    assert!(ext["timestamp"].is_string(), "{ext}");
    let added = control(&sb, "POST", "/sandbox/card/add", Some(claim(item))).await;
    let result = &added["cardList"][0];
    assert_eq!(result["isSuccess"], true, "{added}");
    // The code wx.addCard returned decrypts with the owner's token, through the client.
    let code = client
        .call(
            "decryptCardCode",
            args(json!({"encrypt_code": result["code"]})),
        )
        .await
        .unwrap();
    assert!(
        code["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{code}"
    );

    // A client that (wrongly) treats the mini-program itself as the card account: the
    // signature uses the mini-program's ticket, which the stand-in refuses; its token cannot
    // decrypt the owner's code.
    let c = control(&sb, "GET", "/sandbox/client/credentials", None).await;
    let wrong = mp(
        &sb,
        json!({"card_appid": c["appid"], "card_secret": c["secret"]}),
    )
    .await;
    let item = wrong
        .call("cardExt", args(json!({"card_id": "pOwned"})))
        .await
        .unwrap();
    let added = control(&sb, "POST", "/sandbox/card/add", Some(claim(item))).await;
    assert_eq!(added["cardList"][0]["isSuccess"], false, "{added}");
    let err = wrong
        .call(
            "decryptCardCode",
            args(json!({"encrypt_code": result["code"]})),
        )
        .await
        .unwrap_err();
    assert_eq!(ErrorDescription::from(&err).errcode, Some(40056), "{err}");

    // The card account's tokens from a host callback (a third-party platform's
    // authorizer_access_token for the Official Account): the same claim works.
    let owner_token = client
        .as_mini_program()
        .unwrap()
        .card_account_access_token()
        .await
        .unwrap();
    let service = Arc::new(TokenService {
        token: std::sync::Mutex::new(owner_token.expose().to_owned()),
        calls: AtomicUsize::new(0),
    });
    let provided = Client::new(
        Family::MiniProgram,
        config(&sb, "mp", json!({"card_secret": null})).await,
        &Callbacks {
            card_token_provider: Some(service.clone()),
            ..Callbacks::default()
        },
        UA,
    )
    .unwrap();
    let item = provided
        .call("cardExt", args(json!({"card_id": "pOwned"})))
        .await
        .unwrap();
    let added = control(&sb, "POST", "/sandbox/card/add", Some(claim(item))).await;
    assert_eq!(added["cardList"][0]["isSuccess"], true, "{added}");
    assert!(service.calls.load(Ordering::SeqCst) >= 1);
    let failing = Client::new(
        Family::MiniProgram,
        config(&sb, "mp", json!({"card_secret": null})).await,
        &Callbacks {
            card_token_provider: Some(Arc::new(Raising)),
            ..Callbacks::default()
        },
        UA,
    )
    .unwrap();
    let err = failing
        .call("cardExt", args(json!({"card_id": "pOwned"})))
        .await
        .unwrap_err();
    assert_eq!(
        ErrorDescription::from(&err).callback.as_deref(),
        Some("card_token_provider")
    );

    // No card account: a configuration error naming the keys, nothing sent.
    let none = mp(&sb, json!({"card_appid": null, "card_secret": null})).await;
    let before = control(&sb, "GET", "/sandbox/requests", None).await;
    let err = none
        .call("cardExt", args(json!({"card_id": "pOwned"})))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("card_appid"), "{err}");
    assert_eq!(control(&sb, "GET", "/sandbox/requests", None).await, before);
    assert!(config_error(Client::new(
        Family::MiniProgram,
        config(&sb, "mp", json!({"card_secret": null})).await,
        &Callbacks::default(),
        UA,
    ))
    .contains("needs `card_appid` and either `card_secret`"));
}

// -- the sandbox's control call --------------------------------------------------------------

#[tokio::test]
async fn the_sandbox_is_driven_through_one_generic_control_call() {
    let sb = sandbox().await;
    let c = control(&sb, "GET", "/sandbox/client/credentials", None).await;
    let keys: std::collections::BTreeSet<_> = c.as_object().unwrap().keys().cloned().collect();
    let expected: std::collections::BTreeSet<String> = [
        "card_appid",
        "card_secret",
        "mchid",
        "serial_no",
        "merchant_private_key",
        "wechatpay_public_key_id",
        "wechatpay_public_key",
        "apiv3_key",
        "appid",
        "secret",
        "platform_serial_no",
        "platform_certificate",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(keys, expected);
    // The client configurations use the bridge's keys and point at this sandbox.
    let pay_config = control(&sb, "GET", "/sandbox/client/pay_config", None).await;
    assert_eq!(pay_config["base_url"], sb.base_url());
    assert_eq!(pay_config["backup_base_url"], sb.backup_base_url());
    for key in pay_config.as_object().unwrap().keys() {
        assert!(
            weixin_kit::bridge::PayConfig::KEYS.contains(&key.as_str()),
            "{key}"
        );
    }
    for key in control(&sb, "GET", "/sandbox/client/mp_config", None)
        .await
        .as_object()
        .unwrap()
        .keys()
    {
        assert!(
            weixin_kit::bridge::MiniProgramConfig::KEYS.contains(&key.as_str()),
            "{key}"
        );
    }

    let stock = new_stock(&sb).await;
    let got = control(&sb, "GET", &format!("/sandbox/stocks/{stock}"), None).await;
    assert_eq!(got["stock_name"], "桥接测试券");
    // A GET of something that does not exist answers null; a bad body or path is an error.
    assert_eq!(
        control(&sb, "GET", "/sandbox/stocks/404404", None).await,
        Value::Null
    );
    let bad = sb
        .control(
            "POST",
            "/sandbox/signing_mode",
            Some(json!({"mode": "rot13"})),
        )
        .await
        .unwrap_err();
    assert!(matches!(Error::from(bad), Error::Validation { .. }));
    let nowhere = sb
        .control("GET", "/sandbox/nowhere", None)
        .await
        .unwrap_err();
    assert!(
        nowhere.to_string().contains("not a sandbox control route"),
        "{nowhere}"
    );
    assert!(sb.control("GET", "/v3/certificates", None).await.is_err());
    let id = control(
        &sb,
        "POST",
        "/sandbox/faults",
        Some(json!({"kind": "system_error", "count": 2})),
    )
    .await;
    assert!(id["id"].as_u64().is_some());
    assert_eq!(
        control(&sb, "GET", "/sandbox/faults", None).await[0]["remaining"],
        2
    );
    control(&sb, "DELETE", "/sandbox/faults", None).await;
    assert_eq!(
        control(&sb, "GET", "/sandbox/faults", None).await,
        json!([])
    );
}
