//! MiniProgramClient against the in-process sandbox: token caching and single flight (the
//! sandbox's counters), compare-and-expire, the one-refresh-one-retry rule, bounded retries of
//! retryable errcodes, setUserNotifyExt (success, the nested ext_json encoding as the sandbox
//! received it, each documented errcode), the plain /cgi-bin/token mode, an external token
//! provider, card_ext with the cached wx_card ticket, decryptCardCode, and secrets kept out of
//! Debug output and error text.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use weixin_kit::mp::token::{BoxFuture, LockToken, StoredToken};
use weixin_kit::mp::{
    sign_card_ext, CardExtBuilder, ExtJson, GetUserNotifyRequest, MemoryStore, MiniProgramClient,
    Operations as _, RetryPolicy, TokenEndpoint, TokenProvider, TokenStore,
};
use weixin_kit::{Error, Result, SecretString};
use weixin_kit_sandbox::Sandbox;

use crate::common::{
    fast_retry, mp_builder, mp_client, mp_error, sandbox, CODE, NOTIFY_TYPE, OPENID,
};

// ---------------------------------------------------------------------------------------------
// Helpers

fn counters(sandbox: &Sandbox) -> Value {
    sandbox.mp().counters()
}

fn calls(sandbox: &Sandbox, op: &str) -> u64 {
    counters(sandbox)["calls"][op].as_u64().unwrap_or(0)
}

fn counter(sandbox: &Sandbox, name: &str) -> u64 {
    counters(sandbox)[name].as_u64().unwrap()
}

fn get_user_notify_request() -> GetUserNotifyRequest {
    GetUserNotifyRequest {
        notify_code: CODE.into(),
        notify_type: NOTIFY_TYPE,
        openid: OPENID.into(),
    }
}

fn pay_info() -> Value {
    json!({
        "pay_info": {"transaction_id": CODE, "pay_amount": 2001, "pay_time": 1683546394},
        "store_info": {"store_name": "westore", "store_address": "深圳市南山区南山大道18号",
                       "latitude": 22, "longitude": 114}
    })
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[tokio::test]
async fn the_token_is_fetched_once_and_cached() {
    let sandbox = sandbox().await;
    let client = mp_client(&sandbox);
    for _ in 0..3 {
        client
            .service_card()
            .get_user_notify(&get_user_notify_request())
            .await
            .unwrap();
    }
    assert_eq!(counter(&sandbox, "stable_tokens_issued"), 1);
    assert_eq!(calls(&sandbox, "getStableAccessToken"), 1);
    assert_eq!(calls(&sandbox, "getUserNotify"), 3);
    // What the store holds is what the sandbox issued.
    let token = client.access_token().await.unwrap();
    assert_eq!(
        Some(token.expose().to_owned()),
        sandbox.mp().current_stable_token()
    );
    // Clones share the cache.
    client.clone().access_token().await.unwrap();
    assert_eq!(calls(&sandbox, "getStableAccessToken"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_hundred_concurrent_calls_cause_one_token_fetch() {
    let sandbox = sandbox().await;
    let client = mp_client(&sandbox);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .service_card()
                    .get_user_notify(&get_user_notify_request())
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(calls(&sandbox, "getStableAccessToken"), 1);
    assert_eq!(counter(&sandbox, "stable_tokens_issued"), 1);
    assert_eq!(calls(&sandbox, "getUserNotify"), 100);
}

/// Another deployment (its own store) force-refreshes: the token this client stored is revoked.
/// Twenty concurrent calls; those sent with the revoked token get 40001; the first
/// compare-and-expire drops it, the rest find it gone or replaced; one fetch in all, every call
/// succeeds (on its one retry if it needed one).
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_token_revoked_elsewhere_is_replaced_by_one_fetch() {
    let sandbox = sandbox().await;
    let a = mp_client(&sandbox);
    let t1 = a.access_token().await.unwrap();
    let other = mp_client(&sandbox);
    let t2 = other.force_refresh_access_token().await.unwrap();
    assert_ne!(t1, t2);
    assert_eq!(counter(&sandbox, "stable_tokens_forced"), 1);
    assert_eq!(calls(&sandbox, "getStableAccessToken"), 2);

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let a = a.clone();
            tokio::spawn(async move {
                a.service_card()
                    .get_user_notify(&get_user_notify_request())
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(calls(&sandbox, "getStableAccessToken"), 3, "one refresh");
    // Normal mode returns the current (forced) token: nothing new issued.
    assert_eq!(counter(&sandbox, "stable_tokens_issued"), 2);
    // Each call: sent once, plus at most one retry (calls that start after the refresh read the
    // new token at once; at least the first got 40001).
    let sent = calls(&sandbox, "getUserNotify");
    assert!((21..=40).contains(&sent), "{sent}");
    assert_eq!(a.access_token().await.unwrap(), t2);
}

/// A store that hands out one stale value (as if this instance read the token just before
/// another instance replaced it) and records what compare-and-expire answered.
struct LaggyStore {
    inner: Arc<dyn TokenStore>,
    stale: Mutex<Option<StoredToken>>,
    cae: Mutex<Vec<bool>>,
}

impl TokenStore for LaggyStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<StoredToken>>> {
        let stale = if key.ends_with(":access_token") {
            self.stale.lock().unwrap().take()
        } else {
            None
        };
        match stale {
            Some(t) => Box::pin(async move { Ok(Some(t)) }),
            None => self.inner.get(key),
        }
    }
    fn set<'a>(&'a self, key: &'a str, token: &'a StoredToken) -> BoxFuture<'a, Result<()>> {
        self.inner.set(key, token)
    }
    fn set_locked<'a>(
        &'a self,
        key: &'a str,
        token: &'a StoredToken,
        lock_key: &'a str,
        lock: &'a LockToken,
    ) -> BoxFuture<'a, Result<bool>> {
        self.inner.set_locked(key, token, lock_key, lock)
    }
    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: &'a str,
        token: &'a StoredToken,
    ) -> BoxFuture<'a, Result<bool>> {
        self.inner.compare_and_set(key, expected, token)
    }
    fn compare_and_expire<'a>(
        &'a self,
        key: &'a str,
        failed_value: &'a str,
    ) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let r = self.inner.compare_and_expire(key, failed_value).await?;
            self.cae.lock().unwrap().push(r);
            Ok(r)
        })
    }
    fn lock<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<LockToken>>> {
        self.inner.lock(key, lease)
    }
    fn unlock<'a>(&'a self, key: &'a str, token: &'a LockToken) -> BoxFuture<'a, Result<bool>> {
        self.inner.unlock(key, token)
    }
}

