//! [`ComponentState`]: what the third-party platform side of the sandbox remembers — its
//! settings, the verify tickets it pushed, component_access_tokens, authorization codes,
//! authorizers and their refresh tokens, counters and push deliveries — and the rules the
//! WeChat routes ([`super::api`]) apply. Time is the mini-program side's clock
//! (`/sandbox/mp/advance_clock` moves both).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use weixin_kit::SecretString;

use super::push::PushDelivery;
use crate::mp::crypto::random_alphanumeric;
use crate::mp::MpState;
use crate::SandboxError;

/// component_verify_ticket validity: "component_verify_ticket 有效期为 12h" (authorizer_access_token
/// 生成说明, https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/Before_Develop/creat_token.html;
/// the English 验证票据 page: "The effective time is 12 hours").
pub const TICKET_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// WeChat pushes a ticket "每隔 10 分钟" (same sources); the sandbox pushes on demand, and on
/// this schedule only when `ticket_interval_secs` is configured.
pub const DOCUMENTED_TICKET_INTERVAL: Duration = Duration::from_secs(600);

/// Authorization code validity: the authorization page redirects to
/// `redirect_url?auth_code=xxx&expires_in=600` (授权流程技术说明, step 4, quoted at
/// https://developers.weixin.qq.com/community/minihome/doc/000a2e07bd48287058fc1dfae56000).
pub const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// component_access_token validity: "每个令牌的有效期为 2 小时" (令牌,
/// https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/component_access_token.html).
pub const COMPONENT_TOKEN_LIFETIME: Duration = Duration::from_secs(7200);

/// Permission sets granted when `/sandbox/component/authorize` names none: 17 (帐号管理权限),
/// 18 (开发管理与数据分析权限: the service cards) and 19 (客服消息管理权限).
pub const DEFAULT_FUNC_IDS: &[u32] = &[17, 18, 19];

/// The third-party platform's settings (what the platform's owner configures on the open
/// platform). Serializes with the secrets in clear, like [`crate::Credentials`]; `Debug`
/// redacts them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ComponentSettings {
    pub component_appid: String,
    pub component_appsecret: SecretString,
    /// The message-check Token (消息校验 Token).
    pub token: SecretString,
    /// The 43-character EncodingAESKey (消息加解密 Key).
    pub encoding_aes_key: SecretString,
    /// The 授权事件接收 URL the pushes go to (none: pushes are recorded as undelivered).
    pub push_url: Option<String>,
    /// Push a ticket every N seconds (none: only on demand; WeChat's schedule is 600).
    pub ticket_interval_secs: Option<u64>,
    /// What the service-card routes answer an authorizer without permission set 18 (61007 by
    /// default; see [`crate::mp::authorizer`]).
    pub missing_permission_errcode: i32,
    /// Lifetimes (seconds) of what is issued from now on.
    pub code_lifetime_secs: u64,
    pub ticket_lifetime_secs: u64,
    pub token_lifetime_secs: u64,
}

/// A change to [`ComponentSettings`] (`POST /sandbox/component/config`): absent keys keep
/// their value; `push_url: ""` and `ticket_interval_secs: 0` clear them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentUpdate {
    pub component_appid: Option<String>,
    pub component_appsecret: Option<String>,
    pub token: Option<String>,
    pub encoding_aes_key: Option<String>,
    pub push_url: Option<String>,
    pub ticket_interval_secs: Option<u64>,
    pub missing_permission_errcode: Option<i32>,
    pub code_lifetime_secs: Option<u64>,
    pub ticket_lifetime_secs: Option<u64>,
    pub token_lifetime_secs: Option<u64>,
}

struct Ticket {
    expires_at: Instant,
}

struct Code {
    authorizer_appid: String,
    expires_at: Instant,
    used: bool,
}

#[derive(Default)]
struct Authorizer {
    func_ids: Vec<u32>,
    /// The valid refresh token; None once revoked.
    refresh_token: Option<String>,
    /// The next successful refresh answers a new refresh token (and the old one dies).
    rotate_next: bool,
}

#[derive(Default)]
struct Counters {
    component_token_calls: u64,
    component_tokens_issued: u64,
    query_auth_calls: u64,
    query_auth_succeeded: u64,
    refreshes: BTreeMap<String, u64>,
    refreshes_succeeded: BTreeMap<String, u64>,
    refresh_tokens_rotated: u64,
}

