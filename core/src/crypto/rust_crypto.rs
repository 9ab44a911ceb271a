//! The RustCrypto backend (feature `rust-crypto`): `rsa` 0.10, `sha2`, `sha1`, `aes-gcm`.
//!
//! Randomness (RSA blinding, OAEP padding) comes from the operating system through `rsa`'s
//! `getrandom` feature.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// `rsa::PrivateKey` zeroizes its components on drop.
pub(crate) struct PrivateKey(rsa::PrivateKey);

impl PrivateKey {
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, String> {
        rsa::PrivateKey::from_pkcs8_der(der)
            .map(PrivateKey)
            .map_err(|e| e.to_string())
    }

    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        rsa::PrivateKey::from_pkcs1_der(der)
            .map(PrivateKey)
            .map_err(|e| e.to_string())
    }

    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        self.0
            .pkcs1v15_sign::<Sha256>(message)
            .map_err(|e| format!("RSA signing failed ({e})"))
    }

    pub fn decrypt_oaep_sha1(&self, ciphertext: &[u8]) -> Result<Vec<u8>, String> {
        self.0
            .oaep_decrypt::<Sha1>(ciphertext)
            .map_err(|_| "RSA-OAEP decryption failed (wrong key or corrupted ciphertext)".into())
    }
}

pub(crate) struct PublicKey(rsa::PublicKey);

impl PublicKey {
    /// SPKI or PKCS#1 `RSAPublicKey` DER.
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        match rsa::PublicKey::from_public_key_der(der) {
            Ok(k) => Ok(PublicKey(k)),
            Err(spki_err) => rsa::PublicKey::from_pkcs1_der(der)
                .map(PublicKey)
                .map_err(|_| spki_err.to_string()),
        }
    }

    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        self.0.pkcs1v15_verify::<Sha256>(message, signature).is_ok()
    }

    pub fn encrypt_oaep_sha1(&self, plaintext: &[u8]) -> Result<Vec<u8>, String> {
        self.0
            .oaep_encrypt::<Sha1>(plaintext)
            .map_err(|e| format!("RSA-OAEP encryption failed ({e})"))
    }
}

/// AES-256-GCM with the key schedule prepared once (zeroized on drop).
pub(crate) struct AeadKey(Aes256Gcm);

impl AeadKey {
    pub fn new(key: &[u8; 32]) -> Self {
        AeadKey(Aes256Gcm::new(key.into()))
    }

    /// `None` when the tag does not verify.
    pub fn open(&self, nonce: &[u8; 12], aad: &[u8], ciphertext_and_tag: &[u8]) -> Option<Vec<u8>> {
        self.0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext_and_tag,
                    aad,
                },
            )
            .ok()
    }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub(crate) fn sha1(data: &[u8]) -> [u8; 20] {
    Sha1::digest(data).into()
}

/// AES-256-CBC without padding over whole 16-byte blocks, in place (RustCrypto `cbc` over
/// `aes`). `Err` only when `in_out` is not whole blocks.
pub(crate) fn aes256_cbc(
    decrypt: bool,
    key: &[u8; 32],
    iv: &[u8; 16],
    in_out: &mut [u8],
) -> Result<(), String> {
    use cbc::cipher::generic_array::GenericArray;
    use cbc::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
    if !in_out.len().is_multiple_of(16) {
        return Err("AES-256-CBC over a length that is not whole 16-byte blocks".into());
    }
    let blocks = in_out
        .chunks_exact_mut(16)
        .map(GenericArray::from_mut_slice);
    if decrypt {
        let mut c = cbc::Decryptor::<aes::Aes256>::new(key.into(), iv.into());
        blocks.for_each(|b| c.decrypt_block_mut(b));
    } else {
        let mut c = cbc::Encryptor::<aes::Aes256>::new(key.into(), iv.into());
        blocks.for_each(|b| c.encrypt_block_mut(b));
    }
    Ok(())
}