/// Two instances share a store; B force-refreshes; A had read the old token just before. A's
/// call gets 40001, its compare-and-expire leaves B's token alone (false), A picks B's token up
/// without a fetch and the retry succeeds.
#[tokio::test]
async fn compare_and_expire_leaves_a_token_another_instance_stored() {
    let sandbox = sandbox().await;
    let shared: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let laggy = Arc::new(LaggyStore {
        inner: shared.clone(),
        stale: Mutex::new(None),
        cae: Mutex::new(Vec::new()),
    });
    let a = mp_builder(&sandbox)
        .token_store(laggy.clone())
        .build()
        .unwrap();
    let b = mp_builder(&sandbox)
        .token_store(shared.clone())
        .build()
        .unwrap();

    let t1 = a.access_token().await.unwrap();
    assert_eq!(b.access_token().await.unwrap(), t1, "shared store");
    let t2 = b.force_refresh_access_token().await.unwrap();
    assert_ne!(t1, t2);
    assert_eq!(calls(&sandbox, "getStableAccessToken"), 2);

    *laggy.stale.lock().unwrap() = Some(StoredToken {
        value: t1.clone(),
        expires_at: weixin_kit::mp::token::unix_now() + 7000,
    });
    a.service_card()
        .get_user_notify(&get_user_notify_request())
        .await
        .unwrap();
    assert_eq!(*laggy.cae.lock().unwrap(), vec![false]);
    assert_eq!(calls(&sandbox, "getStableAccessToken"), 2, "no fetch");
    assert_eq!(calls(&sandbox, "getUserNotify"), 2, "40001, then the retry");
    assert_eq!(a.access_token().await.unwrap(), t2);
    // A direct report of the stale token is ignored too.
    assert!(!a.invalidate_access_token(&t1).await.unwrap());
}

