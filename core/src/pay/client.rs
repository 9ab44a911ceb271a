//! The WeChat Pay APIv3 client: credentials parsed once, every request signed over the exact
//! bytes sent (by the private key or a [`Signer`]), every 2xx response verified (204 included)
//! by its certificate manager ([`crate::pay::certificates`]), retries and host failover through
//! the shared [`HttpClient`](crate::http::HttpClient). Built by
//! [`PayClientBuilder`](crate::pay::PayClientBuilder).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method};

use crate::crypto::{self, ApiV3Key};
use crate::dispatch::{self, JsonArgs};
use crate::error::{json_error, Error, Result};
use crate::http::{HttpClient, Outgoing};
use crate::operation::{
    ApiFamily, Auth, Execute, OperationSpec, PreparedRequest, RawResponse, RequestBody,
};
use crate::pay::builder::PayClientBuilder;
use crate::pay::certificates::{CertificateManager, CERTIFICATES_PATH, CERTIFICATES_SPEC};
use crate::pay::diagnosis::{self, SignedRequest};
use crate::pay::errors::{pay_error, pay_verdict};
use crate::pay::notification::{self, Notification};
use crate::pay::signer::{self, Signer};
use crate::pay::signing::{self, Verifier};
use crate::replay::{self, ReplayGuard};
use crate::time::unix_now;
use tracing::Instrument;

pub use crate::http::RetryPolicy;

/// What the escape hatch's errors are mapped with: no documented error table, so an error
/// carries status, code, message, detail and Request-ID but no solution text.
static REQUEST_SPEC: OperationSpec = OperationSpec {
    name: "request",
    tag: "",
    family: ApiFamily::Pay,
    method: "",
    path: "",
    auth: Auth::WechatPay2,
    // Not consulted: the escape hatch says per call (its `idempotent` argument or the method).
    idempotent: false,
    success_status: 200,
    common_errors: &[],
    errors: &[],
};

/// A WeChat Pay APIv3 client. Cheap to clone (the clones share one connection pool, one key
/// set and one certificate refresher); `Send + Sync`.
///
/// ```no_run
/// # async fn demo() -> weixin_kit::Result<()> {
/// use weixin_kit::pay::{ModifyStockInfoRequest, Operations as _, PayClient};
/// let client = PayClient::builder()
///     .mchid("1900000001")
///     .serial_no("5157F09EFDC096DE15EBE81A47057A7232F1B8E1")
///     .private_key_file("apiclient_key.pem")?
///     .wechatpay_public_key("PUB_KEY_ID_0119…", &std::fs::read_to_string("pub_key.pem").unwrap())?
///     .apiv3_key("…32 bytes…")?
///     .build()?;
/// client
///     .busifavor()
///     .modify_stock_info(
///         "1212",
///         &ModifyStockInfoRequest {
///             out_request_no: "1900000001-20240801-1".into(),
///             comment: Some("August".into()),
///             ..Default::default()
///         },
///     )
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PayClient {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) mchid: String,
    pub(super) serial_no: String,
    /// The merchant private key, or the caller's KMS/HSM callback.
    pub(super) signer: Arc<dyn Signer>,
    pub(super) external_signer: bool,
    /// Bound on one signature from an external signer (the per-attempt timeout).
    pub(super) sign_timeout: Duration,
    pub(super) apiv3_key: Option<ApiV3Key>,
    pub(super) public_key_id: Option<String>,
    pub(super) http: HttpClient,
    /// The keys responses are verified with, and the platform certificate downloads.
    pub(super) certs: Arc<CertificateManager>,
    /// Remembers parsed notifications (opt-in): a second parse is [`Error::Replayed`].
    pub(super) replay_guard: Option<Arc<dyn ReplayGuard>>,
}

impl std::fmt::Debug for PayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = &self.inner;
        f.debug_struct("PayClient")
            .field("mchid", &i.mchid)
            .field("serial_no", &i.serial_no)
            .field(
                "signer",
                &if i.external_signer {
                    "external Signer"
                } else {
                    "private key <redacted>"
                },
            )
            .field("apiv3_key", &i.apiv3_key.as_ref().map(|_| "<redacted>"))
            .field("wechatpay_public_key_id", &i.public_key_id)
            .field(
                "platform_certificates",
                &i.certs.verifier().certificate_serials(),
            )
            .field("base_url", &i.http.main_base_url())
            .field("backup_base_url", &i.http.backup_base_url())
            .field("retry", i.http.retry_policy())
            .field("replay_guard", &i.replay_guard.as_ref().map(|_| "on"))
            .finish()
    }
}

