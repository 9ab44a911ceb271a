//! The token cache: single flight, safety margin, compare-and-expire, the store lock — against
//! the in-memory store and a real `redis-server` started by the tests on a free loopback port —
//! and N separate OS processes, each with its own `MiniProgramClient`, sharing one Redis and one
//! sandbox (this test binary re-executed in a child mode).
//!
//! Needs the `redis` cargo feature (on by default): the whole file is left out without it.
#![cfg(feature = "redis")]

use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weixin_kit::mp::token::{keys, BoxFuture};
use weixin_kit::mp::{
    FixedToken, GetUserNotifyRequest, LockToken, MemoryStore, MiniProgramClient, Operations as _,
    RedisStore, StoredToken, TokenConfig, TokenManager, TokenProvider, TokenStore,
};
use weixin_kit::{Error, Result, SecretString};
use weixin_kit_sandbox::Sandbox;

use crate::common::child::{self, ChildProc};
use crate::common::redis_server::{redis_barrier, redis_conn, RedisServer};

// ---------------------------------------------------------------------------------------------
// Helpers

type Fetch = Arc<dyn Fn() -> BoxFuture<'static, Result<(SecretString, i64)>> + Send + Sync>;

/// Counts its calls in-process; returns `token-N` valid for `expires_in`, after `delay`.
fn counting_fetch(count: Arc<AtomicUsize>, delay: Duration, expires_in: i64) -> Fetch {
    Arc::new(move || {
        let count = count.clone();
        Box::pin(async move {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(delay).await;
            Ok((SecretString::new(format!("token-{n}")), expires_in))
        })
    })
}

fn quick_config() -> TokenConfig {
    TokenConfig {
        poll_interval: Duration::from_millis(10),
        ..TokenConfig::default()
    }
}