/// A server that always answers 40001: exactly one refresh and one retry, then the typed error.
#[tokio::test]
async fn always_40001_means_one_refresh_one_retry_then_the_error() {
    let sandbox = sandbox().await;
    let client = mp_client(&sandbox);
    client.access_token().await.unwrap();
    assert_eq!(calls(&sandbox, "getStableAccessToken"), 1);
    sandbox
        .mp()
        .add_errcode_fault("/wxa/set_user_notifyext", 40001, None, None);

    let e = mp_error(
        client
            .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
            .await,
    );
    assert_eq!(e.errcode, 40001);
    assert!(e.is_access_token_rejected());
    assert!(!e.retryable);
    assert!(e.solution.as_deref().unwrap().contains("access_token"));
    assert_eq!(
        calls(&sandbox, "setUserNotifyExt"),
        2,
        "the call and one retry"
    );
    assert_eq!(
        calls(&sandbox, "getStableAccessToken"),
        2,
        "exactly one refresh"
    );
    // The stable token was still valid, so the refresh returned it (nothing new issued).
    assert_eq!(counter(&sandbox, "stable_tokens_issued"), 1);
    assert_eq!(counter(&sandbox, "faults_injected"), 2);

    // The same bound with the plain /cgi-bin/token endpoint, where a refresh issues a new token.
    let sandbox = self::sandbox().await;
    let client = mp_builder(&sandbox)
        .token_endpoint(TokenEndpoint::Token)
        .build()
        .unwrap();
    client.access_token().await.unwrap();
    sandbox
        .mp()
        .add_errcode_fault("/wxa/set_user_notifyext", 42001, None, None);
    let e = mp_error(
        client
            .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
            .await,
    );
    assert_eq!(e.errcode, 42001);
    assert_eq!(calls(&sandbox, "setUserNotifyExt"), 2);
    assert_eq!(counter(&sandbox, "tokens_issued"), 2, "tokens issued +1");
}

/// Real expiry (42001 from the sandbox, no fault): one refresh, a new token, success.
#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_call_succeeds() {
    let sandbox = sandbox().await;
    let client = mp_client(&sandbox);
    let t1 = client.access_token().await.unwrap();
    sandbox.mp().expire_tokens();
    client
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap();
    assert_eq!(counter(&sandbox, "stable_tokens_issued"), 2);
    assert_eq!(calls(&sandbox, "setUserNotifyExt"), 2);
    assert_ne!(client.access_token().await.unwrap(), t1);
}

#[tokio::test]
async fn retryable_errcodes_are_retried_with_a_bound() {
    let sandbox = sandbox().await;
    let client = mp_client(&sandbox);
    client.access_token().await.unwrap();
    let path = "/wxa/set_user_notifyext";

    // 85431 twice, then success: three attempts.
    sandbox.mp().add_errcode_fault(path, 85431, Some(2), None);
    client
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap();
    assert_eq!(calls(&sandbox, "setUserNotifyExt"), 3);

    // -1 once, then success.
    sandbox.mp().add_errcode_fault(path, -1, Some(1), None);
    client
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap();
    assert_eq!(calls(&sandbox, "setUserNotifyExt"), 5);

    // 85431 for ever: three attempts (the policy's bound), then the typed, retryable error.
    sandbox.mp().add_errcode_fault(path, 85431, None, None);
    let e = mp_error(
        client
            .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
            .await,
    );
    assert_eq!(e.errcode, 85431);
    assert!(e.retryable);
    assert_eq!(calls(&sandbox, "setUserNotifyExt"), 8);
    sandbox.mp().clear_errcode_faults();

    // Not retryable: sent once.
    sandbox.mp().add_errcode_fault(path, 85436, Some(5), None);
    let e = mp_error(
        client
            .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
            .await,
    );
    assert_eq!(e.errcode, 85436);
    assert_eq!(calls(&sandbox, "setUserNotifyExt"), 9);
    assert_eq!(calls(&sandbox, "getStableAccessToken"), 1);
}

// ---------------------------------------------------------------------------------------------
// setUserNotifyExt