impl Inner {
    /// The `Authorization` header of one attempt: a fresh timestamp and nonce, the signing
    /// string over the exact bytes sent, and the signer's answer (awaited, bounded by the
    /// per-attempt timeout, and checked to be base64 before it goes anywhere).
    ///
    /// The attempt's timestamp and nonce are kept in `record`: with the request's method, path
    /// and body (which every attempt shares) they are what was signed, and a `401 SIGN_ERROR`
    /// is diagnosed against the last attempt's ([`diagnosis`]).
    async fn authorization(
        &self,
        method: &str,
        path_and_query: &str,
        signed: &[u8],
        record: &Mutex<Option<(i64, String)>>,
    ) -> Result<HeaderMap> {
        let timestamp = unix_now();
        let nonce = crypto::nonce();
        signing::check_header_fields(&self.mchid, &self.serial_no, &nonce)?;
        let message = signing::signing_string(method, path_and_query, timestamp, &nonce, signed);
        *record.lock().unwrap_or_else(|e| e.into_inner()) = Some((timestamp, nonce.clone()));
        let signature = if self.external_signer {
            tokio::time::timeout(
                self.sign_timeout,
                signer::checked_signature(&*self.signer, &message),
            )
            .await
            .unwrap_or_else(|_| {
                Err(Error::Timeout {
                    may_have_been_applied: false,
                    detail: format!(
                        "the signer did not answer within {:?}; nothing was sent",
                        self.sign_timeout
                    ),
                })
            })?
        } else {
            signer::checked_signature(&*self.signer, &message).await?
        };
        let authorization =
            signing::authorization(&self.mchid, &self.serial_no, timestamp, &nonce, &signature);
        let mut value = HeaderValue::from_str(&authorization).map_err(|_| Error::Config {
            detail: "the Authorization header is not valid ASCII (check mchid and serial_no)"
                .into(),
        })?;
        value.set_sensitive(true);
        let mut h = HeaderMap::with_capacity(1);
        h.insert(http::header::AUTHORIZATION, value);
        Ok(h)
    }
}

impl PayClient {
    pub fn builder() -> PayClientBuilder {
        PayClientBuilder::default()
    }

    pub fn mchid(&self) -> &str {
        &self.inner.mchid
    }

    /// The keys responses and notifications are verified with.
    pub fn verifier(&self) -> &Verifier {
        self.inner.certs.verifier()
    }

    /// Serials of the platform certificates currently trusted.
    pub fn platform_certificate_serials(&self) -> Vec<String> {
        self.inner.certs.verifier().certificate_serials()
    }

    /// How many times `/v3/certificates` was downloaded by this client.
    pub fn certificate_downloads(&self) -> u64 {
        self.inner.certs.downloads_done()
    }

    /// Downloads the platform certificates now (needs the APIv3 key) and installs them; returns
    /// the serials trusted afterwards. Also starts the background refresher.
    pub async fn refresh_certificates(&self) -> Result<Vec<String>> {
        self.inner.certs.refresh_now().await
    }

