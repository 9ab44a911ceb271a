//! The chain over a [`MemoryStore`] and a fake [`ComponentApi`] that records every call.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::*;
use crate::mp::token::{LockToken, MemoryStore};
use crate::MiniProgramError;

const C: &str = "wxcomponent00000001";
const A: &str = "wxauthorizer0000001";

#[derive(Default)]
struct FakeApi {
    /// Tickets `component_access_token` was called with.
    tickets: Mutex<Vec<String>>,
    /// `(appid, refresh token)` of every refresh.
    refreshes: Mutex<Vec<(String, String)>>,
    /// Codes queried.
    codes: Mutex<Vec<String>>,
    /// Refresh tokens the server still accepts, per appid (61023 for any other).
    valid_refresh: Mutex<HashMap<String, String>>,
    /// Rotate the refresh token on the next refresh.
    rotate: AtomicBool,
    counter: AtomicUsize,
}

impl FakeApi {
    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn refreshes(&self) -> Vec<(String, String)> {
        self.refreshes.lock().unwrap().clone()
    }
}

fn refused() -> Error {
    MiniProgramError {
        errcode: REFRESH_TOKEN_INVALID,
        errmsg: "refresh_token is invalid".into(),
        solution: None,
        advice: None,
        retryable: false,
        retry_after: None,
    }
    .into()
}

impl ComponentApi for FakeApi {
    fn component_access_token<'a>(
        &'a self,
        verify_ticket: &'a SecretString,
    ) -> BoxFuture<'a, Result<(SecretString, i64)>> {
        Box::pin(async move {
            self.tickets
                .lock()
                .unwrap()
                .push(verify_ticket.expose().to_owned());
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok((format!("ctoken-{}", self.next()).into(), 7200))
        })
    }

    fn query_auth<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<QueriedAuthorization>> {
        Box::pin(async move {
            self.codes.lock().unwrap().push(code.to_owned());
            let appid = code.strip_prefix("code-").unwrap_or(A).to_owned();
            let n = self.next();
            let refresh = format!("refresh-{n}");
            self.valid_refresh
                .lock()
                .unwrap()
                .insert(appid.clone(), refresh.clone());
            Ok(QueriedAuthorization {
                authorizer_appid: appid,
                authorizer_access_token: format!("atoken-{n}").into(),
                expires_in: 7200,
                authorizer_refresh_token: refresh.into(),
                func_info: vec![1, 18],
            })
        })
    }

    fn authorizer_token<'a>(
        &'a self,
        appid: &'a str,
        refresh_token: &'a SecretString,
    ) -> BoxFuture<'a, Result<RefreshedAuthorizerToken>> {
        Box::pin(async move {
            self.refreshes
                .lock()
                .unwrap()
                .push((appid.to_owned(), refresh_token.expose().to_owned()));
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut valid = self.valid_refresh.lock().unwrap();
            if valid.get(appid).map(String::as_str) != Some(refresh_token.expose()) {
                return Err(refused());
            }
            let n = self.next();
            let refresh = if self.rotate.swap(false, Ordering::SeqCst) {
                let new = format!("refresh-{n}");
                valid.insert(appid.to_owned(), new.clone());
                new
            } else {
                refresh_token.expose().to_owned()
            };
            Ok(RefreshedAuthorizerToken {
                authorizer_access_token: format!("atoken-{n}").into(),
                expires_in: 7200,
                authorizer_refresh_token: Some(refresh.into()),
            })
        })
    }
}

fn chain_over(store: Arc<dyn TokenStore>) -> (Arc<ComponentTokens>, Arc<FakeApi>) {
    let api = Arc::new(FakeApi::default());
    let config = TokenConfig {
        poll_interval: Duration::from_millis(5),
        ..TokenConfig::default()
    };
    (ComponentTokens::new(C, store, api.clone(), config), api)
}

fn chain() -> (Arc<ComponentTokens>, Arc<FakeApi>) {
    chain_over(Arc::new(MemoryStore::new()))
}

async fn stored(tokens: &ComponentTokens, key: &str) -> Option<String> {
    tokens
        .store()
        .get(key)
        .await
        .unwrap()
        .map(|t| t.value.expose().to_owned())
}

fn refresh_key() -> String {
    keys::authorizer_refresh_token(C, A)
}

fn access_key() -> String {
    keys::authorizer_access_token(C, A)
}

fn assert_not_authorized(e: Error) -> String {
    let Error::NotAuthorized {
        authorizer_appid,
        detail,
    } = &e
    else {
        panic!("expected NotAuthorized, got {e:?}");
    };
    assert_eq!(authorizer_appid, A);
    assert!(e.to_string().contains("must authorize"), "{e}");
    detail.clone()
}

