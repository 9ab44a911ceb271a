//! The HTTP layer every client shares: one reqwest connection pool (keep-alive, rustls) per
//! client, connect and request timeouts, a bounded retry loop with exponential backoff and
//! jitter, and failover from the main host to a backup host.
//!
//! It knows nothing about WeChat Pay or the spec's operations: a request arrives as an
//! [`Outgoing`] (method, path and query, headers, body; `crate::operation` builds one from an
//! operation's prepared request), the caller supplies the headers of each attempt (so a
//! signing client re-signs the *same* body bytes with a fresh timestamp and nonce) and decides,
//! per response, whether it is final, retryable, or a reason to fail over
//! ([`ResponseVerdict`]). The mini-program client reuses it with its own verdicts.
//!
//! Error text never carries request headers (Authorization), bodies or query strings (the
//! mini-program `access_token` travels in the query).
//!
//! Modules: `retry` ([`RetryPolicy`], [`ResponseVerdict`], `Retry-After`), `message`
//! ([`Outgoing`], [`RawResponse`]), [`breaker`] (sticky failover); the client and its send loop
//! here.

use std::future::Future;
use std::time::Duration;

use http::HeaderMap;
use tracing::Instrument;

use crate::error::{Error, Result};

mod base_url;
pub mod breaker;
mod message;
mod retry;
#[cfg(test)]
mod tests;
pub mod trace;

pub use breaker::FAILOVER_COOLDOWN;
pub(crate) use message::RedactedPath;
pub use message::{idempotent_method, Body, Outgoing, Part, RawResponse};
pub use retry::{retry_after, ResponseVerdict, RetryPolicy, MAX_RETRY_AFTER};

/// Connection settings of one client.
///
/// `Debug` shows the proxy URL with its password (or a lone user name, often a token) replaced
/// by `***`.
#[derive(Clone)]
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
    /// Accept `http://` base URLs whose host is not loopback (127.0.0.0/8, ::1, `localhost`):
    /// AppSecret, tokens and personal data then travel unencrypted. Off by default; see
    /// `base_url::check_base_url`.
    pub danger_allow_insecure_http: bool,
    /// Time for one whole call: every attempt, backoff and `Retry-After` wait. No retry starts
    /// whose wait would end after it.
    pub deadline: Duration,
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("user_agent", &self.user_agent)
            .field("proxy", &self.proxy.as_deref().map(redacted_proxy))
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("deadline", &self.deadline)
            .field(
                "danger_allow_insecure_http",
                &self.danger_allow_insecure_http,
            )
            .finish()
    }
}

/// A proxy URL without its credentials: `http://user:***@host:port`, a lone user name (often a
/// token) as `***`; a URL that does not parse is not shown at all (where its credentials are
/// cannot be known).
fn redacted_proxy(url: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return "<a proxy URL that does not parse>".into();
    };
    let redacted = if parsed.password().is_some() {
        parsed.set_password(Some("***"))
    } else if !parsed.username().is_empty() {
        parsed.set_username("***")
    } else {
        Ok(())
    };
    match redacted {
        Ok(()) => parsed.to_string(),
        Err(()) => "<a proxy URL that does not parse>".into(),
    }
}

/// The default [`HttpConfig::deadline`]: two full attempts at the default 30 s timeout.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            user_agent: format!("weixin-kit/{} (Rust)", env!("CARGO_PKG_VERSION")),
            proxy: None,
            pool_idle_timeout: Duration::from_secs(90),
            danger_allow_insecure_http: false,
            deadline: DEFAULT_DEADLINE,
        }
    }
}

