//! What every module of this test binary shares: the in-process sandbox (one generated identity
//! for all of them), clients configured against it, the repository's own files (the spec and the
//! test vectors) and matchers for the error kinds.

#[cfg(feature = "redis")]
pub mod child;
pub mod component;
pub mod notify;
pub mod pay_peer;
pub mod peer;
pub mod proxy;
#[cfg(feature = "redis")]
pub mod redis_server;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use weixin_kit::mp::{MiniProgramClient, MiniProgramClientBuilder};
use weixin_kit::pay::{PayClient, PayClientBuilder, RetryPolicy};
use weixin_kit::{ApiError, Error, MiniProgramError};
use weixin_kit_sandbox::{Identity, Sandbox, SandboxConfig, SigningMode};

// ---------------------------------------------------------------------------------------------
// The sandbox

/// The user, notify type and notify code every sandbox from [`sandbox`] knows.
pub const OPENID: &str = "oUser-client-1";
pub const NOTIFY_TYPE: i32 = 2001;
pub const CODE: &str = "4200001855202305090060871147";

/// One generated identity for every sandbox of this binary (RSA key generation is slow).
pub fn identity() -> Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| Identity::generate().unwrap()).clone()
}

/// A sandbox signing with the WeChat Pay public key (the default for new merchants), with
/// [`OPENID`]'s notify code registered.
pub async fn sandbox() -> Sandbox {
    sandbox_signing(SigningMode::PublicKey).await
}

/// A sandbox signing responses and notifications in `mode`, with [`OPENID`]'s notify code
/// registered.
pub async fn sandbox_signing(signing_mode: SigningMode) -> Sandbox {
    let sandbox = Sandbox::start(SandboxConfig {
        identity: Some(identity()),
        signing_mode,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    sandbox.mp().register_notify_code(OPENID, NOTIFY_TYPE, CODE);
    sandbox
}

// ---------------------------------------------------------------------------------------------
// Clients

/// The default policy's three attempts and failover, with delays short enough for tests.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        failover: true,
    }
}

/// Merchant identity and the sandbox's two hosts, without any verification key.
pub fn pay_builder(sb: &Sandbox) -> PayClientBuilder {
    let c = sb.credentials();
    PayClient::builder()
        .mchid(&c.mchid)
        .serial_no(&c.merchant_serial_no)
        .private_key_pem(c.merchant_private_key_pem.expose())
        .unwrap()
        .base_url(sb.base_url())
        .backup_base_url(sb.backup_base_url())
        .retry(fast_retry())
}

/// [`pay_builder`] that verifies with the WeChat Pay public key (no APIv3 key).
pub fn pay_builder_with_public_key(sb: &Sandbox) -> PayClientBuilder {
    let c = sb.credentials();
    pay_builder(sb)
        .wechatpay_public_key(&c.wechatpay_public_key_id, &c.wechatpay_public_key_pem)
        .unwrap()
}

/// Public-key mode with the APIv3 key (notifications can be decrypted).
pub fn pay_client(sb: &Sandbox) -> PayClient {
    pay_builder_with_public_key(sb)
        .apiv3_key(sb.credentials().apiv3_key.expose())
        .unwrap()
        .build()
        .unwrap()
}

/// Certificate mode: only the APIv3 key; platform certificates are downloaded.
pub fn certificate_client(sb: &Sandbox) -> PayClient {
    pay_builder(sb)
        .apiv3_key(sb.credentials().apiv3_key.expose())
        .unwrap()
        .build()
        .unwrap()
}

/// The mini-program's appid and AppSecret against the sandbox, and the Official Account that
/// owns the cards, with [`fast_retry`].
pub fn mp_builder(sb: &Sandbox) -> MiniProgramClientBuilder {
    let c = sb.credentials();
    MiniProgramClient::builder()
        .appid(c.appid.clone())
        .secret(c.app_secret.clone())
        .card_account(c.card_appid.clone(), c.card_app_secret.clone())
        .base_url(sb.base_url())
        .retry(fast_retry())
}

pub fn mp_client(sb: &Sandbox) -> MiniProgramClient {
    mp_builder(sb).build().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The repository's files

/// A file of the repository, by its path from the repository root.
pub fn repo_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core lives in the repository")
        .join(rel)
}

/// A JSON file of the repository.
pub fn json_file(rel: &str) -> Value {
    let path = repo_file(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// `spec/vectors/<name>`: test vectors made outside our code.
pub fn vectors(name: &str) -> Value {
    json_file(&format!("spec/vectors/{name}"))
}

/// `spec/<name>`: an OpenAPI document.
pub fn spec(name: &str) -> Value {
    json_file(&format!("spec/{name}"))
}

/// A JSON string, or a panic naming what was there instead.
pub fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

// ---------------------------------------------------------------------------------------------
// Error kinds

/// (field, rule) of an [`Error::Validation`]; panics on anything else.
pub fn validation<T: std::fmt::Debug>(result: weixin_kit::Result<T>) -> (String, String) {
    match result {
        Err(Error::Validation { field, rule }) => (field, rule),
        other => panic!("expected Error::Validation, got {other:?}"),
    }
}

/// The WeChat Pay answer of an [`Error::Api`]; panics on anything else.
pub fn api_error(e: Error) -> Box<ApiError> {
    match e {
        Error::Api(api) => api,
        other => panic!("expected Error::Api, got {other:?}"),
    }
}

/// The mini-program answer of an [`Error::MiniProgram`]; panics on anything else.
pub fn mp_error<T: std::fmt::Debug>(result: weixin_kit::Result<T>) -> Box<MiniProgramError> {
    match result {
        Err(Error::MiniProgram(e)) => e,
        other => panic!("expected Error::MiniProgram, got {other:?}"),
    }
}
