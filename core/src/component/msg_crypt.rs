//! WeChat's message encryption, "安全模式" (WXBizMsgCrypt): how the open platform encrypts what it
//! pushes to a third-party platform (verify tickets, authorization changes) and how a reply is
//! encrypted back.
//!
//! The scheme, as WeChat's official WXBizMsgCrypt samples implement it (消息加解密接入指引;
//! wechatpy `wechatpy/crypto/__init__.py` `PrpCrypto` and `wechatpy/crypto/pkcs7.py`; WxJava
//! `me.chanjar.weixin.common.util.crypto.WxCryptUtil`):
//! - AESKey = base64_decode(EncodingAESKey + "="): the 43-character EncodingAESKey set on the
//!   platform is 32 bytes; the IV is AESKey's first 16 bytes;
//! - plaintext = random(16) | msg_len (4 bytes, big-endian) | msg | appid, PKCS#7-padded to a
//!   multiple of **32** bytes (pad value 1..=32), AES-256-CBC, base64 → `Encrypt`;
//! - `msg_signature` = hex SHA-1 of the lexicographically sorted concatenation of Token,
//!   timestamp, nonce and `Encrypt`.
//!
//! AES-CBC comes from the crate's crypto backends ([`crate::crypto::Backend`]): aws-lc-rs's
//! unpadded CBC mode, or RustCrypto's `cbc` over `aes`; the 32-byte padding is done here because
//! neither backend pads to a block larger than AES's own 16 bytes. The vectors are
//! `spec/vectors/msg_crypt.json` (Python `cryptography`, and the official samples' values).

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::Engine as _;
use zeroize::Zeroizing;

use crate::crypto::{constant_time_eq, Backend};
use crate::{Error, Result, SecretString};

/// PKCS#7 block size of the scheme (not AES's 16: WXBizMsgCrypt pads to 32).
const BLOCK: usize = 32;
/// random(16) | msg_len(4).
const HEADER: usize = 20;

/// WeChat's samples (and Python's `b64decode`) ignore the unused low bits of the key's last
/// character; keys generated on the platform are 43 random alphanumerics, so they often are not
/// zero (the official sample key ends in `G`).
const KEY_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

const KEY_RULE: &str = "must be the 43-character EncodingAESKey from the platform settings \
     (base64 characters A-Z a-z 0-9 + /, decoding with \"=\" appended to 32 bytes)";

/// An encrypted reply: the `Encrypt` value and its `msg_signature`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedMessage {
    pub encrypt: String,
    pub msg_signature: String,
}

/// The message crypto of one app (a third-party platform: its component appid): Token,
/// EncodingAESKey and appid. `Debug` shows the appid only.
#[derive(Clone)]
pub struct MsgCrypt {
    token: SecretString,
    encoding_aes_key: SecretString,
    key: Zeroizing<[u8; 32]>,
    appid: String,
    backend: Backend,
}

impl fmt::Debug for MsgCrypt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgCrypt")
            .field("appid", &self.appid)
            .field("token", &self.token)
            .field("encoding_aes_key", &self.encoding_aes_key)
            .field("backend", &self.backend)
            .finish()
    }
}

fn validation(field: &str, rule: impl Into<String>) -> Error {
    Error::Validation {
        field: field.into(),
        rule: rule.into(),
    }
}

fn signature_error(detail: impl Into<String>) -> Error {
    Error::Signature {
        detail: detail.into(),
    }
}

impl MsgCrypt {
    /// `token`: the message check Token (消息校验Token); `encoding_aes_key`: the 43-character
    /// EncodingAESKey (消息加解密Key); `appid`: the appid the messages are for (a third-party
    /// platform's component appid). A key that is not 43 base64 characters decoding to 32 bytes
    /// is an [`Error::Validation`] of `encoding_aes_key` (never echoing it).
    pub fn new(token: &str, encoding_aes_key: &str, appid: &str) -> Result<Self> {
        Self::new_with(Backend::DEFAULT, token, encoding_aes_key, appid)
    }