async fn stores(server: &RedisServer) -> Vec<(&'static str, Arc<dyn TokenStore>)> {
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
// Single process

async fn hundred_callers_one_fetch(store: Arc<dyn TokenStore>, instances: usize) {
    let count = Arc::new(AtomicUsize::new(0));
    let fetch = counting_fetch(count.clone(), Duration::from_millis(100), 7200);
    let managers: Vec<Arc<TokenManager>> = (0..instances)
        .map(|_| {
            Arc::new(
                TokenManager::with_fetch_fn(
                    keys::access_token("wx100"),
                    store.clone(),
                    fetch.clone(),
                )
                .with_config(quick_config()),
            )
        })
        .collect();
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let m = managers[i % instances].clone();
            tokio::spawn(async move { m.get_token().await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().expose(), "token-1");
    }
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn hundred_concurrent_callers_cause_one_fetch() {
    let server = RedisServer::start();
    for (name, store) in stores(&server).await {
        // One manager in the process: the in-process single flight.
        hundred_callers_one_fetch(store.clone(), 1).await;
        // Four managers over one store (four instances' worth): the store lock.
        let fresh: Arc<dyn TokenStore> = if name == "memory" {
            Arc::new(MemoryStore::new())
        } else {
            redis::cmd("FLUSHALL")
                .query_async::<()>(&mut redis_conn(&server.url()).await)
                .await
                .unwrap();
            store
        };
        hundred_callers_one_fetch(fresh, 4).await;
    }
}

#[tokio::test]
async fn cached_until_the_safety_margin() {
    let server = RedisServer::start();
    for (name, store) in stores(&server).await {
        // 7200 s with the default 5-minute margin: cached.
        let count = Arc::new(AtomicUsize::new(0));
        let m = TokenManager::with_fetch_fn(
            keys::access_token(&format!("wxlong{name}")),
            store.clone(),
            counting_fetch(count.clone(), Duration::ZERO, 7200),
        );
        assert_eq!(m.get_token().await.unwrap().expose(), "token-1");
        assert_eq!(m.get_token().await.unwrap().expose(), "token-1");
        assert_eq!(count.load(Ordering::SeqCst), 1, "{name}");

        // A stored token with 200 s left is inside the 5-minute margin: it is refreshed.
        let count = Arc::new(AtomicUsize::new(0));
        let key = keys::access_token(&format!("wxshort{name}"));
        store
            .set(
                &key,
                &StoredToken {
                    value: SecretString::new("token-old"),
                    expires_at: weixin_kit::mp::token::unix_now() + 200,
                },
            )
            .await
            .unwrap();
        let m = TokenManager::with_fetch_fn(
            key,
            store.clone(),
            counting_fetch(count.clone(), Duration::ZERO, 7200),
        );
        assert_eq!(m.get_token().await.unwrap().expose(), "token-1");
        assert_eq!(m.get_token().await.unwrap().expose(), "token-1");
        assert_eq!(count.load(Ordering::SeqCst), 1, "{name}");

        // A fetch that answers a lifetime (200 s) shorter than the margin: the margin becomes
        // half of it, so the token is used rather than fetched again on every call.
        let count = Arc::new(AtomicUsize::new(0));
        let m = TokenManager::with_fetch_fn(
            keys::access_token(&format!("wxshortlife{name}")),
            store.clone(),
            counting_fetch(count.clone(), Duration::ZERO, 200),
        );
        assert_eq!(m.get_token().await.unwrap().expose(), "token-1");
        assert_eq!(m.get_token().await.unwrap().expose(), "token-1");
        assert_eq!(count.load(Ordering::SeqCst), 1, "{name}");
        // …and still refreshed ahead of its end: fresh only until 100 s before it.
        let stored = store
            .get(&keys::access_token(&format!("wxshortlife{name}")))
            .await
            .unwrap()
            .unwrap();
        let refresh_at = stored.expires_at - 300;
        let now = weixin_kit::mp::token::unix_now();
        assert!(
            (now + 99..=now + 101).contains(&refresh_at),
            "{name}: refresh at {refresh_at}, now {now}"
        );

        // The margin is configurable: with 60 s, 200 s left is fine.
        let count = Arc::new(AtomicUsize::new(0));
        let m = TokenManager::with_fetch_fn(
            keys::access_token(&format!("wxmargin{name}")),
            store.clone(),
            counting_fetch(count.clone(), Duration::ZERO, 200),
        )
        .with_config(TokenConfig {
            safety_margin: Duration::from_secs(60),
            ..TokenConfig::default()
        });
        m.get_token().await.unwrap();
        m.get_token().await.unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 1, "{name}");
    }
}

#[tokio::test]
async fn compare_and_expire_only_expires_the_matching_value() {
    let server = RedisServer::start();
    for (name, store) in stores(&server).await {
        let key = keys::access_token("wxcae");
        let a = StoredToken {
            value: SecretString::new("token-A"),
            expires_at: weixin_kit::mp::token::unix_now() + 7200,
        };
        assert_eq!(store.get(&key).await.unwrap(), None, "{name}");
        assert!(!store.compare_and_expire(&key, "token-A").await.unwrap());
        store.set(&key, &a).await.unwrap();
        assert_eq!(store.get(&key).await.unwrap(), Some(a.clone()), "{name}");

        assert!(
            !store.compare_and_expire(&key, "token-B").await.unwrap(),
            "{name}"
        );
        assert_eq!(store.get(&key).await.unwrap(), Some(a.clone()), "{name}");
        assert!(
            store.compare_and_expire(&key, "token-A").await.unwrap(),
            "{name}"
        );
        assert_eq!(store.get(&key).await.unwrap(), None, "{name}");

        // Through the manager: a stale report (another instance already refreshed) is ignored.
        let count = Arc::new(AtomicUsize::new(0));
        let m = TokenManager::with_fetch_fn(
            keys::access_token("wxcae2"),
            store.clone(),
            counting_fetch(count.clone(), Duration::ZERO, 7200),
        );
        let t1 = m.get_token().await.unwrap();
        assert!(m.invalidate_if_current(&t1).await.unwrap(), "{name}");
        let t2 = m.get_token().await.unwrap();
        assert_eq!(t2.expose(), "token-2");
        assert!(!m.invalidate_if_current(&t1).await.unwrap(), "{name}");
        assert_eq!(m.get_token().await.unwrap(), t2);
        assert_eq!(count.load(Ordering::SeqCst), 2, "{name}");
    }
}

#[tokio::test]
async fn redis_expires_the_key_at_expires_at() {
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url()).await.unwrap();
    let now = weixin_kit::mp::token::unix_now();
    let key = keys::access_token("wxttl");
    let token = StoredToken {
        value: SecretString::new("t"),
        expires_at: now + 100,
    };
    store.set(&key, &token).await.unwrap();
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query_async(&mut redis_conn(&server.url()).await)
        .await
        .unwrap();
    assert!((95..=101).contains(&ttl), "ttl {ttl}");
    // Already expired: gone at once.
    store
        .set(
            &key,
            &StoredToken {
                value: SecretString::new("t"),
                expires_at: now - 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(store.get(&key).await.unwrap(), None);
}

#[tokio::test]
async fn the_lock_is_exclusive_and_only_its_holder_releases_it() {
    let server = RedisServer::start();
    for (name, store) in stores(&server).await {
        let key = keys::lock(&keys::access_token("wxlock"));
        let t1 = store
            .lock(&key, Duration::from_secs(30))
            .await
            .unwrap()
            .expect("free lock");
        assert!(
            store
                .lock(&key, Duration::from_secs(30))
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        // Someone else's token cannot release it.
        let forged = LockToken::from_string("not-the-holder");
        assert!(!store.unlock(&key, &forged).await.unwrap(), "{name}");
        assert!(
            store
                .lock(&key, Duration::from_secs(30))
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        // The holder can, once.
        assert!(store.unlock(&key, &t1).await.unwrap(), "{name}");
        assert!(!store.unlock(&key, &t1).await.unwrap(), "{name}");

        // A stale holder (its lease ran out, someone else took the lock) cannot release it.
        let stale = store
            .lock(&key, Duration::from_millis(100))
            .await
            .unwrap()
            .expect("free lock");
        tokio::time::sleep(Duration::from_millis(250)).await;
        let current = store
            .lock(&key, Duration::from_secs(30))
            .await
            .unwrap()
            .expect("lease over");
        assert_ne!(stale, current);
        assert!(!store.unlock(&key, &stale).await.unwrap(), "{name}");
        assert!(
            store
                .lock(&key, Duration::from_secs(30))
                .await
                .unwrap()
                .is_none(),
            "{name}"
        );
        assert!(store.unlock(&key, &current).await.unwrap(), "{name}");
    }
}

#[tokio::test]
async fn a_dead_holder_is_outlived_by_its_lease() {
    let server = RedisServer::start();
    for (name, store) in stores(&server).await {
        let key = keys::access_token("wxdead");
        // A process took the refresh lock and died.
        let _ = store
            .lock(&keys::lock(&key), Duration::from_millis(300))
            .await
            .unwrap()
            .unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let m = TokenManager::with_fetch_fn(
            key,
            store.clone(),
            counting_fetch(count.clone(), Duration::ZERO, 7200),
        )
        .with_config(quick_config());
        assert_eq!(m.get_token().await.unwrap().expose(), "token-1", "{name}");
        assert_eq!(count.load(Ordering::SeqCst), 1, "{name}");
    }
}

#[tokio::test]
async fn waiting_for_another_refresh_is_bounded() {
    let server = RedisServer::start();
    for (name, store) in stores(&server).await {
        let key = keys::access_token("wxwait");
        let _ = store
            .lock(&keys::lock(&key), Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let m = TokenManager::with_fetch_fn(
            key,
            store.clone(),
            counting_fetch(count.clone(), Duration::ZERO, 7200),
        )
        .with_config(TokenConfig {
            wait_timeout: Duration::from_millis(200),
            ..quick_config()
        });
        assert!(
            matches!(m.get_token().await, Err(Error::Timeout { .. })),
            "{name}"
        );
        assert_eq!(count.load(Ordering::SeqCst), 0, "{name}");
    }
}

#[tokio::test]
async fn a_failed_fetch_releases_the_lock() {
    let server = RedisServer::start();
    for (name, store) in stores(&server).await {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let m = TokenManager::new(keys::access_token("wxfail"), store.clone(), move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 0 {
                    Err(Error::Transport {
                        may_have_been_applied: false,
                        detail: "connection refused".into(),
                    })
                } else {
                    Ok((SecretString::new("token-ok"), 7200))
                }
            }
        })
        .with_config(TokenConfig {
            wait_timeout: Duration::from_millis(500),
            ..quick_config()
        });
        assert!(
            matches!(m.get_token().await, Err(Error::Transport { .. })),
            "{name}"
        );
        // Were the lock still held, this would wait out its 15 s lease and time out.
        assert_eq!(m.get_token().await.unwrap().expose(), "token-ok", "{name}");
        assert_eq!(calls.load(Ordering::SeqCst), 2, "{name}");
    }
}

#[tokio::test]
async fn tickets_live_under_their_own_key_in_the_same_store() {
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let count = Arc::new(AtomicUsize::new(0));
    let token = TokenManager::with_fetch_fn(
        keys::access_token("wxt"),
        store.clone(),
        counting_fetch(count.clone(), Duration::ZERO, 7200),
    );
    let ticket = TokenManager::new(keys::ticket("wxt", "wx_card"), store.clone(), || async {
        Ok((SecretString::new("card-ticket"), 7200))
    });
    assert_eq!(token.get_token().await.unwrap().expose(), "token-1");
    assert_eq!(ticket.get_token().await.unwrap().expose(), "card-ticket");
    assert_eq!(token.get_token().await.unwrap().expose(), "token-1");
    assert_eq!(ticket.key(), "weixin-kit:wxt:ticket:wx_card");
    assert_eq!(token.key(), "weixin-kit:wxt:access_token");
}

#[tokio::test]
async fn providers_are_interchangeable() {
    let count = Arc::new(AtomicUsize::new(0));
    let providers: Vec<Arc<dyn TokenProvider>> = vec![
        Arc::new(TokenManager::with_fetch_fn(
            keys::access_token("wxp"),
            Arc::new(MemoryStore::new()),
            counting_fetch(count.clone(), Duration::ZERO, 7200),
        )),
        Arc::new(FixedToken(SecretString::new("token-1"))),
    ];
    for p in providers {
        let t = p.token().await.unwrap();
        assert_eq!(t.expose(), "token-1");
        let _ = p.invalidate(&t).await.unwrap();
    }
}

#[test]
fn debug_output_hides_tokens() {
    let t = StoredToken {
        value: SecretString::new("very-secret-token"),
        expires_at: 1,
    };
    assert!(!format!("{t:?}").contains("very-secret-token"));
    let l = LockToken::from_string("lock-secret");
    assert!(!format!("{l:?}").contains("lock-secret"));
}

// ---------------------------------------------------------------------------------------------
// Many processes, one sandbox

const CHILD_MODE: &str = "WEIXIN_KIT_MP_TOKEN_CHILD";
const CHILD_REDIS: &str = "WEIXIN_KIT_MP_TOKEN_REDIS";
const CHILD_COUNT: &str = "WEIXIN_KIT_MP_TOKEN_N";
const CHILD_SANDBOX: &str = "WEIXIN_KIT_MP_TOKEN_SANDBOX_URL";
const CHILD_APPID: &str = "WEIXIN_KIT_MP_TOKEN_APPID";
const CHILD_SECRET: &str = "WEIXIN_KIT_MP_TOKEN_SECRET";
const OPENID: &str = "oMultiProcess";
const NOTIFY_TYPE: i32 = 2001;
const NOTIFY_CODE: &str = "4200000000000000000000000001";
const PHASES: usize = 3;

/// A short fingerprint of a token, so that processes can compare tokens without printing them.
fn fingerprint(token: &str) -> String {
    weixin_kit::operation::sha256_hex(token.as_bytes())[..16].to_owned()
}

/// One child process running [`child_process`]: it reports `PHASE{n}=<fingerprint>` after each
/// phase and starts the next when a line arrives on its stdin.
fn spawn_child(store_url: &str, sandbox: &Sandbox, n: usize) -> ChildProc {
    let creds = sandbox.credentials();
    let n = n.to_string();
    ChildProc::spawn(
        &child::test_name(module_path!(), "child_process"),
        &[
            (CHILD_MODE, "client"),
            (CHILD_REDIS, store_url),
            (CHILD_COUNT, &n),
            (CHILD_SANDBOX, &sandbox.base_url()),
            (CHILD_APPID, &creds.appid),
            (CHILD_SECRET, creds.app_secret.expose()),
        ],
    )
}

/// Reads `PHASE{phase}` from every child (blocking, off the async workers).
fn read_phase(children: &mut [ChildProc], phase: usize) -> Vec<String> {
    tokio::task::block_in_place(|| {
        children
            .iter_mut()
            .map(|c| c.read(&format!("PHASE{phase}")))
            .collect()
    })
}

fn sandbox_count(sandbox: &Sandbox, path: &[&str]) -> u64 {
    let mut v = sandbox.mp().counters();
    for p in path {
        v = v[*p].clone();
    }
    v.as_u64().unwrap_or(0)
}

/// N processes, each with its own MiniProgramClient over one Redis, against one sandbox:
/// 1. they call at once → the sandbox issued exactly one stable token (one getStableAccessToken);
/// 2. another instance (this process) force-refreshes → they all use the new token with no
///    fetch of their own and no rejected call;
/// 3. every token expires in the sandbox → their N concurrent calls all get 42001, and the
///    compare-and-expire plus the Redis lock make that exactly one more fetch.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn separate_processes_share_one_fetch_and_pick_up_a_refresh() {
    const N: usize = 5;
    let server = RedisServer::start();
    let store_url = format!("{}0", server.url());
    let sandbox = crate::common::sandbox().await;
    sandbox
        .mp()
        .register_notify_code(OPENID, NOTIFY_TYPE, NOTIFY_CODE);
    let stable_calls = || sandbox_count(&sandbox, &["calls", "getStableAccessToken"]);
    let api_calls = || sandbox_count(&sandbox, &["calls", "getUserNotify"]);
    let issued = || sandbox_count(&sandbox, &["stable_tokens_issued"]);

    let mut children: Vec<ChildProc> = (0..N)
        .map(|_| spawn_child(&store_url, &sandbox, N))
        .collect();

    // 1. N processes at once (they meet at a barrier in Redis first): one token issued.
    let phase1 = read_phase(&mut children, 1);
    let t1 = fingerprint(&sandbox.mp().current_stable_token().unwrap());
    assert_eq!(phase1, vec![t1.clone(); N]);
    assert_eq!(issued(), 1);
    assert_eq!(stable_calls(), 1);
    assert_eq!(api_calls(), N as u64);

    // 2. One more instance, sharing the store, finds token 1 and then forces a refresh.
    let me = crate::common::mp_builder(&sandbox)
        .token_store_url(&store_url)
        .build()
        .unwrap();
    assert_eq!(fingerprint(me.access_token().await.unwrap().expose()), t1);
    assert_eq!(stable_calls(), 1);
    let t2 = fingerprint(me.force_refresh_access_token().await.unwrap().expose());
    assert_ne!(t2, t1);
    assert_eq!(sandbox_count(&sandbox, &["stable_tokens_forced"]), 1);
    assert_eq!(issued(), 2);
    assert_eq!(stable_calls(), 2);

    children.iter_mut().for_each(ChildProc::go);
    let phase2 = read_phase(&mut children, 2);
    assert_eq!(phase2, vec![t2.clone(); N], "the others picked it up");
    assert_eq!(stable_calls(), 2, "without a fetch of their own");
    assert_eq!(api_calls(), 2 * N as u64, "and without a rejected call");

    // 3. Every token expires: N concurrent 42001s, one fetch.
    sandbox.mp().expire_tokens();
    children.iter_mut().for_each(ChildProc::go);
    let phase3 = read_phase(&mut children, 3);
    let t3 = fingerprint(&sandbox.mp().current_stable_token().unwrap());
    assert_ne!(t3, t2);
    assert_eq!(phase3, vec![t3; N]);
    assert_eq!(issued(), 3);
    assert_eq!(stable_calls(), 3, "exactly one fetch for N processes");
    let calls = api_calls() - 2 * N as u64;
    assert!(
        (N as u64 + 1..=2 * N as u64).contains(&calls),
        "each process: its call, plus at most one retry ({calls})"
    );

    children.into_iter().for_each(ChildProc::finish);
}

/// The child side of the test above; does nothing unless started by it.
#[test]
#[ignore = "run by separate_processes_share_one_fetch_and_pick_up_a_refresh in child processes"]
fn child_process() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let env = |k: &str| std::env::var(k).unwrap();
    let n: i64 = env(CHILD_COUNT).parse().unwrap();
    let url = env(CHILD_REDIS);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = MiniProgramClient::builder()
        .appid(env(CHILD_APPID))
        .secret(env(CHILD_SECRET))
        .base_url(env(CHILD_SANDBOX))
        .token_store_url(&url)
        .token_config(quick_config())
        .build()
        .unwrap();

    // Barrier: every child connected before any asks.
    rt.block_on(redis_barrier(&url, &mode, n));

    let stdin = std::io::stdin();
    for phase in 1..=PHASES {
        if phase > 1 {
            let mut line = String::new();
            assert!(
                stdin.lock().read_line(&mut line).unwrap() > 0,
                "parent gone"
            );
        }
        let token = rt.block_on(async {
            client
                .service_card()
                .get_user_notify(&GetUserNotifyRequest {
                    notify_code: NOTIFY_CODE.into(),
                    notify_type: NOTIFY_TYPE,
                    openid: OPENID.into(),
                })
                .await
                .unwrap();
            client.access_token().await.unwrap()
        });
        println!("PHASE{phase}={}", fingerprint(token.expose()));
        std::io::stdout().flush().unwrap();
    }
}

#[tokio::test]
async fn a_slow_fetch_is_cut_off_before_the_lock_lease_ends() {
    let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let m = TokenManager::new(keys::access_token("wxslow"), store.clone(), move || {
        let n = c.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                // Slower than the lease: were it not cut off, the lease would run out while
                // this caller still believes it holds the lock.
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Ok((SecretString::new(format!("token-{n}")), 7200))
        }
    })
    .with_config(TokenConfig {
        lock_lease: Duration::from_secs(2),
        wait_timeout: Duration::from_secs(3),
        ..quick_config()
    });
    let started = Instant::now();
    let e = m.get_token().await.unwrap_err();
    assert!(
        matches!(&e, Error::Timeout { detail, .. } if detail.contains("lock lease")),
        "{e:?}"
    );
    // Cut off within the lease (2 s), not after the 5 s fetch.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // The lock was released at once: the next caller fetches without waiting out the lease.
    let started = Instant::now();
    assert_eq!(m.get_token().await.unwrap().expose(), "token-1");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[test]
fn default_waits_outlast_the_lease() {
    let c = TokenConfig::default();
    assert!(c.wait_timeout > c.lock_lease, "{c:?}");
}
