//! The aws-lc-rs backend (default feature `aws-lc-rs`).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
    OAEP_SHA1_MGF1SHA1,
};
use aws_lc_rs::signature::{
    ParsedPublicKey, RsaKeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use zeroize::Zeroizing;

/// aws-lc keeps the key in C memory and cleanses it when freed.
pub(crate) struct PrivateKey {
    sign: RsaKeyPair,
    decrypt: OaepPrivateDecryptingKey,
}

impl PrivateKey {
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, String> {
        let sign = RsaKeyPair::from_pkcs8(der).map_err(|e| e.to_string())?;
        Self::with_signing_key(sign, der)
    }

    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, String> {
        let sign = RsaKeyPair::from_der(der).map_err(|e| e.to_string())?;
        // The decrypting key only reads PKCS#8: re-encode once.
        let pkcs8 = sign.as_der().map_err(|e| e.to_string())?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        Self::with_signing_key(sign, &pkcs8)
    }

    fn with_signing_key(sign: RsaKeyPair, pkcs8: &[u8]) -> Result<Self, String> {
        let decrypt = PrivateDecryptingKey::from_pkcs8(pkcs8)
            .map_err(|e| e.to_string())
            .and_then(|k| OaepPrivateDecryptingKey::new(k).map_err(|e| e.to_string()))?;
        Ok(PrivateKey { sign, decrypt })
    }

    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let mut signature = vec![0; self.sign.public_modulus_len()];
        self.sign
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| "RSA signing failed".to_string())?;
        Ok(signature)
    }

    pub fn decrypt_oaep_sha1(&self, ciphertext: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = vec![0; self.decrypt.min_output_size()];
        let plain = self
            .decrypt
            .decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut out, None)
            .map_err(|_| "RSA-OAEP decryption failed (wrong key or corrupted ciphertext)")?;
        Ok(plain.to_vec())
    }
}

pub(crate) struct PublicKey {
    verify: ParsedPublicKey,
    encrypt: OaepPublicEncryptingKey,
}

impl PublicKey {
    /// SPKI or PKCS#1 `RSAPublicKey` DER (aws-lc reads both).
    pub fn from_der(der: &[u8]) -> Result<Self, String> {
        let key = aws_lc_rs::rsa::PublicKey::from_der(der).map_err(|e| e.to_string())?;
        let spki = key.as_der().map_err(|e| e.to_string())?;
        let verify = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, spki.as_ref())
            .map_err(|e| e.to_string())?;
        let encrypt = PublicEncryptingKey::from_der(spki.as_ref())
            .map_err(|e| e.to_string())
            .and_then(|k| OaepPublicEncryptingKey::new(k).map_err(|e| e.to_string()))?;
        Ok(PublicKey { verify, encrypt })
    }

    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verify.verify_sig(message, signature).is_ok()
    }

    pub fn encrypt_oaep_sha1(&self, plaintext: &[u8]) -> Result<Vec<u8>, String> {
        let max = self.encrypt.max_plaintext_size(&OAEP_SHA1_MGF1SHA1);
        if plaintext.len() > max {
            return Err(format!(
                "plaintext too long for RSA-OAEP-SHA1: {} bytes, at most {max}",
                plaintext.len()
            ));
        }
        let mut out = vec![0; self.encrypt.ciphertext_size()];
        let ct = self
            .encrypt
            .encrypt(&OAEP_SHA1_MGF1SHA1, plaintext, &mut out, None)
            .map_err(|_| "RSA-OAEP encryption failed".to_string())?;
        Ok(ct.to_vec())
    }
}

/// AES-256-GCM with the key schedule prepared once.
pub(crate) struct AeadKey(LessSafeKey);

impl AeadKey {
    pub fn new(key: &[u8; 32]) -> Self {
        AeadKey(LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte key is valid for AES-256-GCM"),
        ))
    }

    /// `None` when the tag does not verify.
    pub fn open(&self, nonce: &[u8; 12], aad: &[u8], ciphertext_and_tag: &[u8]) -> Option<Vec<u8>> {
        let mut in_out = ciphertext_and_tag.to_vec();
        let nonce = Nonce::assume_unique_for_key(*nonce);
        let len = self
            .0
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .ok()?
            .len();
        in_out.truncate(len);
        Some(in_out)
    }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    d.as_ref().try_into().expect("SHA-256 is 32 bytes")
}

pub(crate) fn sha1(data: &[u8]) -> [u8; 20] {
    let d = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    d.as_ref().try_into().expect("SHA-1 is 20 bytes")
}

/// AES-256-CBC without padding over whole 16-byte blocks, in place (the open platform's message
/// encryption pads to 32 bytes itself). `Err` only when `in_out` is not whole blocks.
pub(crate) fn aes256_cbc(
    decrypt: bool,
    key: &[u8; 32],
    iv: &[u8; 16],
    in_out: &mut [u8],
) -> Result<(), String> {
    use aws_lc_rs::cipher::{
        DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey,
        AES_256,
    };
    use aws_lc_rs::iv::FixedLength;
    let unbound = || UnboundCipherKey::new(&AES_256, key).map_err(|_| "AES-256 key".to_string());
    let failed = |_| "AES-256-CBC over a length that is not whole 16-byte blocks".to_string();
    if decrypt {
        let k = DecryptingKey::cbc(unbound()?).map_err(failed)?;
        k.decrypt(in_out, DecryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(failed)?;
    } else {
        let k = EncryptingKey::cbc(unbound()?).map_err(failed)?;
        k.less_safe_encrypt(in_out, EncryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(failed)?;
    }
    Ok(())
}
