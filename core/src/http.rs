//! The HTTP layer every client shares: one reqwest connection pool (keep-alive, rustls) per
//! client, connect and request timeouts, a bounded retry loop with exponential backoff and
//! jitter, and failover from the main host to a backup host.
//!
//! It knows nothing about WeChat Pay: the caller supplies the headers of each attempt (so a
//! signing client re-signs the *same* body bytes with a fresh timestamp and nonce) and decides,
//! per response, whether it is final, retryable, or a reason to fail over
//! ([`ResponseVerdict`]). The mini-program client reuses it with its own verdicts.
//!
//! Error text never carries request headers (Authorization), bodies or query strings (the
//! mini-program `access_token` travels in the query).

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};

use crate::error::{Error, Result};
use crate::operation::RawResponse;

/// How a failed request is retried. The same request (same body, same `out_request_no`) is sent
/// again; only the signature's timestamp and nonce change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Requests sent in total, the first one and any failover included (at least 1).
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each further retry.
    pub base_delay: Duration,
    /// Upper bound of one delay (before jitter).
    pub max_delay: Duration,
    /// Move to the backup host on connection errors and 5xx answers.
    pub failover: bool,
}

impl Default for RetryPolicy {
    /// 3 attempts, 100 ms then 200 ms (±50 % jitter, at most 2 s), failover on.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            failover: true,
        }
    }
}

impl RetryPolicy {
    /// One attempt, no failover.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            failover: false,
            ..RetryPolicy::default()
        }
    }

    /// The pause before retry number `retry` (1 = the first retry): exponential, capped, with
    /// "equal jitter" (half fixed, half random) so that many clients do not retry in lockstep.
    pub fn delay(&self, retry: u32) -> Duration {
        let exp = self.base_delay.saturating_mul(
            1u32.checked_shl(retry.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        half + half.mul_f64(fastrand::f64())
    }
}

/// Connection settings of one client.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Time to establish a connection (TCP + TLS).
    pub connect_timeout: Duration,
    /// Time for one whole attempt: connect, send, and read the full response.
    pub timeout: Duration,
    pub user_agent: String,
    /// An explicit proxy URL (`http://…`, `socks5://…` is not supported); none by default, and
    /// the system proxy variables are not read.
    pub proxy: Option<String>,
    /// How long an idle keep-alive connection stays in the pool.
    pub pool_idle_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            user_agent: format!("weixin-kit/{} (Rust)", env!("CARGO_PKG_VERSION")),
            proxy: None,
            pool_idle_timeout: Duration::from_secs(90),
        }
    }
}

/// The body of an outgoing request. Cloning is cheap ([`Bytes`]); the same bytes go out on every
/// attempt.
#[derive(Clone)]
pub enum Body {
    Empty,
    /// Raw bytes; the Content-Type is one of the request headers.
    Bytes(Bytes),
    /// multipart/form-data, rebuilt from these parts for every attempt.
    Multipart(Vec<Part>),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Multipart(parts) => write!(f, "Multipart({} parts)", parts.len()),
        }
    }
}

/// One part of a multipart body.
#[derive(Clone)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: String,
    pub data: Bytes,
}

/// What the caller makes of a response the server sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseVerdict {
    /// Hand it back (success, or an error that must not be retried).
    Final,
    /// Send again to the same host after a backoff (e.g. 429).
    Retry,
    /// Send again, to the backup host when failover is on (e.g. 5xx).
    RetryElsewhere,
}

/// A request as it leaves: method, path and query (appended to the host's base URL), headers
/// common to every attempt, and the body.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Body,
}

/// Which host an attempt went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    Main,
    Backup,
}

/// One client's connection pool, hosts and retry policy. Cheap to share behind an `Arc`;
/// `reqwest::Client` is itself a handle on the pool.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    main: String,
    backup: Option<String>,
    retry: RetryPolicy,
}

