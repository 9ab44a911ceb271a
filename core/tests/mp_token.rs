//! The token cache: single flight, safety margin, compare-and-expire, the store lock — against
//! the in-memory store and a real `redis-server` started by the tests on a free loopback port —
//! and N separate OS processes sharing one Redis (this test binary re-executed in a child mode).

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use weixin_kit::mp::token::{keys, BoxFuture};
use weixin_kit::mp::{
    FixedToken, LockToken, MemoryStore, RedisStore, StoredToken, TokenConfig, TokenManager,
    TokenProvider, TokenStore,
};
use weixin_kit::{Error, Result, SecretString};

// ---------------------------------------------------------------------------------------------
// A real redis-server, killed on drop.

struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    fn start() -> Self {
        let bin = [
            "redis-server",
            "/usr/bin/redis-server",
            "/usr/local/bin/redis-server",
        ]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        })
        .expect("redis-server is not installed (apt-get install redis-server; .ci/run does)");
        for _ in 0..10 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut child = Command::new(bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start redis-server");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if child.try_wait().unwrap().is_some() {
                    break; // port taken meanwhile: try another
                }
                if ping(port) {
                    return RedisServer { child, port };
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("redis-server did not answer on port {port}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("could not start redis-server on a free port");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

async fn redis_conn(url: &str) -> redis::aio::ConnectionManager {
    redis::Client::open(url)
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap()
}

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

/// Counts its calls in Redis (`INCR`), so that separate processes share the count. Later the
/// sandbox's token endpoint replaces this closure.
fn redis_counting_fetch(conn: redis::aio::ConnectionManager, counter: String) -> Fetch {
    Arc::new(move || {
        let mut conn = conn.clone();
        let counter = counter.clone();
        Box::pin(async move {
            let n: i64 = redis::cmd("INCR")
                .arg(&counter)
                .query_async(&mut conn)
                .await
                .map_err(|e| Error::Transport {
                    detail: e.to_string(),
                })?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            Ok((SecretString::new(format!("token-{n}")), 7200))
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

        // 200 s left is inside the 5-minute margin: every call refreshes.
        let count = Arc::new(AtomicUsize::new(0));
        let m = TokenManager::with_fetch_fn(
            keys::access_token(&format!("wxshort{name}")),
            store.clone(),
            counting_fetch(count.clone(), Duration::ZERO, 200),
        );
        assert_eq!(m.get_token().await.unwrap().expose(), "token-1");
        assert_eq!(m.get_token().await.unwrap().expose(), "token-2");
        assert_eq!(count.load(Ordering::SeqCst), 2, "{name}");

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
// Many processes

const CHILD_MODE: &str = "WEIXIN_KIT_MP_TOKEN_CHILD";
const CHILD_REDIS: &str = "WEIXIN_KIT_MP_TOKEN_REDIS";
const CHILD_COUNT: &str = "WEIXIN_KIT_MP_TOKEN_N";
const APPID: &str = "wxmultiprocess";
const FETCH_COUNTER: &str = "weixin-kit-test:fetch_count";

fn spawn_children(server: &RedisServer, mode: &str, n: usize) -> Vec<Child> {
    let exe = std::env::current_exe().unwrap();
    (0..n)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "child_process", "--ignored", "--nocapture"])
                .args(["--test-threads=1"])
                .env(CHILD_MODE, mode)
                .env(CHILD_REDIS, server.url())
                .env(CHILD_COUNT, n.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Waits for every child; returns the values of their `KEY=value` output lines.
fn collect(children: Vec<Child>, key: &str) -> Vec<String> {
    let mut values = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let prefix = format!("{key}=");
        let found: Vec<String> = stdout
            .lines()
            // The harness may print "test child_process ... " on the same line first.
            .filter_map(|l| l.split_once(&prefix).map(|(_, v)| v.trim().to_owned()))
            .collect();
        assert_eq!(found.len(), 1, "child output:\n{stdout}");
        values.extend(found);
    }
    values
}

async fn fetch_count(conn: &mut redis::aio::ConnectionManager) -> i64 {
    let n: Option<i64> = redis::cmd("GET")
        .arg(FETCH_COUNTER)
        .query_async(conn)
        .await
        .unwrap();
    n.unwrap_or(0)
}

fn manager(store: RedisStore, conn: redis::aio::ConnectionManager) -> TokenManager {
    TokenManager::with_fetch_fn(
        keys::access_token(APPID),
        Arc::new(store),
        redis_counting_fetch(conn, FETCH_COUNTER.to_owned()),
    )
    .with_config(quick_config())
}

#[tokio::test]
async fn separate_processes_share_one_fetch_and_pick_up_a_refresh() {
    const N: usize = 4;
    let server = RedisServer::start();
    let mut conn = redis_conn(&server.url()).await;

    // N processes ask at once (they meet at a barrier in Redis first): one fetch.
    let tokens = collect(spawn_children(&server, "get", N), "TOKEN");
    assert_eq!(tokens, vec!["token-1"; N]);
    assert_eq!(fetch_count(&mut conn).await, 1);

    // This process (one more instance) sees token-1 rejected: expires it, refreshes.
    let store = RedisStore::connect(&server.url()).await.unwrap();
    let m = manager(store, conn.clone());
    let old = m.get_token().await.unwrap();
    assert_eq!(old.expose(), "token-1");
    assert_eq!(fetch_count(&mut conn).await, 1);
    assert!(m.invalidate_if_current(&old).await.unwrap());
    assert_eq!(m.get_token().await.unwrap().expose(), "token-2");
    assert_eq!(fetch_count(&mut conn).await, 2);

    // The others, reporting token-1 as failed late, leave token-2 alone and pick it up.
    let picked = collect(spawn_children(&server, "pickup", N), "TOKEN");
    assert_eq!(picked, vec!["token-2"; N]);
    assert_eq!(fetch_count(&mut conn).await, 2);
}

/// The child side of the test above; does nothing unless started by it.
#[test]
#[ignore = "run by separate_processes_share_one_fetch_and_pick_up_a_refresh in child processes"]
fn child_process() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let url = std::env::var(CHILD_REDIS).unwrap();
    let n: i64 = std::env::var(CHILD_COUNT).unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut conn = redis_conn(&url).await;
        let store = RedisStore::connect(&url).await.unwrap();
        let m = manager(store, conn.clone());

        // Barrier: every child connected before any asks.
        let barrier = format!("weixin-kit-test:barrier:{mode}");
        let _: i64 = redis::cmd("INCR")
            .arg(&barrier)
            .query_async(&mut conn)
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready: i64 = redis::cmd("GET")
                .arg(&barrier)
                .query_async(&mut conn)
                .await
                .unwrap();
            if ready >= n {
                break;
            }
            assert!(Instant::now() < deadline, "barrier: {ready}/{n}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }

        if mode == "pickup" {
            let stale = SecretString::new("token-1");
            assert!(!m.invalidate_if_current(&stale).await.unwrap());
        }
        let token = m.get_token().await.unwrap();
        println!("TOKEN={}", token.expose());
    });
}