    /// Verifies a notification WeChat Pay POSTed to you (at most
    /// [`notification::MAX_NOTIFICATION_BYTES`], signature, 5-minute rule), decrypts
    /// its `resource` with the APIv3 key and types it. A notification signed with a platform
    /// certificate the client does not know yet triggers one certificate download.
    ///
    /// With a [replay guard](super::PayClientBuilder::replay_guard), a notification parsed
    /// before (same `id`, or same signed serial, nonce and timestamp) — by this client or any
    /// sharing the guard — is [`Error::Replayed`], naming its `id` only. It is remembered only
    /// once it verified and decrypted, so a notification that failed is not marked seen.
    pub async fn parse_notification(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Notification> {
        let Some(key) = &self.inner.apiv3_key else {
            return Err(Error::Config {
                detail: "parsing notifications needs the APIv3 key: set it with apiv3_key()".into(),
            });
        };
        // Before anything else: an oversized body must not cost a verification or a download.
        notification::check_size(body)?;
        let verified = self.inner.certs.verify(headers, body).await;
        trace_verification(Verified::Notification, &verified);
        verified?;
        let notification = notification::decrypt_verified(key, body)?;
        if let Some(guard) = &self.inner.replay_guard {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned()
            };
            let keys = replay::notification_keys(
                &self.inner.mchid,
                &notification.id,
                &header("Wechatpay-Serial"),
                &header("Wechatpay-Nonce"),
                &header("Wechatpay-Timestamp"),
            );
            if !guard.first_seen(&keys, replay::REPLAY_TTL).await? {
                return Err(Error::Replayed {
                    notification_id: notification.id,
                    detail: "the replay guard has seen this notification id or its \
                             serial, nonce and timestamp"
                        .into(),
                });
            }
        }
        Ok(notification)
    }

    /// Any operation of `spec/wechatpay.json` by its official name (`ModifyStockInfo`), with
    /// its path, query and body fields as wire-named JSON arguments: what the language bindings
    /// call. Validation, signing, retries and verification are the typed methods' own; the
    /// answer is the documented JSON (`Value::Null` for 204).
    pub async fn call(&self, operation: &str, args: JsonArgs) -> Result<serde_json::Value> {
        let op = dispatch::find(crate::pay::JSON_OPERATIONS, operation).ok_or_else(|| {
            dispatch::unknown_operation(
                "WeChat Pay",
                operation,
                crate::pay::JSON_OPERATIONS.iter().map(|o| o.spec.name),
            )
        })?;
        dispatch::call(self, op, args).await
    }

