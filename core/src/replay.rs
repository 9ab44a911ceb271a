//! The replay guard of WeChat Pay notifications: remembers which notifications were parsed, so
//! that the same notification parsed again is reported as [`Error::Replayed`] — once per
//! process with [`MemoryReplayGuard`], once across every instance of a deployment with the
//! Redis guard (`SET key 1 NX EX ttl`, cargo feature `redis`).
//!
//! Without a guard the only protection is the ±300 s timestamp window of verification (WeChat
//! Pay's "签名验证" rule, `crate::pay::signing`): inside it the same headers and body verify
//! again. A notification is remembered under two keys ([`notification_keys`]):
//!
//! - its `id` (the envelope's unique notification id, "通知的唯一ID"), and
//! - `Wechatpay-Serial|Wechatpay-Nonce|Wechatpay-Timestamp`, the values its signature covers,
//!
//! for [`REPLAY_TTL`] (longer than the whole window a signature is accepted in: its timestamp
//! ±300 s), and it is a replay when either key was seen. WeChat Pay itself delivers a
//! notification again while the merchant has not acknowledged it ("同样的通知可能会多次发送给商户
//! 系统。商户系统必须能够正确处理重复的通知。", 支付结果通知 / 商家券领券事件回调通知): with a guard,
//! such a second delivery is also reported as [`Error::Replayed`], so a handler that already
//! processed that `id` answers success, as the documents ask.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use crate::{BoxFuture, Error, Result};

/// How long a notification is remembered: 10 minutes, twice the 5-minute timestamp window, so a
/// notification stays remembered for as long as its signature can verify, whatever the clock
/// offset within the window.
pub const REPLAY_TTL: Duration = Duration::from_secs(600);

/// Keys a [`MemoryReplayGuard`] holds at most by default (two per notification).
pub const DEFAULT_MEMORY_CAPACITY: usize = 200_000;

/// Where seen notifications are remembered. Object safe: use it as `Arc<dyn ReplayGuard>`.
pub trait ReplayGuard: Send + Sync {
    /// Marks every key as seen for `ttl`. True when none of them had been seen (the first
    /// delivery), false when any had (a replay). Each key is set atomically (set-if-absent), so
    /// of concurrent callers with the same key exactly one gets true.
    fn first_seen<'a>(&'a self, keys: &'a [String], ttl: Duration) -> BoxFuture<'a, Result<bool>>;
}

/// The guard's keys for one notification: `weixin-kit:{mchid}:notification:id:{id}` and
/// `weixin-kit:{mchid}:notification:sig:{serial}|{nonce}|{timestamp}`.
pub fn notification_keys(
    mchid: &str,
    id: &str,
    serial: &str,
    nonce: &str,
    timestamp: &str,
) -> [String; 2] {
    let prefix = crate::mp::token::keys::PREFIX;
    [
        format!("{prefix}:{mchid}:notification:id:{id}"),
        format!("{prefix}:{mchid}:notification:sig:{serial}|{nonce}|{timestamp}"),
    ]
}

/// This process only: keys expire after their ttl; at most `capacity` keys are held, the
/// oldest forgotten first beyond it (so memory stays bounded under a flood, at the price of
/// not recognising the oldest entries again).
pub struct MemoryReplayGuard {
    capacity: usize,
    state: StdMutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    expiry: HashMap<String, Instant>,
    /// Keys in insertion order, to expire and evict the oldest first.
    order: VecDeque<(Instant, String)>,
}

impl MemoryReplayGuard {
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_MEMORY_CAPACITY)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        MemoryReplayGuard {
            capacity: capacity.max(2),
            state: StdMutex::new(MemoryState::default()),
        }
    }

    /// Keys held now (expired ones included until the next call purges them).
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for MemoryReplayGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayGuard")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl MemoryState {
    fn forget(&mut self, at: Instant, key: &str) {
        if self.expiry.get(key) == Some(&at) {
            self.expiry.remove(key);
        }
    }
}