struct Inner {
    settings: ComponentSettings,
    tickets: HashMap<String, Ticket>,
    tokens: HashMap<String, Instant>,
    codes: HashMap<String, Code>,
    authorizers: BTreeMap<String, Authorizer>,
    counters: Counters,
    pushes: Vec<PushDelivery>,
}

/// What the token check of a component route found.
pub(crate) enum TokenCheck {
    Ok,
    Err(i32),
}

/// An authorization made through the control API: the code pushed with it. `Debug` redacts the
/// code.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
pub struct Authorization {
    pub authorizer_appid: String,
    pub authorization_code: String,
    /// Unix seconds (the push's AuthorizationCodeExpiredTime).
    pub expired_time: i64,
    pub func_ids: Vec<u32>,
    /// The `authorized` / `updateauthorized` push.
    pub push: PushDelivery,
}

impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field("authorizer_appid", &self.authorizer_appid)
            .field("authorization_code", &"***")
            .field("expired_time", &self.expired_time)
            .field("func_ids", &self.func_ids)
            .field("push", &self.push)
            .finish()
    }
}

/// The third-party platform side's state. Shared as `Arc`.
pub struct ComponentState {
    inner: Mutex<Inner>,
    pub(crate) mp: Arc<MpState>,
    pub(crate) client: reqwest::Client,
}

fn token_like(prefix: &str, n: usize) -> String {
    format!("{prefix}{}", random_alphanumeric(n))
}

