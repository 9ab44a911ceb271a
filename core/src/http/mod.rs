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
//! Modules: `retry` ([`RetryPolicy`], [`ResponseVerdict`]), `message` ([`Outgoing`],
//! [`RawResponse`]); the client and its send loop here.

use std::future::Future;
use std::time::Duration;

use http::HeaderMap;

use crate::error::{Error, Result};

mod base_url;
mod message;
mod retry;
#[cfg(test)]
mod tests;

pub(crate) use message::RedactedPath;
pub use message::{Body, Outgoing, Part, RawResponse};
pub use retry::{ResponseVerdict, RetryPolicy};

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
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("user_agent", &self.user_agent)
            .field("proxy", &self.proxy.as_deref().map(redacted_proxy))
            .field("pool_idle_timeout", &self.pool_idle_timeout)
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

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            user_agent: format!("weixin-kit/{} (Rust)", env!("CARGO_PKG_VERSION")),
            proxy: None,
            pool_idle_timeout: Duration::from_secs(90),
            danger_allow_insecure_http: false,
        }
    }
}

/// The connection setters every client builder has (`timeout`, `connect_timeout`, `proxy`,
/// `user_agent_suffix`), for a builder with an `http: HttpConfig` field: one definition instead
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

    /// Sends `request`, retrying per the policy. `attempt_headers` is called and awaited before
    /// every attempt (1-based) for the headers that change per attempt (a fresh signature, which
    /// may come from a remote signer); an error there ends the call before that attempt is sent.
    /// `verdict` judges each response. Returns the last response, or the last transport error
    /// when no attempt got one.
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
        let mut host = Host::Main;
        let mut retries = 0u32;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.max_attempts;
            let extra = attempt_headers(attempt).await?;
            let outcome = self.send_once(request, host, extra).await;
            let fail_over = match &outcome {
                Ok(response) => match verdict(response) {
                    ResponseVerdict::Final => return outcome.map_err(Failure::into_error),
                    ResponseVerdict::Retry => false,
                    ResponseVerdict::RetryElsewhere => true,
                },
                Err(Failure::NoResponse(failure)) => failure.connection,
                Err(Failure::Final(_)) => return outcome.map_err(Failure::into_error),
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
        })
    }

    fn into_error(self) -> Error {
        match self {
            Failure::NoResponse(f) => f.into_error(),
            Failure::Final(e) => e,
        }
    }
}

impl NoResponse {
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