    /// A signed request to an endpoint the spec does not cover yet: signed, sent, retried and
    /// verified like every operation. `path_and_query` starts with `/v3/` and is sent as given
    /// (percent-encode it yourself). A 2xx JSON body is returned as a value, an empty one
    /// (204) as `Value::Null`; errors are [`Error::Api`] like an operation's (without solution
    /// text: there is no documented error table to take it from).
    ///
    /// `idempotent` says whether sending the request twice has the effect of sending it once;
    /// `None` takes the method's meaning (GET, HEAD, OPTIONS, PUT, DELETE yes; POST, PATCH no).
    /// A request that is not idempotent is not sent again after a failure that may have come
    /// after WeChat Pay received it: the error says `may_have_been_applied`.
    pub async fn request(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<serde_json::Value>,
        idempotent: Option<bool>,
    ) -> Result<serde_json::Value> {
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| Error::validation("method", "is not an HTTP method"))?;
        check_request_path(path_and_query)?;
        let body = match body {
            None => RequestBody::Empty,
            Some(value) => RequestBody::Json(
                serde_json::to_vec(&value)
                    .map_err(|_| Error::validation("body", "cannot be serialized as JSON"))?,
            ),
        };
        let mut outgoing = Outgoing::from_parts(method.clone(), path_and_query.to_owned(), &body);
        if let Some(idempotent) = idempotent {
            outgoing.idempotent = idempotent;
        }
        let response = self
            .send(&REQUEST_SPEC, outgoing, body.signed_bytes())
            .await?;
        if !(200..300).contains(&response.status) {
            return Err(pay_error(&REQUEST_SPEC, &response));
        }
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&response.body).map_err(|e| Error::UnexpectedResponse {
            status: response.status,
            detail: format!(
                "{method} {} answered a body that is not JSON: {}",
                path_and_query
                    .split_once('?')
                    .map_or(path_and_query, |(path, _)| path),
                json_error("", &e)
            ),
        })
    }

    /// Signs, sends (with retries and failover) and, for a 2xx, verifies. Non-2xx answers are
    /// returned unverified: WeChat Pay signs its error bodies too, but a 5xx from a proxy or a
    /// load balancer carries no signature, and an error is never acted on as data — `decode_*`
    /// maps it to [`Error::Api`] / [`Error::UnexpectedResponse`].
    ///
    /// `signed` is the part of the body the signature covers (the JSON, or a media upload's
    /// `meta`).
    async fn send(
        &self,
        op: &'static OperationSpec,
        outgoing: Outgoing,
        signed: &[u8],
    ) -> Result<RawResponse> {
        async {
            let response = self.send_unverified(op, outgoing, signed).await?;
            if (200..300).contains(&response.status) {
                let verified = self
                    .inner
                    .certs
                    .verify(&response.headers, &response.body)
                    .await;
                trace_verification(Verified::Response, &verified);
                verified?;
            }
            Ok(response)
        }
        .instrument(crate::http::trace::call_span(op))
        .await
    }

    async fn send_unverified(
        &self,
        op: &'static OperationSpec,
        mut outgoing: Outgoing,
        signed: &[u8],
    ) -> Result<RawResponse> {
        let inner = &*self.inner;
        // Names the key WeChat Pay should answer with (and the one sensitive fields are
        // encrypted for): in public-key mode the key ID, as the official samples send it; in
        // certificate mode the newest platform certificate's serial, as wechatpay-go does
        // (`GetNewestSerial`). During a migration WeChat Pay shifts its answers by this header.
        let serial = match &inner.public_key_id {
            Some(id) => Some(id.clone()),
            None => self.verifier().newest_certificate_serial(unix_now()),
        };
        if let Some(v) = serial.and_then(|s| HeaderValue::from_str(&s).ok()) {
            outgoing.headers.insert("Wechatpay-Serial", v);
        }
        let method_str = outgoing.method.as_str();
        let path_and_query = outgoing.path_and_query.as_str();
        let record = Mutex::new(None);
        let record_ref = &record;
        let response = inner
            .http
            .send(
                &outgoing,
                // Every attempt re-signs the same bytes with a fresh timestamp and nonce:
                // WeChat Pay rejects timestamps older than five minutes, and a backoff or a
                // failover may take a while.
                move |_attempt| inner.authorization(method_str, path_and_query, signed, record_ref),
                |response| pay_verdict(op, response),
            )
            .await?;
        // A 401 SIGN_ERROR: compared with what the last attempt signed (copied only then).
        let last = record.into_inner().unwrap_or_else(|e| e.into_inner());
        let signed_by_last = |(timestamp, nonce)| SignedRequest {
            method: method_str.to_owned(),
            url: path_and_query.to_owned(),
            timestamp,
            nonce,
            body: signed.to_vec(),
        };
        if let Some(diagnosis) = last
            .filter(|_| response.status == 401)
            .and_then(|last| diagnosis::diagnose(&signed_by_last(last), &response))
        {
            return Err(match pay_error(op, &response) {
                Error::Api(mut api) => {
                    api.sign_diagnosis = Some(Box::new(diagnosis));
                    Error::Api(api)
                }
                other => other,
            });
        }
        Ok(response)
    }

    /// `GET /v3/certificates`, signed and sent, not verified: what the certificate manager
    /// downloads with.
    pub(super) async fn fetch_certificate_listing(&self) -> Result<RawResponse> {
        let outgoing = Outgoing::from_parts(
            Method::GET,
            CERTIFICATES_PATH.to_owned(),
            &RequestBody::Empty,
        );
        // Its spec: a 401 SIGN_ERROR is mapped (with its diagnosis) in `send_unverified`.
        self.send_unverified(&CERTIFICATES_SPEC, outgoing, b"")
            .instrument(crate::http::trace::call_span(&CERTIFICATES_SPEC))
            .await
    }
}

/// What a signature verdict is about.
#[derive(Clone, Copy)]
enum Verified {
    Response,
    Notification,
}

/// A signature verification verdict as an event: `verification = "ok"`, or `"failed"` with the
/// error's kind (never its text: it may quote the answer or the notification).
fn trace_verification(what: Verified, verified: &Result<()>) {
    use crate::http::trace::{error_kind, TARGET};
    match (what, verified) {
        (Verified::Response, Ok(())) => {
            tracing::debug!(target: TARGET, verification = "ok", "response verified")
        }
        (Verified::Notification, Ok(())) => {
            tracing::debug!(target: TARGET, verification = "ok", "notification verified")
        }
        (Verified::Response, Err(e)) => tracing::warn!(
            target: TARGET,
            verification = "failed",
            error_kind = error_kind(e),
            "response verification failed"
        ),
        (Verified::Notification, Err(e)) => tracing::warn!(
            target: TARGET,
            verification = "failed",
            error_kind = error_kind(e),
            "notification verification failed"
        ),
    }
}

