//! weixin-kit-sandbox: a local WeChat server that speaks the real protocol (WeChat Pay APIv3
//! signatures, mini-program tokens), for every language's integration tests and the demo.
//!
//! ```no_run
//! # async fn demo() -> Result<(), weixin_kit_sandbox::SandboxError> {
//! use weixin_kit_sandbox::{NewStock, Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let creds = sandbox.credentials(); // mchid, merchant key, WeChat Pay public key, APIv3 key …
//! sandbox.create_stock(NewStock::named("8月1日活动券"))?;
//! // point a client at sandbox.base_url() (main) / sandbox.backup_base_url() (backup)
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! It verifies every `/v3/` request the way WeChat Pay does (a failure answers 401 SIGN_ERROR
//! with the signing string it expected), signs every `/v3/` response, keeps merchant coupon
//! stocks in memory, sends signed and encrypted notifications, injects faults, and records every
//! request. Everything is driven from Rust ([`Sandbox`]) or over HTTP (`/sandbox/…`, see the
//! crate README).

// Handlers' helpers return `Result<_, axum::response::Response>` (the error *is* the answer);
// boxing it buys nothing in a test server.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod component;
pub mod control;
pub mod faults;
pub mod keys;
pub mod log;
pub mod mp;
pub mod notify;
pub mod out_requests;
pub mod pay;
mod server;
pub mod ui;
pub mod util;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use weixin_kit::SecretString;

pub use component::{Authorization, ComponentSettings, ComponentUpdate, PushDelivery};
pub use faults::{Fault, FaultKind};
pub use keys::RsaKey;
pub use log::{Listener, LogEntry};
pub use notify::{Attempt, CouponNotification, DeliveryReport, RetryPolicy};
pub use out_requests::OutRequestCount;
pub use pay::{Media, NewStock, Stock};

/// Why the sandbox could not start or a control call failed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("key material: {0}")]
    Key(String),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A control call was given something it cannot act on (HTTP 400 on the control API).
    #[error("{0}")]
    BadRequest(String),
    /// A control call named something that does not exist (HTTP 404 on the control API).
    #[error("{0}")]
    NotFound(String),
}

/// Which key signs responses and notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigningMode {
    /// WeChat Pay public key mode: `Wechatpay-Serial` is the `PUB_KEY_ID_…`.
    #[default]
    PublicKey,
    /// Platform certificate mode: `Wechatpay-Serial` is the platform certificate serial.
    Certificate,
    /// A merchant migrating from the platform certificate to the public key: each response is
    /// signed with the key the request's `Wechatpay-Serial` header names (the `PUB_KEY_ID_…` →
    /// the public key; the platform certificate serial → the certificate; absent or unknown →
    /// the certificate, as before the migration). Notifications: the certificate unless the
    /// notification asks otherwise. See [`auth::response_key`].
    Migration,
}

/// Everything secret and public the sandbox plays with: the merchant's key (the sandbox verifies
/// with its public half), the WeChat Pay public key pair, the platform certificate and its key,
/// the APIv3 key and the mini-program appid/secret.
#[derive(Debug, Clone)]
pub struct Identity {
    pub mchid: String,
    /// Serial of the merchant API certificate (`serial_no` in the Authorization header).
    pub merchant_serial_no: String,
    pub merchant_key: RsaKey,
    /// `PUB_KEY_ID_…`: the WeChat Pay public key's id.
    pub wechatpay_public_key_id: String,
    /// The WeChat Pay public key's private half (signs in [`SigningMode::PublicKey`]).
    pub wechatpay_key: RsaKey,
    pub platform_serial_no: String,
    /// The platform certificate's private key (signs in [`SigningMode::Certificate`]).
    pub platform_key: RsaKey,
    pub platform_certificate_pem: String,
    pub platform_effective_time: String,
    pub platform_expire_time: String,
    pub apiv3_key: SecretString,
    /// The mini-program (小程序).
    pub appid: String,
    pub app_secret: SecretString,
    /// The Official Account (公众号) that created the cards (卡券): its wx_card api_ticket signs
    /// cardExt and its token decrypts the codes wx.addCard returns (WeChat's guide
    /// 小程序内领取卡券, Coupons-Mini_Program_Start_Up).
    pub card_appid: String,
    pub card_app_secret: SecretString,
    /// The third-party platform (第三方平台) whose WeChat side the sandbox plays
    /// ([`component`]): its appid and appsecret, its message-check Token and its EncodingAESKey.
    pub component_appid: String,
    pub component_appsecret: SecretString,
    pub component_token: SecretString,
    pub component_encoding_aes_key: SecretString,
}

