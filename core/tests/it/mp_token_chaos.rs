//! Redis chaos: several OS processes (this test binary re-executed in a child mode), each with
//! its own `MiniProgramClient` over one real `redis-server` and one sandbox, short token
//! lifetimes and a short lock lease, while the parent pauses Redis (SIGSTOP), corrupts the
//! entry, kills Redis and restarts it empty. Asserted:
//!
//! - at most one token fetch per lease (the sandbox counts `/cgi-bin/token` issues);
//! - no stale overwrite: the token in Redis only moves forward in issue order, and no process
//!   goes back to a token after it has used a newer one;
//! - bounded latency: every call returns (a token or a typed error) within a generous bound;
//! - errors only while Redis is down (paused or killed, plus a grace period after it is back),
//!   and only typed ones (`Timeout`, `Transport`): a corrupt entry is absent, never an error;
//! - no expired token served: none is used longer than its lifetime after it was first seen
//!   (an absurd `expires_at` must not make it "fresh forever");
//! - recovery: after the restart every process gets a token again.
//!
//! The fetch counts and latencies are printed (`--nocapture`). `WEIXIN_KIT_CHAOS_SCALE=N`
//! stretches every phase N times (a longer run).
#![cfg(feature = "redis")]

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weixin_kit::mp::token::keys;
use weixin_kit::mp::{MiniProgramClient, TokenConfig, TokenEndpoint};
use weixin_kit::Error;

use crate::common::child::{self, ChildProc};
use crate::common::redis_server::{redis_conn, RedisServer};

const CHILD: &str = "WEIXIN_KIT_CHAOS_CHILD";
const CHILD_REDIS: &str = "WEIXIN_KIT_CHAOS_REDIS";
const CHILD_SANDBOX: &str = "WEIXIN_KIT_CHAOS_SANDBOX";
const CHILD_APPID: &str = "WEIXIN_KIT_CHAOS_APPID";
const CHILD_SECRET: &str = "WEIXIN_KIT_CHAOS_SECRET";
const PROCESSES: usize = 4;
/// The lock lease of every process.
const LEASE: Duration = Duration::from_secs(1);
/// Token lifetime in the sandbox: a manager refreshes after half of it.
const TOKEN_LIFETIME: Duration = Duration::from_secs(4);
/// No call may take longer (generous: the store timeout is 2 s, the wait for another's
/// refresh 3 s).
const CALL_BOUND: Duration = Duration::from_secs(10);
/// After Redis is back, how long errors are still allowed (locks taken by commands queued in
/// the paused server run out within a lease; reconnection takes a round or two).
const GRACE: Duration = Duration::from_secs(3);

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn token_config() -> TokenConfig {
    TokenConfig {
        lock_lease: LEASE,
        wait_timeout: LEASE * 3,
        poll_interval: Duration::from_millis(20),
        ..TokenConfig::default()
    }
}

fn fingerprint(token: &str) -> String {
    weixin_kit::operation::sha256_hex(token.as_bytes())[..16].to_owned()
}

