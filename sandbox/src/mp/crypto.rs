//! Randomness for tokens and tickets, and the reversible encryption of card codes.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// Bound into every encrypt_code (followed by the owner's appid), so codes made for another
/// purpose, or for another account's cards, never decrypt.
const CARD_CODE_AAD: &[u8] = b"weixin-kit-sandbox card code v2 ";

fn card_code_aad(appid: &str) -> Vec<u8> {
    let mut aad = CARD_CODE_AAD.to_vec();
    aad.extend_from_slice(appid.as_bytes());
    aad
}

/// Lower-case hex SHA-1 of `data` (the 卡券签名 digest).
pub fn sha1_hex(data: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn random_bytes(out: &mut [u8]) {
    aws_lc_rs::rand::fill(out).expect("the system CSPRNG failed");
}

/// `len` characters from [A-Za-z0-9], uniformly (rejection sampling over random bytes).
pub fn random_alphanumeric(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        random_bytes(&mut buf);
        for &b in &buf {
            // 248 = 4 * 62: bytes at or above it would bias the first characters.
            if b < 248 && out.len() < len {
                out.push(ALPHANUMERIC[(b % 62) as usize] as char);
            }
        }
    }
    out
}

/// AES-256-GCM under a key made when the sandbox starts, the card owner's appid bound as AAD
/// (WeChat's encrypt_code is decoded on the account that created the card). encrypt_code =
/// base64(nonce ‖ ciphertext ‖ tag), standard alphabet with padding, as WeChat's encrypt_codes look
/// (they contain `+`, `/` and `=`, so a client that mangles them is caught).
pub struct CardCodeCipher {
    key: LessSafeKey,
}

impl CardCodeCipher {
    pub fn new() -> Self {
        let mut key = [0u8; 32];
        random_bytes(&mut key);
        let key = UnboundKey::new(&AES_256_GCM, &key).expect("32-byte AES-256 key");
        Self {
            key: LessSafeKey::new(key),
        }
    }

    /// `code` encrypted for a card owned by `appid`.
    pub fn encrypt(&self, code: &str, appid: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce);
        let mut buf = code.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(card_code_aad(appid).as_slice()),
                &mut buf,
            )
            .expect("AES-GCM seal");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        STANDARD.encode(out)
    }

    /// The code, or None when `encrypt_code` is not one this sandbox made for a card of `appid`
    /// (or was altered).
    pub fn decrypt(&self, encrypt_code: &str, appid: &str) -> Option<String> {
        let raw = STANDARD.decode(encrypt_code).ok()?;
        if raw.len() < NONCE_LEN + AES_256_GCM.tag_len() {
            return None;
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(
                nonce,
                Aad::from(card_code_aad(appid).as_slice()),
                &mut sealed,
            )
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

impl Default for CardCodeCipher {
    fn default() -> Self {
        Self::new()
    }
}
