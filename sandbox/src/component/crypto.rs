//! WXBizMsgCrypt (消息加解密, "安全模式") as WeChat's servers apply it to the pushes a
//! third-party platform receives — written here from WeChat's documents and the SDKs nobody in
//! this project wrote, never from weixin-kit's core (a shared wrong belief would pass every
//! test):
//!
//! - key = base64-decode(EncodingAESKey + "=") (43 characters → 32 bytes), IV = its first 16
//!   bytes; AES-256-CBC (wechatpy `wechatpy/crypto/__init__.py` `BaseWeChatCrypto.__init__`,
//!   `wechatpy/crypto/cryptography.py` `WeChatCipher`: `AES.MODE_CBC, key[:16]`);
//! - plaintext = 16 random bytes ‖ 4-byte big-endian length of the message ‖ message ‖ the
//!   component appid (wechatpy `wechatpy/crypto/base.py` `BasePrpCrypto._encrypt`:
//!   `struct.pack(b'I', socket.htonl(len(text)))`), padded PKCS#7 to a multiple of **32** bytes
//!   (a full 32-byte block when already aligned; wechatpy `wechatpy/crypto/pkcs7.py`, the
//!   official sample's `PKCS7Encoder.block_size = 32`);
//! - Encrypt = base64 of the ciphertext; msg_signature = lower-case hex SHA-1 of the sorted
//!   concatenation of token, timestamp, nonce and Encrypt (wechatpy `_get_signature` with
//!   `WeChatSigner`, which sorts then joins); the URL `signature` = the same over token,
//!   timestamp and nonce only (the plain-mode check).

use aws_lc_rs::cipher::{
    DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, UnboundCipherKey, AES_256,
};
use aws_lc_rs::iv::FixedLength;
use base64::alphabet;
use base64::engine::general_purpose::{
    GeneralPurpose, GeneralPurposeConfig, STANDARD, STANDARD_NO_PAD,
};
use base64::Engine as _;

use crate::mp::crypto::{random_bytes, sha1_hex};

/// The PKCS#7 block size WXBizMsgCrypt pads to.
pub const BLOCK: usize = 32;

/// Why an EncodingAESKey or a ciphertext was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgCryptError {
    #[error("encoding_aes_key must be 43 base64 characters decoding (with \"=\") to 32 bytes")]
    Key,
    #[error("ciphertext: {0}")]
    Ciphertext(&'static str),
}

/// The cipher for one EncodingAESKey.
pub struct MsgCipher {
    key: [u8; 32],
}

impl std::fmt::Debug for MsgCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MsgCipher { key: *** }")
    }
}

/// A random EncodingAESKey: 32 random bytes, base64 without the trailing "=" (43 characters).
pub fn random_encoding_aes_key() -> String {
    let mut key = [0u8; 32];
    random_bytes(&mut key);
    STANDARD_NO_PAD.encode(key)
}

/// msg_signature: SHA-1 hex of the sorted parts, concatenated.
pub fn signature(parts: &[&str]) -> String {
    let mut sorted: Vec<&str> = parts.to_vec();
    sorted.sort_unstable();
    sha1_hex(sorted.concat().as_bytes())
}