#[tokio::test]
async fn set_user_notify_ext_encodes_ext_json_as_the_documents_show() {
    let sandbox = sandbox().await;
    let client = mp_client(&sandbox);

    // Structured: the client does the nesting.
    let r = client
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap();
    assert_eq!(r.errcode.unwrap_or(0), 0);
    let received = sandbox.mp().received_ext_json(OPENID, CODE);
    assert_eq!(received.len(), 1);
    let outer: Value = serde_json::from_str(&received[0]).unwrap();
    let pay_info_str = outer["pay_info"]
        .as_str()
        .expect("pay_info is a JSON string");
    let store_info_str = outer["store_info"]
        .as_str()
        .expect("store_info is a JSON string");
    assert_eq!(
        serde_json::from_str::<Value>(pay_info_str).unwrap(),
        pay_info()["pay_info"]
    );
    assert_eq!(
        serde_json::from_str::<Value>(store_info_str).unwrap(),
        pay_info()["store_info"]
    );
    assert_eq!(
        sandbox.mp().notify_ext(OPENID, CODE).unwrap()["ext"],
        pay_info()
    );

    // Raw: sent exactly as given.
    let raw = ExtJson::from_value(pay_info()).unwrap().into_string();
    client
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, raw.as_str())
        .await
        .unwrap();
    // An ExtJson from a typed value.
    #[derive(serde::Serialize)]
    struct Ext {
        pay_info: PayInfo,
    }
    #[derive(serde::Serialize)]
    struct PayInfo {
        transaction_id: &'static str,
        pay_amount: u64,
        pay_time: u64,
    }
    let typed = ExtJson::from_serialize(&Ext {
        pay_info: PayInfo {
            transaction_id: CODE,
            pay_amount: 1,
            pay_time: 2,
        },
    })
    .unwrap();
    client
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, &typed)
        .await
        .unwrap();
    let received = sandbox.mp().received_ext_json(OPENID, CODE);
    assert_eq!(received.len(), 3);
    assert_eq!(received[1], raw);
    assert_eq!(received[2], typed.as_str());
    assert_eq!(
        weixin_kit::mp::ext_json::decode_nested(&received[2]).unwrap(),
        json!({"pay_info": {"transaction_id": CODE, "pay_amount": 1, "pay_time": 2}})
    );
    // Non-ASCII text arrives intact (UTF-8 end to end: 85471 cannot happen).
    assert!(received[0].contains("深圳市南山区南山大道18号"));
}