impl Clone for RsaKey {
    fn clone(&self) -> Self {
        RsaKey::from_pem(&self.private_pem()).expect("a key re-reads its own PEM")
    }
}

impl Identity {
    /// A fresh identity: three RSA-2048 keys generated in parallel, a self-signed platform
    /// certificate valid from a day ago for five years, random serials and secrets.
    pub fn generate() -> Result<Identity, SandboxError> {
        Self::generate_for("1900000001")
    }

    pub fn generate_for(mchid: &str) -> Result<Identity, SandboxError> {
        let (merchant, wechatpay, platform) = std::thread::scope(|s| {
            let a = s.spawn(RsaKey::generate);
            let b = s.spawn(RsaKey::generate);
            let c = RsaKey::generate();
            (
                a.join().expect("keygen thread"),
                b.join().expect("keygen thread"),
                c,
            )
        });
        let (merchant_key, wechatpay_key, platform_key) = (merchant?, wechatpay?, platform?);
        let now = util::now();
        let not_before = now - time::Duration::days(1);
        let not_after = now + time::Duration::days(5 * 365);
        let platform_serial_no = keys::random_serial();
        let platform_certificate_pem = keys::platform_certificate(
            &platform_key,
            &platform_serial_no,
            not_before,
            not_after,
            mchid,
        )?;
        let component = component::generate_settings();
        let date = now.to_offset(util::CST);
        let wechatpay_public_key_id = format!(
            "PUB_KEY_ID_01{mchid}{:04}{:02}{:02}{}",
            date.year(),
            u8::from(date.month()),
            date.day(),
            keys::random_digits(12)
        );
        Ok(Identity {
            mchid: mchid.to_owned(),
            merchant_serial_no: keys::random_serial(),
            merchant_key,
            wechatpay_public_key_id,
            wechatpay_key,
            platform_serial_no,
            platform_key,
            platform_certificate_pem,
            platform_effective_time: util::rfc3339_cst(not_before),
            platform_expire_time: util::rfc3339_cst(not_after),
            apiv3_key: SecretString::new(keys::random_alnum(32)),
            appid: format!("wx{}", keys::random_hex(16)),
            app_secret: SecretString::new(keys::random_hex(32)),
            card_appid: format!("wx{}", keys::random_hex(16)),
            card_app_secret: SecretString::new(keys::random_hex(32)),
            component_appid: component.component_appid,
            component_appsecret: component.component_appsecret,
            component_token: component.token,
            component_encoding_aes_key: component.encoding_aes_key,
        })
    }

    /// What a client needs (the merchant's side of the identity, and WeChat's public parts).
    pub fn credentials(&self) -> Credentials {
        Credentials {
            mchid: self.mchid.clone(),
            merchant_serial_no: self.merchant_serial_no.clone(),
            merchant_private_key_pem: SecretString::new(self.merchant_key.private_pem()),
            merchant_public_key_pem: self.merchant_key.public_pem(),
            wechatpay_public_key_id: self.wechatpay_public_key_id.clone(),
            wechatpay_public_key_pem: self.wechatpay_key.public_pem(),
            platform_serial_no: self.platform_serial_no.clone(),
            platform_certificate_pem: self.platform_certificate_pem.clone(),
            apiv3_key: self.apiv3_key.clone(),
            appid: self.appid.clone(),
            app_secret: self.app_secret.clone(),
            card_appid: self.card_appid.clone(),
            card_app_secret: self.card_app_secret.clone(),
            component_appid: self.component_appid.clone(),
            component_appsecret: self.component_appsecret.clone(),
            component_token: self.component_token.clone(),
            component_encoding_aes_key: self.component_encoding_aes_key.clone(),
        }
    }
}

