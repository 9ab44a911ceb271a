//! Bad input, one table: every row is an input WeChat Pay, a caller or a configuration can get
//! wrong, how it is produced, the typed error it must give (kind and a text naming the problem),
//! and what must (not) have been sent. Rows run one after the other against one in-process
//! sandbox (requests the client makes) and one misbehaving peer ([`Peer`]: answers the sandbox
//! never gives).

use std::sync::Arc;

use http::HeaderMap;
use serde_json::{json, Value};
use weixin_kit::bridge::{Callbacks, Client, Family};
use weixin_kit::dispatch::JsonArgs;
use weixin_kit::pay::{PayClient, PayClientBuilder};
use weixin_kit::{BoxFuture, Error};
use weixin_kit_sandbox::{NewStock, Sandbox, SigningMode};

use crate::common::notify::coupon_notification;
use crate::common::pay_peer::{self as peer, Answer, Peer};
use crate::common::{
    certificate_client, fast_retry, identity, pay_builder, pay_builder_with_public_key,
    sandbox_signing,
};

/// The error kinds of [`Error`] a row can expect.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Signature,
    Validation,
    Config,
    Api,
    UnexpectedResponse,
    Replay,
}

fn kind_of(e: &Error) -> Option<Kind> {
    Some(match e {
        Error::Signature { .. } => Kind::Signature,
        Error::Validation { .. } => Kind::Validation,
        Error::Config { .. } => Kind::Config,
        Error::Api(_) => Kind::Api,
        Error::UnexpectedResponse { .. } => Kind::UnexpectedResponse,
        Error::Replayed { .. } => Kind::Replay,
        _ => return None,
    })
}

/// What the row's input may have caused to be sent.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sent {
    /// Nothing reached the sandbox or the peer: refused before sending.
    Nothing,
    /// The input is the peer's answer to the one request made; nothing else was requested
    /// (no certificate download).
    OneRequest,
    /// The input is the peer's answer; the client downloaded the certificates once because of
    /// it.
    OneDownload,
    /// The request reached the sandbox, which refused it (nothing changed there).
    RefusedBySandbox,
}

struct Env {
    sb: Sandbox,
    peer: Peer,
}

type Produce = fn(Arc<Env>) -> BoxFuture<'static, weixin_kit::Result<Value>>;

struct Row {
    name: &'static str,
    /// How the input is produced, and the call that must fail on it.
    produce: Produce,
    kind: Kind,
    /// A substring of the error's text that names the problem.
    names: &'static str,
    sent: Sent,
}

/// A public-key-mode client talking to the peer.
fn peer_client(env: &Env) -> PayClient {
    at_peer(pay_builder_with_public_key(&env.sb), env)
        .build()
        .unwrap()
}

/// A certificate-mode client (the APIv3 key only) talking to the peer.
fn peer_certificate_client(env: &Env) -> PayClient {
    at_peer(pay_builder(&env.sb), env)
        .apiv3_key(env.sb.credentials().apiv3_key.expose())
        .unwrap()
        .build()
        .unwrap()
}

fn at_peer(builder: PayClientBuilder, env: &Env) -> PayClientBuilder {
    builder
        .base_url(env.peer.base_url.clone())
        .no_backup()
        .retry(fast_retry())
}

/// The escape hatch's GET, answered by the peer with `answer`.
async fn get_answered(env: &Env, answer: Answer) -> weixin_kit::Result<Value> {
    env.peer.set_answer(answer);
    peer_client(env)
        .request("GET", "/v3/marketing/busifavor/stocks/1", None, None)
        .await
}

/// A signed answer whose `Wechatpay-Timestamp` is `timestamp` exactly as written (the
/// signature covers it, so only the timestamp check can refuse it).
async fn with_timestamp(env: &Env, timestamp: &str) -> weixin_kit::Result<Value> {
    let id = identity();
    let answer = Answer::signed(
        b"{}",
        &id.wechatpay_key,
        &id.wechatpay_public_key_id,
        timestamp,
    );
    get_answered(env, answer).await
}

/// A certificate-mode client downloads the listing the peer serves (signed by the identity's
/// platform certificate, which the listing carries: the bootstrap).
async fn refresh_with_listing(env: &Env, listing: Vec<u8>) -> weixin_kit::Result<Value> {
    let id = identity();
    env.peer.set_listing(Answer::signed(
        &listing,
        &id.platform_key,
        &id.platform_serial_no,
        &peer::now(),
    ));
    peer_certificate_client(env)
        .refresh_certificates()
        .await
        .map(|serials| json!(serials))
}

