//! Cryptography for WeChat Pay APIv3: the merchant private key, WeChat Pay public keys and
//! platform certificates, the APIv3 key, digests and nonces.
//!
//! Two backends implement the primitives: aws-lc-rs (feature `aws-lc-rs`, the default) and
//! RustCrypto (`rsa` 0.10, `sha2`, `sha1`, `aes-gcm`, `cbc`; feature `rust-crypto`). The constructors
//! without a backend argument use [`Backend::DEFAULT`] (aws-lc-rs when it is compiled in); the
//! `*_with` constructors pick one explicitly, which is how the test vectors exercise both. PEM,
//! X.509 (pure-Rust `x509-parser`) and nonce generation are shared by both.
//!
//! Keys are parsed once. Secret material is zeroized on drop where the backend allows (RustCrypto
//! zeroizes its key types; aws-lc cleanses its C memory when freed; our own copies — PEM bodies,
//! DER buffers, the APIv3 key bytes — are held in `Zeroizing`). `Debug` never prints a secret and
//! error texts never echo key input.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::{Error, Result};

#[cfg(feature = "aws-lc-rs")]
mod aws_lc;
mod pem;
#[cfg(feature = "rust-crypto")]
mod rust_crypto;
pub(crate) mod x509;

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!(
    "weixin-kit needs a crypto backend: enable feature `aws-lc-rs` (default) or `rust-crypto`"
);

const PRIVATE_KEY_FORMATS: &str =
    "PKCS#8 PEM (\"-----BEGIN PRIVATE KEY-----\", like apiclient_key.pem) or PKCS#1 PEM (\"-----BEGIN RSA PRIVATE KEY-----\")";
const PUBLIC_KEY_FORMATS: &str =
    "SPKI PEM (\"-----BEGIN PUBLIC KEY-----\", like pub_key.pem) or PKCS#1 PEM (\"-----BEGIN RSA PUBLIC KEY-----\")";
const CERTIFICATE_FORMATS: &str = "an X.509 certificate PEM (\"-----BEGIN CERTIFICATE-----\")";

/// A crypto implementation compiled into this build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// aws-lc-rs (feature `aws-lc-rs`, the default).
    #[cfg(feature = "aws-lc-rs")]
    AwsLcRs,
    /// RustCrypto: `rsa` 0.10 + `sha2` + `sha1` + `aes-gcm` (feature `rust-crypto`).
    #[cfg(feature = "rust-crypto")]
    RustCrypto,
}

impl Backend {
    /// The backend the constructors without a backend argument use: aws-lc-rs when compiled in.
    #[cfg(feature = "aws-lc-rs")]
    pub const DEFAULT: Backend = Backend::AwsLcRs;
    /// The backend the constructors without a backend argument use: aws-lc-rs when compiled in.
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    pub const DEFAULT: Backend = Backend::RustCrypto;

    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "aws-lc-rs")]
            Backend::AwsLcRs => "aws-lc-rs",
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => "rust-crypto",
        }
    }

    /// SHA-256 with this backend.
    pub fn sha256(self, data: &[u8]) -> [u8; 32] {
        match self {
            #[cfg(feature = "aws-lc-rs")]
            Backend::AwsLcRs => aws_lc::sha256(data),
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => rust_crypto::sha256(data),
        }
    }

    /// SHA-1 with this backend.
    pub fn sha1(self, data: &[u8]) -> [u8; 20] {
        match self {
            #[cfg(feature = "aws-lc-rs")]
            Backend::AwsLcRs => aws_lc::sha1(data),
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => rust_crypto::sha1(data),
        }
    }
}

impl Backend {
    /// AES-256-CBC without padding, in place over whole 16-byte blocks: the open platform's
    /// message encryption (`component::msg_crypt`, which pads to 32 bytes itself). `Err` (a
    /// reason) when `in_out` is not whole blocks.
    pub(crate) fn aes256_cbc(
        self,
        decrypt: bool,
        key: &[u8; 32],
        iv: &[u8; 16],
        in_out: &mut [u8],
    ) -> std::result::Result<(), String> {
        match self {
            #[cfg(feature = "aws-lc-rs")]
            Backend::AwsLcRs => aws_lc::aes256_cbc(decrypt, key, iv, in_out),
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => rust_crypto::aes256_cbc(decrypt, key, iv, in_out),
        }
    }
}

/// Equality of two byte strings in time that depends only on their lengths (for comparing a
/// received MAC or signature with the expected one).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every backend compiled into this build, the default first.
pub fn backends() -> &'static [Backend] {
    &[
        #[cfg(feature = "aws-lc-rs")]
        Backend::AwsLcRs,
        #[cfg(feature = "rust-crypto")]
        Backend::RustCrypto,
    ]
}