/// The connection setters every client builder has (`timeout`, `connect_timeout`, `deadline`,
/// `proxy`, `user_agent_suffix`), for a builder with an `http: HttpConfig` field: one definition instead
/// of a copy per client.
macro_rules! http_setters {
    () => {
        /// Time for one attempt: connect, send and read the whole response (default 30 s).
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.http.timeout = timeout;
            self
        }

        /// Time to establish a connection (default 5 s).
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.http.connect_timeout = timeout;
            self
        }

        /// Time for one whole call — every attempt, backoff and `Retry-After` wait (default
        /// 60 s): no retry starts whose wait would end after it, and a call still running
        /// then fails with [`Error::Timeout`]($crate::Error::Timeout).
        pub fn deadline(mut self, deadline: std::time::Duration) -> Self {
            self.http.deadline = deadline;
            self
        }

        /// Send through this proxy (the system proxy settings are not read).
        pub fn proxy(mut self, url: impl Into<String>) -> Self {
            self.http.proxy = Some(url.into());
            self
        }

        /// **Dangerous**: accept `http://` base URLs on hosts other than loopback (127.0.0.0/8,
        /// ::1, `localhost`), so that the AppSecret, access tokens, signatures and personal data
        /// travel unencrypted. Off by default: a non-loopback `http://` base URL is an
        /// [`Error::Config`](crate::Error::Config) from `build`. Only for a trusted network
        /// (a TLS-terminating sidecar on the same host is loopback and needs no opt-in).
        pub fn danger_allow_insecure_http(mut self, allow: bool) -> Self {
            self.http.danger_allow_insecure_http = allow;
            self
        }

        /// Appended to the User-Agent (`weixin-kit/VERSION (Rust) SUFFIX`), e.g. a binding's
        /// name.
        pub fn user_agent_suffix(mut self, suffix: &str) -> Self {
            self.http.user_agent = format!(
                "{} {suffix}",
                $crate::http::HttpConfig::default().user_agent
            );
            self
        }
    };
}
pub(crate) use http_setters;

/// The largest response body read (16 MiB): anything bigger is not a WeChat answer.
pub const MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;

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
    deadline: Duration,
    /// Sticky failover, shared by the clones.
    breaker: std::sync::Arc<breaker::Breaker>,
}