/// The credentials a client configures to talk to this sandbox. Serializes with the secrets in
/// clear (tests need them); `Debug` redacts the private key, the APIv3 key and the app secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Credentials {
    pub mchid: String,
    pub merchant_serial_no: String,
    /// PKCS#8 PEM, like `apiclient_key.pem`.
    pub merchant_private_key_pem: SecretString,
    pub merchant_public_key_pem: String,
    pub wechatpay_public_key_id: String,
    /// SubjectPublicKeyInfo PEM, like `wxp_pub.pem`.
    pub wechatpay_public_key_pem: String,
    pub platform_serial_no: String,
    pub platform_certificate_pem: String,
    pub apiv3_key: SecretString,
    pub appid: String,
    pub app_secret: SecretString,
    /// The card-owning Official Account (absent in output of older sandboxes: empty).
    #[serde(default)]
    pub card_appid: String,
    #[serde(default = "empty_secret")]
    pub card_app_secret: SecretString,
    /// The third-party platform (absent in output of older sandboxes: empty). What the sandbox
    /// starts with; `/sandbox/component/config` may change them later.
    #[serde(default)]
    pub component_appid: String,
    #[serde(default = "empty_secret")]
    pub component_appsecret: SecretString,
    /// The message-check Token (消息校验 Token).
    #[serde(default = "empty_secret")]
    pub component_token: SecretString,
    /// The 43-character EncodingAESKey.
    #[serde(default = "empty_secret")]
    pub component_encoding_aes_key: SecretString,
}

fn empty_secret() -> SecretString {
    SecretString::new("")
}

/// How to start a sandbox. `Default` generates a new identity and binds two ephemeral loopback
/// ports.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Use this identity instead of generating one.
    pub identity: Option<Identity>,
    pub host: IpAddr,
    /// Main listener port (0: any free port).
    pub port: u16,
    /// Backup listener port (0: any free port).
    pub backup_port: u16,
    pub signing_mode: SigningMode,
    /// Notification delivery retries (short by default, for tests).
    pub notify_retry: RetryPolicy,
    /// Added to the system clock when checking a request's timestamp: a WeChat Pay whose clock
    /// is this far ahead (negative: behind) of the client's, to reproduce clock skew.
    pub clock_offset_secs: i64,
    /// The third-party platform's push URL (授权事件接收 URL) from the start.
    pub component_push_url: Option<String>,
    /// Push a component_verify_ticket this often from the start (WeChat: every 10 minutes;
    /// none: only on demand).
    pub component_ticket_interval: Option<Duration>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            identity: None,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            backup_port: 0,
            signing_mode: SigningMode::default(),
            notify_retry: RetryPolicy::default(),
            clock_offset_secs: 0,
            component_push_url: None,
            component_ticket_interval: None,
        }
    }
}

/// State shared by the listeners, the handlers and the control API.
pub(crate) struct Shared {
    pub identity: Identity,
    pub credentials: Credentials,
    pub signing_mode: Mutex<SigningMode>,
    pub pay: pay::PayState,
    pub faults: faults::Faults,
    pub log: log::RequestLog,
    pub main_down: AtomicBool,
    pub mp: Arc<mp::MpState>,
    pub component: Arc<component::ComponentState>,
    pub notifier: notify::Notifier,
    /// `http://` URLs of the main and backup listeners (for the client configurations the
    /// control API hands out).
    pub base_url: String,
    pub backup_base_url: String,
    /// [`SandboxConfig::clock_offset_secs`].
    pub clock_offset_secs: i64,
}

impl Shared {
    pub fn signing_mode(&self) -> SigningMode {
        *self.signing_mode.lock().expect("lock")
    }
}