    /// [`MsgCrypt::new`] with an explicit crypto backend.
    pub fn new_with(
        backend: Backend,
        token: &str,
        encoding_aes_key: &str,
        appid: &str,
    ) -> Result<Self> {
        if token.is_empty() {
            return Err(validation(
                "token",
                "must be the message check Token from the platform settings, not empty",
            ));
        }
        if appid.is_empty() {
            return Err(validation("appid", "must not be empty"));
        }
        let len = encoding_aes_key.chars().count();
        if len != 43 {
            return Err(validation(
                "encoding_aes_key",
                format!("{KEY_RULE}; got {len} characters"),
            ));
        }
        let padded = Zeroizing::new(format!("{encoding_aes_key}="));
        let decoded = Zeroizing::new(KEY_BASE64.decode(padded.as_bytes()).map_err(|_| {
            validation(
                "encoding_aes_key",
                format!("{KEY_RULE}; it is not valid base64"),
            )
        })?);
        let key: [u8; 32] = decoded.as_slice().try_into().map_err(|_| {
            validation(
                "encoding_aes_key",
                format!("{KEY_RULE}; it decodes to {} bytes", decoded.len()),
            )
        })?;
        Ok(MsgCrypt {
            token: SecretString::new(token),
            encoding_aes_key: SecretString::new(encoding_aes_key),
            key: Zeroizing::new(key),
            appid: appid.to_owned(),
            backend,
        })
    }

    /// The appid messages must end with.
    pub fn appid(&self) -> &str {
        &self.appid
    }

    /// The crypto backend doing AES and SHA-1.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `msg_signature`: hex SHA-1 of the sorted concatenation of Token, `timestamp`, `nonce` and
    /// `encrypt`.
    pub fn signature(&self, timestamp: &str, nonce: &str, encrypt: &str) -> String {
        let mut parts = [self.token.expose(), timestamp, nonce, encrypt];
        parts.sort_unstable();
        let joined = Zeroizing::new(parts.concat());
        hex::encode(self.backend.sha1(joined.as_bytes()))
    }

    /// Checks `msg_signature` (in constant time) first, then decrypts `encrypt` and returns the
    /// message. A wrong signature, bad padding, an inconsistent length or another appid at the
    /// end is an [`Error::Signature`] naming what failed; `encrypt` that is not base64 or not
    /// whole AES blocks is an [`Error::Validation`] of `Encrypt`.
    pub fn decrypt(
        &self,
        msg_signature: &str,
        timestamp: &str,
        nonce: &str,
        encrypt: &str,
    ) -> Result<String> {
        let expected = self.signature(timestamp, nonce, encrypt);
        let given = msg_signature.trim().to_ascii_lowercase();
        if !constant_time_eq(expected.as_bytes(), given.as_bytes()) {
            return Err(signature_error(
                "msg_signature does not match SHA1(sort(Token, timestamp, nonce, Encrypt)): \
                 the message check Token configured here differs from the platform's, or the \
                 query or Encrypt was changed",
            ));
        }
        let mut data =
            Zeroizing::new(STANDARD.decode(encrypt.trim()).map_err(|_| {
                validation("Encrypt", "must be base64 (the AES-256-CBC ciphertext)")
            })?);
        if data.is_empty() || !data.len().is_multiple_of(16) {
            return Err(validation(
                "Encrypt",
                format!(
                    "the ciphertext must be whole 16-byte AES blocks; got {} bytes",
                    data.len()
                ),
            ));
        }
        let iv: [u8; 16] = self.key[..16].try_into().expect("32-byte key");
        self.backend
            .aes256_cbc(true, &self.key, &iv, &mut data)
            .map_err(|why| validation("Encrypt", why))?;
        let pad = usize::from(data[data.len() - 1]);
        if !(1..=BLOCK).contains(&pad)
            || pad > data.len()
            || !data[data.len() - pad..]
                .iter()
                .all(|&b| usize::from(b) == pad)
        {
            return Err(signature_error(
                "the decrypted message has invalid PKCS#7 padding (32-byte blocks): the \
                 EncodingAESKey configured here differs from the platform's, or Encrypt was \
                 truncated or changed",
            ));
        }
        let content = &data[..data.len() - pad];
        if content.len() < HEADER {
            return Err(signature_error(format!(
                "the decrypted message's length is {} bytes, shorter than random(16) + msg_len(4)",
                content.len()
            )));
        }
        let msg_len = u32::from_be_bytes(content[16..HEADER].try_into().expect("4 bytes"));
        let room = content.len() - HEADER;
        let msg_len = usize::try_from(msg_len)
            .ok()
            .filter(|&n| n <= room)
            .ok_or_else(|| {
                signature_error(format!(
                    "the decrypted message's msg_len ({msg_len}) exceeds the {room} bytes after \
                     its header: the length field is inconsistent"
                ))
            })?;
        let (msg, appid) = content[HEADER..].split_at(msg_len);
        if !constant_time_eq(appid, self.appid.as_bytes()) {
            return Err(signature_error(format!(
                "the decrypted message ends with an appid of {} bytes that is not ours ({}): it \
                 was encrypted for another app",
                appid.len(),
                self.appid
            )));
        }
        String::from_utf8(msg.to_vec())
            .map_err(|_| validation("Encrypt", "the decrypted message is not UTF-8"))
    }