/// Mozilla's root certificates (feature `webpki-roots`), parsed once.
#[cfg(feature = "webpki-roots")]
fn webpki_roots() -> Vec<reqwest::Certificate> {
    static ROOTS: std::sync::OnceLock<Vec<reqwest::Certificate>> = std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .filter_map(|der| reqwest::Certificate::from_der(der.as_ref()).ok())
                .collect()
        })
        .clone()
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
        // Otherwise reqwest verifies with the platform's verifier (rustls-platform-verifier).
        #[cfg(feature = "webpki-roots")]
        {
            builder = builder.tls_certs_only(webpki_roots());
        }
        let client = builder.build().map_err(|e| Error::Config {
            detail: format!("cannot build the HTTP client: {}", without_url(&e)),
        })?;
        let trim = |s: String| s.trim_end_matches('/').to_owned();
        let main = trim(main.into());
        let backup = backup.map(trim);
        base_url::check_base_url("base_url", &main, config.danger_allow_insecure_http)?;
        if let Some(url) = &backup {
            base_url::check_base_url("backup_base_url", url, config.danger_allow_insecure_http)?;
        }
        Ok(HttpClient {
            client,
            main,
            backup,
            retry: RetryPolicy {
                max_attempts: retry.max_attempts.max(1),
                ..retry
            },
            deadline: config.deadline,
            breaker: std::sync::Arc::new(breaker::Breaker::new(FAILOVER_COOLDOWN)),
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

    /// Sends `request`, retrying per the policy within the call's deadline. `attempt_headers`
    /// is called and awaited before every attempt (1-based) for the headers that change per
    /// attempt (a fresh signature, which may come from a remote signer); an error there ends the
    /// call before that attempt is sent. `verdict` judges each response. Returns the last
    /// response, or the last transport error when no attempt got one.
    ///
    /// What is sent again:
    /// - a failure where nothing was sent (connect error: refused, DNS, TLS handshake, connect
    ///   timeout): always, failing over to the backup host (and opening the [`breaker`]);
    /// - a failure after the request may have reached the server (timeout after connecting, a
    ///   connection closed or reset before the answer, a broken body): only when
    ///   [`Outgoing::idempotent`]; otherwise the call ends at once with
    ///   [`Error::Transport`] / [`Error::Timeout`] and `may_have_been_applied: true`;
    /// - an answer the verdict calls retryable: after the backoff, or after the `Retry-After`
    ///   the server sent (at most [`MAX_RETRY_AFTER`]); when that wait would pass the deadline,
    ///   the answer is returned at once.
    ///
    /// No backoff starts that would end after the deadline; when the deadline passes during an
    /// attempt, [`Error::Timeout`] says so.
    pub async fn send<H, F, V>(
        &self,
        request: &Outgoing,
        mut attempt_headers: H,
        verdict: V,
    ) -> Result<RawResponse>
    where
        H: FnMut(u32) -> F,
        F: Future<Output = Result<HeaderMap>>,
        V: Fn(&RawResponse) -> ResponseVerdict,
    {
        let deadline = tokio::time::Instant::now() + self.deadline;
        let can_fail_over = self.retry.failover && self.backup.is_some();
        let mut host = if can_fail_over && self.breaker.is_open(std::time::Instant::now()) {
            Host::Backup
        } else {
            Host::Main
        };
        let mut retries = 0u32;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            let extra = attempt_headers(attempt).await?;
            let Some(remaining) = deadline
                .checked_duration_since(tokio::time::Instant::now())
                .filter(|d| !d.is_zero())
            else {
                return Err(self.deadline_exceeded(request, attempt - 1, false));
            };
            let span = trace::attempt_span(attempt, host);
            let started = std::time::Instant::now();
            let sent = self
                .send_once(request, host, extra)
                .instrument(span.clone());
            let outcome = match tokio::time::timeout(remaining, sent).await {
                Ok(outcome) => outcome,
                // Cut off mid-attempt: whether it reached the server is unknown.
                Err(_) => {
                    trace::no_answer(&span, "deadline", true, started.elapsed());
                    return Err(self.deadline_exceeded(request, attempt, !request.idempotent));
                }
            };
            let (fail_over, wait, reason) = match &outcome {
                Ok(response) => {
                    trace::answered(&span, response, started.elapsed());
                    if host == Host::Main {
                        self.breaker.close();
                    }
                    let wait =
                        || retry::retry_after(&response.headers, std::time::SystemTime::now());
                    match verdict(response) {
                        ResponseVerdict::Final => return outcome.map_err(Failure::into_error),
                        ResponseVerdict::Retry => (false, wait(), "retryable answer"),
                        ResponseVerdict::RetryElsewhere => (true, wait(), "server error"),
                    }
                }
                Err(Failure::NoResponse(failure)) => {
                    trace::no_answer(
                        &span,
                        trace::failure_kind(failure),
                        failure.maybe_sent,
                        started.elapsed(),
                    );
                    if failure.maybe_sent && !request.idempotent {
                        // Sending it again could apply it twice.
                        trace::not_retried("may have been applied and is not idempotent");
                        return outcome.map_err(|f| f.into_error_applied(true));
                    }
                    if !failure.maybe_sent && host == Host::Main && can_fail_over {
                        self.breaker.trip(std::time::Instant::now());
                    }
                    (failure.connection, None, trace::failure_kind(failure))
                }
                Err(Failure::Final(_)) => {
                    trace::no_answer(&span, "final", false, started.elapsed());
                    return outcome.map_err(Failure::into_error);
                }
            };
            if last {
                trace::not_retried("attempts exhausted");
                return outcome.map_err(Failure::into_error);
            }
            if let Some(wait) = wait {
                // The server said when to come back: then, on the same host, or not at all.
                let ends = tokio::time::Instant::now().checked_add(wait);
                if wait > MAX_RETRY_AFTER || ends.is_none_or(|t| t >= deadline) {
                    trace::not_retried("Retry-After beyond the deadline");
                    return outcome.map_err(Failure::into_error);
                }
                retries += 1;
                trace::retrying(&format!("{reason}, Retry-After"), host, wait);
                tokio::time::sleep(wait).await;
                continue;
            }
            if fail_over && can_fail_over && host == Host::Main {
                // A different host: no reason to wait before trying it.
                host = Host::Backup;
                trace::retrying(reason, host, std::time::Duration::ZERO);
                continue;
            }
            retries += 1;
            let delay = self.retry.delay(retries);
            if tokio::time::Instant::now() + delay >= deadline {
                // The retry could not even start before the deadline.
                trace::not_retried("the backoff would pass the deadline");
                return outcome.map_err(|f| {
                    f.into_error().with_note(&format!(
                        "not sent again: the call's deadline ({:?}) would pass during the backoff",
                        self.deadline
                    ))
                });
            }
            trace::retrying(reason, host, delay);
            tokio::time::sleep(delay).await;
        }
    }

    /// The call ran out of its deadline after `attempts` attempts; `maybe_applied` when the
    /// attempt cut off may have reached the server and the request is not idempotent.
    fn deadline_exceeded(&self, request: &Outgoing, attempts: u32, maybe_applied: bool) -> Error {
        Error::Timeout {
            detail: format!(
                "{} {}: the call's deadline ({:?}) was exceeded after {attempts} attempt(s)",
                request.method,
                strip_query(&request.path_and_query),
                self.deadline
            ),
            may_have_been_applied: maybe_applied,
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
                    .map_err(|e| {
                        Failure::Final(Error::Config {
                            detail: format!(
                                "invalid Content-Type for multipart part `{}`: {}",
                                part.name,
                                without_url(&e)
                            ),
                        })
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
        let mut response = builder
            .send()
            .await
            .map_err(|e| Failure::from_reqwest(&e, &what()))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let too_large = || {
            Failure::Final(Error::UnexpectedResponse {
                status,
                detail: format!(
                    "{} answered a body larger than {MAX_RESPONSE_BODY} bytes",
                    what()
                ),
            })
        };
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BODY as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Failure::from_reqwest(&e, &what()))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BODY {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }
}

/// Why an attempt got no response.
#[derive(Debug)]
enum Failure {
    /// No answer: sent again per the retry policy.
    NoResponse(NoResponse),
    /// Sending again cannot help (the request could not be built here, or the answer is not one
    /// WeChat sends): returned at once.
    Final(Error),
}

#[derive(Debug)]
struct NoResponse {
    detail: String,
    /// The request may have reached the server: the failure came after the connection was
    /// made (a timeout after connecting, a connection closed or reset before the answer, a
    /// broken body). A connect error (refused, DNS, TLS handshake, connect timeout) is the one
    /// failure where nothing was sent.
    maybe_sent: bool,
    /// The attempt ran out of time (→ [`Error::Timeout`], else [`Error::Transport`]).
    timeout: bool,
    /// The host may be down (connect failure or timeout, reset, closed connection): a reason
    /// to fail over. A slow answer from a live host is not.
    connection: bool,
}

impl Failure {
    fn from_reqwest(e: &reqwest::Error, what: &str) -> Failure {
        let detail = format!("{what}: {}", without_url(e));
        if e.is_builder() {
            // Nothing was sent (e.g. the URL does not parse): the same request would fail the
            // same way, so it is a configuration problem, not a retryable transport one.
            return Failure::Final(Error::Config { detail });
        }
        let timeout = e.is_timeout();
        Failure::NoResponse(NoResponse {
            detail,
            timeout,
            // Only failures to connect or to send (reset, closed connection) say the host may
            // be down; a slow answer or a broken body from a live host does not.
            connection: e.is_connect() || (e.is_request() && !timeout),
            maybe_sent: !e.is_connect(),
        })
    }

    /// The error of a request that was sent again or may be sent again (nothing reached the
    /// server, or the request is idempotent).
    fn into_error(self) -> Error {
        self.into_error_applied(false)
    }

    /// The error; with `not_resent`, saying the request may have been applied (when the failure
    /// came after it may have reached the server) and so was not sent again.
    fn into_error_applied(self, not_resent: bool) -> Error {
        match self {
            Failure::NoResponse(f) => {
                let applied = not_resent && f.maybe_sent;
                if f.timeout {
                    Error::Timeout {
                        detail: f.detail,
                        may_have_been_applied: applied,
                    }
                } else {
                    Error::Transport {
                        detail: f.detail,
                        may_have_been_applied: applied,
                    }
                }
            }
            Failure::Final(e) => e,
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