/// A running sandbox: two loopback listeners (main and backup) serving the same routes and
/// state. Shut down with [`Sandbox::shutdown`] or by dropping it.
pub struct Sandbox {
    shared: Arc<Shared>,
    main_addr: SocketAddr,
    backup_addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The control routes alone, for [`Sandbox::control`] (in-process, no socket).
    control: axum::Router,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.base_url())
            .field("backup_base_url", &self.backup_base_url())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Generates the identity (unless given), binds both listeners and serves in background
    /// tasks of the current tokio runtime.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let identity = match config.identity {
            Some(identity) => identity,
            None => tokio::task::spawn_blocking(Identity::generate)
                .await
                .map_err(|e| SandboxError::Key(format!("key generation task: {e}")))??,
        };
        let main = tokio::net::TcpListener::bind((config.host, config.port)).await?;
        let backup = tokio::net::TcpListener::bind((config.host, config.backup_port)).await?;
        let main_addr = main.local_addr()?;
        let backup_addr = backup.local_addr()?;
        let credentials = identity.credentials();
        let mp = Arc::new(mp::MpState::with_card_account(
            identity.appid.clone(),
            identity.app_secret.expose().to_owned(),
            identity.card_appid.clone(),
            identity.card_app_secret.expose().to_owned(),
        ));
        let component = Arc::new(component::ComponentState::new(
            ComponentSettings {
                component_appid: identity.component_appid.clone(),
                component_appsecret: identity.component_appsecret.clone(),
                token: identity.component_token.clone(),
                encoding_aes_key: identity.component_encoding_aes_key.clone(),
                push_url: config.component_push_url.clone(),
                ticket_interval_secs: config.component_ticket_interval.map(|d| d.as_secs().max(1)),
                ..component::generate_settings()
            },
            mp.clone(),
        ));
        let shared = Arc::new(Shared {
            credentials,
            signing_mode: Mutex::new(config.signing_mode),
            pay: pay::PayState::default(),
            faults: faults::Faults::default(),
            log: log::RequestLog::default(),
            main_down: AtomicBool::new(false),
            mp,
            component: component.clone(),
            notifier: notify::Notifier::new(config.notify_retry),
            identity,
            base_url: format!("http://{main_addr}"),
            backup_base_url: format!("http://{backup_addr}"),
            clock_offset_secs: config.clock_offset_secs,
        });
        let router = server::router(shared.clone());
        let control = control::router(shared.clone());
        let tasks = vec![
            tokio::spawn(server::serve(main, Listener::Main, router.clone())),
            tokio::spawn(server::serve(backup, Listener::Backup, router)),
            tokio::spawn(component::push::ticket_loop(component)),
        ];
        Ok(Sandbox {
            shared,
            main_addr,
            backup_addr,
            tasks,
            control,
        })
    }

    /// `http://127.0.0.1:PORT` of the main listener (stands for api.mch.weixin.qq.com and
    /// api.weixin.qq.com).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.main_addr)
    }

    /// The backup listener (stands for api2.mch.weixin.qq.com): same routes, same state.
    pub fn backup_base_url(&self) -> String {
        format!("http://{}", self.backup_addr)
    }

    pub fn main_addr(&self) -> SocketAddr {
        self.main_addr
    }

    pub fn backup_addr(&self) -> SocketAddr {
        self.backup_addr
    }

    pub fn credentials(&self) -> &Credentials {
        &self.shared.credentials
    }

    pub fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    /// The mini-program side's state.
    pub fn mp(&self) -> &Arc<mp::MpState> {
        &self.shared.mp
    }

    /// The third-party platform side's state.
    pub fn component(&self) -> &Arc<component::ComponentState> {
        &self.shared.component
    }

    /// The third-party platform's current settings (appid, secrets, push URL, …).
    pub fn component_settings(&self) -> ComponentSettings {
        self.shared.component.settings()
    }

    /// `POST /sandbox/component/config`: changes the platform's settings (push URL, ticket
    /// interval, credentials, the errcode for a missing permission set, lifetimes).
    pub fn configure_component(
        &self,
        update: ComponentUpdate,
    ) -> Result<ComponentSettings, SandboxError> {
        self.shared.component.configure(update)
    }

    /// `POST /sandbox/component/push_ticket`: a new component_verify_ticket, pushed to the
    /// push URL encrypted as WeChat does.
    pub async fn push_component_verify_ticket(&self) -> PushDelivery {
        component::push::push_ticket(&self.shared.component).await
    }

    /// `POST /sandbox/component/authorize`: `authorizer_appid` (None: a new appid) authorizes
    /// the platform with `func_ids` (None: 17, 18, 19); the `authorized` push carries the
    /// returned authorization code.
    pub async fn authorize_component(
        &self,
        authorizer_appid: Option<&str>,
        func_ids: Option<Vec<u32>>,
    ) -> Result<Authorization, SandboxError> {
        component::authorize(
            &self.shared.component,
            authorizer_appid.map(str::to_owned),
            func_ids,
            false,
        )
        .await
    }

    /// `POST /sandbox/component/update_authorization`: the authorizer changes its grant
    /// (`updateauthorized` push with a new code; the refresh token stays).
    pub async fn update_component_authorization(
        &self,
        authorizer_appid: &str,
        func_ids: Option<Vec<u32>>,
    ) -> Result<Authorization, SandboxError> {
        component::authorize(
            &self.shared.component,
            Some(authorizer_appid.to_owned()),
            func_ids,
            true,
        )
        .await
    }

    /// `POST /sandbox/component/revoke`: the authorizer cancels the authorization
    /// (`unauthorized` push; its refresh token answers 61023, its access tokens 40001).
    pub async fn revoke_component_authorization(
        &self,
        authorizer_appid: &str,
    ) -> Result<PushDelivery, SandboxError> {
        component::revoke(&self.shared.component, authorizer_appid).await
    }

    /// `POST /sandbox/component/rotate_refresh_token`: the next successful
    /// getAuthorizerAccessToken for `authorizer_appid` answers a new refresh token.
    pub fn arm_refresh_token_rotation(&self, authorizer_appid: &str) -> Result<(), SandboxError> {
        self.shared.component.arm_rotation(authorizer_appid)
    }

    /// `GET /sandbox/component/counters`.
    pub fn component_counters(&self) -> serde_json::Value {
        self.shared.component.counters()
    }

    /// `GET /sandbox/component/pushes`: every push, oldest first.
    pub fn component_pushes(&self) -> Vec<PushDelivery> {
        self.shared.component.pushes()
    }

    /// Creates a merchant coupon stock (批次) that ModifyStockInfo can then change.
    pub fn create_stock(&self, stock: NewStock) -> Result<Stock, SandboxError> {
        self.shared
            .pay
            .create_stock(stock, &self.shared.identity.mchid)
    }

    pub fn stock(&self, stock_id: &str) -> Option<Stock> {
        self.shared.pay.stock(stock_id)
    }

    pub fn stocks(&self) -> Vec<Stock> {
        self.shared.pay.stocks()
    }

    /// Media uploaded through MarketingImageUpload.
    pub fn media(&self) -> Vec<Media> {
        self.shared.pay.media()
    }

    /// The URL registered with SetCouponNotify.
    pub fn notify_url(&self) -> Option<String> {
        self.shared.pay.notify_url()
    }

    pub fn signing_mode(&self) -> SigningMode {
        self.shared.signing_mode()
    }

    pub fn set_signing_mode(&self, mode: SigningMode) {
        *self.shared.signing_mode.lock().expect("lock") = mode;
    }

    /// Adds a fault rule; returns its id.
    pub fn inject_fault(&self, fault: Fault) -> Result<u64, SandboxError> {
        self.shared.faults.add(fault)
    }

    pub fn faults(&self) -> Vec<faults::ActiveFault> {
        self.shared.faults.list()
    }

    pub fn clear_faults(&self) {
        self.shared.faults.clear()
    }

    /// While down, every request reaching the main listener is dropped without a response
    /// (control routes under `/sandbox/` excepted); the backup keeps serving.
    pub fn set_main_down(&self, down: bool) {
        self.shared.main_down.store(down, Ordering::SeqCst);
    }

    pub fn main_down(&self) -> bool {
        self.shared.main_down.load(Ordering::SeqCst)
    }

    /// Sends a merchant coupon event (COUPON.SEND) to the URL registered with SetCouponNotify,
    /// signed and encrypted as WeChat Pay does, retrying per the [`RetryPolicy`].
    pub async fn send_coupon_notification(
        &self,
        notification: CouponNotification,
    ) -> Result<DeliveryReport, SandboxError> {
        notify::send_coupon_notification(&self.shared, notification).await
    }

    /// Every request received since the last [`Sandbox::reset_log`], oldest first.
    pub fn requests(&self) -> Vec<LogEntry> {
        self.shared.log.entries()
    }

    /// Delivery reports of every notification sent since the last [`Sandbox::reset_log`].
    pub fn notifications(&self) -> Vec<DeliveryReport> {
        self.shared.log.notification_reports()
    }

    /// Counters: requests per operation, applied out_request_no values per stock, what happened
    /// to each out_request_no (`"out_request_nos"`), notification deliveries, and the
    /// mini-program side's counters under `"mp"`.
    pub fn counters(&self) -> serde_json::Value {
        control::counters(&self.shared)
    }

    /// ModifyStockInfo's out_request_no values: how many times each change was applied (at most
    /// once), answered again without applying (same change), refused (another change).
    pub fn out_request_counts(&self) -> std::collections::BTreeMap<String, OutRequestCount> {
        self.shared.pay.out_request_counts()
    }

    /// Clears the request log and the request/notification counters (stocks stay).
    pub fn reset_log(&self) {
        self.shared.log.reset()
    }

    /// One call of the control API (`/sandbox/…`, sandbox/README.md), served in-process: what
    /// every language binding's sandbox helper is written against (start, this, stop).
    /// `body` is the JSON body (none for GET/DELETE). Answers the route's JSON (`Null` for an
    /// empty answer, and for a GET of something that does not exist: a stock, a notify_code);
    /// a body the route refuses is [`SandboxError::BadRequest`], a path that is no control
    /// route [`SandboxError::NotFound`].
    pub async fn control(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, SandboxError> {
        use tower::ServiceExt as _;
        if !path.starts_with("/sandbox/") {
            return Err(SandboxError::NotFound(format!(
                "{path} is not a sandbox control route (they start with /sandbox/)"
            )));
        }
        let method = axum::http::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| SandboxError::BadRequest(format!("{method} is not an HTTP method")))?;
        let is_get = method == axum::http::Method::GET;
        let body = match body {
            Some(v) => axum::body::Body::from(
                serde_json::to_vec(&v)
                    .map_err(|e| SandboxError::BadRequest(format!("the body is not JSON: {e}")))?,
            ),
            None => axum::body::Body::empty(),
        };
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body)
            .map_err(|e| SandboxError::BadRequest(format!("bad control request: {e}")))?;
        let response = self
            .control
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|never| match never {});
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20)
            .await
            .map_err(|e| SandboxError::BadRequest(format!("control answer unreadable: {e}")))?;
        let value: serde_json::Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .map_err(|e| SandboxError::BadRequest(format!("control answer is not JSON: {e}")))?
        };
        let error = || {
            value
                .get("error")
                .and_then(|e| e.as_str())
                .unwrap_or("the control call failed")
                .to_owned()
        };
        match status.as_u16() {
            200..=299 => Ok(value),
            404 if value.get("no_route").is_some() => Err(SandboxError::NotFound(error())),
            404 if is_get => Ok(serde_json::Value::Null),
            404 => Err(SandboxError::NotFound(error())),
            _ => Err(SandboxError::BadRequest(error())),
        }
    }

    /// Stops both listeners and closes every connection.
    pub async fn shutdown(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A control call's failure as the core's error kinds: what the caller sent is a
/// `Validation` error (field `sandbox`), anything else a `Config` error.
impl From<SandboxError> for weixin_kit::Error {
    fn from(e: SandboxError) -> Self {
        match e {
            SandboxError::BadRequest(rule) | SandboxError::NotFound(rule) => {
                weixin_kit::Error::validation("sandbox", rule)
            }
            other => weixin_kit::Error::Config {
                detail: format!("sandbox: {other}"),
            },
        }
    }
}

/// Default notification retry policy: 3 attempts, 200 ms apart, 5 s per attempt.
impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            interval: Duration::from_millis(200),
            timeout: Duration::from_secs(5),
        }
    }
}
