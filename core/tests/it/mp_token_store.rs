//! The token store under faults: corrupt entries, a lock holder past its lease, a cancelled
//! refresh, Redis paused, killed and restarted — against the in-memory store and a real
//! `redis-server` ([`crate::common::redis_server`]).
#![cfg(feature = "redis")]

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weixin_kit::mp::token::{keys, unix_now, Clock, MAX_TOKEN_LIFETIME_SECS};
use weixin_kit::mp::{MemoryStore, RedisStore, StoredToken, TokenConfig, TokenManager, TokenStore};
use weixin_kit::{Error, SecretString};

use crate::common::redis_server::{redis_conn, RedisServer};

/// A manager whose fetch returns `token-N` (N counts the fetches) valid for 7200 s.
fn manager(key: &str, store: Arc<dyn TokenStore>, fetches: Arc<AtomicUsize>) -> TokenManager {
    TokenManager::new(key, store, move || {
        let n = fetches.fetch_add(1, Ordering::SeqCst) + 1;
        async move { Ok((SecretString::new(format!("token-{n}")), 7200)) }
    })
    .with_config(TokenConfig {
        poll_interval: Duration::from_millis(10),
        ..TokenConfig::default()
    })
}

async fn both_stores(server: &RedisServer) -> Vec<(&'static str, Arc<dyn TokenStore>)> {
    vec![
        (
            "memory",
            Arc::new(MemoryStore::new()) as Arc<dyn TokenStore>,
        ),
        (
            "redis",
            Arc::new(RedisStore::connect(&server.url()).await.unwrap()),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Corrupt entries

/// What a damaged or hand-edited Redis entry may hold: each is treated as absent (one fetch,
/// whose token then replaces it), never a panic, an error, or "fresh forever".
#[tokio::test]
async fn corrupt_redis_entries_are_treated_as_absent() {
    let server = RedisServer::start();
    let store: Arc<dyn TokenStore> = Arc::new(RedisStore::connect(&server.url()).await.unwrap());
    let mut conn = redis_conn(&server.url()).await;
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "non-numeric expires_at",
            &[("value", "bad"), ("expires_at", "soon")],
        ),
        (
            "negative expires_at",
            &[("value", "bad"), ("expires_at", "-5")],
        ),
        // i64::MIN: `expires_at - margin` overflowed (a panic in debug builds).
        (
            "i64::MIN expires_at",
            &[("value", "bad"), ("expires_at", "-9223372036854775808")],
        ),
        // i64::MAX: fresh forever.
        (
            "i64::MAX expires_at",
            &[("value", "bad"), ("expires_at", "9223372036854775807")],
        ),
        // Out of i64's range.
        (
            "huge expires_at",
            &[("value", "bad"), ("expires_at", "99999999999999999999999")],
        ),
        // Ten years ahead: no credential lives that long.
        (
            "absurd expires_at",
            &[("value", "bad"), ("expires_at", "2100000000")],
        ),
        ("missing expires_at", &[("value", "bad")]),
        ("missing value", &[("expires_at", "2000000000")]),
        (
            "empty value",
            &[("value", ""), ("expires_at", "2000000000")],
        ),
    ];
    for (i, (case, fields)) in cases.iter().enumerate() {
        let key = keys::access_token(&format!("wxcorrupt{i}"));
        let mut cmd = redis::cmd("HSET");
        cmd.arg(&key);
        for (f, v) in *fields {
            cmd.arg(*f).arg(*v);
        }
        let _: i64 = cmd.query_async(&mut conn).await.unwrap();
        let fetches = Arc::new(AtomicUsize::new(0));
        let m = manager(&key, store.clone(), fetches.clone());
        let token = m
            .get_token()
            .await
            .unwrap_or_else(|e| panic!("{case}: {e:?}"));
        assert_eq!(token.expose(), "token-1", "{case}");
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "{case}");
        // Overwritten: the next call reads the fetched token back, without a fetch.
        let stored = store.get(&key).await.unwrap().unwrap();
        assert_eq!(stored.value.expose(), "token-1", "{case}");
        assert_eq!(m.get_token().await.unwrap().expose(), "token-1", "{case}");
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "{case}");
    }

    // Something that is not a hash at all under the key (WRONGTYPE).
    let key = keys::access_token("wxcorrupt-string");
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("{not a hash")
        .query_async(&mut conn)
        .await
        .unwrap();
    let fetches = Arc::new(AtomicUsize::new(0));
    let m = manager(&key, store.clone(), fetches.clone());
    assert_eq!(m.get_token().await.unwrap().expose(), "token-1");
    assert_eq!(
        store.get(&key).await.unwrap().unwrap().value.expose(),
        "token-1"
    );
}