fn config(detail: impl Into<String>) -> Error {
    Error::Config {
        detail: detail.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Private key

enum PrivateInner {
    #[cfg(feature = "aws-lc-rs")]
    AwsLc(aws_lc::PrivateKey),
    #[cfg(feature = "rust-crypto")]
    RustCrypto(rust_crypto::PrivateKey),
}

/// A merchant API private key (`apiclient_key.pem`), parsed once.
///
/// `Debug` prints `PrivateKey(<redacted>)`; key material is zeroized on drop where the backend
/// allows.
pub struct PrivateKey {
    inner: PrivateInner,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

impl PrivateKey {
    /// PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM. Anything else:
    /// [`Error::Config`] naming both accepted formats (and never echoing the input).
    pub fn from_pem(pem: &str) -> Result<Self> {
        Self::from_pem_with(Backend::DEFAULT, pem)
    }

    /// [`PrivateKey::from_pem`] with an explicit backend.
    pub fn from_pem_with(backend: Backend, pem: &str) -> Result<Self> {
        let what = "merchant private key";
        let block = pem::find(pem, &["PRIVATE KEY", "RSA PRIVATE KEY"])
            .map_err(|e| config(pem::describe(what, PRIVATE_KEY_FORMATS, &e)))?;
        let pkcs8 = block.label == "PRIVATE KEY";
        let parsed = match backend {
            #[cfg(feature = "aws-lc-rs")]
            Backend::AwsLcRs => if pkcs8 {
                aws_lc::PrivateKey::from_pkcs8_der(&block.der)
            } else {
                aws_lc::PrivateKey::from_pkcs1_der(&block.der)
            }
            .map(PrivateInner::AwsLc),
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => if pkcs8 {
                rust_crypto::PrivateKey::from_pkcs8_der(&block.der)
            } else {
                rust_crypto::PrivateKey::from_pkcs1_der(&block.der)
            }
            .map(PrivateInner::RustCrypto),
        };
        parsed.map(|inner| PrivateKey { inner }).map_err(|why| {
            let format = if pkcs8 { "PKCS#8" } else { "PKCS#1" };
            config(format!(
                "{what}: the \"BEGIN {}\" block is not a valid {format} RSA private key ({why}); accepted: {PRIVATE_KEY_FORMATS}",
                block.label
            ))
        })
    }

    /// Reads and parses a PEM file (see [`PrivateKey::from_pem`]).
    pub fn from_pem_file(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let pem = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|e| {
                config(format!(
                    "merchant private key: cannot read {}: {e}",
                    path.display()
                ))
            })?;
        Self::from_pem(&pem)
    }

    /// The backend this key was parsed with.
    pub fn backend(&self) -> Backend {
        match self.inner {
            #[cfg(feature = "aws-lc-rs")]
            PrivateInner::AwsLc(_) => Backend::AwsLcRs,
            #[cfg(feature = "rust-crypto")]
            PrivateInner::RustCrypto(_) => Backend::RustCrypto,
        }
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256.
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.inner {
            #[cfg(feature = "aws-lc-rs")]
            PrivateInner::AwsLc(k) => k.sign_sha256(message),
            #[cfg(feature = "rust-crypto")]
            PrivateInner::RustCrypto(k) => k.sign_sha256(message),
        }
        .map_err(config)
    }

    /// RSAES-OAEP with SHA-1 and MGF1-SHA-1 (WeChat Pay's sensitive fields).
    pub fn decrypt_oaep_sha1(&self, ciphertext: &[u8]) -> Result<Vec<u8>> {
        match &self.inner {
            #[cfg(feature = "aws-lc-rs")]
            PrivateInner::AwsLc(k) => k.decrypt_oaep_sha1(ciphertext),
            #[cfg(feature = "rust-crypto")]
            PrivateInner::RustCrypto(k) => k.decrypt_oaep_sha1(ciphertext),
        }
        .map_err(|detail| Error::Signature { detail })
    }
}

// ---------------------------------------------------------------------------------------------
// Public key

enum PublicInner {
    #[cfg(feature = "aws-lc-rs")]
    AwsLc(aws_lc::PublicKey),
    #[cfg(feature = "rust-crypto")]
    RustCrypto(rust_crypto::PublicKey),
}

/// An RSA public key: the WeChat Pay public key (`pub_key.pem`, ID `PUB_KEY_ID_…`) or a platform
/// certificate's key. Cheap to clone.
#[derive(Clone)]
pub struct PublicKey {
    inner: Arc<PublicInner>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(RSA, {})", self.backend())
    }
}

impl PublicKey {
    /// SPKI (`BEGIN PUBLIC KEY`, like `pub_key.pem`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`) PEM.
    pub fn from_pem(pem: &str) -> Result<Self> {
        Self::from_pem_with(Backend::DEFAULT, pem)
    }

    /// [`PublicKey::from_pem`] with an explicit backend.
    pub fn from_pem_with(backend: Backend, pem: &str) -> Result<Self> {
        let what = "WeChat Pay public key";
        let block = pem::find(pem, &["PUBLIC KEY", "RSA PUBLIC KEY"])
            .map_err(|e| config(pem::describe(what, PUBLIC_KEY_FORMATS, &e)))?;
        Self::from_der_with(backend, &block.der).map_err(|why| {
            config(format!(
                "{what}: the \"BEGIN {}\" block is not a valid RSA public key ({why}); accepted: {PUBLIC_KEY_FORMATS}",
                block.label
            ))
        })
    }

    /// SPKI or PKCS#1 DER.
    pub(crate) fn from_der_with(backend: Backend, der: &[u8]) -> std::result::Result<Self, String> {
        let inner = match backend {
            #[cfg(feature = "aws-lc-rs")]
            Backend::AwsLcRs => aws_lc::PublicKey::from_der(der).map(PublicInner::AwsLc),
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => {
                rust_crypto::PublicKey::from_der(der).map(PublicInner::RustCrypto)
            }
        }?;
        Ok(PublicKey {
            inner: Arc::new(inner),
        })
    }

    /// The backend this key was parsed with.
    pub fn backend(&self) -> Backend {
        match *self.inner {
            #[cfg(feature = "aws-lc-rs")]
            PublicInner::AwsLc(_) => Backend::AwsLcRs,
            #[cfg(feature = "rust-crypto")]
            PublicInner::RustCrypto(_) => Backend::RustCrypto,
        }
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256: true when `signature` is valid for `message`.
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        match &*self.inner {
            #[cfg(feature = "aws-lc-rs")]
            PublicInner::AwsLc(k) => k.verify_sha256(message, signature),
            #[cfg(feature = "rust-crypto")]
            PublicInner::RustCrypto(k) => k.verify_sha256(message, signature),
        }
    }

    /// RSAES-OAEP with SHA-1 and MGF1-SHA-1 (encrypting sensitive request fields).
    pub fn encrypt_oaep_sha1(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        match &*self.inner {
            #[cfg(feature = "aws-lc-rs")]
            PublicInner::AwsLc(k) => k.encrypt_oaep_sha1(plaintext),
            #[cfg(feature = "rust-crypto")]
            PublicInner::RustCrypto(k) => k.encrypt_oaep_sha1(plaintext),
        }
        .map_err(|rule| Error::Validation {
            field: "plaintext".into(),
            rule,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Platform certificate

/// A WeChat Pay platform certificate (平台证书).
#[derive(Clone, Debug)]
pub struct Certificate {
    /// Upper-case hex as WeChat Pay prints it in `Wechatpay-Serial` (leading zero bytes of the
    /// DER integer dropped, two digits per byte).
    pub serial_no: String,
    pub public_key: PublicKey,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
}

impl Certificate {
    /// An X.509 certificate PEM (`BEGIN CERTIFICATE`) with an RSA key; the first one when there
    /// are several.
    pub fn from_pem(pem: &str) -> Result<Self> {
        Self::from_pem_with(Backend::DEFAULT, pem)
    }

    /// [`Certificate::from_pem`] with an explicit backend for the public key.
    pub fn from_pem_with(backend: Backend, pem: &str) -> Result<Self> {
        let what = "platform certificate";
        let block = pem::find(pem, &["CERTIFICATE"])
            .map_err(|e| config(pem::describe(what, CERTIFICATE_FORMATS, &e)))?;
        let parsed = x509::parse(&block.der).map_err(|why| config(format!("{what}: {why}")))?;
        let public_key = PublicKey::from_der_with(backend, &parsed.spki_der).map_err(|why| {
            config(format!(
                "{what} {}: its public key is not a usable RSA key ({why})",
                parsed.serial_no
            ))
        })?;
        Ok(Certificate {
            serial_no: parsed.serial_no,
            public_key,
            not_before: parsed.not_before,
            not_after: parsed.not_after,
        })
    }

    /// True when `now` (Unix seconds) is within the validity period.
    pub fn is_valid_at(&self, now: i64) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

// ---------------------------------------------------------------------------------------------
// APIv3 key

// Lives behind an Arc, so the size difference (the AES key schedule) costs nothing.
#[allow(clippy::large_enum_variant)]
enum AeadInner {
    #[cfg(feature = "aws-lc-rs")]
    AwsLc(aws_lc::AeadKey),
    #[cfg(feature = "rust-crypto")]
    RustCrypto(rust_crypto::AeadKey),
}

/// The 32-byte APIv3 key (APIv3密钥), ready for AEAD_AES_256_GCM. `Debug` is redacted; the key
/// is zeroized on drop. Cheap to clone.
#[derive(Clone)]
pub struct ApiV3Key {
    inner: Arc<AeadInner>,
}

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key(<redacted>)")
    }
}

impl ApiV3Key {
    /// Fails with [`Error::Config`] "APIv3 key must be 32 bytes, got N" (never showing the key).
    pub fn new(key: &str) -> Result<Self> {
        Self::new_with(Backend::DEFAULT, key)
    }

    /// [`ApiV3Key::new`] with an explicit backend.
    pub fn new_with(backend: Backend, key: &str) -> Result<Self> {
        let bytes: Zeroizing<[u8; 32]> = Zeroizing::new(key.as_bytes().try_into().map_err(|_| {
            config(format!(
                "APIv3 key must be 32 bytes, got {} (it is the 32-character key set in the merchant platform, not the API certificate or the private key)",
                key.len()
            ))
        })?);
        let inner = match backend {
            #[cfg(feature = "aws-lc-rs")]
            Backend::AwsLcRs => AeadInner::AwsLc(aws_lc::AeadKey::new(&bytes)),
            #[cfg(feature = "rust-crypto")]
            Backend::RustCrypto => AeadInner::RustCrypto(rust_crypto::AeadKey::new(&bytes)),
        };
        Ok(ApiV3Key {
            inner: Arc::new(inner),
        })
    }

    /// AEAD_AES_256_GCM decryption: `ciphertext_b64` is base64(ciphertext || 16-byte tag), the
    /// nonce is 12 bytes. A tag that does not verify is an [`Error::Signature`] (a wrong APIv3
    /// key, or the ciphertext, nonce or associated data were changed).
    pub fn decrypt(
        &self,
        nonce: &str,
        associated_data: &str,
        ciphertext_b64: &str,
    ) -> Result<Vec<u8>> {
        let nonce: &[u8; 12] = nonce.as_bytes().try_into().map_err(|_| Error::Signature {
            detail: format!(
                "AEAD_AES_256_GCM nonce must be 12 bytes, got {}",
                nonce.len()
            ),
        })?;
        let sealed = BASE64
            .decode(ciphertext_b64.trim())
            .map_err(|_| Error::Signature {
                detail: "AEAD_AES_256_GCM ciphertext is not valid base64".into(),
            })?;
        if sealed.len() < 16 {
            return Err(Error::Signature {
                detail: format!(
                    "AEAD_AES_256_GCM ciphertext is {} bytes, shorter than the 16-byte tag",
                    sealed.len()
                ),
            });
        }
        let aad = associated_data.as_bytes();
        let opened = match &*self.inner {
            #[cfg(feature = "aws-lc-rs")]
            AeadInner::AwsLc(k) => k.open(nonce, aad, &sealed),
            #[cfg(feature = "rust-crypto")]
            AeadInner::RustCrypto(k) => k.open(nonce, aad, &sealed),
        };
        opened.ok_or_else(|| Error::Signature {
            // AES-GCM's tag covers key, nonce, associated data and ciphertext at once: a
            // failed check cannot say which was wrong.
            detail: "AEAD_AES_256_GCM authentication tag check failed (tag mismatch): either the \
                     ciphertext, nonce or associated_data was tampered with, or the APIv3 key is \
                     wrong — the two cannot be told apart; a wrong APIv3 key is the usual cause \
                     (check the key set in the merchant platform, 32 bytes)"
                .into(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Digests and nonces

/// SHA-256 (default backend).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Backend::DEFAULT.sha256(data)
}

/// SHA-1 (default backend); only for WeChat's legacy card signature (卡券签名).
pub fn sha1(data: &[u8]) -> [u8; 20] {
    Backend::DEFAULT.sha1(data)
}

/// 32 ASCII alphanumerics from the operating system's CSPRNG (uniform: rejection sampling).
pub fn nonce() -> String {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = String::with_capacity(32);
    let mut buf = [0u8; 48];
    while out.len() < 32 {
        getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
        for &b in &buf {
            // 248 = 4 × 62: values above would bias the first characters.
            if b < 248 && out.len() < 32 {
                out.push(ALPHABET[(b % 62) as usize] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_is_32_alphanumerics_and_varies() {
        let a = nonce();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(a, nonce());
    }

    #[test]
    fn backends_list_the_default_first() {
        assert_eq!(backends()[0], Backend::DEFAULT);
    }
}
