//! Platform certificate mode: `GET /v3/certificates`, decrypted with the APIv3 key, installed in
//! the client's [`Verifier`].
//!
//! The client's certificate manager (`CertificateManager`, after wechatpay-go's
//! `downloader_mgr`) downloads the certificates
//! - when a response or notification names a serial it does not know (on demand, single-flight:
//!   concurrent callers wait for one download, then re-check; at most one on-demand download is
//!   attempted per [`ON_DEMAND_MIN_INTERVAL`], whether the last attempt succeeded or failed, so a
//!   stream of forged serials cannot turn into a stream of downloads), which is also how the
//!   first set is fetched;
//! - in the background every 12 hours (configurable) once a first download succeeded, in a tokio
//!   task that ends when the last clone of the client is dropped.
//!
//! The download is itself a signed, verified response ([`read_listing`]), checked before its
//! entries are decrypted. Its signature is checked with the keys already known (the WeChat Pay
//! public key, or certificates configured or downloaded before); when its `Wechatpay-Serial` is
//! not among them, with the one certificate it lists under that serial — the bootstrap the
//! official SDKs (wechatpay-go's downloader, wechatpayv3) use, which is sound because only the
//! holder of the APIv3 key could have encrypted it. A listing that is empty, longer than
//! [`MAX_LISTED_CERTIFICATES`] or holds only expired certificates is refused and the known
//! certificates are kept; expired entries are left out. A cached certificate that has expired
//! counts as unknown: a response naming its serial triggers a download.
//!
//! Migration: a client configured with the WeChat Pay public key *and* the APIv3 key (or
//! platform certificates) accepts responses signed either way, whichever `Wechatpay-Serial` says.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use http::HeaderMap;
use serde::Deserialize;

use crate::crypto::{ApiV3Key, Certificate};
use crate::error::{Error, Result};
use crate::http::RawResponse;
use crate::operation::{ApiFamily, Auth, OperationSpec};
use crate::pay::errors::pay_error;
use crate::pay::signing::{self, Verifier, VerifyFailure};
use crate::time::unix_now;
use crate::BoxFuture;

/// The shortest gap between two on-demand downloads triggered by unknown serials: after any
/// attempt, successful or failed, an unknown serial does not trigger another one before this.
pub const ON_DEMAND_MIN_INTERVAL: Duration = Duration::from_secs(60);

/// The shortest background refresh period accepted (shorter ones are raised to it).
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// How often certificates are refreshed in the background by default.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(12 * 60 * 60);

/// The path of the download.
pub const CERTIFICATES_PATH: &str = "/v3/certificates";

/// What the download's errors are mapped with (no documented error table).
pub(crate) static CERTIFICATES_SPEC: OperationSpec = OperationSpec {
    name: "Certificates",
    tag: "certificates",
    family: ApiFamily::Pay,
    method: "GET",
    path: CERTIFICATES_PATH,
    auth: Auth::WechatPay2,
    // A download: reading it twice changes nothing.
    idempotent: true,
    success_status: 200,
    common_errors: &[],
    errors: &[],
};

#[derive(Deserialize)]
struct Listing {
    data: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    serial_no: String,
    encrypt_certificate: Encrypted,
}

#[derive(Deserialize)]
struct Encrypted {
    algorithm: String,
    nonce: String,
    #[serde(default)]
    associated_data: Option<String>,
    ciphertext: String,
}

/// The most certificates a `/v3/certificates` listing may carry. WeChat Pay lists its valid
/// platform certificates: one, or two while it replaces one (old and new side by side). A longer
/// listing is refused before anything in it is decrypted or parsed.
pub const MAX_LISTED_CERTIFICATES: usize = 16;

fn unexpected(detail: String) -> Error {
    Error::UnexpectedResponse {
        status: 200,
        detail,
    }
}