impl ReplayGuard for MemoryReplayGuard {
    fn first_seen<'a>(&'a self, keys: &'a [String], ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        let now = Instant::now();
        let mut s = self.lock();
        // Forget what expired, and the oldest while the new keys would not fit: the queue
        // holds one entry per key set (a live key is never set again), so its length bounds
        // the memory held.
        while let Some((at, _)) = s.order.front() {
            let full = s.order.len() + keys.len() > self.capacity;
            if *at > now && !full {
                break;
            }
            let Some((at, key)) = s.order.pop_front() else {
                break;
            };
            s.forget(at, &key);
        }
        let live = |s: &MemoryState, k: &String| s.expiry.get(k).is_some_and(|until| *until > now);
        let seen = keys.iter().any(|k| live(&s, k));
        let until = now + ttl;
        for k in keys {
            // Set if absent, as Redis' SET NX: a live key keeps its first expiry.
            if !live(&s, k) {
                s.expiry.insert(k.clone(), until);
                s.order.push_back((until, k.clone()));
            }
        }
        Box::pin(async move { Ok(!seen) })
    }
}

/// The guard named by a URL: `memory` or `memory://` ([`MemoryReplayGuard`]), `redis://…`
/// (shared by every instance; connected on first use). Errors never quote the URL.
pub fn guard_from_url(url: &str) -> Result<Arc<dyn ReplayGuard>> {
    if url == "memory" || url == "memory://" {
        return Ok(Arc::new(MemoryReplayGuard::new()));
    }
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
    match scheme {
        "redis" | "rediss" | "redis+unix" | "unix" => redis_guard(url),
        _ => Err(Error::Config {
            detail: "replay_guard must be \"memory\" (one process) or a redis:// URL \
                     (rediss://, redis+unix://) shared by every instance"
                .into(),
        }),
    }
}

#[cfg(feature = "redis")]
fn redis_guard(url: &str) -> Result<Arc<dyn ReplayGuard>> {
    Ok(Arc::new(RedisReplayGuard::open(url)?))
}

#[cfg(not(feature = "redis"))]
fn redis_guard(_url: &str) -> Result<Arc<dyn ReplayGuard>> {
    Err(Error::Config {
        detail: "replay_guard: this build of weixin-kit lacks the `redis` cargo feature, so a \
                 redis:// replay guard cannot be used (use \"memory\", or a ReplayGuard of your \
                 own)"
            .into(),
    })
}

#[cfg(feature = "redis")]
pub use self::redis_guard::RedisReplayGuard;

#[cfg(feature = "redis")]
mod redis_guard {
    use super::*;

    /// Bound on one round trip of the guard to Redis (connection included).
    const REDIS_GUARD_TIMEOUT: Duration = Duration::from_secs(2);

    /// Shared by every instance: each key `SET key 1 NX EX ttl` (one pipeline); a key that
    /// already existed makes it a replay. Connected on first use, through a connection manager
    /// that reconnects by itself; every round trip bounded by 2 s ([`Error::Timeout`]).
    pub struct RedisReplayGuard {
        client: redis::Client,
        conn: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    }