/// The same through the trait (any store): extreme `expires_at` values are absent, not a
/// panic and not fresh forever.
#[tokio::test]
async fn extreme_expiries_in_any_store_are_treated_as_absent() {
    for expires_at in [
        i64::MIN,
        -1,
        i64::MAX,
        unix_now() + MAX_TOKEN_LIFETIME_SECS + 3600,
    ] {
        let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
        let key = keys::access_token("wxextreme");
        store
            .set(
                &key,
                &StoredToken {
                    value: SecretString::new("bad"),
                    expires_at,
                },
            )
            .await
            .unwrap();
        let fetches = Arc::new(AtomicUsize::new(0));
        let m = manager(&key, store.clone(), fetches.clone());
        assert_eq!(
            m.get_token().await.unwrap().expose(),
            "token-1",
            "{expires_at}"
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "{expires_at}");
    }
}

/// A fetch answering an absurd `expires_in` is stored with at most the longest lifetime, so the
/// manager does not reject its own entry (and it is not fresh forever either).
#[tokio::test]
async fn an_absurd_expires_in_is_capped() {
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let key = keys::access_token("wxlong");
    let fetches = Arc::new(AtomicUsize::new(0));
    let f = fetches.clone();
    let m = TokenManager::new(key.clone(), store.clone(), move || {
        f.fetch_add(1, Ordering::SeqCst);
        async { Ok((SecretString::new("long"), i64::MAX)) }
    });
    assert_eq!(m.get_token().await.unwrap().expose(), "long");
    assert_eq!(m.get_token().await.unwrap().expose(), "long");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let stored = store.get(&key).await.unwrap().unwrap();
    assert!(
        stored.expires_at <= unix_now() + MAX_TOKEN_LIFETIME_SECS + 300,
        "{}",
        stored.expires_at
    );
}

// ---------------------------------------------------------------------------------------------
// The lock fences the write

/// A holder whose lease ran out writes nothing: the token of the caller that took the lock
/// after it stays.
#[tokio::test]
async fn a_holder_past_its_lease_cannot_overwrite_the_newer_token() {
    let server = RedisServer::start();
    for (name, store) in both_stores(&server).await {
        let key = keys::access_token("wxfence");
        let lock_key = keys::lock(&key);
        let token = |v: &str| StoredToken {
            value: SecretString::new(v),
            expires_at: unix_now() + 7200,
        };
        let stalled = store
            .lock(&lock_key, Duration::from_millis(100))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        let newer = store
            .lock(&lock_key, Duration::from_secs(10))
            .await
            .unwrap()
            .expect("the stalled holder's lease is over");
        assert!(store
            .set_locked(&key, &token("newer"), &lock_key, &newer)
            .await
            .unwrap());
        let wrote = store
            .set_locked(&key, &token("stale"), &lock_key, &stalled)
            .await
            .unwrap();
        assert!(!wrote, "{name}: the stalled holder wrote");
        let stored = store.get(&key).await.unwrap().unwrap();
        assert_eq!(stored.value.expose(), "newer", "{name}");
        // Without any lock, nothing is written either.
        assert!(store.unlock(&lock_key, &newer).await.unwrap());
        assert!(!store
            .set_locked(&key, &token("unlocked"), &lock_key, &newer)
            .await
            .unwrap());
        assert_eq!(
            store.get(&key).await.unwrap().unwrap().value.expose(),
            "newer"
        );
    }
}

/// Compare-and-set writes only over the value it expects: never over another value, never
/// into an absent entry; the write keeps its expiry (Redis: the key's own expiry too).
#[tokio::test]
async fn compare_and_set_writes_only_over_the_expected_value() {
    let server = RedisServer::start();
    for (name, store) in both_stores(&server).await {
        let key = keys::authorizer_refresh_token("wxcomponentcas", "wxauthorizercas");
        let token = |v: &str| StoredToken {
            value: SecretString::new(v),
            expires_at: unix_now() + 3600,
        };
        assert!(
            !store
                .compare_and_set(&key, "old", &token("new"))
                .await
                .unwrap(),
            "{name}: wrote into an absent entry"
        );
        assert_eq!(store.get(&key).await.unwrap(), None, "{name}");
        store.set(&key, &token("old")).await.unwrap();
        assert!(
            !store
                .compare_and_set(&key, "other", &token("new"))
                .await
                .unwrap(),
            "{name}: wrote over a value it did not expect"
        );
        assert_eq!(
            store.get(&key).await.unwrap().unwrap().value.expose(),
            "old"
        );
        let new = token("new");
        assert!(
            store.compare_and_set(&key, "old", &new).await.unwrap(),
            "{name}"
        );
        assert_eq!(store.get(&key).await.unwrap(), Some(new.clone()), "{name}");
        // The old value no longer matches.
        assert!(!store
            .compare_and_set(&key, "old", &token("again"))
            .await
            .unwrap());
        assert_eq!(
            store.get(&key).await.unwrap().unwrap().value.expose(),
            "new"
        );
    }
    let ttl: i64 = redis::cmd("TTL")
        .arg(keys::authorizer_refresh_token(
            "wxcomponentcas",
            "wxauthorizercas",
        ))
        .query_async(&mut redis_conn(&server.url()).await)
        .await
        .unwrap();
    assert!(
        (3500..=3600).contains(&ttl),
        "the key expires with the token: {ttl}"
    );
}

