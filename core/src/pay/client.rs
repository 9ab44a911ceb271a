//! The WeChat Pay APIv3 client: credentials parsed once, every request signed over the exact
//! bytes sent, every 2xx response verified (204 included), retries and host failover through the
//! shared [`HttpClient`](crate::http::HttpClient).

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Method};

use crate::crypto::{self, ApiV3Key, Certificate, PrivateKey, PublicKey};
use crate::dispatch::{self, JsonArgs};
use crate::error::{json_error, Error, Result};
use crate::http::{HttpClient, HttpConfig, Outgoing};
use crate::operation::{
    ApiFamily, Auth, Execute, OperationSpec, PreparedRequest, RawResponse, RequestBody,
};
use crate::pay::certificates::{self, CertificateState, CERTIFICATES_PATH};
use crate::pay::errors::{pay_error, pay_verdict};
use crate::pay::notification::{self, Notification};
use crate::pay::signer::{self, Signer};
use crate::pay::signing::{self, Verifier, VerifyFailure};
use crate::time::unix_now;

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
    success_status: 200,
    errors: &[],
};

static CERTIFICATES_SPEC: OperationSpec = OperationSpec {
    name: "Certificates",
    tag: "certificates",
    family: ApiFamily::Pay,
    method: "GET",
    path: CERTIFICATES_PATH,
    auth: Auth::WechatPay2,
    success_status: 200,
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
    inner: Arc<Inner>,
}

struct Inner {
    mchid: String,
    serial_no: String,
    /// The merchant private key, or the caller's KMS/HSM callback.
    signer: Arc<dyn Signer>,
    external_signer: bool,
    /// Bound on one signature from an external signer (the per-attempt timeout).
    sign_timeout: Duration,
    apiv3_key: Option<ApiV3Key>,
    public_key_id: Option<String>,
    verifier: Verifier,
    http: HttpClient,
    certs: CertificateState,
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
            .field("platform_certificates", &i.verifier.certificate_serials())
            .field("base_url", &i.http.main_base_url())
            .field("backup_base_url", &i.http.backup_base_url())
            .field("retry", i.http.retry_policy())
            .finish()
    }
}