    impl fmt::Debug for RedisReplayGuard {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("RedisReplayGuard")
        }
    }

    fn redis_error(e: redis::RedisError) -> Error {
        if e.is_timeout() {
            Error::Timeout {
                may_have_been_applied: false,
                detail: format!("replay guard (Redis): {e}"),
            }
        } else {
            Error::Transport {
                may_have_been_applied: false,
                detail: format!("replay guard (Redis): {e}"),
            }
        }
    }

    impl RedisReplayGuard {
        /// Checks the URL now; connects on first use.
        pub fn open(url: &str) -> Result<Self> {
            let client = redis::Client::open(url).map_err(|e| Error::Config {
                detail: format!("replay_guard: invalid Redis URL ({:?})", e.kind()),
            })?;
            Ok(RedisReplayGuard {
                client,
                conn: tokio::sync::OnceCell::new(),
            })
        }

        async fn first_seen_unbounded(&self, keys: &[String], ttl: Duration) -> Result<bool> {
            let conn = self
                .conn
                .get_or_try_init(|| async {
                    let config = redis::aio::ConnectionManagerConfig::new()
                        .set_response_timeout(Some(REDIS_GUARD_TIMEOUT))
                        .set_connection_timeout(Some(REDIS_GUARD_TIMEOUT))
                        .set_number_of_retries(1);
                    self.client
                        .get_connection_manager_with_config(config)
                        .await
                        .map_err(redis_error)
                })
                .await?;
            let mut conn = conn.clone();
            let ttl_secs = ttl.as_secs().max(1);
            let mut pipe = redis::pipe();
            for key in keys {
                pipe.cmd("SET")
                    .arg(key)
                    .arg(1)
                    .arg("NX")
                    .arg("EX")
                    .arg(ttl_secs);
            }
            let set: Vec<Option<String>> =
                pipe.query_async(&mut conn).await.map_err(redis_error)?;
            Ok(set.iter().all(Option::is_some))
        }
    }

    impl ReplayGuard for RedisReplayGuard {
        fn first_seen<'a>(
            &'a self,
            keys: &'a [String],
            ttl: Duration,
        ) -> BoxFuture<'a, Result<bool>> {
            Box::pin(async move {
                tokio::time::timeout(REDIS_GUARD_TIMEOUT, self.first_seen_unbounded(keys, ttl))
                    .await
                    .unwrap_or_else(|_| {
                        Err(Error::Timeout {
                            may_have_been_applied: false,
                            detail: format!(
                                "replay guard (Redis): no answer within {REDIS_GUARD_TIMEOUT:?}"
                            ),
                        })
                    })
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(a: &str, b: &str) -> Vec<String> {
        vec![a.to_owned(), b.to_owned()]
    }

    #[tokio::test]
    async fn memory_guard_reports_a_key_seen_before() {
        let g = MemoryReplayGuard::new();
        let ttl = Duration::from_secs(60);
        assert!(g.first_seen(&keys("id1", "sig1"), ttl).await.unwrap());
        assert!(!g.first_seen(&keys("id1", "sig1"), ttl).await.unwrap());
        // Either key alone is enough.
        assert!(!g.first_seen(&keys("id1", "sig2"), ttl).await.unwrap());
        assert!(!g.first_seen(&keys("id3", "sig1"), ttl).await.unwrap());
        assert!(g.first_seen(&keys("id4", "sig4"), ttl).await.unwrap());
    }

    #[tokio::test]
    async fn memory_guard_entries_expire() {
        let g = MemoryReplayGuard::new();
        let ttl = Duration::from_millis(50);
        assert!(g.first_seen(&keys("a", "b"), ttl).await.unwrap());
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(g.first_seen(&keys("a", "b"), ttl).await.unwrap());
        // Expired entries are purged, not kept forever.
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(g.first_seen(&keys("c", "d"), ttl).await.unwrap());
        assert_eq!(g.len(), 2);
    }

    #[tokio::test]
    async fn memory_guard_is_bounded() {
        let g = MemoryReplayGuard::with_capacity(10);
        let ttl = Duration::from_secs(60);
        for i in 0..100 {
            let k = keys(&format!("id{i}"), &format!("sig{i}"));
            assert!(g.first_seen(&k, ttl).await.unwrap(), "{i}");
            assert!(g.len() <= 10, "{}", g.len());
        }
        // The newest are still remembered.
        assert!(!g.first_seen(&keys("id99", "x"), ttl).await.unwrap());
    }

    #[test]
    fn guard_urls() {
        assert!(guard_from_url("memory").is_ok());
        let e = guard_from_url("postgres://u:pw@h/db")
            .err()
            .unwrap()
            .to_string();
        assert!(!e.contains("pw"), "{e}");
        assert!(e.contains("replay_guard"), "{e}");
    }
}