#[test]
fn keys_are_under_the_component_appid() {
    assert_eq!(
        keys::component_verify_ticket(C),
        "weixin-kit:component:wxcomponent00000001:verify_ticket"
    );
    assert_eq!(
        keys::authorizer_refresh_token(C, A),
        "weixin-kit:component:wxcomponent00000001:authorizer:wxauthorizer0000001:refresh_token"
    );
}

#[tokio::test]
async fn a_newer_ticket_wins_and_an_older_replay_never_overwrites() {
    let (tokens, _) = chain();
    let key = keys::component_verify_ticket(C);
    let now = crate::time::unix_now();
    assert!(tokens
        .store_verify_ticket("t-100".into(), now - 100)
        .await
        .unwrap());
    assert!(tokens
        .store_verify_ticket("t-50".into(), now - 50)
        .await
        .unwrap());
    assert!(!tokens
        .store_verify_ticket("t-old".into(), now - 600)
        .await
        .unwrap());
    assert!(!tokens
        .store_verify_ticket("t-same".into(), now - 50)
        .await
        .unwrap());
    let t = tokens.store().get(&key).await.unwrap().unwrap();
    assert_eq!(t.value.expose(), "t-50");
    assert_eq!(t.expires_at, now - 50 + 12 * 3600);
    // The lock was released.
    let lock = tokens
        .store()
        .lock(&keys::lock(&key), Duration::from_secs(1))
        .await;
    assert!(lock.unwrap().is_some());
}

#[tokio::test]
async fn no_ticket_is_a_config_error_and_nothing_is_requested() {
    let (tokens, api) = chain();
    let e = tokens.component_access_token().await.unwrap_err();
    let Error::Config { detail } = &e else {
        panic!("{e:?}")
    };
    assert!(
        detail.contains("no component_verify_ticket has been received"),
        "{detail}"
    );
    assert!(api.tickets.lock().unwrap().is_empty());
    // A ticket older than 12 h is refused the same way.
    let old = crate::time::unix_now() - 13 * 3600;
    tokens
        .store_verify_ticket("stale".into(), old)
        .await
        .unwrap();
    let e = tokens.component_access_token().await.unwrap_err();
    assert!(e.to_string().contains("more than 12 hours old"), "{e}");
    assert!(api.tickets.lock().unwrap().is_empty());
}

#[tokio::test]
async fn one_component_token_fetch_for_many_callers_with_the_latest_ticket() {
    let (tokens, api) = chain();
    let now = crate::time::unix_now();
    tokens
        .store_verify_ticket("t1".into(), now - 700)
        .await
        .unwrap();
    tokens
        .store_verify_ticket("t2".into(), now - 100)
        .await
        .unwrap();
    let calls = (0..30).map(|_| tokens.component_access_token());
    let got = futures_join_all(calls).await;
    assert!(got
        .iter()
        .all(|t| t.as_ref().unwrap().expose() == "ctoken-1"));
    assert_eq!(*api.tickets.lock().unwrap(), vec!["t2".to_owned()]);
}

