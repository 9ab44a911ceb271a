//! Platform certificate mode: `GET /v3/certificates`, decrypted with the APIv3 key, installed in
//! the client's [`Verifier`].
//!
//! The [`PayClient`](crate::pay::PayClient) downloads the certificates
//! - when a response or notification names a serial it does not know (on demand, single-flight:
//!   concurrent callers wait for one download, then re-check; at most one on-demand download is
//!   attempted per [`ON_DEMAND_MIN_INTERVAL`], whether the last attempt succeeded or failed, so a
//!   stream of forged serials cannot turn into a stream of downloads), which is also how the
//!   first set is fetched;
//! - in the background every 12 hours (configurable) once a first download succeeded, in a tokio
//!   task that ends when the last clone of the client is dropped.
//!
//! The download is itself a signed, verified response. Its signature is checked with the keys
//! already known (the WeChat Pay public key, or certificates configured or downloaded before);
//! when its `Wechatpay-Serial` is not among them, with the certificates it carries — the
//! bootstrap the official SDKs (wechatpay-go's downloader, wechatpayv3) use, which is sound
//! because only the holder of the APIv3 key could have encrypted them.
//!
//! Migration: a client configured with the WeChat Pay public key *and* the APIv3 key (or
//! platform certificates) accepts responses signed either way, whichever `Wechatpay-Serial` says.

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::crypto::{ApiV3Key, Certificate};
use crate::error::{Error, Result};
use crate::pay::signing::Verifier;

/// The shortest gap between two on-demand downloads triggered by unknown serials: after any
/// attempt, successful or failed, an unknown serial does not trigger another one before this.
pub const ON_DEMAND_MIN_INTERVAL: Duration = Duration::from_secs(60);

/// The shortest background refresh period accepted (shorter ones are raised to it).
pub const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// How often certificates are refreshed in the background by default.
pub const DEFAULT_REFRESH_INTERVAL: Duration = Duration::from_secs(12 * 60 * 60);

/// The path of the download.
pub const CERTIFICATES_PATH: &str = "/v3/certificates";

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

/// Reads a `/v3/certificates` response body: decrypts every `encrypt_certificate` with the
/// APIv3 key and parses the PEM it holds. The body's signature is the caller's business.
pub fn decrypt_certificates(apiv3_key: &ApiV3Key, body: &[u8]) -> Result<Vec<Certificate>> {
    let unexpected = |detail: String| Error::UnexpectedResponse {
        status: 200,
        detail,
    };
    let listing: Listing = serde_json::from_slice(body).map_err(|e| {
        unexpected(format!(
            "/v3/certificates answered an unexpected body: {}",
            crate::error::json_error("", &e)
        ))
    })?;
    let mut out = Vec::with_capacity(listing.data.len());
    for entry in listing.data {
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
        out.push(cert);
    }
    Ok(out)
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

/// Certificate-mode state of one client.
pub(crate) struct CertificateState {
    /// Certificates given to the builder (kept across downloads).
    pub configured: Vec<Certificate>,
    /// Downloads are possible (an APIv3 key is configured and downloads are not turned off).
    pub downloads: bool,
    pub refresh_interval: Duration,
    /// Held for the whole of a download: concurrent refreshes wait here (single-flight).
    /// The value is when the last download was attempted (set before it is sent).
    pub last_attempt: tokio::sync::Mutex<Option<Instant>>,
    /// The background refresher, started after the first successful download.
    pub refresher: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Downloads performed (diagnostics and tests).
    pub downloads_done: std::sync::atomic::AtomicU64,
}

impl CertificateState {
    pub fn new(configured: Vec<Certificate>, downloads: bool, refresh_interval: Duration) -> Self {
        CertificateState {
            configured,
            downloads,
            refresh_interval,
            last_attempt: tokio::sync::Mutex::new(None),
            refresher: std::sync::Mutex::new(None),
            downloads_done: Default::default(),
        }
    }

    pub fn knows(verifier: &Verifier, serial: &str) -> bool {
        verifier
            .certificate_serials()
            .iter()
            .any(|s| same_serial(s, serial))
    }
}

impl Drop for CertificateState {
    fn drop(&mut self) {
        if let Ok(mut slot) = self.refresher.lock() {
            if let Some(task) = slot.take() {
                task.abort();
            }
        }
    }
}