impl MsgCipher {
    pub fn new(encoding_aes_key: &str) -> Result<MsgCipher, MsgCryptError> {
        if encoding_aes_key.len() != 43 {
            return Err(MsgCryptError::Key);
        }
        // The platform's page generates the key as 43 random characters of [A-Za-z0-9], so its
        // last character's two low bits are often not zero: decoders that demand canonical
        // base64 refuse keys WeChat hands out. Those bits are dropped, as Python's b64decode
        // (wechatpy) and the official samples' decoders do.
        let lenient = GeneralPurpose::new(
            &alphabet::STANDARD,
            GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        let raw = lenient
            .decode(format!("{encoding_aes_key}="))
            .map_err(|_| MsgCryptError::Key)?;
        let key: [u8; 32] = raw.try_into().map_err(|_| MsgCryptError::Key)?;
        Ok(MsgCipher { key })
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }

    /// Encrypt for `message` sent by/for `appid`, with the 16 random leading bytes given.
    pub fn encrypt_with(&self, random: &[u8; 16], message: &[u8], appid: &str) -> String {
        let mut plain = Vec::with_capacity(message.len() + appid.len() + 20 + BLOCK);
        plain.extend_from_slice(random);
        plain.extend_from_slice(&(message.len() as u32).to_be_bytes());
        plain.extend_from_slice(message);
        plain.extend_from_slice(appid.as_bytes());
        let pad = BLOCK - plain.len() % BLOCK; // 1..=32: a full block when aligned
        plain.extend(std::iter::repeat_n(pad as u8, pad));
        let key = UnboundCipherKey::new(&AES_256, &self.key).expect("32-byte AES-256 key");
        let key = EncryptingKey::cbc(key).expect("AES-256-CBC");
        key.less_safe_encrypt(
            &mut plain,
            EncryptionContext::Iv128(FixedLength::from(self.iv())),
        )
        .expect("block-aligned CBC input");
        STANDARD.encode(plain)
    }

    /// Encrypt with fresh random leading bytes.
    pub fn encrypt(&self, message: &[u8], appid: &str) -> String {
        let mut random = [0u8; 16];
        random_bytes(&mut random);
        self.encrypt_with(&random, message, appid)
    }

    /// The message and the trailing appid of an Encrypt value (for the sandbox's own checks;
    /// tests decrypt independently).
    pub fn decrypt(&self, encrypt: &str) -> Result<(Vec<u8>, String), MsgCryptError> {
        let mut data = STANDARD
            .decode(encrypt)
            .map_err(|_| MsgCryptError::Ciphertext("not base64"))?;
        if data.is_empty() || data.len() % 16 != 0 {
            return Err(MsgCryptError::Ciphertext(
                "not a whole number of AES blocks",
            ));
        }
        let key = UnboundCipherKey::new(&AES_256, &self.key).expect("32-byte AES-256 key");
        let key = DecryptingKey::cbc(key).expect("AES-256-CBC");
        let plain = key
            .decrypt(
                &mut data,
                DecryptionContext::Iv128(FixedLength::from(self.iv())),
            )
            .map_err(|_| MsgCryptError::Ciphertext("AES-CBC failed"))?;
        let pad = *plain.last().expect("non-empty") as usize;
        if !(1..=BLOCK).contains(&pad)
            || pad > plain.len()
            || plain[plain.len() - pad..]
                .iter()
                .any(|&b| b as usize != pad)
        {
            return Err(MsgCryptError::Ciphertext("bad PKCS#7 padding (block 32)"));
        }
        let body = &plain[..plain.len() - pad];
        if body.len() < 20 {
            return Err(MsgCryptError::Ciphertext("shorter than random + length"));
        }
        let len = u32::from_be_bytes(body[16..20].try_into().expect("4 bytes")) as usize;
        let rest = &body[20..];
        if len > rest.len() {
            return Err(MsgCryptError::Ciphertext("length beyond the plaintext"));
        }
        let appid = String::from_utf8(rest[len..].to_vec())
            .map_err(|_| MsgCryptError::Ciphertext("appid not UTF-8"))?;
        Ok((rest[..len].to_vec(), appid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_must_be_43_characters_of_32_bytes() {
        assert_eq!(MsgCipher::new("short").unwrap_err(), MsgCryptError::Key);
        assert!(MsgCipher::new(&random_encoding_aes_key()).is_ok());
        assert_eq!(random_encoding_aes_key().len(), 43);
        // "…EFG=": G leaves two non-zero bits past the 32nd byte; accepted (see `new`).
        assert!(MsgCipher::new("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").is_ok());
        assert_eq!(
            MsgCipher::new("abcdefghijklmnopqrstuvwxyz0123456789ABCDEF!").unwrap_err(),
            MsgCryptError::Key
        );
    }

    #[test]
    fn padding_reaches_a_multiple_of_32_and_a_full_block_when_aligned() {
        let c = MsgCipher::new(&random_encoding_aes_key()).unwrap();
        // 16 + 4 + 12 = 32 bytes before padding: a whole 32-byte block of padding follows.
        let e = c.encrypt_with(&[7; 16], b"", "wx0123456789ab");
        assert_eq!(STANDARD.decode(&e).unwrap().len(), 64);
        let e = c.encrypt_with(&[7; 16], b"x", "wx0123456789ab");
        assert_eq!(STANDARD.decode(&e).unwrap().len(), 64);
        let e = c.encrypt_with(&[7; 16], b"", "wx012345678");
        assert_eq!(STANDARD.decode(&e).unwrap().len(), 32);
    }

    #[test]
    fn signature_sorts_before_hashing() {
        // SHA-1("abc") — FIPS 180-2 appendix A.1 — reached from unsorted parts.
        assert_eq!(
            signature(&["c", "a", "b"]),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }
}
