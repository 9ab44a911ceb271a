//! Key material: RSA-2048 key pairs (aws-lc-rs), PEM encoding, the self-signed platform
//! certificate (rcgen), AES-256-GCM and the random strings the protocol uses.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rand::Rng as _;

use crate::SandboxError;

/// An RSA-2048 key pair that signs RSA-SHA256 PKCS#1 v1.5.
pub struct RsaKey {
    pair: KeyPair,
    pkcs8: Vec<u8>,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RsaKey(<private>)")
    }
}

impl RsaKey {
    /// A fresh RSA-2048 key pair.
    pub fn generate() -> Result<Self, SandboxError> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| SandboxError::Key("RSA-2048 key generation failed".into()))?;
        let pkcs8: Pkcs8V1Der = pair
            .as_der()
            .map_err(|_| SandboxError::Key("cannot encode the key as PKCS#8".into()))?;
        Ok(RsaKey {
            pkcs8: pkcs8.as_ref().to_vec(),
            pair,
        })
    }

    /// Reads a private key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, SandboxError> {
        let (label, der) = pem_decode(pem).ok_or_else(|| {
            SandboxError::Key("not a PEM private key (expected PKCS#8 or PKCS#1 PEM)".into())
        })?;
        let pair = match label.as_str() {
            "PRIVATE KEY" => KeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => KeyPair::from_der(&der),
            other => {
                return Err(SandboxError::Key(format!(
                    "PEM label `{other}`: expected PRIVATE KEY (PKCS#8) or RSA PRIVATE KEY (PKCS#1)"
                )))
            }
        }
        .map_err(|e| SandboxError::Key(format!("private key rejected: {e}")))?;
        let pkcs8: Pkcs8V1Der = pair
            .as_der()
            .map_err(|_| SandboxError::Key("cannot encode the key as PKCS#8".into()))?;
        Ok(RsaKey {
            pkcs8: pkcs8.as_ref().to_vec(),
            pair,
        })
    }

    /// PKCS#8 PEM (`BEGIN PRIVATE KEY`), the format of a merchant's `apiclient_key.pem`.
    pub fn private_pem(&self) -> String {
        pem_encode("PRIVATE KEY", &self.pkcs8)
    }

    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`), the format of `wxp_pub.pem`.
    pub fn public_pem(&self) -> String {
        let der: PublicKeyX509Der = self
            .pair
            .public_key()
            .as_der()
            .expect("an RSA public key always encodes");
        pem_encode("PUBLIC KEY", der.as_ref())
    }

    /// PKCS#1 `RSAPublicKey` DER, for [`verify`].
    pub fn public_der(&self) -> Vec<u8> {
        self.pair.public_key().as_ref().to_vec()
    }

    /// RSA-SHA256 PKCS#1 v1.5 signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                msg,
                &mut sig,
            )
            .expect("RSA signing with a valid key does not fail");
        sig
    }

    /// Base64 of [`RsaKey::sign`].
    pub fn sign_base64(&self, msg: &[u8]) -> String {
        B64.encode(self.sign(msg))
    }
}

/// Verifies an RSA-SHA256 PKCS#1 v1.5 signature with a PKCS#1 or SPKI DER public key.
pub fn verify(public_der: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public_der)
        .verify(msg, sig)
        .is_ok()
}

/// PEM with 64-character lines.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    let b64 = B64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The label and DER of the first PEM block.
pub fn pem_decode(pem: &str) -> Option<(String, Vec<u8>)> {
    let start = pem.find("-----BEGIN ")?;
    let rest = &pem[start + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_owned();
    let body_start = &rest[label_end + 5..];
    let end = body_start.find(&format!("-----END {label}-----"))?;
    let b64: String = body_start[..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    B64.decode(b64).ok().map(|der| (label, der))
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `n` random ASCII alphanumerics (nonces, the APIv3 key, secrets).
pub fn random_alnum(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALNUM[rng.random_range(0..ALNUM.len())] as char)
        .collect()
}

/// `n` random lower-case hex characters (appid, app secret).
pub fn random_hex(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
        .collect()
}

/// `n` random decimal digits.
pub fn random_digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// A certificate serial as WeChat shows it: 40 upper-case hex characters, positive and without a
/// leading zero byte (so `int(serial, 16)` equals the certificate's serial number).
pub fn random_serial() -> String {
    let mut bytes = [0u8; 20];
    rand::rng().fill(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f).max(0x10);
    hex::encode_upper(bytes)
}

/// AEAD_AES_256_GCM: returns ciphertext || 16-byte tag.
pub fn aes_gcm_encrypt(
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, SandboxError> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    let key = LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| SandboxError::Key("the APIv3 key must be 32 bytes".into()))?,
    );
    let nonce = Nonce::try_assume_unique_for_key(nonce)
        .map_err(|_| SandboxError::Key("the AES-GCM nonce must be 12 bytes".into()))?;
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(nonce, Aad::from(aad), &mut buf)
        .map_err(|_| SandboxError::Key("AES-GCM encryption failed".into()))?;
    Ok(buf)
}

/// Inverse of [`aes_gcm_encrypt`]; `None` when the tag does not verify.
pub fn aes_gcm_decrypt(key: &[u8], nonce: &[u8], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).ok()?);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = sealed.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(aad), &mut buf).ok()?;
    Some(plain.to_vec())
}

/// A self-signed X.509 certificate for `key` with the given serial (hex) and validity.
pub fn platform_certificate(
    key: &RsaKey,
    serial_hex: &str,
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
    mchid: &str,
) -> Result<String, SandboxError> {
    let err = |e: rcgen::Error| SandboxError::Key(format!("platform certificate: {e}"));
    let key_pair =
        rcgen::KeyPair::from_pem_and_sign_algo(&key.private_pem(), &rcgen::PKCS_RSA_SHA256)
            .map_err(err)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    let serial = hex::decode(serial_hex)
        .map_err(|_| SandboxError::Key(format!("certificate serial `{serial_hex}` is not hex")))?;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    params.not_before = not_before;
    params.not_after = not_after;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CountryName, "CN");
    dn.push(
        rcgen::DnType::OrganizationName,
        "Tenpay.com (weixin-kit sandbox)",
    );
    dn.push(
        rcgen::DnType::OrganizationalUnitName,
        "Tenpay.com CA Center (sandbox)",
    );
    dn.push(
        rcgen::DnType::CommonName,
        format!("{mchid}_sandbox_platform"),
    );
    params.distinguished_name = dn;
    let cert = params.self_signed(&key_pair).map_err(err)?;
    Ok(cert.pem())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_and_sign_verify() {
        let key = RsaKey::generate().unwrap();
        let again = RsaKey::from_pem(&key.private_pem()).unwrap();
        let sig = again.sign(b"hello");
        assert!(verify(&key.public_der(), b"hello", &sig));
        assert!(!verify(&key.public_der(), b"hellO", &sig));
        let (label, der) = pem_decode(&key.public_pem()).unwrap();
        assert_eq!(label, "PUBLIC KEY");
        assert!(verify(&der, b"hello", &sig));
    }

    #[test]
    fn aes_gcm_round_trip() {
        let key = random_alnum(32);
        let sealed = aes_gcm_encrypt(key.as_bytes(), b"abcdefghijkl", b"coupon", b"{}").unwrap();
        assert_eq!(sealed.len(), 2 + 16);
        let plain = aes_gcm_decrypt(key.as_bytes(), b"abcdefghijkl", b"coupon", &sealed).unwrap();
        assert_eq!(plain, b"{}");
        assert!(aes_gcm_decrypt(key.as_bytes(), b"abcdefghijkl", b"other", &sealed).is_none());
    }

    #[test]
    fn serial_is_40_upper_hex() {
        let s = random_serial();
        assert_eq!(s.len(), 40);
        assert!(s
            .chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)));
        assert!(!s.starts_with('0'));
    }
}
