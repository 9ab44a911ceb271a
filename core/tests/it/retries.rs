//! What is sent again, and when (issue 14 items 1 and 8): failures after the request may have
//! reached the server are retried only for idempotent operations; connect failures always;
//! `Retry-After` is honoured within the call's deadline; the deadline bounds the whole call; a
//! main host that failed to connect is skipped for a cool-down (sticky failover).
//!
//! The misbehaving hosts are real TCP listeners ([`common::peer`]); the clients are configured
//! with the sandbox's identity.

use std::time::{Duration, Instant};

use serde_json::json;
use weixin_kit::mp::{MiniProgramClient, TokenEndpoint};
use weixin_kit::pay::{ModifyStockInfoRequest, Operations as _, PayClient, RetryPolicy};
use weixin_kit::Error;

use crate::common::peer::{answer, closed_port_url, Behaviour, Peer};
use crate::common::{api_error, mp_builder, pay_builder_with_public_key, sandbox};

/// A pay client (sandbox identity, verification key) whose hosts are `main` and `backup`.
async fn pay_to(main: &str, backup: Option<&str>) -> PayClient {
    let sb = sandbox().await;
    let b = pay_builder_with_public_key(&sb).base_url(main);
    match backup {
        Some(url) => b.backup_base_url(url),
        None => b.no_backup(),
    }
    .build()
    .unwrap()
}

/// A mini-program client (sandbox identity) whose host is `base`.
async fn mp_to(base: &str, endpoint: TokenEndpoint) -> MiniProgramClient {
    let sb = sandbox().await;
    mp_builder(&sb)
        .base_url(base)
        .token_endpoint(endpoint)
        .build()
        .unwrap()
}

/// `may_have_been_applied` of a transport error or timeout; panics on anything else.
fn applied(e: &Error) -> bool {
    match e {
        Error::Transport {
            may_have_been_applied,
            ..
        }
        | Error::Timeout {
            may_have_been_applied,
            ..
        } => *may_have_been_applied,
        other => panic!("expected a transport error or timeout, got {other:?}"),
    }
}

const NOT_FOUND: &str = r#"{"code":"RESOURCE_NOT_EXISTS","message":"no such stock"}"#;
const LIMITED: &str = r#"{"code":"FREQUENCY_LIMITED","message":"too fast"}"#;