/// The listing's JSON, with its size checked: at least one entry, at most
/// [`MAX_LISTED_CERTIFICATES`]. Nothing is decrypted.
fn parse_listing(body: &[u8]) -> Result<Listing> {
    let listing: Listing = serde_json::from_slice(body).map_err(|e| {
        unexpected(format!(
            "/v3/certificates answered an unexpected body: {}",
            crate::error::json_error("", &e)
        ))
    })?;
    if listing.data.is_empty() {
        return Err(unexpected(
            "/v3/certificates answered an empty listing (`data` has no certificate): ignored, \
             the certificates already known are kept"
                .into(),
        ));
    }
    if listing.data.len() > MAX_LISTED_CERTIFICATES {
        return Err(unexpected(format!(
            "/v3/certificates listed {} certificates, more than MAX_LISTED_CERTIFICATES ({}): \
             refused without decrypting any",
            listing.data.len(),
            MAX_LISTED_CERTIFICATES
        )));
    }
    Ok(listing)
}

/// One entry: decrypted with the APIv3 key, parsed, and its serial checked against the listed
/// one.
fn decrypt_entry(apiv3_key: &ApiV3Key, entry: &Entry) -> Result<Certificate> {
    let enc = &entry.encrypt_certificate;
    if enc.algorithm != "AEAD_AES_256_GCM" {
        return Err(unexpected(format!(
            "certificate {} is encrypted with `{}`, only AEAD_AES_256_GCM is supported",
            entry.serial_no, enc.algorithm
        )));
    }
    let pem = apiv3_key
        .decrypt(
            &enc.nonce,
            enc.associated_data.as_deref().unwrap_or(""),
            &enc.ciphertext,
        )
        .map_err(|e| match e {
            // A wrong APIv3 key is the usual cause: say so.
            Error::Signature { detail } | Error::Config { detail } => Error::Config {
                detail: format!(
                    "cannot decrypt platform certificate {} (is the APIv3 key right?): {detail}",
                    entry.serial_no
                ),
            },
            other => other,
        })?;
    let pem = String::from_utf8(pem).map_err(|_| {
        unexpected(format!(
            "platform certificate {} is not PEM text",
            entry.serial_no
        ))
    })?;
    let cert = Certificate::from_pem(&pem)?;
    if !same_serial(&cert.serial_no, &entry.serial_no) {
        return Err(unexpected(format!(
            "platform certificate listed as {} carries serial {}",
            entry.serial_no, cert.serial_no
        )));
    }
    Ok(cert)
}

/// Reads a `/v3/certificates` response body: decrypts every `encrypt_certificate` with the
/// APIv3 key and parses the PEM it holds. The body's signature is the caller's business (see
/// [`read_listing`], which checks it first). An empty listing, or one longer than
/// [`MAX_LISTED_CERTIFICATES`], is an [`Error::UnexpectedResponse`].
pub fn decrypt_certificates(apiv3_key: &ApiV3Key, body: &[u8]) -> Result<Vec<Certificate>> {
    let listing = parse_listing(body)?;
    listing
        .data
        .iter()
        .map(|entry| decrypt_entry(apiv3_key, entry))
        .collect()
}