fn scale() -> u32 {
    std::env::var("WEIXIN_KIT_CHAOS_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}

fn spawn_child(redis_url: &str, sandbox: &weixin_kit_sandbox::Sandbox) -> ChildProc {
    let creds = sandbox.credentials();
    ChildProc::spawn(
        &child::test_name(module_path!(), "chaos_child"),
        &[
            (CHILD, "1"),
            (CHILD_REDIS, redis_url),
            (CHILD_SANDBOX, &sandbox.base_url()),
            (CHILD_APPID, &creds.appid),
            (CHILD_SECRET, creds.app_secret.expose()),
        ],
    )
}

/// What the parent sees of the shared entry: the token in Redis, mapped to its issue order
/// (sampled from the sandbox), must never move backwards.
#[derive(Default)]
struct Watch {
    issue_order: HashMap<String, usize>,
    last_issued: Option<String>,
    store_indexes: Vec<usize>,
    regressions: Vec<(usize, usize)>,
}

async fn watch_store(
    redis_url: String,
    sandbox: Arc<weixin_kit_sandbox::Sandbox>,
    key: String,
    watch: Arc<Mutex<Watch>>,
    stop: Arc<AtomicBool>,
) {
    let client = redis::Client::open(redis_url).unwrap();
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_response_timeout(Some(Duration::from_millis(200)))
        .set_connection_timeout(Some(Duration::from_millis(200)))
        .set_number_of_retries(0);
    let mut conn = None;
    while !stop.load(Ordering::SeqCst) {
        if let Some(t) = sandbox.mp().current_access_token() {
            let mut w = watch.lock().unwrap();
            if w.last_issued.as_deref() != Some(t.as_str()) {
                let n = w.issue_order.len();
                w.issue_order.entry(t.clone()).or_insert(n);
                w.last_issued = Some(t);
            }
        }
        if conn.is_none() {
            conn = tokio::time::timeout(
                Duration::from_millis(300),
                client.get_connection_manager_with_config(config.clone()),
            )
            .await
            .ok()
            .and_then(|r| r.ok());
        }
        if let Some(c) = conn.as_mut() {
            let read = tokio::time::timeout(
                Duration::from_millis(300),
                redis::cmd("HGET")
                    .arg(&key)
                    .arg("value")
                    .query_async::<Option<String>>(c),
            )
            .await;
            if let Ok(Ok(Some(value))) = read {
                let mut w = watch.lock().unwrap();
                if let Some(&i) = w.issue_order.get(&value) {
                    if let Some(&last) = w.store_indexes.last() {
                        if i < last {
                            w.regressions.push((last, i));
                        }
                    }
                    if w.store_indexes.last() != Some(&i) {
                        w.store_indexes.push(i);
                    }
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_chaos_many_processes() {
    let scale = scale();
    let phase = |ms: u64| Duration::from_millis(ms * scale as u64);
    let mut server = RedisServer::start();
    let redis_url = format!("{}0", server.url());
    let sandbox = Arc::new(crate::common::sandbox().await);
    sandbox.mp().set_token_lifetime(TOKEN_LIFETIME);
    let key = keys::access_token(&sandbox.credentials().appid);
    let issued = || sandbox.mp().counters()["tokens_issued"].as_u64().unwrap();

    let watch = Arc::new(Mutex::new(Watch::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch_store(
        redis_url.clone(),
        sandbox.clone(),
        key.clone(),
        watch.clone(),
        stop.clone(),
    ));

    let mut children: Vec<ChildProc> = (0..PROCESSES)
        .map(|_| spawn_child(&redis_url, &sandbox))
        .collect();
    tokio::task::block_in_place(|| {
        for c in &mut children {
            assert_eq!(c.read("READY"), "1");
        }
    });
    let started = Instant::now();
    let issued_at_start = issued();
    let mut conn = redis_conn(&redis_url).await;
    let mut timeline = Vec::new();
    let mut mark =
        |what: &str| timeline.push(format!("{:>5.1}s {what}", started.elapsed().as_secs_f64()));

    mark("steady");
    tokio::time::sleep(phase(3000)).await;

    // Windows (unix ms) in which Redis is down, errors allowed.
    let mut down: Vec<(u64, u64)> = Vec::new();
    mark("SIGSTOP redis");
    let from = unix_ms();
    server.pause();
    tokio::time::sleep(phase(2500)).await;
    server.resume();
    down.push((from, unix_ms() + GRACE.as_millis() as u64));
    mark("SIGCONT redis");
    tokio::time::sleep(phase(3500)).await;

    mark("corrupt expires_at");
    let _: i64 = redis::cmd("HSET")
        .arg(&key)
        .arg("expires_at")
        .arg("not-a-number")
        .query_async(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(phase(1500)).await;
    // Longer than a token lives: a token served "fresh forever" would be seen expired.
    mark("corrupt: absurd expires_at");
    let _: i64 = redis::cmd("HSET")
        .arg(&key)
        .arg("expires_at")
        .arg(i64::MAX.to_string())
        .query_async(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(phase(5000)).await;
    mark("corrupt: not a hash");
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("{garbage")
        .query_async(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(phase(1500)).await;

    mark("SIGKILL redis");
    let from = unix_ms();
    server.kill();
    tokio::time::sleep(phase(2500)).await;
    server.restart();
    down.push((from, unix_ms() + GRACE.as_millis() as u64));
    mark("redis restarted (empty)");
    tokio::time::sleep(phase(3000)).await;
    mark("stop");

    // Stop the children; each then proves it recovers and reports.
    let mut reports = Vec::new();
    tokio::task::block_in_place(|| {
        for c in &mut children {
            c.close_stdin();
        }
        for c in &mut children {
            let report: Value = serde_json::from_str(&c.read("CHAOS")).unwrap();
            reports.push(report);
        }
        for c in &mut children {
            let status = c.child.wait().unwrap();
            assert!(status.success(), "child failed: {status}");
        }
    });
    let elapsed = started.elapsed();
    let fetches = issued() - issued_at_start;
    stop.store(true, Ordering::SeqCst);
    watcher.await.unwrap();

    let leases = (elapsed.as_secs_f64() / LEASE.as_secs_f64()).floor() as u64;
    let w = watch.lock().unwrap();
    eprintln!("redis chaos: {PROCESSES} processes, lease {LEASE:?}, token lifetime {TOKEN_LIFETIME:?}, scale {scale}");
    for line in &timeline {
        eprintln!("  {line}");
    }
    eprintln!(
        "  token fetches during the run: {fetches} (bound: leases elapsed + 1 = {}; \
         {:.1} s elapsed; tokens in Redis seen in issue order: {} distinct)",
        leases + 1,
        elapsed.as_secs_f64(),
        w.store_indexes.len()
    );
    for (i, r) in reports.iter().enumerate() {
        eprintln!("  process {i}: {r}");
    }

    assert!(
        fetches <= leases + 1,
        "{fetches} fetches in {elapsed:?}: more than one per {LEASE:?} lease"
    );
    assert!(
        w.regressions.is_empty(),
        "stale overwrite in Redis: {:?}",
        w.regressions
    );
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(
            r["regressions"], 0,
            "process {i} went back to an older token: {r}"
        );
        assert!(r["ok"].as_u64().unwrap() > 0, "process {i}: {r}");
        assert!(
            r["max_ms"].as_u64().unwrap() < CALL_BOUND.as_millis() as u64,
            "process {i}: a call took too long: {r}"
        );
        assert_eq!(r["other_errors"], 0, "process {i}: untyped failures: {r}");
        assert_eq!(
            r["expired_uses"], 0,
            "process {i} used an expired token: {r}"
        );
        let outside: Vec<u64> = r["errors_at"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_u64().unwrap())
            .filter(|t| !down.iter().any(|(a, b)| (a..=b).contains(&t)))
            .collect();
        assert!(
            outside.is_empty(),
            "process {i}: {} errors while Redis was up (corrupt entries must be absent, not \
             errors): {r}",
            outside.len()
        );
        assert_eq!(r["recovered"], true, "process {i}: {r}");
    }
}

/// The child side of the test above; does nothing unless started by it.
#[test]
#[ignore = "run by redis_chaos_many_processes in child processes"]
fn chaos_child() {
    if std::env::var(CHILD).is_err() {
        return;
    }
    let env = |k: &str| std::env::var(k).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let client = rt.block_on(async {
        MiniProgramClient::builder()
            .appid(env(CHILD_APPID))
            .secret(env(CHILD_SECRET))
            .base_url(env(CHILD_SANDBOX))
            .token_store_url(env(CHILD_REDIS))
            .token_endpoint(TokenEndpoint::Token)
            .token_config(token_config())
            .build()
            .unwrap()
    });
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::stdin().lock().read_line(&mut line);
            stop.store(true, Ordering::SeqCst);
        });
    }
    let call = || {
        rt.block_on(async {
            let started = Instant::now();
            let r = tokio::time::timeout(Duration::from_secs(60), client.access_token())
                .await
                .expect("a call hung for 60 s");
            (r, started.elapsed())
        })
    };
    // Ready once a first token was had.
    let deadline = Instant::now() + Duration::from_secs(20);
    while call().0.is_err() {
        assert!(Instant::now() < deadline, "no first token");
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("READY=1");
    std::io::stdout().flush().unwrap();

    let (mut ok, mut typed_errors, mut other_errors, mut regressions) = (0u64, 0u64, 0u64, 0u64);
    let mut max = Duration::ZERO;
    let mut used: Vec<String> = Vec::new();
    let mut first_seen: HashMap<String, Instant> = HashMap::new();
    let (mut expired_uses, mut errors_at) = (0u64, Vec::new());
    while !stop.load(Ordering::SeqCst) {
        let (r, took) = call();
        max = max.max(took);
        match r {
            Ok(token) => {
                ok += 1;
                let f = fingerprint(token.expose());
                // Issued before it was first seen, so older than this: past its lifetime, it
                // is certainly expired.
                if first_seen
                    .entry(f.clone())
                    .or_insert_with(Instant::now)
                    .elapsed()
                    > TOKEN_LIFETIME
                {
                    expired_uses += 1;
                }
                if used.last() != Some(&f) {
                    if used.contains(&f) {
                        regressions += 1;
                    }
                    used.push(f);
                }
            }
            Err(Error::Timeout { .. } | Error::Transport { .. }) => {
                typed_errors += 1;
                errors_at.push(unix_ms());
            }
            Err(e) => {
                errors_at.push(unix_ms());
                eprintln!("chaos child: unexpected {e:?}");
                other_errors += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    // Recovery: a token again, within a bound.
    let started = Instant::now();
    let mut recovered = false;
    while started.elapsed() < Duration::from_secs(15) {
        if call().0.is_ok() {
            recovered = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let report = json!({
        "calls": ok + typed_errors + other_errors,
        "ok": ok,
        "typed_errors": typed_errors,
        "other_errors": other_errors,
        "distinct_tokens": used.len(),
        "regressions": regressions,
        "max_ms": max.as_millis() as u64,
        "expired_uses": expired_uses,
        "errors_at": errors_at,
        "recovered": recovered,
    });
    println!("CHAOS={report}");
    std::io::stdout().flush().unwrap();
}