#[tokio::test]
async fn authorize_stores_both_tokens_and_returns_none() {
    let (tokens, api) = chain();
    let auth = tokens.authorize(&format!("code-{A}")).await.unwrap();
    assert_eq!(
        auth,
        Authorization {
            authorizer_appid: A.into(),
            func_info: vec![1, 18],
            expires_in: 7200
        }
    );
    let json = serde_json::to_string(&auth).unwrap();
    assert!(
        !json.contains("token-") && !json.contains("refresh-"),
        "{json}"
    );
    assert_eq!(
        stored(&tokens, &refresh_key()).await.as_deref(),
        Some("refresh-1")
    );
    assert_eq!(
        stored(&tokens, &access_key()).await.as_deref(),
        Some("atoken-1")
    );
    // Served from the store: no refresh.
    let t = tokens.authorizer_access_token(A).await.unwrap();
    assert_eq!(t.expose(), "atoken-1");
    assert!(api.refreshes().is_empty());
    assert!(tokens.authorize("  ").await.is_err());
    assert_eq!(api.codes.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn many_callers_one_refresh_per_authorizer() {
    let (tokens, api) = chain();
    let appids: Vec<String> = (0..5).map(|i| format!("wxauth{i:013}")).collect();
    for a in &appids {
        tokens.authorize(&format!("code-{a}")).await.unwrap();
        // Expired: the next call refreshes.
        let key = keys::authorizer_access_token(C, a);
        let t = tokens.store().get(&key).await.unwrap().unwrap();
        tokens
            .store()
            .compare_and_expire(&key, t.value.expose())
            .await
            .unwrap();
    }
    let calls = appids
        .iter()
        .flat_map(|a| (0..20).map(move |_| a.clone()))
        .map(|a| {
            let tokens = tokens.clone();
            async move { tokens.authorizer_access_token(&a).await }
        });
    for r in futures_join_all(calls).await {
        r.unwrap();
    }
    let refreshes = api.refreshes();
    assert_eq!(refreshes.len(), appids.len(), "{refreshes:?}");
    for a in &appids {
        assert_eq!(refreshes.iter().filter(|(x, _)| x == a).count(), 1);
    }
}

#[tokio::test]
async fn a_rotated_refresh_token_is_persisted_and_the_old_one_never_reused() {
    let (tokens, api) = chain();
    tokens.authorize(&format!("code-{A}")).await.unwrap();
    for round in 0..3 {
        api.rotate.store(round == 0, Ordering::SeqCst);
        let current = tokens
            .authorizer_manager(A)
            .unwrap()
            .get_token()
            .await
            .unwrap();
        tokens
            .authorizer_manager(A)
            .unwrap()
            .invalidate_if_current(&current)
            .await
            .unwrap();
        tokens.authorizer_access_token(A).await.unwrap();
    }
    let used: Vec<String> = api.refreshes().into_iter().map(|(_, r)| r).collect();
    // The first refresh used the authorized one and got a new one; the later ones the new one.
    assert_eq!(used[0], "refresh-1");
    assert!(
        used[1..].iter().all(|r| *r == used[1] && r != "refresh-1"),
        "{used:?}"
    );
    assert_eq!(stored(&tokens, &refresh_key()).await, Some(used[1].clone()));
    let t = tokens.store().get(&refresh_key()).await.unwrap().unwrap();
    assert!(t.expires_at > crate::time::unix_now() + 10 * 365 * 24 * 3600);
}

/// A store that refuses fenced writes of the refresh token: the lock was lost. With
/// `replaced_meanwhile`, another refresh token is stored just before (someone else wrote one).
struct LosesRefreshWrites(MemoryStore, AtomicBool);

impl TokenStore for LosesRefreshWrites {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<StoredToken>>> {
        self.0.get(key)
    }
    fn set<'a>(&'a self, key: &'a str, token: &'a StoredToken) -> BoxFuture<'a, Result<()>> {
        self.0.set(key, token)
    }
    fn set_locked<'a>(
        &'a self,
        key: &'a str,
        token: &'a StoredToken,
        lock_key: &'a str,
        lock: &'a LockToken,
    ) -> BoxFuture<'a, Result<bool>> {
        if key.ends_with(":refresh_token") {
            return Box::pin(async move {
                if self.1.load(Ordering::SeqCst) {
                    let other = StoredToken {
                        value: "refresh-other".into(),
                        expires_at: i64::MAX / 2,
                    };
                    self.0.set(key, &other).await?;
                }
                Ok(false)
            });
        }
        self.0.set_locked(key, token, lock_key, lock)
    }
    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: &'a str,
        token: &'a StoredToken,
    ) -> BoxFuture<'a, Result<bool>> {
        self.0.compare_and_set(key, expected, token)
    }
    fn compare_and_expire<'a>(&'a self, key: &'a str, v: &'a str) -> BoxFuture<'a, Result<bool>> {
        self.0.compare_and_expire(key, v)
    }
    fn lock<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Option<LockToken>>> {
        self.0.lock(key, lease)
    }
    fn unlock<'a>(&'a self, key: &'a str, token: &'a LockToken) -> BoxFuture<'a, Result<bool>> {
        self.0.unlock(key, token)
    }
}

/// A chain over [`LosesRefreshWrites`] whose authorizer holds `refresh-0`, rotating on the next
/// refresh.
async fn losing_refresh_writes(
    replaced_meanwhile: bool,
) -> (Arc<ComponentTokens>, Arc<FakeApi>, Arc<LosesRefreshWrites>) {
    let store = Arc::new(LosesRefreshWrites(
        MemoryStore::new(),
        AtomicBool::new(replaced_meanwhile),
    ));
    let (tokens, api) = chain_over(store.clone());
    api.valid_refresh
        .lock()
        .unwrap()
        .insert(A.into(), "refresh-0".into());
    store
        .set(
            &refresh_key(),
            &StoredToken {
                value: "refresh-0".into(),
                expires_at: i64::MAX / 2,
            },
        )
        .await
        .unwrap();
    api.rotate.store(true, Ordering::SeqCst);
    (tokens, api, store)
}

