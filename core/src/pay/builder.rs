//! [`PayClientBuilder`]: a [`PayClient`]'s credentials, verification keys, hosts and HTTP
//! settings, checked by [`build`](PayClientBuilder::build).

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::client::{Inner, PayClient, RetryPolicy};
use crate::crypto::{ApiV3Key, Certificate, PrivateKey, PublicKey};
use crate::error::{Error, Result};
use crate::http::{HttpClient, HttpConfig};
use crate::pay::certificates::{self, CertificateManager, FetchListing, ManagerConfig};
use crate::pay::signer::Signer;
use crate::pay::signing::Verifier;
use crate::replay::ReplayGuard;

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
    replay_guard: Option<Arc<dyn ReplayGuard>>,
    replay_guard_url: Option<String>,
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

    /// Retries and failover (default: 3 attempts, failover on).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Opt-in replay protection of [`parse_notification`](PayClient::parse_notification):
    /// notifications parsed are remembered in `guard` (for [`REPLAY_TTL`](crate::replay::REPLAY_TTL)),
    /// and one parsed again is [`Error::Replayed`]. Default: none (only the 5-minute timestamp
    /// rule).
    pub fn replay_guard(mut self, guard: Arc<dyn ReplayGuard>) -> Self {
        self.replay_guard = Some(guard);
        self.replay_guard_url = None;
        self
    }

    /// The replay guard by URL: `memory` (this process: a bounded, expiring
    /// [`MemoryReplayGuard`](crate::replay::MemoryReplayGuard)) or `redis://host:port/db`
    /// (shared by every instance, `SET NX EX`; connected on first use). Checked by
    /// [`build`](Self::build).
    pub fn replay_guard_url(mut self, url: impl Into<String>) -> Self {
        self.replay_guard_url = Some(url.into());
        self.replay_guard = None;
        self
    }

    crate::http::http_setters!();

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
        let replay_guard = match (self.replay_guard, &self.replay_guard_url) {
            (Some(guard), _) => Some(guard),
            (None, Some(url)) => Some(crate::replay::guard_from_url(url)?),
            (None, None) => None,
        };
        let mut verifier = Verifier::new();
        let mut public_key_id = None;
        if let Some((id, key)) = self.public_key {
            verifier = verifier.with_public_key(id.clone(), key);
            public_key_id = Some(id);
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
        let certs = ManagerConfig {
            verifier,
            apiv3_key: self.apiv3_key.clone(),
            configured: self.certificates,
            downloads,
            refresh_interval: self
                .refresh_interval
                .unwrap_or(certificates::DEFAULT_REFRESH_INTERVAL),
        };
        let inner = Arc::new_cyclic(|weak: &Weak<Inner>| {
            // The manager downloads through this client (signed, retried), holding it weakly.
            let weak = weak.clone();
            let fetch: FetchListing = Box::new(move || {
                let weak = weak.clone();
                Box::pin(async move {
                    let inner = weak.upgrade().ok_or_else(|| Error::Config {
                        detail: "the PayClient was dropped".into(),
                    })?;
                    PayClient { inner }.fetch_certificate_listing().await
                })
            });
            Inner {
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
                http,
                certs: Arc::new(CertificateManager::new(certs, fetch)),
                replay_guard,
            }
        });
        Ok(PayClient { inner })
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