fn rows() -> Vec<Row> {
    vec![
        // --- Answers from WeChat Pay (the peer) -------------------------------------------
        Row {
            name: "missing Wechatpay-* headers on a 2xx",
            produce: |env| {
                Box::pin(async move {
                    let answer = Answer {
                        status: 200,
                        headers: vec![],
                        body: b"{}".to_vec(),
                    };
                    get_answered(&env, answer).await
                })
            },
            kind: Kind::Signature,
            names: "the Wechatpay-Serial header is missing",
            sent: Sent::OneRequest,
        },
        Row {
            name: "a 3xx (not followed)",
            produce: |env| {
                Box::pin(async move {
                    let answer = Answer::signed_now(b"")
                        .with_header("Location", "https://attacker.example/v3/x");
                    get_answered(
                        &env,
                        Answer {
                            status: 302,
                            ..answer
                        },
                    )
                    .await
                })
            },
            kind: Kind::UnexpectedResponse,
            names: "HTTP 302",
            sent: Sent::OneRequest,
        },
        Row {
            name: "wrong Wechatpay-Signature-Type",
            produce: |env| {
                Box::pin(async move {
                    let answer = Answer::signed_now(b"{}")
                        .with_header("Wechatpay-Signature-Type", "WECHATPAY2-SM2-WITH-SM3");
                    get_answered(&env, answer).await
                })
            },
            kind: Kind::Signature,
            names: "only WECHATPAY2-SHA256-RSA2048 is supported",
            sent: Sent::OneRequest,
        },
        Row {
            name: "duplicate Wechatpay-Nonce headers",
            produce: |env| {
                Box::pin(async move {
                    let answer = Answer::signed_now(b"{}").and_header("Wechatpay-Nonce", "other");
                    get_answered(&env, answer).await
                })
            },
            kind: Kind::Signature,
            names: "the Wechatpay-Nonce header appears 2 times",
            sent: Sent::OneRequest,
        },
        Row {
            name: "duplicate Wechatpay-Timestamp headers",
            produce: |env| {
                Box::pin(async move {
                    let answer =
                        Answer::signed_now(b"{}").and_header("Wechatpay-Timestamp", &peer::now());
                    get_answered(&env, answer).await
                })
            },
            kind: Kind::Signature,
            names: "the Wechatpay-Timestamp header appears 2 times",
            sent: Sent::OneRequest,
        },
        Row {
            name: "timestamp i64::MIN",
            produce: |env| {
                Box::pin(async move { with_timestamp(&env, "-9223372036854775808").await })
            },
            kind: Kind::Signature,
            names: "timestamp -9223372036854775808 is more than 5 minutes from now",
            sent: Sent::OneRequest,
        },
        Row {
            name: "timestamp i64::MAX",
            produce: |env| {
                Box::pin(async move { with_timestamp(&env, "9223372036854775807").await })
            },
            kind: Kind::Signature,
            names: "timestamp 9223372036854775807 is more than 5 minutes from now",
            sent: Sent::OneRequest,
        },
        Row {
            name: "timestamp beyond i64",
            produce: |env| {
                Box::pin(async move { with_timestamp(&env, "99999999999999999999").await })
            },
            kind: Kind::Signature,
            names: "is not a Unix timestamp in seconds",
            sent: Sent::OneRequest,
        },
        Row {
            name: "timestamp in milliseconds",
            produce: |env| {
                Box::pin(async move {
                    let ms = format!("{}000", peer::now());
                    with_timestamp(&env, &ms).await
                })
            },
            kind: Kind::Signature,
            names: "is more than 5 minutes from now",
            sent: Sent::OneRequest,
        },
        Row {
            name: "SIGNTEST probe (certificate mode, unknown serial: no download)",
            produce: |env| {
                Box::pin(async move {
                    let id = identity();
                    let answer = Answer::signed(
                        b"{}",
                        &id.platform_key,
                        &id.platform_serial_no,
                        &peer::now(),
                    )
                    .with_header("Wechatpay-Signature", "WECHATPAY/SIGNTEST/probe");
                    env.peer.set_answer(answer);
                    peer_certificate_client(&env)
                        .request("GET", "/v3/marketing/busifavor/stocks/1", None, None)
                        .await
                })
            },
            kind: Kind::Signature,
            names: "WeChat Pay signature probe",
            sent: Sent::OneRequest,
        },
        Row {
            name: "an expired cached serial",
            produce: |env| {
                Box::pin(async move {
                    // The client still holds the platform certificate, expired since yesterday;
                    // WeChat Pay lists only that one too.
                    let id = identity();
                    let expired = peer::platform_certificate(&id.platform_serial_no, -400, -1);
                    let client = peer_certificate_client(&env);
                    client.verifier().set_certificates(vec![
                        weixin_kit::crypto::Certificate::from_pem(&expired).unwrap(),
                    ]);
                    env.peer.set_answer(Answer::signed(
                        b"{}",
                        &id.platform_key,
                        &id.platform_serial_no,
                        &peer::now(),
                    ));
                    let listing = peer::listing(&expired, &id.platform_serial_no, 1);
                    env.peer.set_listing(Answer::signed(
                        &listing,
                        &id.platform_key,
                        &id.platform_serial_no,
                        &peer::now(),
                    ));
                    client
                        .request("GET", "/v3/marketing/busifavor/stocks/1", None, None)
                        .await
                })
            },
            kind: Kind::Signature,
            names: "unknown serial",
            sent: Sent::OneDownload,
        },
        Row {
            name: "a 10,000-entry certificate listing",
            produce: |env| {
                Box::pin(async move {
                    // Small entries (the HTTP layer caps a body at 16 MiB): each would have to
                    // be decrypted to find out it is not a certificate.
                    let id = identity();
                    let listing =
                        peer::listing("not a certificate", &id.platform_serial_no, 10_000);
                    refresh_with_listing(&env, listing).await
                })
            },
            kind: Kind::UnexpectedResponse,
            names: "listed 10000 certificates, more than MAX_LISTED_CERTIFICATES (16)",
            sent: Sent::OneDownload,
        },
        Row {
            name: "an empty certificate listing",
            produce: |env| {
                Box::pin(
                    async move { refresh_with_listing(&env, br#"{"data":[]}"#.to_vec()).await },
                )
            },
            kind: Kind::UnexpectedResponse,
            names: "empty listing",
            sent: Sent::OneDownload,
        },
        // --- Notifications -----------------------------------------------------------------
        Row {
            name: "a replayed notification (replay_guard memory)",
            produce: |env| {
                Box::pin(async move {
                    let client = pay_builder_with_public_key(&env.sb)
                        .apiv3_key(env.sb.credentials().apiv3_key.expose())?
                        .replay_guard_url("memory")
                        .build()?;
                    let (headers, body, _) = coupon_notification(&env.sb, "oBadInputOpenid").await;
                    client.parse_notification(&headers, &body).await?;
                    let again = client.parse_notification(&headers, &body).await?;
                    Ok(json!({ "id": again.id }))
                })
            },
            kind: Kind::Replay,
            names: "notification replayed",
            sent: Sent::Nothing,
        },
        Row {
            name: "a 2 MiB notification",
            produce: |env| {
                Box::pin(async move {
                    // Signed-looking headers naming a serial the client does not know: without
                    // the cap, the client would download certificates from the sandbox.
                    let mut headers = HeaderMap::new();
                    for (name, value) in [
                        (
                            "Wechatpay-Serial",
                            "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
                        ),
                        ("Wechatpay-Signature", "c2lnbmF0dXJl"),
                        ("Wechatpay-Nonce", "n0nce"),
                    ] {
                        headers.insert(name, value.parse().unwrap());
                    }
                    headers.insert("Wechatpay-Timestamp", peer::now().parse().unwrap());
                    let body = vec![b' '; 2 * 1024 * 1024];
                    certificate_client(&env.sb)
                        .parse_notification(&headers, &body)
                        .await
                        .map(|n| n.to_json())
                })
            },
            kind: Kind::Validation,
            names: "more than MAX_NOTIFICATION_BYTES (1048576 bytes, 1 MiB)",
            sent: Sent::Nothing,
        },
        // --- Configuration and calls ---------------------------------------------------------
        Row {
            name: "bad PEM",
            produce: |env| {
                Box::pin(async move {
                    let c = env.sb.credentials();
                    PayClient::builder()
                        .mchid(&c.mchid)
                        .serial_no(&c.merchant_serial_no)
                        .private_key_pem(
                            "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
                        )
                        .map(|_| Value::Null)
                })
            },
            kind: Kind::Config,
            names: "the \"BEGIN PRIVATE KEY\" block is not valid base64",
            sent: Sent::Nothing,
        },
        Row {
            name: "wrong key for the mchid",
            produce: |env| {
                Box::pin(async move {
                    // A real RSA-2048 key, but not the one of the merchant's API certificate.
                    let stock = env.sb.create_stock(NewStock::named("券")).unwrap().stock_id;
                    let c = env.sb.credentials();
                    let client = PayClient::builder()
                        .mchid(&c.mchid)
                        .serial_no(&c.merchant_serial_no)
                        .private_key_pem(&identity().platform_key.private_pem())
                        .unwrap()
                        .wechatpay_public_key(
                            &c.wechatpay_public_key_id,
                            &c.wechatpay_public_key_pem,
                        )
                        .unwrap()
                        .base_url(env.sb.base_url())
                        .no_backup()
                        .retry(fast_retry())
                        .build()
                        .unwrap();
                    env.sb.reset_log();
                    client
                        .call(
                            "ModifyStockInfo",
                            args(json!({"stock_id": stock, "out_request_no": "bad-key-1", "comment": "x"})),
                        )
                        .await
                })
            },
            kind: Kind::Api,
            names: "SIGN_ERROR",
            sent: Sent::RefusedBySandbox,
        },
        // "non-UTF-8 ext_json from Python bytes" is a row of the Python suite
        // (bindings-python/tests/test_arguments.py): bytes never reach the core.
        Row {
            name: "an unknown operation name (bridge Client::call)",
            produce: |env| {
                Box::pin(async move {
                    let config = env
                        .sb
                        .control("GET", "/sandbox/client/pay_config", None)
                        .await
                        .unwrap();
                    let client = Client::new(Family::Pay, config, &Callbacks::default(), "t/0")?;
                    client.call("ModifyStockInfoo", JsonArgs::default()).await
                })
            },
            kind: Kind::Validation,
            names: "`ModifyStockInfoo` is not a WeChat Pay operation",
            sent: Sent::Nothing,
        },
        Row {
            name: "a non-loopback http:// base URL (bridge configuration)",
            produce: |env| {
                Box::pin(async move {
                    let mut config = env
                        .sb
                        .control("GET", "/sandbox/client/pay_config", None)
                        .await
                        .unwrap();
                    config["base_url"] = json!("http://api.mch.weixin.invalid");
                    Client::new(Family::Pay, config, &Callbacks::default(), "t/0")?;
                    Ok(json!("built"))
                })
            },
            kind: Kind::Config,
            names: "`base_url` (http://api.mch.weixin.invalid) uses http:// on a host that is not loopback",
            sent: Sent::Nothing,
        },
    ]
}

fn args(value: Value) -> JsonArgs {
    match value {
        Value::Object(map) => JsonArgs::new(map),
        other => panic!("arguments must be an object, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gives_typed_errors_and_sends_nothing() {
    let env = Arc::new(Env {
        sb: sandbox_signing(SigningMode::PublicKey).await,
        peer: Peer::start().await,
    });
    let mut failures = Vec::new();
    for row in rows() {
        env.sb.reset_log();
        env.peer.reset();
        let outcome = tokio::spawn((row.produce)(env.clone())).await;
        let problem = match outcome {
            Err(panic) => Some(format!("panicked: {panic}")),
            Ok(Ok(value)) => Some(format!("succeeded with {value}")),
            Ok(Err(e)) => {
                let text = e.to_string();
                if kind_of(&e) != Some(row.kind) {
                    Some(format!("expected {:?}, got {e:?}", row.kind))
                } else if !text.contains(row.names) {
                    Some(format!("the error does not say {:?}: {text}", row.names))
                } else {
                    check_sent(&env, row.sent).err()
                }
            }
        };
        match problem {
            Some(p) => failures.push(format!("{}: {p}", row.name)),
            None => eprintln!("ok: {}", row.name),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

fn check_sent(env: &Env, sent: Sent) -> Result<(), String> {
    let sandbox: Vec<String> = env.sb.requests().iter().map(|r| r.path.clone()).collect();
    let peer = env.peer.seen();
    let downloads = peer.iter().filter(|p| *p == "/v3/certificates").count();
    let ok = match sent {
        Sent::Nothing => sandbox.is_empty() && peer.is_empty(),
        Sent::OneRequest => sandbox.is_empty() && peer.len() == 1 && downloads == 0,
        Sent::OneDownload => sandbox.is_empty() && downloads == 1,
        Sent::RefusedBySandbox => {
            peer.is_empty()
                && !env.sb.requests().is_empty()
                && env
                    .sb
                    .requests()
                    .iter()
                    .all(|r| r.signature.as_deref() != Some("ok"))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected {sent:?}; the sandbox saw {sandbox:?}, the peer saw {peer:?}"
        ))
    }
}