#[tokio::test]
async fn a_rotated_refresh_token_is_kept_when_the_lock_ran_out_but_nothing_replaced_the_old_one() {
    let (tokens, api, _store) = losing_refresh_writes(false).await;
    let t = tokens.authorizer_access_token(A).await.unwrap();
    assert_eq!(api.refreshes().len(), 1);
    // WeChat made refresh-0 invalid; the rotated one is the stored one, and the access token
    // that came with it is in use.
    let rotated = api.valid_refresh.lock().unwrap()[A].clone();
    assert_ne!(rotated, "refresh-0");
    assert_eq!(stored(&tokens, &refresh_key()).await, Some(rotated));
    assert_eq!(
        stored(&tokens, &access_key()).await.as_deref(),
        Some(t.expose())
    );
}

#[tokio::test]
async fn the_access_token_is_not_used_when_its_rotated_refresh_token_could_not_be_stored() {
    let (tokens, api, _store) = losing_refresh_writes(true).await;
    let e = tokens.authorizer_access_token(A).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    assert_eq!(api.refreshes().len(), 1);
    assert_eq!(stored(&tokens, &access_key()).await, None);
    // What another writer stored is left alone.
    assert_eq!(
        stored(&tokens, &refresh_key()).await.as_deref(),
        Some("refresh-other")
    );
}

#[tokio::test]
async fn refused_refresh_token_clears_the_authorizer_and_stops_refreshing() {
    let (tokens, api) = chain();
    tokens.authorize(&format!("code-{A}")).await.unwrap();
    // Revoked on WeChat's side.
    api.valid_refresh.lock().unwrap().clear();
    let manager = tokens.authorizer_manager(A).unwrap();
    let current = manager.get_token().await.unwrap();
    manager.invalidate_if_current(&current).await.unwrap();
    let detail = assert_not_authorized(tokens.authorizer_access_token(A).await.unwrap_err());
    assert!(detail.contains("61023"), "{detail}");
    assert_eq!(stored(&tokens, &refresh_key()).await, None);
    assert_eq!(stored(&tokens, &access_key()).await, None);
    assert_eq!(api.refreshes().len(), 1);
    for _ in 0..3 {
        assert_not_authorized(tokens.authorizer_access_token(A).await.unwrap_err());
    }
    assert_eq!(api.refreshes().len(), 1, "no further refresh requests");
}

#[tokio::test]
async fn never_authorized_is_not_authorized_without_a_request() {
    let (tokens, api) = chain();
    let detail = assert_not_authorized(tokens.authorizer_access_token(A).await.unwrap_err());
    assert!(
        detail.contains("no authorizer_refresh_token is stored"),
        "{detail}"
    );
    assert!(api.refreshes().is_empty());
}

#[tokio::test]
async fn forget_clears_both_tokens() {
    let (tokens, api) = chain();
    tokens.authorize(&format!("code-{A}")).await.unwrap();
    let manager = tokens.authorizer_manager(A).unwrap();
    manager.get_token().await.unwrap();
    tokens.forget(A).await.unwrap();
    assert_eq!(stored(&tokens, &refresh_key()).await, None);
    assert_eq!(stored(&tokens, &access_key()).await, None);
    // Even the manager a client still holds has no token left to serve.
    assert_not_authorized(manager.get_token().await.unwrap_err());
    assert_not_authorized(tokens.authorizer_access_token(A).await.unwrap_err());
    assert!(api.refreshes().is_empty());
    // A new authorization works again.
    tokens.authorize(&format!("code-{A}")).await.unwrap();
    tokens.authorizer_access_token(A).await.unwrap();
}

#[tokio::test]
async fn appids_are_checked_before_they_reach_a_key() {
    let (tokens, api) = chain();
    for bad in ["", "wx:evil", "wx evil", &"w".repeat(65)] {
        let e = tokens.authorizer_access_token(bad).await.unwrap_err();
        let Error::Validation { field, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(field, "authorizer_appid");
    }
    assert!(api.refreshes().is_empty());
}

#[tokio::test]
async fn debug_shows_no_secret() {
    let (tokens, _) = chain();
    tokens.authorize(&format!("code-{A}")).await.unwrap();
    let text = format!("{tokens:?} {:?}", tokens.authorizer_manager(A).unwrap());
    assert!(
        !text.contains("refresh-") && !text.contains("atoken-"),
        "{text}"
    );
    assert!(text.contains(C), "{text}");
}

/// `join_all` without a dependency: every future polled on the current task.
async fn futures_join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out = Vec::with_capacity(handles.len());
    let mut pending: Vec<_> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = (0..pending.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.extend(
        results
            .into_iter()
            .map(|r| r.expect("every future completed")),
    );
    out
}