/// The escape hatch's path and query are signed as given, so they must also be sent as given:
/// the URL parser percent-encodes anything outside RFC 3986's characters (spaces, non-ASCII,
/// `"<>{}` and the like; `'` in a query) and removes dot segments, after which the signature
/// would no longer match.
fn check_request_path(path_and_query: &str) -> Result<()> {
    if !path_and_query.starts_with("/v3/") {
        return Err(Error::validation(
            "path",
            "must start with `/v3/` (every WeChat Pay APIv3 endpoint does)",
        ));
    }
    let (path, query) = match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    };
    let bytes = path_and_query.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let allowed = b.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=:@/?".contains(&b)
            || (b == b'%'
                && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
        if !allowed {
            return Err(Error::validation(
                "path",
                "may contain only RFC 3986 unreserved characters, %XX percent-encodings, \
                 sub-delims and `:@/?`: percent-encode anything else yourself (it is signed as \
                 given and would be re-encoded when sent)",
            ));
        }
    }
    if query.is_some_and(|q| q.contains('\'')) {
        return Err(Error::validation(
            "path",
            "may not contain `'` in the query: percent-encode it as %27 (it is signed as given \
             and would be re-encoded when sent)",
        ));
    }
    let dot = |segment: &str| {
        let s = segment.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    };
    if path.split('/').any(dot) {
        return Err(Error::validation(
            "path",
            "may not contain `.` or `..` segments: they would be resolved before sending, so \
             the path signed would not be the path sent",
        ));
    }
    Ok(())
}

impl dispatch::CallByName for PayClient {
    async fn call_by_name(&self, operation: &str, args: JsonArgs) -> Result<serde_json::Value> {
        self.call(operation, args).await
    }
}

impl Execute for PayClient {
    async fn execute(&self, request: PreparedRequest) -> Result<RawResponse> {
        let outgoing = Outgoing::from_prepared(&request)?;
        self.send(request.operation, outgoing, request.body.signed_bytes())
            .await
    }
}

impl crate::pay::Operations for PayClient {}

#[cfg(test)]
mod path_tests {
    use super::check_request_path;
    use crate::Error;

    fn rejected(p: &str) -> String {
        match check_request_path(p) {
            Err(Error::Validation { field, rule }) if field == "path" => rule,
            other => panic!("{p}: {other:?}"),
        }
    }

    #[test]
    fn escape_hatch_paths_are_sent_as_signed() {
        for ok in [
            "/v3/certificates",
            "/v3/marketing/busifavor/stocks/123?limit=10&offset=0",
            "/v3/x/a%20b/%E4%B8%AD?q=a%27b&t=1:2@3",
            "/v3/x/!$&'()*+,;=:@-._~",
            "/v3/x/..a/.b./...",
        ] {
            check_request_path(ok).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
            // What the URL parser makes of it is exactly what was checked (and signed).
            let url = reqwest::Url::parse(&format!("https://api.mch.weixin.qq.com{ok}")).unwrap();
            let sent = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_owned(),
            };
            assert_eq!(sent, ok);
        }
        for bad in [
            "/v3/x/a b",
            "/v3/x/中文",
            "/v3/x/\"q\"",
            "/v3/x/<a>",
            "/v3/x/{id}",
            "/v3/x/`",
            "/v3/x/a%2",
            "/v3/x/a%zz",
            "/v3/x#frag",
            "/v3/x\\y",
            "/v3/x?q=it's",
        ] {
            assert!(rejected(bad).contains("percent-encod"), "{bad}");
        }
        for dots in [
            "/v3/x/../y",
            "/v3/./x",
            "/v3/x/..",
            "/v3/x/%2e%2E/y",
            "/v3/x/.%2e?q=1",
        ] {
            assert!(rejected(dots).contains("segments"), "{dots}");
        }
        assert!(rejected("v3/x").contains("start with"));
    }
}