impl ComponentState {
    pub fn new(settings: ComponentSettings, mp: Arc<MpState>) -> ComponentState {
        ComponentState {
            inner: Mutex::new(Inner {
                settings,
                tickets: HashMap::new(),
                tokens: HashMap::new(),
                codes: HashMap::new(),
                authorizers: BTreeMap::new(),
                counters: Counters::default(),
                pushes: Vec::new(),
            }),
            mp,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("a plain reqwest client builds"),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn settings(&self) -> ComponentSettings {
        self.lock().settings.clone()
    }

    /// Applies `update`; an EncodingAESKey that is not 43 base64 characters of 32 bytes, or an
    /// empty appid/secret/token, is refused and nothing changes.
    pub fn configure(&self, update: ComponentUpdate) -> Result<ComponentSettings, SandboxError> {
        let bad = |m: &str| Err(SandboxError::BadRequest(m.to_owned()));
        if let Some(k) = &update.encoding_aes_key {
            if super::crypto::MsgCipher::new(k).is_err() {
                return bad("encoding_aes_key must be 43 base64 characters decoding (with \"=\") to 32 bytes");
            }
        }
        for (name, v) in [
            ("component_appid", &update.component_appid),
            ("component_appsecret", &update.component_appsecret),
            ("token", &update.token),
        ] {
            if v.as_deref() == Some("") {
                return Err(SandboxError::BadRequest(format!(
                    "{name} must not be empty"
                )));
            }
        }
        if [
            update.code_lifetime_secs,
            update.ticket_lifetime_secs,
            update.token_lifetime_secs,
        ]
        .contains(&Some(0))
        {
            return bad("lifetimes must be at least 1 second");
        }
        let mut inner = self.lock();
        let s = &mut inner.settings;
        if let Some(v) = update.component_appid {
            s.component_appid = v;
        }
        if let Some(v) = update.component_appsecret {
            s.component_appsecret = SecretString::new(v);
        }
        if let Some(v) = update.token {
            s.token = SecretString::new(v);
        }
        if let Some(v) = update.encoding_aes_key {
            s.encoding_aes_key = SecretString::new(v);
        }
        if let Some(v) = update.push_url {
            s.push_url = (!v.is_empty()).then_some(v);
        }
        if let Some(v) = update.ticket_interval_secs {
            s.ticket_interval_secs = (v > 0).then_some(v);
        }
        if let Some(v) = update.missing_permission_errcode {
            s.missing_permission_errcode = v;
        }
        if let Some(v) = update.code_lifetime_secs {
            s.code_lifetime_secs = v;
        }
        if let Some(v) = update.ticket_lifetime_secs {
            s.ticket_lifetime_secs = v;
        }
        if let Some(v) = update.token_lifetime_secs {
            s.token_lifetime_secs = v;
        }
        Ok(s.clone())
    }

    /// A new component_verify_ticket (valid for the ticket lifetime from now) and the push's
    /// CreateTime.
    pub(crate) fn new_ticket(&self) -> (String, i64) {
        let (now, unix) = self.mp.clock();
        let ticket = token_like("ticket@@@", 86);
        let mut inner = self.lock();
        let life = Duration::from_secs(inner.settings.ticket_lifetime_secs);
        inner.tickets.insert(
            ticket.clone(),
            Ticket {
                expires_at: now + life,
            },
        );
        (ticket, unix)
    }

    /// getComponentAccessToken: the credentials, then the ticket (one this sandbox pushed for
    /// this platform, still valid). Each success is a new token (earlier ones stay valid until
    /// they expire: UNCONFIRMED).
    pub(crate) fn component_token(
        &self,
        appid: &str,
        secret: &str,
        ticket: &str,
    ) -> Result<(String, u64), i32> {
        let (now, _) = self.mp.clock();
        let mut inner = self.lock();
        inner.counters.component_token_calls += 1;
        let s = &inner.settings;
        if appid.is_empty() {
            return Err(41002);
        }
        if appid != s.component_appid {
            return Err(61011);
        }
        if secret.is_empty() {
            return Err(41004);
        }
        if secret != s.component_appsecret.expose() {
            return Err(40125);
        }
        match inner.tickets.get(ticket) {
            None => return Err(61006),
            Some(t) if now >= t.expires_at => return Err(61005),
            Some(_) => {}
        }
        let life = Duration::from_secs(inner.settings.token_lifetime_secs);
        let token = token_like("90_", 133);
        inner.tokens.insert(token.clone(), now + life);
        inner.counters.component_tokens_issued += 1;
        Ok((token, life.as_secs()))
    }

    /// The component_access_token check of queryAuth and getAuthorizerAccessToken: missing
    /// 41001, unknown 40001, expired 42001.
    pub(crate) fn check_token(&self, token: Option<&str>) -> TokenCheck {
        let (now, _) = self.mp.clock();
        let inner = self.lock();
        match token.filter(|t| !t.is_empty()) {
            None => TokenCheck::Err(41001),
            Some(t) => match inner.tokens.get(t) {
                None => TokenCheck::Err(40001),
                Some(exp) if now >= *exp => TokenCheck::Err(42001),
                Some(_) => TokenCheck::Ok,
            },
        }
    }

    fn check_appid(&self, component_appid: &str) -> Result<(), i32> {
        if component_appid != self.lock().settings.component_appid {
            // UNCONFIRMED: the code for a body component_appid other than the token's platform.
            return Err(40013);
        }
        Ok(())
    }

    /// queryAuth: a code this sandbox minted, unused (else 61009 — UNCONFIRMED for a reused
    /// code), not expired (61010 "code is expired").
    pub(crate) fn query_auth(&self, component_appid: &str, code: &str) -> Result<Value, i32> {
        self.lock().counters.query_auth_calls += 1;
        self.check_appid(component_appid)?;
        let (now, _) = self.mp.clock();
        let appid = {
            let mut inner = self.lock();
            let c = inner.codes.get_mut(code).ok_or(61009)?;
            if c.used {
                return Err(61009);
            }
            if now >= c.expires_at {
                return Err(61010);
            }
            c.used = true;
            let appid = c.authorizer_appid.clone();
            if inner
                .authorizers
                .get(&appid)
                .is_none_or(|a| a.refresh_token.is_none())
            {
                return Err(61009);
            }
            appid
        };
        let (access, expires_in) = self.mp.issue_authorizer_token(&appid);
        let mut inner = self.lock();
        inner.counters.query_auth_succeeded += 1;
        let a = inner.authorizers.get(&appid).expect("checked above");
        Ok(json!({
            "authorization_info": {
                "authorizer_appid": appid,
                "authorizer_access_token": access,
                "expires_in": expires_in,
                "authorizer_refresh_token": a.refresh_token,
                "func_info": a.func_ids.iter()
                    .map(|id| json!({"funcscope_category": {"id": id}}))
                    .collect::<Vec<_>>(),
            }
        }))
    }

    /// getAuthorizerAccessToken: the refresh token must be the authorizer's current one (else
    /// 61023 "refresh_token is invalid": unknown, replaced by a re-authorization or a rotation,
    /// or revoked). When a rotation is armed the answer carries a new refresh token and the
    /// old one is invalid at once (WeChat's forum mentions a 5-minute overlap for rotated
    /// refresh tokens, https://developers.weixin.qq.com/community/minihome/doc/000a4af6fa801858ff9cc263553c00;
    /// the sandbox is strict so that reusing an old one is caught).
    pub(crate) fn authorizer_token(
        &self,
        component_appid: &str,
        authorizer_appid: &str,
        refresh_token: &str,
    ) -> Result<Value, i32> {
        *self
            .lock()
            .counters
            .refreshes
            .entry(authorizer_appid.to_owned())
            .or_default() += 1;
        self.check_appid(component_appid)?;
        let refresh = {
            let mut inner = self.lock();
            let a = inner.authorizers.get_mut(authorizer_appid).ok_or(61023)?;
            match &a.refresh_token {
                Some(current) if !refresh_token.is_empty() && current == refresh_token => {}
                _ => return Err(61023),
            }
            if a.rotate_next {
                a.rotate_next = false;
                a.refresh_token = Some(token_like("refreshtoken@@@", 43));
                inner.counters.refresh_tokens_rotated += 1;
            }
            let a = inner.authorizers.get(authorizer_appid).expect("present");
            a.refresh_token.clone().expect("checked above")
        };
        let (access, expires_in) = self.mp.issue_authorizer_token(authorizer_appid);
        *self
            .lock()
            .counters
            .refreshes_succeeded
            .entry(authorizer_appid.to_owned())
            .or_default() += 1;
        Ok(json!({
            "authorizer_access_token": access,
            "expires_in": expires_in,
            "authorizer_refresh_token": refresh,
        }))
    }

    /// An authorization (or its update): the grant, a fresh code, and — for a new
    /// authorization — a new refresh token ("用户重新授权后,之前的刷新令牌会失效", 使用授权码获取授权
    /// 信息, https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/api/ThirdParty/token/authorization_info.html).
    /// Returns (appid, code, AuthorizationCodeExpiredTime, func_ids, CreateTime).
    pub(crate) fn authorize(
        &self,
        authorizer_appid: Option<String>,
        func_ids: Option<Vec<u32>>,
        update: bool,
    ) -> Result<(String, String, i64, Vec<u32>, i64), SandboxError> {
        let (now, unix) = self.mp.clock();
        let mut inner = self.lock();
        let appid =
            authorizer_appid.unwrap_or_else(|| format!("wx{}", crate::keys::random_hex(16)));
        if appid.is_empty() {
            return Err(SandboxError::BadRequest(
                "authorizer_appid must not be empty".into(),
            ));
        }
        let live = inner
            .authorizers
            .get(&appid)
            .is_some_and(|a| a.refresh_token.is_some());
        if update && !live {
            return Err(SandboxError::NotFound(format!(
                "{appid} has not authorized the platform (authorize it first)"
            )));
        }
        let func_ids: Vec<u32> = match func_ids {
            Some(ids) => ids
                .into_iter()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
            None if update => inner.authorizers[&appid].func_ids.clone(),
            None => DEFAULT_FUNC_IDS.to_vec(),
        };
        let errcode = inner.settings.missing_permission_errcode;
        let code_life = Duration::from_secs(inner.settings.code_lifetime_secs);
        let a = inner.authorizers.entry(appid.clone()).or_default();
        a.func_ids = func_ids.clone();
        if !update {
            a.refresh_token = Some(token_like("refreshtoken@@@", 43));
            a.rotate_next = false;
        }
        let code = token_like("queryauthcode@@@", 86);
        inner.codes.insert(
            code.clone(),
            Code {
                authorizer_appid: appid.clone(),
                expires_at: now + code_life,
                used: false,
            },
        );
        drop(inner);
        self.mp
            .set_authorizer_grant(&appid, func_ids.iter().copied(), errcode);
        let expired_time = unix + code_life.as_secs() as i64;
        Ok((appid, code, expired_time, func_ids, unix))
    }

    /// The authorization ends: the refresh token answers 61023, the access tokens 40001.
    /// Returns the push's CreateTime.
    pub(crate) fn revoke(&self, authorizer_appid: &str) -> Result<i64, SandboxError> {
        let (_, unix) = self.mp.clock();
        {
            let mut inner = self.lock();
            let a = inner
                .authorizers
                .get_mut(authorizer_appid)
                .filter(|a| a.refresh_token.is_some())
                .ok_or_else(|| {
                    SandboxError::NotFound(format!("{authorizer_appid} is not authorized"))
                })?;
            a.refresh_token = None;
            a.rotate_next = false;
        }
        self.mp.revoke_authorizer(authorizer_appid);
        Ok(unix)
    }

    /// The next successful getAuthorizerAccessToken of `authorizer_appid` rotates its refresh
    /// token.
    pub fn arm_rotation(&self, authorizer_appid: &str) -> Result<(), SandboxError> {
        let mut inner = self.lock();
        match inner.authorizers.get_mut(authorizer_appid) {
            Some(a) if a.refresh_token.is_some() => {
                a.rotate_next = true;
                Ok(())
            }
            _ => Err(SandboxError::NotFound(format!(
                "{authorizer_appid} is not authorized"
            ))),
        }
    }

    /// Every component_access_token expires now (42001).
    pub fn expire_tokens(&self) {
        let (now, _) = self.mp.clock();
        for exp in self.lock().tokens.values_mut() {
            *exp = (*exp).min(now);
        }
    }

    pub(crate) fn record_push(&self, delivery: &PushDelivery) {
        self.lock().pushes.push(delivery.clone());
    }

    /// Every push sent, oldest first.
    pub fn pushes(&self) -> Vec<PushDelivery> {
        self.lock().pushes.clone()
    }

    /// `{"component_token_calls","component_tokens_issued","query_auth_calls",
    /// "query_auth_succeeded","refreshes":{appid:n},"refreshes_succeeded":{appid:n},
    /// "refresh_tokens_rotated","pushes":n,"pushes_delivered":n}` — `*_calls` and `refreshes`
    /// count every request (errors included) that reached the route's rules.
    pub fn counters(&self) -> Value {
        let inner = self.lock();
        let c = &inner.counters;
        json!({
            "component_token_calls": c.component_token_calls,
            "component_tokens_issued": c.component_tokens_issued,
            "query_auth_calls": c.query_auth_calls,
            "query_auth_succeeded": c.query_auth_succeeded,
            "refreshes": c.refreshes,
            "refreshes_succeeded": c.refreshes_succeeded,
            "refresh_tokens_rotated": c.refresh_tokens_rotated,
            "pushes": inner.pushes.len(),
            "pushes_delivered": inner.pushes.iter().filter(|p| p.delivered).count(),
        })
    }

    /// For the inspector: each authorizer (no token values: fingerprints only).
    pub fn inspect(&self) -> Value {
        let inner = self.lock();
        let authorizers: Vec<Value> = inner
            .authorizers
            .iter()
            .map(|(appid, a)| {
                json!({
                    "authorizer_appid": appid,
                    "func_ids": a.func_ids,
                    "authorized": a.refresh_token.is_some(),
                    "refresh_token": a.refresh_token.as_deref().map(crate::mp::inspect::fingerprint),
                    "rotation_armed": a.rotate_next,
                })
            })
            .collect();
        let pushes: Vec<Value> = inner
            .pushes
            .iter()
            .rev()
            .take(50)
            .map(|p| {
                json!({"info_type": p.info_type, "url": p.url, "delivered": p.delivered,
                       "status": p.status, "error": p.error, "create_time": p.create_time})
            })
            .collect();
        json!({
            "component_appid": inner.settings.component_appid,
            "push_url": inner.settings.push_url,
            "authorizers": authorizers,
            "pushes": pushes,
            "counters": {
                "component_token_calls": inner.counters.component_token_calls,
                "query_auth_calls": inner.counters.query_auth_calls,
                "refreshes": inner.counters.refreshes,
            },
        })
    }
}