    /// Encrypts `reply` with 16 random bytes from the operating system's CSPRNG; returns
    /// `Encrypt` and its `msg_signature` for `timestamp` and `nonce`.
    pub fn encrypt(&self, reply: &str, timestamp: &str, nonce: &str) -> Result<EncryptedMessage> {
        let mut random = Zeroizing::new([0u8; 16]);
        getrandom::fill(&mut *random)
            .expect("the operating system's random number generator failed");
        self.encrypt_with_random(reply, timestamp, nonce, &random)
    }

    /// [`MsgCrypt::encrypt`] with the 16 "random" bytes given: only for test vectors.
    #[doc(hidden)]
    pub fn encrypt_with_random(
        &self,
        reply: &str,
        timestamp: &str,
        nonce: &str,
        random: &[u8; 16],
    ) -> Result<EncryptedMessage> {
        let msg_len = u32::try_from(reply.len())
            .map_err(|_| validation("reply", "must be shorter than 4 GiB"))?;
        let unpadded = HEADER + reply.len() + self.appid.len();
        let pad = BLOCK - unpadded % BLOCK;
        let mut data = Zeroizing::new(Vec::with_capacity(unpadded + pad));
        data.extend_from_slice(random);
        data.extend_from_slice(&msg_len.to_be_bytes());
        data.extend_from_slice(reply.as_bytes());
        data.extend_from_slice(self.appid.as_bytes());
        data.resize(unpadded + pad, pad as u8);
        let iv: [u8; 16] = self.key[..16].try_into().expect("32-byte key");
        self.backend
            .aes256_cbc(false, &self.key, &iv, &mut data)
            .map_err(|why| validation("reply", why))?;
        let encrypt = STANDARD.encode(&*data);
        let msg_signature = self.signature(timestamp, nonce, &encrypt);
        Ok(EncryptedMessage {
            encrypt,
            msg_signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The official samples' EncodingAESKey (its last character has non-zero unused bits).
    const SAMPLE_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    fn crypt(backend: Backend) -> MsgCrypt {
        MsgCrypt::new_with(backend, "pamtest", SAMPLE_KEY, "wxb11529c136998cb6").unwrap()
    }

    #[test]
    fn debug_shows_neither_token_nor_key() {
        let c = MsgCrypt::new("tokenvalue123", SAMPLE_KEY, "wxb11529c136998cb6").unwrap();
        let shown = format!("{c:?}");
        assert!(shown.contains("wxb11529c136998cb6"));
        assert!(!shown.contains("tokenvalue123"));
        assert!(!shown.contains("abcdefghij"));
    }

    #[test]
    fn a_key_of_the_wrong_length_names_the_field_and_never_the_key() {
        for key in [
            &SAMPLE_KEY[..42],
            "",
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH",
        ] {
            match MsgCrypt::new("t", key, "wx1") {
                Err(Error::Validation { field, rule }) => {
                    assert_eq!(field, "encoding_aes_key");
                    assert!(rule.contains("43"), "{rule}");
                    assert!(key.is_empty() || !rule.contains(key), "{rule}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_official_sample_encrypts_to_its_published_value() {
        // WXBizMsgCryptTest.java of the official Java sample (afterAesEncrypt).
        for backend in crate::crypto::backends() {
            let out = crypt(*backend)
                .encrypt_with_random(
                    "我是中文abcd123",
                    "1409304348",
                    "xxxxxx",
                    b"aaaabbbbccccdddd",
                )
                .unwrap();
            assert_eq!(
                out.encrypt,
                "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
            );
        }
    }

    #[test]
    fn encrypt_round_trips_with_fresh_randomness() {
        for backend in crate::crypto::backends() {
            let c = crypt(*backend);
            let a = c.encrypt("success", "1", "n").unwrap();
            let b = c.encrypt("success", "1", "n").unwrap();
            assert_ne!(a.encrypt, b.encrypt, "the random prefix must differ");
            assert_eq!(
                c.decrypt(&a.msg_signature, "1", "n", &a.encrypt).unwrap(),
                "success"
            );
            // Upper-case hex is the same signature.
            let upper = a.msg_signature.to_ascii_uppercase();
            assert_eq!(c.decrypt(&upper, "1", "n", &a.encrypt).unwrap(), "success");
        }
    }

    #[test]
    fn a_wrong_signature_is_refused_before_decryption() {
        let c = crypt(Backend::DEFAULT);
        // Not base64 at all: the signature check comes first.
        match c.decrypt("0000000000000000000000000000000000000000", "1", "n", "***") {
            Err(Error::Signature { detail }) => assert!(detail.contains("msg_signature")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn constant_time_eq_compares_length_and_content() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