impl Inner {
    /// The `Authorization` header of one attempt: a fresh timestamp and nonce, the signing
    /// string over the exact bytes sent, and the signer's answer (awaited, bounded by the
    /// per-attempt timeout, and checked to be base64 before it goes anywhere).
    async fn authorization(
        &self,
        method: &str,
        path_and_query: &str,
        signed: &[u8],
    ) -> Result<HeaderMap> {
        let timestamp = unix_now();
        let nonce = crypto::nonce();
        signing::check_header_fields(&self.mchid, &self.serial_no, &nonce)?;
        let message = signing::signing_string(method, path_and_query, timestamp, &nonce, signed);
        let signature = if self.external_signer {
            tokio::time::timeout(
                self.sign_timeout,
                signer::checked_signature(&*self.signer, &message),
            )
            .await
            .unwrap_or_else(|_| {
                Err(Error::Timeout {
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
        &self.inner.verifier
    }

    /// Serials of the platform certificates currently trusted.
    pub fn platform_certificate_serials(&self) -> Vec<String> {
        self.inner.verifier.certificate_serials()
    }

    /// How many times `/v3/certificates` was downloaded by this client.
    pub fn certificate_downloads(&self) -> u64 {
        self.inner
            .certs
            .downloads_done
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Downloads the platform certificates now (needs the APIv3 key) and installs them; returns
    /// the serials trusted afterwards. Also starts the background refresher.
    pub async fn refresh_certificates(&self) -> Result<Vec<String>> {
        let mut last = self.inner.certs.last_attempt.lock().await;
        self.download_certificates(&mut last).await?;
        Ok(self.inner.verifier.certificate_serials())
    }

    /// Verifies a notification WeChat Pay POSTed to you (signature, 5-minute rule), decrypts
    /// its `resource` with the APIv3 key and types it. A notification signed with a platform
    /// certificate the client does not know yet triggers one certificate download.
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
        self.verify_with_refresh(headers, body).await?;
        notification::decrypt_verified(key, body)
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
    pub async fn request(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<serde_json::Value>,
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
        let outgoing = Outgoing::from_parts(method.clone(), path_and_query.to_owned(), &body);
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
        let response = self.send_unverified(op, outgoing, signed).await?;
        if (200..300).contains(&response.status) {
            self.verify_with_refresh(&response.headers, &response.body)
                .await?;
        }
        Ok(response)
    }

    async fn send_unverified(
        &self,
        op: &'static OperationSpec,
        mut outgoing: Outgoing,
        signed: &[u8],
    ) -> Result<RawResponse> {
        let inner = &*self.inner;
        if let Some(id) = &inner.public_key_id {
            // As the official samples do in public-key mode: names the key WeChat Pay should
            // answer with (and the one sensitive fields are encrypted for).
            if let Ok(v) = HeaderValue::from_str(id) {
                outgoing.headers.insert("Wechatpay-Serial", v);
            }
        }
        let method_str = outgoing.method.as_str();
        let path_and_query = outgoing.path_and_query.as_str();
        inner
            .http
            .send(
                &outgoing,
                // Every attempt re-signs the same bytes with a fresh timestamp and nonce:
                // WeChat Pay rejects timestamps older than five minutes, and a backoff or a
                // failover may take a while.
                move |_attempt| inner.authorization(method_str, path_and_query, signed),
                |response| pay_verdict(op, response),
            )
            .await
    }

    /// Verifies a signed response or notification (headers and raw body); an unknown serial
    /// triggers one certificate download (throttled, see [`Self::refresh_for_serial`]), then one
    /// more check.
    async fn verify_with_refresh(&self, headers: &HeaderMap, body: &[u8]) -> Result<()> {
        let verifier = &self.inner.verifier;
        let failure = match signing::verify(verifier, headers, body, unix_now()) {
            Ok(()) => return Ok(()),
            Err(VerifyFailure::UnknownSerial(serial)) => {
                if self.refresh_for_serial(&serial).await? {
                    match signing::verify(verifier, headers, body, unix_now()) {
                        Ok(()) => return Ok(()),
                        Err(failure) => failure,
                    }
                } else {
                    VerifyFailure::UnknownSerial(serial)
                }
            }
            Err(failure) => failure,
        };
        Err(with_request_id(failure.into(), headers))
    }

    /// Downloads certificates because `serial` is unknown, unless another caller just did (then
    /// only re-checks). Returns whether the serial is known afterwards.
    ///
    /// At most one on-demand download is *attempted* per [`certificates::ON_DEMAND_MIN_INTERVAL`],
    /// whether the last one succeeded or failed: a forged notification with a random serial
    /// costs one download a minute at most, not one per request.
    async fn refresh_for_serial(&self, serial: &str) -> Result<bool> {
        let certs = &self.inner.certs;
        if !certs.downloads {
            return Ok(false);
        }
        let mut last = certs.last_attempt.lock().await;
        if CertificateState::knows(&self.inner.verifier, serial) {
            return Ok(true);
        }
        if let Some(at) = *last {
            if at.elapsed() < certificates::ON_DEMAND_MIN_INTERVAL {
                return Ok(false);
            }
        }
        self.download_certificates(&mut last).await?;
        Ok(CertificateState::knows(&self.inner.verifier, serial))
    }

    /// One download; the caller holds the single-flight lock (`last`: when the last download
    /// was attempted, set here before anything is sent).
    async fn download_certificates(&self, last: &mut Option<Instant>) -> Result<()> {
        *last = Some(Instant::now());
        let inner = &*self.inner;
        let Some(key) = &inner.apiv3_key else {
            return Err(Error::Config {
                detail:
                    "downloading platform certificates needs the APIv3 key: set it with apiv3_key()"
                        .into(),
            });
        };
        let outgoing = Outgoing::from_parts(
            Method::GET,
            CERTIFICATES_PATH.to_owned(),
            &RequestBody::Empty,
        );
        let response = self.send_unverified(&REQUEST_SPEC, outgoing, b"").await?;
        if !(200..300).contains(&response.status) {
            return Err(pay_error(&CERTIFICATES_SPEC, &response));
        }
        let downloaded = certificates::decrypt_certificates(key, &response.body)?;
        let now = unix_now();
        match signing::verify(&inner.verifier, &response.headers, &response.body, now) {
            Ok(()) => {}
            Err(VerifyFailure::UnknownSerial(_)) => {
                // Bootstrap: the listing is signed by one of the certificates it carries.
                let fresh = Verifier::new();
                fresh.set_certificates(downloaded.clone());
                signing::verify(&fresh, &response.headers, &response.body, now)
                    .map_err(|f| with_request_id(f.into(), &response.headers))?;
            }
            Err(f) => return Err(with_request_id(f.into(), &response.headers)),
        }
        inner.verifier.set_certificates(certificates::merge(
            &inner.certs.configured,
            downloaded,
            now,
        ));
        inner
            .certs
            .downloads_done
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.start_refresher();
        Ok(())
    }

    /// Starts the background refresher once (needs a tokio runtime, which a download has).
    fn start_refresher(&self) {
        let certs = &self.inner.certs;
        let Ok(mut slot) = certs.refresher.lock() else {
            return;
        };
        if slot.is_some() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let interval = certs.refresh_interval;
        *slot = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(inner) = weak.upgrade() else { break };
                let client = PayClient { inner };
                let mut last = client.inner.certs.last_attempt.lock().await;
                // A failed refresh keeps the certificates we have; the next one may succeed,
                // and an unknown serial still triggers a download on demand.
                let _ = client.download_certificates(&mut last).await;
                drop(last);
                drop(client);
            }
        }));
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

fn with_request_id(error: Error, headers: &HeaderMap) -> Error {
    match (
        error,
        headers.get("Request-ID").and_then(|v| v.to_str().ok()),
    ) {
        (Error::Signature { detail }, Some(id)) => Error::Signature {
            detail: format!("{detail} [Request-ID {id}]"),
        },
        (error, _) => error,
    }
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

/// Builds a [`PayClient`]. Keys are parsed by the methods that take them (an error names what
/// is wrong, never the key); [`build`](Self::build) checks that nothing required is missing.
#[derive(Default)]
pub struct PayClientBuilder {
    mchid: Option<String>,
    serial_no: Option<String>,
    key: Option<PrivateKey>,
    signer: Option<Arc<dyn Signer>>,
    apiv3_key: Option<ApiV3Key>,
    public_key: Option<(String, PublicKey)>,
    certificates: Vec<Certificate>,
    download_certificates: Option<bool>,
    refresh_interval: Option<Duration>,
    base_url: Option<String>,
    backup_base_url: Option<Option<String>>,
    http: HttpConfig,
    retry: RetryPolicy,
}

impl std::fmt::Debug for PayClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PayClientBuilder")
            .field("mchid", &self.mchid)
            .field("serial_no", &self.serial_no)
            .field("private_key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("signer", &self.signer.as_ref().map(|_| "external Signer"))
            .field("apiv3_key", &self.apiv3_key.as_ref().map(|_| "<redacted>"))
            .field(
                "wechatpay_public_key_id",
                &self.public_key.as_ref().map(|(id, _)| id),
            )
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl PayClientBuilder {
    /// The merchant id (商户号).
    pub fn mchid(mut self, mchid: impl Into<String>) -> Self {
        self.mchid = Some(mchid.into());
        self
    }

    /// Serial of the merchant API certificate (商户API证书序列号).
    pub fn serial_no(mut self, serial_no: impl Into<String>) -> Self {
        self.serial_no = Some(serial_no.into());
        self
    }

    /// The merchant private key (`apiclient_key.pem`): PKCS#8 or PKCS#1 PEM text.
    pub fn private_key_pem(mut self, pem: &str) -> Result<Self> {
        self.key = Some(PrivateKey::from_pem(pem)?);
        Ok(self)
    }

    /// The merchant private key from a PEM file (PKCS#8 or PKCS#1).
    pub fn private_key_file(mut self, path: impl AsRef<Path>) -> Result<Self> {
        self.key = Some(PrivateKey::from_pem_file(path)?);
        Ok(self)
    }

    /// An already parsed merchant private key.
    pub fn private_key(mut self, key: PrivateKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Requests are signed by `signer` instead of a private key held here: the merchant key
    /// stays in a KMS or an HSM, which gets the signing string of every attempt (retries
    /// re-sign with a fresh timestamp and nonce) and returns the base64 signature. No private
    /// key is needed then; giving both is an error. A signer that fails, takes longer than
    /// the per-attempt [`timeout`](Self::timeout), or returns something that is not base64
    /// fails the call before anything is sent.
    pub fn signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The APIv3 key (32 bytes): decrypts notifications and downloaded platform certificates.
    pub fn apiv3_key(mut self, key: &str) -> Result<Self> {
        self.apiv3_key = Some(ApiV3Key::new(key)?);
        Ok(self)
    }

    /// Public-key mode: the WeChat Pay public key (`pub_key.pem`, SPKI or PKCS#1 PEM) and its
    /// id (`PUB_KEY_ID_…`).
    pub fn wechatpay_public_key(mut self, public_key_id: &str, pem: &str) -> Result<Self> {
        if public_key_id.trim().is_empty() {
            return Err(Error::Config {
                detail: "the WeChat Pay public key id (PUB_KEY_ID_…) is empty".into(),
            });
        }
        self.public_key = Some((public_key_id.to_owned(), PublicKey::from_pem(pem)?));
        Ok(self)
    }

    /// Certificate mode: platform certificates you already have (PEM). With the APIv3 key they
    /// are also downloaded and refreshed; these stay trusted until they expire.
    pub fn platform_certificates<S: AsRef<str>>(
        mut self,
        pems: impl IntoIterator<Item = S>,
    ) -> Result<Self> {
        for pem in pems {
            self.certificates.push(Certificate::from_pem(pem.as_ref())?);
        }
        Ok(self)
    }

    /// Whether platform certificates are downloaded (on an unknown serial, then every
    /// [`certificate_refresh_interval`](Self::certificate_refresh_interval)). Default: on
    /// whenever the APIv3 key is set.
    pub fn download_certificates(mut self, on: bool) -> Self {
        self.download_certificates = Some(on);
        self
    }

    /// Background refresh period of downloaded certificates (default 12 h, at least
    /// [`MIN_REFRESH_INTERVAL`](certificates::MIN_REFRESH_INTERVAL): shorter periods are raised
    /// to it).
    pub fn certificate_refresh_interval(mut self, every: Duration) -> Self {
        self.refresh_interval = Some(every.max(certificates::MIN_REFRESH_INTERVAL));
        self
    }

    /// The refresh period as given, below the 60 s floor: for tests of the refresher only.
    #[doc(hidden)]
    pub fn certificate_refresh_interval_unchecked(mut self, every: Duration) -> Self {
        self.refresh_interval = Some(every.max(Duration::from_millis(10)));
        self
    }

    /// The main host (default [`MAIN_HOST`](crate::pay::MAIN_HOST)); a sandbox URL in tests.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The backup host used on failover (default [`BACKUP_HOST`](crate::pay::BACKUP_HOST) —
    /// but none when [`base_url`](Self::base_url) is set: a client pointed at a proxy or a
    /// sandbox must never fail over to the real WeChat Pay).
    pub fn backup_base_url(mut self, url: impl Into<String>) -> Self {
        self.backup_base_url = Some(Some(url.into()));
        self
    }

    /// No backup host: failover is off.
    pub fn no_backup(mut self) -> Self {
        self.backup_base_url = Some(None);
        self
    }

    /// Time for one attempt: connect, send and read the whole response (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self
    }

    /// Time to establish a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.http.connect_timeout = timeout;
        self
    }

    /// Retries and failover (default: 3 attempts, failover on).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Send through this proxy (the system proxy settings are not read).
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.http.proxy = Some(url.into());
        self
    }

    /// Appended to the User-Agent (`weixin-kit/VERSION (Rust) SUFFIX`), e.g. a binding's name.
    pub fn user_agent_suffix(mut self, suffix: &str) -> Self {
        self.http.user_agent = format!("{} {suffix}", HttpConfig::default().user_agent);
        self
    }

    pub fn build(self) -> Result<PayClient> {
        let mut missing = Vec::new();
        if self.mchid.as_deref().is_none_or(|s| s.trim().is_empty()) {
            missing.push("mchid");
        }
        if self
            .serial_no
            .as_deref()
            .is_none_or(|s| s.trim().is_empty())
        {
            missing.push("serial_no (the merchant API certificate serial)");
        }
        if self.key.is_some() && self.signer.is_some() {
            return Err(Error::Config {
                detail: "PayClient has both a merchant private key and a signer: give one \
                         (the signer when the key is kept in a KMS/HSM)"
                    .into(),
            });
        }
        if self.key.is_none() && self.signer.is_none() {
            missing.push(
                "a private key or a signer (private_key_pem / private_key_file, or signer for a \
                 key kept in a KMS/HSM)",
            );
        }
        let downloads = self
            .download_certificates
            .unwrap_or(self.apiv3_key.is_some());
        if downloads && self.apiv3_key.is_none() {
            missing.push("the APIv3 key (needed to download platform certificates)");
        }
        if self.public_key.is_none() && self.certificates.is_empty() && !downloads {
            missing.push(
                "a key to verify WeChat Pay's responses: wechatpay_public_key(PUB_KEY_ID_…, pem) \
                 (public-key mode), or apiv3_key (certificate mode: platform certificates are \
                 downloaded), or platform_certificates",
            );
        }
        if !missing.is_empty() {
            return Err(Error::Config {
                detail: format!("PayClient is missing {}", missing.join("; ")),
            });
        }
        let mut verifier = Verifier::new();
        let mut public_key_id = None;
        if let Some((id, key)) = self.public_key {
            verifier = verifier.with_public_key(id.clone(), key);
            public_key_id = Some(id);
        }
        let now = unix_now();
        let configured = certificates::merge(&[], self.certificates, now);
        if !configured.is_empty() {
            verifier.set_certificates(configured.clone());
        }
        let backup = match (self.backup_base_url, &self.base_url) {
            (Some(b), _) => b,
            // A custom main host (a proxy, a sandbox) never fails over to the real backup.
            (None, Some(_)) => None,
            (None, None) => crate::pay::BACKUP_HOST.map(str::to_owned),
        };
        let http = HttpClient::new(
            &self.http,
            self.base_url
                .unwrap_or_else(|| crate::pay::MAIN_HOST.to_owned()),
            backup,
            self.retry,
        )?;
        Ok(PayClient {
            inner: Arc::new(Inner {
                mchid: self.mchid.unwrap_or_default(),
                serial_no: self.serial_no.unwrap_or_default(),
                external_signer: self.signer.is_some(),
                signer: match (self.signer, self.key) {
                    (Some(signer), _) => signer,
                    (None, Some(key)) => Arc::new(key),
                    (None, None) => unreachable!("checked above"),
                },
                sign_timeout: self.http.timeout,
                apiv3_key: self.apiv3_key,
                public_key_id,
                verifier,
                http,
                certs: CertificateState::new(
                    configured,
                    downloads,
                    self.refresh_interval
                        .unwrap_or(certificates::DEFAULT_REFRESH_INTERVAL),
                ),
            }),
        })
    }
}

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

#[cfg(test)]
mod builder_tests {
    use super::*;

    #[test]
    fn refresh_interval_has_a_floor() {
        let b = PayClient::builder().certificate_refresh_interval(Duration::from_millis(200));
        assert_eq!(b.refresh_interval, Some(certificates::MIN_REFRESH_INTERVAL));
        let b = PayClient::builder().certificate_refresh_interval(Duration::from_secs(3600));
        assert_eq!(b.refresh_interval, Some(Duration::from_secs(3600)));
    }
}