impl HttpClient {
    /// `main` and `backup` are base URLs (`https://api.mch.weixin.qq.com`), without a trailing
    /// slash.
    pub fn new(
        config: &HttpConfig,
        main: impl Into<String>,
        backup: Option<String>,
        retry: RetryPolicy,
    ) -> Result<Self> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(config.user_agent.clone())
            .pool_idle_timeout(config.pool_idle_timeout)
            .tcp_keepalive(Duration::from_secs(60))
            .tcp_nodelay(true)
            .no_proxy()
            // WeChat answers directly; a redirect would resend a signed request elsewhere.
            .redirect(reqwest::redirect::Policy::none());
        if let Some(proxy) = &config.proxy {
            let proxy = reqwest::Proxy::all(proxy).map_err(|e| Error::Config {
                detail: format!("invalid proxy URL: {}", without_url(&e)),
            })?;
            builder = builder.proxy(proxy);
        }
        let client = builder.build().map_err(|e| Error::Config {
            detail: format!("cannot build the HTTP client: {}", without_url(&e)),
        })?;
        let trim = |s: String| s.trim_end_matches('/').to_owned();
        let main = trim(main.into());
        for url in std::iter::once(&main).chain(backup.as_ref()) {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Error::Config {
                    detail: format!("base URL `{url}` must start with https:// or http://"),
                });
            }
        }
        Ok(HttpClient {
            client,
            main,
            backup: backup.map(trim),
            retry: RetryPolicy {
                max_attempts: retry.max_attempts.max(1),
                ..retry
            },
        })
    }

    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    pub fn main_base_url(&self) -> &str {
        &self.main
    }

    pub fn backup_base_url(&self) -> Option<&str> {
        self.backup.as_deref()
    }

    fn base(&self, host: Host) -> &str {
        match host {
            Host::Backup => self.backup.as_deref().unwrap_or(&self.main),
            Host::Main => &self.main,
        }
    }

    /// Sends `request`, retrying per the policy. `attempt_headers` is called before every
    /// attempt (1-based) for the headers that change per attempt (a fresh signature);
    /// `verdict` judges each response. Returns the last response, or the last transport error
    /// when no attempt got one.
    pub async fn send<H, V>(
        &self,
        request: &Outgoing,
        mut attempt_headers: H,
        verdict: V,
    ) -> Result<RawResponse>
    where
        H: FnMut(u32) -> Result<HeaderMap>,
        V: Fn(&RawResponse) -> ResponseVerdict,
    {
        let mut host = Host::Main;
        let mut retries = 0u32;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            let extra = attempt_headers(attempt)?;
            let outcome = self.send_once(request, host, extra).await;
            let fail_over = match &outcome {
                Ok(response) => match verdict(response) {
                    ResponseVerdict::Final => return outcome.map_err(Failure::into_error),
                    ResponseVerdict::Retry => false,
                    ResponseVerdict::RetryElsewhere => true,
                },
                Err(failure) => failure.connection,
            };
            if last {
                return outcome.map_err(Failure::into_error);
            }
            if fail_over && self.retry.failover && host == Host::Main && self.backup.is_some() {
                // A different host: no reason to wait before trying it.
                host = Host::Backup;
                continue;
            }
            retries += 1;
            tokio::time::sleep(self.retry.delay(retries)).await;
        }
    }

    async fn send_once(
        &self,
        request: &Outgoing,
        host: Host,
        extra: HeaderMap,
    ) -> std::result::Result<RawResponse, Failure> {
        let url = format!("{}{}", self.base(host), request.path_and_query);
        let mut headers = request.headers.clone();
        headers.extend(extra);
        let mut builder = self
            .client
            .request(request.method.clone(), &url)
            .headers(headers);
        builder = match &request.body {
            Body::Empty => builder,
            Body::Bytes(bytes) => builder.body(bytes.clone()),
            Body::Multipart(parts) => {
                let mut form = reqwest::multipart::Form::new();
                for part in parts {
                    let mut p = reqwest::multipart::Part::stream_with_length(
                        part.data.clone(),
                        part.data.len() as u64,
                    )
                    .mime_str(&part.content_type)
                    .map_err(|e| Failure {
                        detail: format!(
                            "invalid Content-Type for multipart part `{}`: {}",
                            part.name,
                            without_url(&e)
                        ),
                        timeout: false,
                        connection: false,
                    })?;
                    if let Some(filename) = &part.filename {
                        p = p.file_name(filename.clone());
                    }
                    form = form.part(part.name.clone(), p);
                }
                builder.multipart(form)
            }
        };
        let what = || {
            format!(
                "{} {}{}",
                request.method,
                self.base(host),
                strip_query(&request.path_and_query)
            )
        };
        let response = builder
            .send()
            .await
            .map_err(|e| Failure::from_reqwest(&e, &what()))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| Failure::from_reqwest(&e, &what()))?;
        Ok(RawResponse {
            status,
            headers,
            body: body.to_vec(),
        })
    }
}

/// Why an attempt got no response.
#[derive(Debug)]
struct Failure {
    detail: String,
    /// The attempt ran out of time (→ [`Error::Timeout`], else [`Error::Transport`]).
    timeout: bool,
    /// The host may be down (connect failure or timeout, reset, closed connection): a reason
    /// to fail over. A slow answer from a live host is not.
    connection: bool,
}

impl Failure {
    fn from_reqwest(e: &reqwest::Error, what: &str) -> Failure {
        let timeout = e.is_timeout();
        Failure {
            detail: format!("{what}: {}", without_url(e)),
            timeout,
            connection: e.is_connect() || !timeout,
        }
    }

    fn into_error(self) -> Error {
        if self.timeout {
            Error::Timeout {
                detail: self.detail,
            }
        } else {
            Error::Transport {
                detail: self.detail,
            }
        }
    }
}

/// The error and its causes, without the URL reqwest puts in its Display.
fn without_url(e: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut current: Option<&dyn std::error::Error> = Some(e);
    let mut first = true;
    while let Some(err) = current {
        let s = if first {
            // reqwest's own Display ends in " for url (…)": drop it.
            let s = err.to_string();
            match s.find(" for url (") {
                Some(i) => s[..i].to_owned(),
                None => s,
            }
        } else {
            err.to_string()
        };
        if !s.is_empty() && !text.contains(&s) {
            if !first {
                text.push_str(": ");
            }
            text.push_str(&s);
        }
        first = false;
        current = err.source();
    }
    text
}

fn strip_query(path_and_query: &str) -> &str {
    path_and_query
        .split_once('?')
        .map_or(path_and_query, |(p, _)| p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(400),
            failover: true,
        };
        for _ in 0..50 {
            let d1 = p.delay(1);
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.delay(3);
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            let d30 = p.delay(30);
            assert!(d30 <= Duration::from_millis(400));
        }
    }

    #[test]
    fn query_is_never_in_error_text() {
        assert_eq!(strip_query("/cgi-bin/x?access_token=SECRET"), "/cgi-bin/x");
    }

    #[test]
    fn base_urls_are_checked() {
        let e = HttpClient::new(&HttpConfig::default(), "ftp://x", None, RetryPolicy::none())
            .unwrap_err();
        assert!(matches!(e, Error::Config { .. }));
    }
}