#[tokio::test]
async fn an_escape_hatch_post_is_not_resent_after_the_connection_dropped() {
    let peer = Peer::start(Behaviour::DropAfterRequest).await;
    let client = pay_to(&peer.http_url(), None).await;
    let e = client
        .request(
            "POST",
            "/v3/marketing/busifavor/coupons/use",
            Some(json!({"coupon_code": "x"})),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(peer.requests(), 1, "POST is not idempotent: sent once");
    assert!(applied(&e), "{e:?}");
    assert!(e.may_have_been_applied());
    assert!(!e.is_retryable(), "{e:?}");
    assert!(e.to_string().contains("may have been applied"), "{e}");
}

#[tokio::test]
async fn the_escape_hatch_idempotent_argument_allows_resending() {
    let peer = Peer::start(Behaviour::DropAfterRequest).await;
    let client = pay_to(&peer.http_url(), None).await;
    let e = client
        .request(
            "POST",
            "/v3/marketing/busifavor/callbacks",
            Some(json!({"notify_url": "https://example.com/n"})),
            Some(true),
        )
        .await
        .unwrap_err();
    assert_eq!(
        peer.requests(),
        3,
        "idempotent: every attempt of the policy"
    );
    assert!(!applied(&e), "{e:?}");
    // And the other way round: a GET declared not idempotent is sent once.
    let peer = Peer::start(Behaviour::DropAfterRequest).await;
    let client = pay_to(&peer.http_url(), None).await;
    let e = client
        .request("GET", "/v3/certificates", None, Some(false))
        .await
        .unwrap_err();
    assert_eq!(peer.requests(), 1);
    assert!(applied(&e), "{e:?}");
}

#[tokio::test]
async fn operations_follow_the_spec_flag() {
    // ModifyStockInfo: x-weixin-idempotent true (out_request_no).
    let peer = Peer::start(Behaviour::DropAfterRequest).await;
    let client = pay_to(&peer.http_url(), None).await;
    let e = client
        .busifavor()
        .modify_stock_info(
            "1212",
            &ModifyStockInfoRequest {
                out_request_no: "1900000001-20240801-1".into(),
                comment: Some("August".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(peer.requests(), 3);
    assert!(!applied(&e), "{e:?}");
    // MarketingImageUpload: x-weixin-idempotent false (each upload stores an image).
    let peer = Peer::start(Behaviour::DropAfterRequest).await;
    let client = pay_to(&peer.http_url(), None).await;
    let e = client
        .media()
        .marketing_image_upload("logo.png", b"\x89PNG".to_vec())
        .await
        .unwrap_err();
    assert_eq!(peer.requests(), 1);
    assert!(applied(&e), "{e:?}");
}

#[tokio::test]
async fn token_endpoints_that_mint_a_new_token_are_never_resent() {
    // /cgi-bin/token: every call issues a new token and ends the previous one.
    let peer = Peer::start(Behaviour::DropAfterRequest).await;
    let mp = mp_to(&peer.http_url(), TokenEndpoint::Token).await;
    let e = mp.access_token().await.unwrap_err();
    assert_eq!(peer.requests(), 1, "getAccessToken sent once");
    assert!(applied(&e), "{e:?}");

    // stable_token with force_refresh: true: the same.
    let peer = Peer::start(Behaviour::DropAfterRequest).await;
    let mp = mp_to(&peer.http_url(), TokenEndpoint::StableToken).await;
    let e = mp.force_refresh_access_token().await.unwrap_err();
    assert_eq!(peer.requests(), 1, "forced stable_token sent once");
    assert!(applied(&e), "{e:?}");

    // stable_token in its normal mode returns the same token while valid: resent.
    let peer = Peer::start(Behaviour::DropAfterRequest).await;
    let mp = mp_to(&peer.http_url(), TokenEndpoint::StableToken).await;
    let e = mp.access_token().await.unwrap_err();
    assert_eq!(peer.requests(), 3);
    assert!(!applied(&e), "{e:?}");
}

#[tokio::test]
async fn a_connect_failure_is_retried_for_any_operation() {
    // The main host refuses connections (nothing was sent): even a POST goes to the backup.
    let backup = Peer::start(Behaviour::Answer(vec![answer(404, &[], NOT_FOUND)])).await;
    let client = pay_to(&closed_port_url().await, Some(&backup.http_url())).await;
    let e = client
        .request(
            "POST",
            "/v3/marketing/busifavor/coupons/use",
            Some(json!({})),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(api_error(e).status, 404, "the backup's answer");
    assert_eq!(backup.requests(), 1);

    // Without a backup host, every attempt of the policy goes to the refusing host, and the
    // error does not say the request may have been applied.
    let client = pay_to(&closed_port_url().await, None).await;
    let e = client
        .request(
            "POST",
            "/v3/marketing/busifavor/coupons/use",
            Some(json!({})),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    assert!(!applied(&e) && e.is_retryable(), "{e:?}");
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let peer = Peer::start(Behaviour::Answer(vec![
        answer(429, &["Retry-After: 1"], LIMITED),
        answer(404, &[], NOT_FOUND),
    ]))
    .await;
    let client = pay_to(&peer.http_url(), None).await;
    let started = Instant::now();
    let e = client
        .request("GET", "/v3/marketing/busifavor/stocks/1", None, None)
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert_eq!(api_error(e).status, 404, "the second answer");
    assert_eq!(peer.requests(), 2);
    // The policy's own backoff here is 5 ms; the server asked for a second.
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_ends_the_call_at_once() {
    let peer = Peer::start(Behaviour::Answer(vec![answer(
        429,
        &["Retry-After: 30"],
        LIMITED,
    )]))
    .await;
    let sb = sandbox().await;
    let client = pay_builder_with_public_key(&sb)
        .base_url(peer.http_url())
        .no_backup()
        .deadline(Duration::from_secs(5))
        .build()
        .unwrap();
    let e = client
        .request("GET", "/v3/marketing/busifavor/stocks/1", None, None)
        .await
        .unwrap_err();
    assert_eq!(peer.requests(), 1, "not sent again");
    let e = api_error(e);
    assert_eq!((e.status, e.code.as_str()), (429, "FREQUENCY_LIMITED"));
    assert_eq!(
        e.retry_after,
        Some(Duration::from_secs(30)),
        "the server's wait"
    );
    assert!(e.retryable);
}

#[tokio::test]
async fn the_deadline_bounds_the_whole_call() {
    // A host that reads the request and never answers; one attempt may take 30 s, the call 1 s.
    let peer = Peer::start(Behaviour::Hang).await;
    let sb = sandbox().await;
    let client = pay_builder_with_public_key(&sb)
        .base_url(peer.http_url())
        .no_backup()
        .timeout(Duration::from_secs(30))
        .deadline(Duration::from_secs(1))
        .build()
        .unwrap();
    let e = client
        .request("GET", "/v3/marketing/busifavor/stocks/1", None, None)
        .await
        .unwrap_err();
    match &e {
        Error::Timeout { detail, .. } => assert!(detail.contains("deadline"), "{detail}"),
        other => panic!("expected Error::Timeout, got {other:?}"),
    }
    assert_eq!(peer.requests(), 1);

    // A backoff that would end after the deadline is not started: the 500 is the answer.
    let peer = Peer::start(Behaviour::Answer(vec![answer(
        500,
        &[],
        r#"{"code":"SYSTEM_ERROR","message":"busy"}"#,
    )]))
    .await;
    let client = pay_builder_with_public_key(&sb)
        .base_url(peer.http_url())
        .no_backup()
        .retry(RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_secs(20),
            max_delay: Duration::from_secs(20),
            failover: false,
        })
        .deadline(Duration::from_secs(5))
        .build()
        .unwrap();
    let e = client
        .request("GET", "/v3/marketing/busifavor/stocks/1", None, None)
        .await
        .unwrap_err();
    assert_eq!(api_error(e).status, 500);
    assert_eq!(peer.requests(), 1);
}

#[tokio::test]
async fn failover_is_sticky_while_the_main_host_is_down() {
    // The main host accepts TCP and closes at once: an https:// URL to it fails in the TLS
    // handshake, a connect-level failure (nothing sent). The backup answers.
    let main = Peer::start(Behaviour::CloseOnAccept).await;
    let backup = Peer::start(Behaviour::Answer(vec![answer(404, &[], NOT_FOUND)])).await;
    let client = pay_to(&main.https_url(), Some(&backup.http_url())).await;
    let call = || client.request("GET", "/v3/marketing/busifavor/stocks/1", None, None);
    assert_eq!(api_error(call().await.unwrap_err()).status, 404);
    let tried = main.connections();
    assert!(tried >= 1, "the first call tried the main host");
    assert_eq!(api_error(call().await.unwrap_err()).status, 404);
    // A clone shares the breaker.
    let clone = client.clone();
    let e = clone
        .request("GET", "/v3/marketing/busifavor/stocks/1", None, None)
        .await
        .unwrap_err();
    assert_eq!(api_error(e).status, 404);
    assert_eq!(
        main.connections(),
        tried,
        "later calls go straight to the backup during the cool-down"
    );
    assert_eq!(backup.requests(), 3);
}

/// The bridge's `request` action and configuration, as every binding calls them.
mod bridge {
    use super::*;
    use weixin_kit::bridge::{Callbacks, Client, ErrorDescription, ErrorKind, Family};
    use weixin_kit::dispatch::JsonArgs;

    /// A bridge pay client: the sandbox's own configuration, pointed at `base`, with `extra`.
    async fn client(base: &str, extra: serde_json::Value) -> Client {
        let sb = sandbox().await;
        let mut config = sb
            .control("GET", "/sandbox/client/pay_config", None)
            .await
            .unwrap();
        config["base_url"] = json!(base);
        config.as_object_mut().unwrap().remove("backup_base_url");
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        Client::new(Family::Pay, config, &Callbacks::default(), "retries-test/0").unwrap()
    }

    fn args(v: serde_json::Value) -> JsonArgs {
        JsonArgs::new(v.as_object().expect("an object").clone())
    }

    #[tokio::test]
    async fn the_request_action_takes_idempotent_and_errors_say_may_have_been_applied() {
        let peer = Peer::start(Behaviour::DropAfterRequest).await;
        let c = client(&peer.http_url(), json!({})).await;
        let call = |idempotent: serde_json::Value| {
            c.call(
                "request",
                args(json!({
                    "method": "POST",
                    "path": "/v3/marketing/busifavor/callbacks",
                    "body": {"notify_url": "https://example.com/n"},
                    "idempotent": idempotent,
                })),
            )
        };
        let e = call(json!(null)).await.unwrap_err();
        assert_eq!(peer.requests(), 1, "POST by default: sent once");
        let d = ErrorDescription::from(&e);
        assert_eq!(d.kind, ErrorKind::Transport);
        assert_eq!(d.may_have_been_applied, Some(true));
        assert!(!d.retryable);
        let fields: Vec<_> = d.fields().collect();
        assert!(
            fields.contains(&("may_have_been_applied", json!(true)))
                && fields.contains(&("retryable", json!(false))),
            "{fields:?}"
        );
        let e = call(json!(true)).await.unwrap_err();
        assert_eq!(peer.requests(), 1 + 3, "idempotent: true: every attempt");
        let d = ErrorDescription::from(&e);
        assert_eq!(d.may_have_been_applied, Some(false));
        assert!(d.retryable);
        let e = call(json!("yes")).await.unwrap_err();
        assert!(
            matches!(&e, Error::Validation { field, .. } if field == "idempotent"),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn the_deadline_key_bounds_a_call() {
        let peer = Peer::start(Behaviour::Hang).await;
        let c = client(&peer.http_url(), json!({"deadline": 0.5, "timeout": 30})).await;
        let e = c
            .call(
                "request",
                args(json!({"method": "GET", "path": "/v3/certificates"})),
            )
            .await
            .unwrap_err();
        let d = ErrorDescription::from(&e);
        assert_eq!(d.kind, ErrorKind::Timeout, "{e:?}");
        assert!(
            d.text.contains("deadline (500ms) was exceeded"),
            "{}",
            d.text
        );
        let sb = sandbox().await;
        let mut config = sb
            .control("GET", "/sandbox/client/pay_config", None)
            .await
            .unwrap();
        config["deadline"] = json!(0);
        let e = Client::new(Family::Pay, config, &Callbacks::default(), "t").unwrap_err();
        assert!(
            e.to_string().contains("`deadline` must be a positive"),
            "{e}"
        );
    }
}