#[tokio::test]
async fn set_user_notify_ext_documented_errcodes() {
    let sandbox = sandbox().await;
    let client = mp_client(&sandbox);
    let mp = sandbox.mp();

    // The documented errcodes a request can provoke, each with the request that does.
    mp.register_notify_code(OPENID, NOTIFY_TYPE, "banned-code");
    assert!(mp.set_notify_code_banned(OPENID, "banned-code", true));
    let structured = |v: Value| ExtJson::from_value(v).unwrap();
    // (what, openid, notify_type, notify_code, ext_json, errcode, part of the solution)
    let cases = [
        (
            "an unknown openid",
            "oNobody",
            NOTIFY_TYPE,
            CODE,
            structured(pay_info()),
            40003,
            "OpenID",
        ),
        (
            "an unsupported notify_type",
            OPENID,
            9999,
            CODE,
            structured(pay_info()),
            85434,
            "",
        ),
        (
            "a banned code",
            OPENID,
            NOTIFY_TYPE,
            "banned-code",
            structured(pay_info()),
            85436,
            "",
        ),
        (
            "an object whose pay_info is not a JSON-encoded string (a raw string is sent as is)",
            OPENID,
            NOTIFY_TYPE,
            CODE,
            ExtJson::from_raw(r#"{"pay_info":{"pay_amount":1}}"#).unwrap(),
            85470,
            "",
        ),
        (
            "pay_info encoded but mis-shaped",
            OPENID,
            NOTIFY_TYPE,
            CODE,
            structured(json!({"pay_info": {"pay_amount": "lots"}})),
            85444,
            "",
        ),
    ];
    for (what, openid, notify_type, code, ext, errcode, solution_part) in cases {
        let e = mp_error(
            client
                .set_user_notify_ext(openid, notify_type, code, ext)
                .await,
        );
        assert_eq!(e.errcode, errcode, "{what}: {e}");
        let solution = e.solution.as_deref().unwrap_or_default();
        assert!(solution.contains(solution_part), "{what}: {solution}");
    }

    // 85437: a transaction id not verifiable yet — the error says to retry after a minute.
    mp.add_notify_code(weixin_kit_sandbox::mp::NotifyCodeRegistration {
        openid: OPENID.into(),
        notify_type: NOTIFY_TYPE,
        notify_code: "4200009999".into(),
        valid_after_secs: Some(60),
        ..Default::default()
    })
    .unwrap();
    let e = mp_error(
        client
            .set_user_notify_ext(OPENID, NOTIFY_TYPE, "4200009999", pay_info())
            .await,
    );
    assert_eq!(e.errcode, 85437);
    assert!(e.is_notify_code_not_ready());
    assert_eq!(
        e.retry_after(),
        Some(weixin_kit::mp::NOTIFY_CODE_RETRY_AFTER)
    );
    let text = Error::MiniProgram(e.clone()).to_string();
    assert!(text.contains("about 1 minute"), "{text}");
    assert!(text.contains("建议在1分钟后重试"), "{text}");
    // A minute later it works.
    mp.advance_clock(Duration::from_secs(61));
    client
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, "4200009999", pay_info())
        .await
        .unwrap();
    // 85437 for a code never registered, with the same explanation.
    let e = mp_error(
        client
            .set_user_notify_ext(OPENID, NOTIFY_TYPE, "no-such-code", pay_info())
            .await,
    );
    assert!(e.is_notify_code_not_ready());
    assert_eq!(
        e.retry_after(),
        Some(weixin_kit::mp::NOTIFY_CODE_RETRY_AFTER)
    );

    // A front-end code (notify_type 1003: the liveActivity button) has 5 minutes to be
    // activated: "retry in a minute" is not offered there (the guide's 1.4), the error says why.
    mp.add_notify_code(weixin_kit_sandbox::mp::NotifyCodeRegistration {
        openid: OPENID.into(),
        notify_type: 1003,
        notify_code: "frontend-code-1".into(),
        valid_after_secs: Some(60),
        ..Default::default()
    })
    .unwrap();
    let e = mp_error(
        client
            .set_user_notify_ext(OPENID, 1003, "frontend-code-1", serde_json::json!({}))
            .await,
    );
    assert_eq!(
        (e.errcode, e.retry_after(), e.retryable),
        (85437, None, false)
    );
    assert!(
        e.advice.as_deref().is_some_and(|a| a.contains("5 minutes")),
        "{e:?}"
    );
    // The same through the by-name path the bindings use.
    let by_name = client
        .call(
            "setUserNotifyExt",
            weixin_kit::dispatch::JsonArgs::new(
                serde_json::json!({"openid": OPENID, "notify_type": 1003, "notify_code": "frontend-code-1", "ext_json": {}})
                    .as_object()
                    .unwrap()
                    .clone(),
            ),
        )
        .await
        .unwrap_err();
    assert!(matches!(by_name, Error::MiniProgram(e) if e.retry_after.is_none()));

    // Not a JSON object at all: refused before sending (the sandbox would answer 85470).
    let before = calls(&sandbox, "setUserNotifyExt");
    for bad in [r#""just a string""#, "[1,2]", "not json"] {
        let e = client
            .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, bad)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::Validation { field, .. } if field == "ext_json"),
            "{e:?}"
        );
    }
    let e = client
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, json!([1]))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Validation { .. }), "{e:?}");
    assert_eq!(calls(&sandbox, "setUserNotifyExt"), before, "nothing sent");
}

// ---------------------------------------------------------------------------------------------
// Token sources

#[tokio::test]
async fn the_plain_token_endpoint() {
    let sandbox = sandbox().await;
    let client = mp_builder(&sandbox)
        .token_endpoint(TokenEndpoint::Token)
        .build()
        .unwrap();
    for _ in 0..3 {
        client
            .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
            .await
            .unwrap();
    }
    assert_eq!(counter(&sandbox, "tokens_issued"), 1);
    assert_eq!(counter(&sandbox, "stable_tokens_issued"), 0);
    assert_eq!(calls(&sandbox, "getAccessToken"), 1);
    assert_eq!(
        Some(client.access_token().await.unwrap().expose().to_owned()),
        sandbox.mp().current_access_token()
    );
    // A forced refresh is one more /cgi-bin/token.
    client.force_refresh_access_token().await.unwrap();
    assert_eq!(counter(&sandbox, "tokens_issued"), 2);
    client
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap();
    assert_eq!(calls(&sandbox, "setUserNotifyExt"), 4);
}

/// A central token service: hands out its current token; on invalidate of that token, moves on
/// to a fresh one it got elsewhere.
struct Central {
    tokens: Mutex<Vec<SecretString>>,
    asked: Mutex<u32>,
    invalidated: Mutex<Vec<SecretString>>,
}