/// A caller cancelled while it holds the lock (its future dropped mid-fetch) frees the lock at
/// once: another instance fetches without waiting out the (long) lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_refresh_releases_the_lock() {
    let server = RedisServer::start();
    for (name, store) in both_stores(&server).await {
        let key = keys::access_token("wxcancel");
        let config = TokenConfig {
            lock_lease: Duration::from_secs(30),
            wait_timeout: Duration::from_secs(3),
            poll_interval: Duration::from_millis(10),
            ..TokenConfig::default()
        };
        let stuck = TokenManager::new(key.clone(), store.clone(), || async {
            std::future::pending::<()>().await;
            Ok((SecretString::new("never"), 7200))
        })
        .with_config(config.clone());
        let cancelled = tokio::time::timeout(Duration::from_millis(300), stuck.get_token()).await;
        assert!(cancelled.is_err(), "{name}: the stuck fetch returned");

        let fetches = Arc::new(AtomicUsize::new(0));
        let other = manager(&key, store.clone(), fetches.clone()).with_config(config);
        let started = Instant::now();
        let token = other
            .get_token()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(token.expose(), "token-1", "{name}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{name}: {:?}",
            started.elapsed()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Redis down

/// Redis paused (SIGSTOP), then killed: the last good token keeps being served, each call
/// bounded; a manager that never saw a token gets a typed error, also bounded; after a restart
/// (an empty Redis) the next call fetches again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_serves_the_last_good_token_until_it_expires() {
    let mut server = RedisServer::start();
    let key = keys::access_token("wxdown");
    let fetches = Arc::new(AtomicUsize::new(0));
    let now = Arc::new(AtomicI64::new(unix_now()));
    let clock = {
        let now = now.clone();
        Clock::from_fn(move || now.load(Ordering::SeqCst))
    };
    let config = TokenConfig {
        clock,
        poll_interval: Duration::from_millis(10),
        ..TokenConfig::default()
    };
    let store_url = server.url();
    let make = |fetches: Arc<AtomicUsize>| {
        let store = weixin_kit::mp::token::open_store(&store_url).unwrap();
        manager(&key, store, fetches).with_config(config.clone())
    };
    let m = make(fetches.clone());
    assert_eq!(m.get_token().await.unwrap().expose(), "token-1");

    // Bound on one call while Redis is down: the store timeout (2 s) and then some.
    let bound = Duration::from_secs(6);
    let timed = |fut| async move {
        let started = Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(30), fut)
            .await
            .expect("unbounded wait");
        (r, started.elapsed())
    };

    server.pause();
    let (r, took) = timed(m.get_token()).await;
    assert_eq!(r.unwrap().expose(), "token-1", "paused: served from memory");
    assert!(took < bound, "{took:?}");
    // An instance that never had a token: a typed error, in bounded time.
    let fresh_instance = make(fetches.clone());
    let (r, took) = timed(fresh_instance.get_token()).await;
    assert!(
        matches!(r, Err(Error::Timeout { .. }) | Err(Error::Transport { .. })),
        "{r:?}"
    );
    assert!(took < bound, "{took:?}");
    server.resume();

    server.kill();
    let (r, took) = timed(m.get_token()).await;
    assert_eq!(r.unwrap().expose(), "token-1", "killed: served from memory");
    assert!(took < bound, "{took:?}");

    // Past the token's expiry (minus the margin), memory no longer serves it.
    now.fetch_add(7200, Ordering::SeqCst);
    let (r, took) = timed(m.get_token()).await;
    assert!(
        matches!(r, Err(Error::Timeout { .. }) | Err(Error::Transport { .. })),
        "{r:?}"
    );
    assert!(took < bound, "{took:?}");
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "no fetch without the lock"
    );

    // Recovery: a new (empty) Redis on the same port; the next call fetches and stores.
    server.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    let token = loop {
        match m.get_token().await {
            Ok(t) => break t,
            Err(e) => {
                assert!(Instant::now() < deadline, "no recovery: {e:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    assert_eq!(token.expose(), "token-2");
    let mut conn = redis_conn(&server.url()).await;
    let stored: Option<String> = redis::cmd("HGET")
        .arg(&key)
        .arg("value")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored.as_deref(), Some("token-2"));
}
