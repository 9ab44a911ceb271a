//! The replay guard of notifications: a notification parsed again is `Error::Replayed` — per
//! process with the memory guard, across instances with the Redis guard — and only what
//! verified and decrypted is remembered.

use serde_json::json;
use weixin_kit::bridge::{ErrorDescription, ErrorKind, PayConfig};
use weixin_kit::pay::PayClient;
use weixin_kit::Error;

use crate::common::notify::coupon_notification;
use crate::common::{pay_builder_with_public_key, sandbox};

const OPENID: &str = "oReplaySecretOpenid";

fn guarded(sb: &weixin_kit_sandbox::Sandbox, guard: &str) -> PayClient {
    pay_builder_with_public_key(sb)
        .apiv3_key(sb.credentials().apiv3_key.expose())
        .unwrap()
        .replay_guard_url(guard)
        .build()
        .unwrap()
}

/// The second parse of the same notification: `Error::Replayed` naming its id — kind
/// `ReplayError` for the bindings — and nothing of the decrypted content in the error.
#[tokio::test]
async fn a_replayed_notification_is_a_typed_error() {
    let sb = sandbox().await;
    let client = guarded(&sb, "memory");
    let (headers, body, id) = coupon_notification(&sb, OPENID).await;

    let first = client.parse_notification(&headers, &body).await.unwrap();
    assert_eq!(first.id, id);
    let stock_id = first.resource["stock_id"].as_str().unwrap().to_owned();
    let coupon_code = first.resource["coupon_code"].as_str().unwrap().to_owned();

    let e = client
        .parse_notification(&headers, &body)
        .await
        .unwrap_err();
    let Error::Replayed {
        notification_id, ..
    } = &e
    else {
        panic!("expected Error::Replayed, got {e:?}");
    };
    assert_eq!(notification_id, &id);
    let d = ErrorDescription::from(&e);
    assert_eq!(d.kind, ErrorKind::Replay);
    assert_eq!(d.kind.class_name(), "ReplayError");
    assert_eq!(d.field("notification_id"), json!(id));
    for text in [
        e.to_string(),
        format!("{e:?}"),
        serde_json::to_string(&d).unwrap(),
    ] {
        for secret in [OPENID, stock_id.as_str(), coupon_code.as_str()] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    // And again: every later parse is a replay too.
    assert!(matches!(
        client.parse_notification(&headers, &body).await,
        Err(Error::Replayed { .. })
    ));
}

/// Without a guard (the default) the same notification parses again: only the 5-minute rule.
#[tokio::test]
async fn without_a_guard_a_notification_parses_again() {
    let sb = sandbox().await;
    let client = crate::common::pay_client(&sb);
    let (headers, body, _) = coupon_notification(&sb, OPENID).await;
    client.parse_notification(&headers, &body).await.unwrap();
    client.parse_notification(&headers, &body).await.unwrap();
}

/// What failed verification is not remembered: a tampered copy arriving first does not make
/// the genuine notification a "replay".
#[tokio::test]
async fn a_notification_that_failed_is_not_remembered() {
    let sb = sandbox().await;
    let client = guarded(&sb, "memory");
    let (headers, body, id) = coupon_notification(&sb, OPENID).await;
    let mut tampered = body.clone();
    let i = tampered.len() / 2;
    tampered[i] ^= 1;
    let e = client
        .parse_notification(&headers, &tampered)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Signature { .. }), "{e:?}");
    assert_eq!(
        client.parse_notification(&headers, &body).await.unwrap().id,
        id
    );
}

/// Several instances (clients) sharing one Redis guard, parsing the same notification at once:
/// exactly one gets it; every other is told it is a replay.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redis_guard_reports_a_replay_once_across_instances() {
    use std::sync::Arc;
    let server = crate::common::redis_server::RedisServer::start();
    let sb = sandbox().await;
    let url = server.url();
    let (headers, body, id) = coupon_notification(&sb, OPENID).await;
    let headers = Arc::new(headers);
    let body = Arc::new(body);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let client = guarded(&sb, &url);
            let (headers, body) = (headers.clone(), body.clone());
            tokio::spawn(async move { client.parse_notification(&headers, &body).await })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(n) => {
                assert_eq!(n.id, id);
                accepted += 1;
            }
            Err(Error::Replayed {
                notification_id, ..
            }) => assert_eq!(notification_id, id),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(accepted, 1);
    // The keys expire: SET NX EX with the guard's ttl.
    let mut conn = crate::common::redis_server::redis_conn(&url).await;
    let mchid = sb.credentials().mchid.clone();
    let ttl: i64 = redis::cmd("TTL")
        .arg(format!("weixin-kit:{mchid}:notification:id:{id}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        (300..=weixin_kit::replay::REPLAY_TTL.as_secs() as i64).contains(&ttl),
        "{ttl}"
    );
}

/// The bridge key every binding passes: `replay_guard`.
#[tokio::test]
async fn bridge_config_key_replay_guard() {
    let sb = sandbox().await;
    let c = sb.credentials();
    let config = |guard: &str| {
        json!({
            "mchid": c.mchid,
            "serial_no": c.merchant_serial_no,
            "private_key": c.merchant_private_key_pem.expose(),
            "wechatpay_public_key_id": c.wechatpay_public_key_id,
            "wechatpay_public_key": c.wechatpay_public_key_pem,
            "apiv3_key": c.apiv3_key.expose(),
            "base_url": sb.base_url(),
            "replay_guard": guard,
        })
    };
    let callbacks = Default::default();
    let client = PayConfig::from_json(config("memory"))
        .unwrap()
        .build(&callbacks, "test")
        .unwrap();
    let (headers, body, _) = coupon_notification(&sb, OPENID).await;
    client.parse_notification(&headers, &body).await.unwrap();
    let e = client
        .parse_notification(&headers, &body)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Replayed { .. }), "{e:?}");

    let e = PayConfig::from_json(config("postgres://user:pw@db/x"))
        .unwrap()
        .build(&callbacks, "test")
        .unwrap_err();
    let Error::Config { detail } = &e else {
        panic!("{e:?}")
    };
    assert!(detail.contains("replay_guard"), "{detail}");
    assert!(!detail.contains("pw"), "{detail}");
}