impl TokenProvider for Central {
    fn token(&self) -> BoxFuture<'_, Result<SecretString>> {
        *self.asked.lock().unwrap() += 1;
        let t = self.tokens.lock().unwrap()[0].clone();
        Box::pin(async move { Ok(t) })
    }
    fn invalidate<'a>(&'a self, failed: &'a SecretString) -> BoxFuture<'a, Result<bool>> {
        self.invalidated.lock().unwrap().push(failed.clone());
        let mut tokens = self.tokens.lock().unwrap();
        let dropped = tokens.len() > 1 && &tokens[0] == failed;
        if dropped {
            tokens.remove(0);
        }
        Box::pin(async move { Ok(dropped) })
    }
}

#[tokio::test]
async fn an_external_token_provider() {
    let sandbox = sandbox().await;
    // The "central service" got a valid token from the sandbox; its first one is stale.
    let good = mp_client(&sandbox).access_token().await.unwrap();
    let stale = SecretString::new("90_stale_token_from_yesterday_0123456789");
    let central = Arc::new(Central {
        tokens: Mutex::new(vec![stale.clone(), good.clone()]),
        asked: Mutex::new(0),
        invalidated: Mutex::new(Vec::new()),
    });
    let creds = sandbox.credentials();
    // No secret needed with a provider.
    let client = MiniProgramClient::builder()
        .appid(creds.appid.clone())
        .base_url(sandbox.base_url())
        .token_provider(central.clone())
        .build()
        .unwrap();
    let before = calls(&sandbox, "getStableAccessToken");
    client
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap();
    assert_eq!(*central.invalidated.lock().unwrap(), vec![stale]);
    assert_eq!(*central.asked.lock().unwrap(), 2);
    assert_eq!(calls(&sandbox, "setUserNotifyExt"), 2);
    assert_eq!(
        calls(&sandbox, "getStableAccessToken"),
        before,
        "the client fetched nothing"
    );
    // Cards are the Official Account's: without it configured, cardExt says so (the
    // mini-program's token, the provider's here, cannot sign for a card).
    match client.card_ext("pCard1", None, None).await {
        Err(Error::Config { detail }) => assert!(detail.contains("card_appid"), "{detail}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
    // The client does not refresh tokens it does not own.
    assert!(matches!(
        client.force_refresh_access_token().await,
        Err(Error::Config { .. })
    ));
    // FixedToken, the simplest provider.
    let fixed = MiniProgramClient::builder()
        .appid(creds.appid.clone())
        .base_url(sandbox.base_url())
        .token_provider(Arc::new(weixin_kit::mp::FixedToken(good)))
        .build()
        .unwrap();
    fixed
        .service_card()
        .get_user_notify(&get_user_notify_request())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_memory_store_url_and_a_bad_one() {
    let sandbox = sandbox().await;
    let client = mp_builder(&sandbox)
        .token_store_url("memory://")
        .build()
        .unwrap();
    client.access_token().await.unwrap();
    let e = mp_builder(&sandbox)
        .token_store_url("mysql://root:hunter2@db/x")
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::Config { .. }));
    assert!(!e.to_string().contains("hunter2"));
    let e = MiniProgramClient::builder()
        .appid("wx1")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("secret"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// Cards

/// The wx_card ticket the sandbox holds, read with a plain HTTP call (not through the client's
/// cache; the sandbox returns its cached ticket without issuing a new one).
async fn sandbox_ticket(sandbox: &Sandbox, token: &SecretString) -> String {
    let url = format!(
        "{}/cgi-bin/ticket/getticket?access_token={}&type=wx_card",
        sandbox.base_url(),
        token.expose()
    );
    let text = reqwest::get(url).await.unwrap().text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["errcode"], 0, "{body}");
    body["ticket"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn card_ext_is_signed_with_the_cached_wx_card_ticket() {
    let sandbox = sandbox().await;
    let client = mp_client(&sandbox);
    let with_both = client
        .card_ext("pCard1", Some("oOpenid1"), Some("code-123"))
        .await
        .unwrap();
    let plain = client.card_ext("pCard1", None, None).await.unwrap();
    let with_code = client
        .card_ext("pCard2", None, Some("code-456"))
        .await
        .unwrap();
    // One ticket for every call.
    assert_eq!(counters(&sandbox)["tickets_issued_by_type"]["wx_card"], 1);
    assert_eq!(calls(&sandbox, "getTicket"), 1);

    // The card account's ticket, not the mini-program's.
    let ticket = sandbox_ticket(&sandbox, &client.card_account_access_token().await.unwrap()).await;
    assert_eq!(client.card_api_ticket().await.unwrap().expose(), ticket);
    for (item, card_id, code, openid) in [
        (&with_both, "pCard1", Some("code-123"), Some("oOpenid1")),
        (&plain, "pCard1", None, None),
        (&with_code, "pCard2", Some("code-456"), None),
    ] {
        assert_eq!(item.card_id, card_id);
        let ext: Value = serde_json::from_str(&item.card_ext).unwrap();
        assert!(ext.get("card_id").is_none(), "card_id is not in cardExt");
        assert_eq!(ext["code"].as_str(), code);
        assert_eq!(ext["openid"].as_str(), openid);
        let timestamp = ext["timestamp"].as_str().unwrap().parse().unwrap();
        let nonce = ext["nonce_str"].as_str().unwrap();
        assert_eq!(nonce.len(), 32);
        assert_eq!(
            ext["signature"].as_str().unwrap(),
            sign_card_ext(&ticket, card_id, timestamp, nonce, code, openid)
        );
    }
    // Builder extras pass through; the ticket is still cached.
    let item = client
        .card_ext_with(
            &CardExtBuilder::new("pCard3")
                .outer_str("channel-7")
                .fixed_begintimestamp(1_700_000_000),
        )
        .await
        .unwrap();
    let ext: Value = serde_json::from_str(&item.card_ext).unwrap();
    assert_eq!(ext["outer_str"], "channel-7");
    assert_eq!(ext["fixed_begintimestamp"], 1_700_000_000);
    assert_eq!(calls(&sandbox, "getTicket"), 2, "1 + the test's own read");
}

#[tokio::test]
async fn the_ticket_fetch_follows_the_one_refresh_rule() {
    let sandbox = sandbox().await;
    let client = mp_client(&sandbox);
    client.access_token().await.unwrap();
    sandbox
        .mp()
        .add_errcode_fault("/cgi-bin/ticket/getticket", 40001, Some(1), None);
    client.card_ext("pCard1", None, None).await.unwrap();
    assert_eq!(calls(&sandbox, "getTicket"), 2);
    // The mini-program's own token, then the card account's twice (the first was rejected).
    assert_eq!(calls(&sandbox, "getStableAccessToken"), 3);

    sandbox.mp().expire_tickets();
    sandbox
        .mp()
        .add_errcode_fault("/cgi-bin/ticket/getticket", 40001, None, None);
    // The cached ticket is still used: no call.
    client.card_ext("pCard1", None, None).await.unwrap();
    assert_eq!(calls(&sandbox, "getTicket"), 2);
}

#[tokio::test]
async fn decrypt_card_code_round_trip() {
    let sandbox = sandbox().await;
    let client = mp_client(&sandbox);
    let encrypted = sandbox.mp().encrypt_card_code("pCard1", "110201201245");
    assert_eq!(
        client.decrypt_card_code(&encrypted).await.unwrap(),
        "110201201245"
    );
    let e = mp_error(client.decrypt_card_code("bm90LWEtY29kZQ==").await);
    assert_eq!(e.errcode, 40056);
}

// ---------------------------------------------------------------------------------------------
// Secrets

#[tokio::test]
async fn secrets_stay_out_of_debug_output_and_errors() {
    let sandbox = sandbox().await;
    let secret = sandbox.credentials().app_secret.expose().to_owned();
    let client = mp_client(&sandbox);
    let token = client.access_token().await.unwrap();
    let ticket = client.card_api_ticket().await.unwrap();
    let debug = format!("{client:?} {:?}", mp_builder(&sandbox));
    for s in [&secret, token.expose(), ticket.expose()] {
        assert!(!debug.contains(s), "{debug}");
    }
    assert!(debug.contains("<redacted>"));

    // A wrong secret: the error names the problem, not the secret.
    let wrong = mp_builder(&sandbox)
        .secret("wrong-secret-value-123")
        .build()
        .unwrap();
    let e = wrong.access_token().await.unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(
        matches!(&e, Error::MiniProgram(m) if m.errcode == 40125),
        "{text}"
    );
    assert!(!text.contains("wrong-secret-value-123"));

    // A transport failure on an access-token call: the query (with the token) is not in it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let down = MiniProgramClient::builder()
        .appid("wx1")
        .base_url(dead)
        .retry(RetryPolicy::none())
        .token_provider(Arc::new(weixin_kit::mp::FixedToken(token.clone())))
        .build()
        .unwrap();
    let e = down
        .service_card()
        .get_user_notify(&get_user_notify_request())
        .await
        .unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(matches!(e, Error::Transport { .. }), "{text}");
    assert!(!text.contains(token.expose()), "{text}");
    assert!(!text.contains("access_token="), "{text}");
}

/// A provider whose store is down: hands out its token, but cannot expire it.
struct StoreDown(SecretString);

impl TokenProvider for StoreDown {
    fn token(&self) -> BoxFuture<'_, Result<SecretString>> {
        let t = self.0.clone();
        Box::pin(async move { Ok(t) })
    }
    fn invalidate<'a>(&'a self, _failed: &'a SecretString) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async {
            Err(Error::Transport {
                may_have_been_applied: false,
                detail: "token store (Redis): connection refused".into(),
            })
        })
    }
}