/// Reads a signed `/v3/certificates` answer (headers and raw body) the way the client's
/// certificate manager does, and returns the listed certificates that have not expired at `now`.
///
/// In this order: the JSON and its size (at least one entry, at most
/// [`MAX_LISTED_CERTIFICATES`]); the signature with the keys `verifier` already knows — or,
/// when `Wechatpay-Serial` is not among them, with the one listed certificate of that serial
/// (the bootstrap of wechatpay-go's downloader; the only entry decrypted before the signature
/// is checked); then every entry is decrypted and parsed; expired ones are left out, and a
/// listing with nothing else is refused.
pub fn read_listing(
    verifier: &Verifier,
    apiv3_key: &ApiV3Key,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<Vec<Certificate>> {
    let listing = parse_listing(body)?;
    match signing::verify(verifier, headers, body, now) {
        Ok(()) => {}
        Err(VerifyFailure::UnknownSerial(serial)) => {
            let Some(entry) = listing
                .data
                .iter()
                .find(|e| same_serial(&e.serial_no, &serial))
            else {
                return Err(with_request_id(
                    VerifyFailure::UnknownSerial(serial).into(),
                    headers,
                ));
            };
            let fresh = Verifier::new();
            fresh.set_certificates(vec![decrypt_entry(apiv3_key, entry)?]);
            signing::verify(&fresh, headers, body, now)
                .map_err(|f| with_request_id(f.into(), headers))?;
        }
        Err(f) => return Err(with_request_id(f.into(), headers)),
    }
    let mut certificates = Vec::with_capacity(listing.data.len());
    for entry in &listing.data {
        let cert = decrypt_entry(apiv3_key, entry)?;
        if cert.not_after > now {
            certificates.push(cert);
        }
    }
    if certificates.is_empty() {
        return Err(unexpected(format!(
            "/v3/certificates listed only expired certificates ({}): ignored, the certificates \
             already known are kept",
            listing
                .data
                .iter()
                .map(|e| e.serial_no.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(certificates)
}

fn same_serial(a: &str, b: &str) -> bool {
    a.trim_start_matches('0')
        .eq_ignore_ascii_case(b.trim_start_matches('0'))
}

/// The certificates configured at build time plus the downloaded ones, without the expired and
/// without duplicates (the newest copy of a serial wins).
pub(crate) fn merge(
    configured: &[Certificate],
    downloaded: Vec<Certificate>,
    now: i64,
) -> Vec<Certificate> {
    let mut out: Vec<Certificate> = Vec::new();
    for cert in downloaded.into_iter().chain(configured.iter().cloned()) {
        if cert.not_after <= now {
            continue;
        }
        if !out
            .iter()
            .any(|c| same_serial(&c.serial_no, &cert.serial_no))
        {
            out.push(cert);
        }
    }
    out
}

/// What the manager calls to download: `GET /v3/certificates`, signed and sent by the client
/// (with its retries), not verified (the manager verifies the listing itself).
pub(crate) type FetchListing =
    Box<dyn Fn() -> BoxFuture<'static, Result<RawResponse>> + Send + Sync>;

/// The platform certificates of one client, as wechatpay-go's `downloader_mgr`: the keys
/// responses and notifications are verified with ([`Verifier`]), the certificates configured at
/// build time, and — with the APIv3 key — downloads on demand (single-flight, throttled) and in
/// the background.
pub(crate) struct CertificateManager {
    verifier: Verifier,
    apiv3_key: Option<ApiV3Key>,
    /// Certificates given to the builder (kept across downloads).
    configured: Vec<Certificate>,
    /// Downloads are possible (an APIv3 key is configured and downloads are not turned off).
    downloads: bool,
    refresh_interval: Duration,
    fetch: FetchListing,
    /// Held for the whole of a download: concurrent refreshes wait here (single-flight).
    /// The value is when the last download was attempted (set before it is sent).
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
    /// The background refresher, started after the first successful download.
    refresher: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Downloads performed (diagnostics and tests).
    downloads_done: AtomicU64,
}

/// How a [`CertificateManager`] is set up (from the client builder).
pub(crate) struct ManagerConfig {
    pub verifier: Verifier,
    pub apiv3_key: Option<ApiV3Key>,
    pub configured: Vec<Certificate>,
    pub downloads: bool,
    pub refresh_interval: Duration,
}

impl CertificateManager {
    /// Installs the configured certificates (the unexpired ones) in the verifier.
    pub fn new(config: ManagerConfig, fetch: FetchListing) -> Self {
        let configured = merge(&[], config.configured, unix_now());
        if !configured.is_empty() {
            config.verifier.set_certificates(configured.clone());
        }
        CertificateManager {
            verifier: config.verifier,
            apiv3_key: config.apiv3_key,
            configured,
            downloads: config.downloads,
            refresh_interval: config.refresh_interval,
            fetch,
            last_attempt: tokio::sync::Mutex::new(None),
            refresher: std::sync::Mutex::new(None),
            downloads_done: AtomicU64::new(0),
        }
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    pub fn downloads_done(&self) -> u64 {
        self.downloads_done.load(Ordering::Relaxed)
    }

    /// Downloads now (waiting for a download under way) and returns the serials trusted after.
    pub async fn refresh_now(self: &Arc<Self>) -> Result<Vec<String>> {
        let mut last = self.last_attempt.lock().await;
        self.download(&mut last).await?;
        Ok(self.verifier.certificate_serials())
    }

    /// Verifies a signed response or notification (headers and raw body); an unknown serial
    /// triggers one certificate download (throttled, see [`Self::refresh_for_serial`]), then
    /// one more check.
    pub async fn verify(self: &Arc<Self>, headers: &HeaderMap, body: &[u8]) -> Result<()> {
        let failure = match signing::verify(&self.verifier, headers, body, unix_now()) {
            Ok(()) => return Ok(()),
            Err(VerifyFailure::UnknownSerial(serial)) => {
                if self.refresh_for_serial(&serial).await? {
                    match signing::verify(&self.verifier, headers, body, unix_now()) {
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

    /// Whether `serial` is a loaded platform certificate still valid now: an expired one is
    /// as good as unknown and is downloaded again.
    fn knows(&self, serial: &str) -> bool {
        self.verifier.has_unexpired_certificate(serial, unix_now())
    }

    /// Downloads certificates because `serial` is unknown, unless another caller just did (then
    /// only re-checks). Returns whether the serial is known afterwards.
    ///
    /// At most one on-demand download is *attempted* per [`ON_DEMAND_MIN_INTERVAL`], whether the
    /// last one succeeded or failed: a forged notification with a random serial costs one
    /// download a minute at most, not one per request.
    async fn refresh_for_serial(self: &Arc<Self>, serial: &str) -> Result<bool> {
        if !self.downloads {
            return Ok(false);
        }
        let mut last = self.last_attempt.lock().await;
        if self.knows(serial) {
            return Ok(true);
        }
        if let Some(at) = *last {
            if at.elapsed() < ON_DEMAND_MIN_INTERVAL {
                return Ok(false);
            }
        }
        self.download(&mut last).await?;
        Ok(self.knows(serial))
    }

    /// One download; the caller holds the single-flight lock (`last`: when the last download
    /// was attempted, set here before anything is sent).
    async fn download(self: &Arc<Self>, last: &mut Option<Instant>) -> Result<()> {
        *last = Some(Instant::now());
        let Some(key) = &self.apiv3_key else {
            return Err(Error::Config {
                detail:
                    "downloading platform certificates needs the APIv3 key: set it with apiv3_key()"
                        .into(),
            });
        };
        let response = (self.fetch)().await?;
        if !(200..300).contains(&response.status) {
            return Err(pay_error(&CERTIFICATES_SPEC, &response));
        }
        let now = unix_now();
        let downloaded = read_listing(&self.verifier, key, &response.headers, &response.body, now)?;
        self.verifier
            .set_certificates(merge(&self.configured, downloaded, now));
        self.downloads_done.fetch_add(1, Ordering::Relaxed);
        self.start_refresher();
        Ok(())
    }

    /// Starts the background refresher once (needs a tokio runtime, which a download has). It
    /// holds the manager weakly and ends when the client is dropped.
    fn start_refresher(self: &Arc<Self>) {
        let Ok(mut slot) = self.refresher.lock() else {
            return;
        };
        if slot.is_some() || tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let weak: Weak<Self> = Arc::downgrade(self);
        let interval = self.refresh_interval;
        *slot = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let Some(manager) = weak.upgrade() else { break };
                let mut last = manager.last_attempt.lock().await;
                // A failed refresh keeps the certificates we have; the next one may succeed,
                // and an unknown serial still triggers a download on demand.
                let _ = manager.download(&mut last).await;
                drop(last);
                drop(manager);
            }
        }));
    }
}

impl Drop for CertificateManager {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.refresher.lock() {
            if let Some(task) = slot.take() {
                task.abort();
            }
        }
    }
}

/// Adds the response's Request-ID to a signature failure (what WeChat Pay support asks for).
pub(crate) fn with_request_id(error: Error, headers: &HeaderMap) -> Error {
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
