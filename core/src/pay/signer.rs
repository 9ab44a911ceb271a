//! Who signs requests: the merchant private key in this process, or a callback for keys kept in a
//! KMS or an HSM (wechatpay-go's `Signer` interface is the model).
//!
//! The client builds the signing string `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n` for every attempt
//! (a retry re-signs with a fresh timestamp and nonce) and awaits [`Signer::sign`] before anything
//! is sent: a signer that fails makes the call fail with its error, and one that answers something
//! that is not a base64 signature is an [`Error::Config`] — nothing goes out unsigned.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::crypto::PrivateKey;
use crate::error::{Error, Result};
use crate::BoxFuture;

/// Produces request signatures: RSA-SHA256 (PKCS#1 v1.5) over the signing string with the
/// merchant API private key, base64-encoded. Object safe: give the client an `Arc<dyn Signer>`
/// ([`PayClientBuilder::signer`](crate::pay::PayClientBuilder::signer)).
///
/// ```no_run
/// use std::sync::Arc;
/// use weixin_kit::pay::{PayClient, Signer};
/// use weixin_kit::{BoxFuture, Result};
///
/// struct Kms; // a client of your key service
///
/// impl Signer for Kms {
///     fn sign<'a>(&'a self, message: &'a [u8]) -> BoxFuture<'a, Result<String>> {
///         Box::pin(async move {
///             // Ask the KMS for RSASSA-PKCS1-v1_5 SHA-256 over `message`, return it base64.
///             # let _ = message;
///             Ok(String::new())
///         })
///     }
/// }
///
/// # fn demo() -> Result<()> {
/// let client = PayClient::builder()
///     .mchid("1900000001")
///     .serial_no("5157F09EFDC096DE15EBE81A47057A7232F1B8E1")
///     .signer(Arc::new(Kms))
///     .apiv3_key("…32 bytes…")?
///     .build()?;
/// # let _ = client; Ok(()) }
/// ```
pub trait Signer: Send + Sync {
    /// RSA-SHA256 PKCS#1 v1.5 signature of `message` (the signing string
    /// `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`), base64.
    fn sign<'a>(&'a self, message: &'a [u8]) -> BoxFuture<'a, Result<String>>;
}

/// The merchant private key held in this process signs synchronously.
impl Signer for PrivateKey {
    fn sign<'a>(&'a self, message: &'a [u8]) -> BoxFuture<'a, Result<String>> {
        let signature = self.sign_sha256(message).map(|s| BASE64.encode(s));
        Box::pin(std::future::ready(signature))
    }
}

impl<S: Signer + ?Sized> Signer for Arc<S> {
    fn sign<'a>(&'a self, message: &'a [u8]) -> BoxFuture<'a, Result<String>> {
        (**self).sign(message)
    }
}

/// Signs `message` with `signer` and checks what came back: non-empty standard base64 (it goes
/// into the `Authorization` header as is). Errors never quote the returned value.
pub(crate) async fn checked_signature(signer: &dyn Signer, message: &[u8]) -> Result<String> {
    let signature = signer.sign(message).await?;
    let invalid = |why: &str| Error::Config {
        detail: format!("the signer returned an invalid signature: {why}; nothing was sent"),
    };
    if signature.is_empty() {
        return Err(invalid("it is empty"));
    }
    match BASE64.decode(signature.as_bytes()) {
        Ok(bytes) if !bytes.is_empty() => Ok(signature),
        Ok(_) => Err(invalid("it decodes to no bytes")),
        Err(_) => Err(invalid(
            "it is not standard base64 (the RSA signature bytes, base64-encoded)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Returns(&'static str);

    impl Signer for Returns {
        fn sign<'a>(&'a self, _message: &'a [u8]) -> BoxFuture<'a, Result<String>> {
            Box::pin(async move { Ok(self.0.to_owned()) })
        }
    }

    fn check(answer: &'static str) -> Result<String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(checked_signature(&Returns(answer), b"GET\n/v3/x\n1\nn\n\n"))
    }

    #[test]
    fn signatures_must_be_base64() {
        assert_eq!(check("c2lnbmF0dXJl").unwrap(), "c2lnbmF0dXJl");
        for bad in ["", "not base64!", "c2ln bmF0", "SECRET-ish\"value"] {
            let e = check(bad).unwrap_err();
            let Error::Config { detail } = &e else {
                panic!("{bad:?}: {e:?}")
            };
            assert!(
                detail.contains("the signer returned an invalid signature"),
                "{detail}"
            );
            if !bad.is_empty() {
                assert!(!detail.contains(bad), "{detail}");
            }
        }
    }
}