#[tokio::test]
async fn a_rejected_token_that_cannot_be_replaced_is_not_sent_again() {
    let sandbox = sandbox().await;
    let creds = sandbox.credentials();
    let stale = SecretString::new("90_stale_fixed_token_0123456789");

    // FixedToken: invalidate does nothing and the same token comes back: no second send.
    let fixed = MiniProgramClient::builder()
        .appid(creds.appid.clone())
        .base_url(sandbox.base_url())
        .retry(fast_retry())
        .token_provider(Arc::new(weixin_kit::mp::FixedToken(stale.clone())))
        .build()
        .unwrap();
    let e = mp_error(
        fixed
            .service_card()
            .get_user_notify(&get_user_notify_request())
            .await,
    );
    assert_eq!(e.errcode, 40001);
    assert_eq!(calls(&sandbox, "getUserNotify"), 1);

    // The store cannot expire the token: the 40001 stands (not the store's transport error),
    // with the failure noted, and nothing is sent again.
    let down = MiniProgramClient::builder()
        .appid(creds.appid.clone())
        .base_url(sandbox.base_url())
        .retry(fast_retry())
        .token_provider(Arc::new(StoreDown(stale)))
        .build()
        .unwrap();
    let e = mp_error(
        down.service_card()
            .get_user_notify(&get_user_notify_request())
            .await,
    );
    assert_eq!(e.errcode, 40001);
    let solution = e.solution.unwrap_or_default();
    assert!(
        solution.contains("could not be expired") && solution.contains("connection refused"),
        "{solution}"
    );
    assert_eq!(calls(&sandbox, "getUserNotify"), 2);
}

/// WeChat renews a stable token during its last 5 minutes and keeps the old one valid until it
/// expires (`expires_in` never below 300); the client refreshes 5 minutes early. Over 2 h 10 min
/// of (sandbox and client) clock, a call every 30 s: exactly 2 token fetches, and never a
/// rejected token (each call is sent once — a 40001/42001 would have been retried).
#[tokio::test]
async fn two_hours_ten_minutes_of_calls_fetch_the_token_twice_and_never_see_it_rejected() {
    use std::sync::atomic::{AtomicI64, Ordering};
    let sandbox = sandbox().await;
    let offset = Arc::new(AtomicI64::new(0));
    let clock_offset = offset.clone();
    let client = mp_builder(&sandbox)
        .token_config(weixin_kit::mp::TokenConfig {
            clock: weixin_kit::mp::Clock::from_fn(move || {
                weixin_kit::time::unix_now() + clock_offset.load(Ordering::SeqCst)
            }),
            ..Default::default()
        })
        .build()
        .unwrap();
    let (openid, code) = ("oClock", "4200001855202305090061234567");
    sandbox.mp().register_notify_code(openid, 2001, code);
    let before = calls(&sandbox, "getUserNotify");
    let steps = (2 * 3600 + 10 * 60) / 30;
    for _ in 0..steps {
        client
            .service_card()
            .get_user_notify(&weixin_kit::mp::GetUserNotifyRequest {
                openid: openid.into(),
                notify_type: 2001,
                notify_code: code.into(),
            })
            .await
            .unwrap();
        sandbox.mp().advance_clock(Duration::from_secs(30));
        offset.fetch_add(30, Ordering::SeqCst);
    }
    assert_eq!(calls(&sandbox, "getUserNotify") - before, steps as u64);
    assert_eq!(counter(&sandbox, "stable_tokens_issued"), 2);
}
