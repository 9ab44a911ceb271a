//! [`MpState`]: everything the mini-program sandbox remembers, and the Rust control methods that
//! the `/sandbox/mp/…` routes mirror.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::{json, Value};

use super::crypto::{random_alphanumeric, CardCodeCipher};

/// Default lifetime of access tokens and tickets: the documented 7200 s.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(7200);
/// Default lifetime of a notify_code registered without `expire_after_secs`. The documents
/// consulted give no figure; one day is the sandbox's choice.
pub const DEFAULT_NOTIFY_CODE_LIFETIME: Duration = Duration::from_secs(86_400);
/// The default supported notify_type (card id) list. 1001 and 1003 appear in the official
/// setUserNotify/setUserNotifyExt examples (codes obtained in the front end); 2001–2009 are the
/// cards listed in the official service-card guide (新版一次性订阅消息开发指南, 1.1) whose code is
/// a WeChat Pay transaction id. The rest of 1001–1010 is an assumption, kept for tests.
pub const DEFAULT_NOTIFY_TYPES: &[i32] = &[
    1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 2001, 2002, 2003, 2004, 2005, 2006,
    2007, 2008, 2009,
];

#[derive(Debug)]
pub(crate) struct TokenRecord {
    pub expires_at: Instant,
    /// Replaced by a newer token of the same kind: invalid from this instant on (40001).
    pub revoked_at: Option<Instant>,
}

/// Why a token was refused, or Ok.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    Ok,
    Missing,   // 41001
    Malformed, // 40014
    Unknown,   // 40001 (never issued, or replaced)
    Expired,   // 42001
}

#[derive(Debug)]
pub(crate) struct Ticket {
    pub ticket: String,
    pub expires_at: Instant,
}

/// One setUserNotifyExt call as the sandbox received it.
#[derive(Clone, Debug)]
pub(crate) struct ExtRecord {
    pub notify_type: i32,
    pub ext_json: String,
    pub received_at: i64,
}

#[derive(Debug)]
pub(crate) struct NotifyCode {
    pub notify_type: i32,
    pub valid_from: Instant,
    pub expires_at: Instant,
    pub expire_unix: i64,
    pub banned: bool,
    pub code_state: i32,
    pub requires_check_json: bool,
    pub activated: bool,
    pub content_history: Vec<String>,
    pub check_json_history: Vec<String>,
    pub ext_history: Vec<ExtRecord>,
}

#[derive(Debug)]
pub(crate) struct Fault {
    pub path: String,
    pub errcode: i32,
    pub errmsg: Option<String>,
    pub remaining: Option<u64>,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub tokens_issued: u64,
    pub stable_tokens_issued: u64,
    pub stable_tokens_forced: u64,
    pub tickets_issued: BTreeMap<String, u64>,
    pub calls: BTreeMap<String, u64>,
    pub faults_injected: u64,
    pub card_codes_issued: u64,
}

pub(crate) struct Inner {
    pub appid: String,
    pub secret: String,
    pub token_lifetime: Duration,
    pub token_overlap: Duration,
    pub ticket_lifetime: Duration,
    pub force_refresh_interval: Duration,
    pub clock_offset: Duration,
    pub tokens: HashMap<String, TokenRecord>,
    pub current_normal: Option<String>,
    pub current_stable: Option<String>,
    pub last_forced_refresh: Option<Instant>,
    pub tickets: HashMap<String, Ticket>,
    pub users: HashSet<String>,
    pub notify_types: BTreeSet<i32>,
    /// Keyed by (openid, notify_code).
    pub notify_codes: HashMap<(String, String), NotifyCode>,
    pub faults: Vec<Fault>,
    pub counters: Counters,
}

impl Inner {
    /// The sandbox clock: real monotonic time plus whatever `advance_clock` added.
    pub fn now(&self) -> Instant {
        Instant::now() + self.clock_offset
    }

    pub fn unix_now(&self) -> i64 {
        let t = SystemTime::now() + self.clock_offset;
        t.duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    }

    /// A new token shaped like WeChat's: a two-digit prefix, `_`, then random alphanumerics
    /// (136 characters in all; the docs say to reserve 512).
    fn new_token(&mut self) -> String {
        let token = format!("90_{}", random_alphanumeric(133));
        let expires_at = self.now() + self.token_lifetime;
        self.tokens.insert(
            token.clone(),
            TokenRecord {
                expires_at,
                revoked_at: None,
            },
        );
        token
    }

    /// /cgi-bin/token: a new token every call; the previous normal token stays valid for the
    /// overlap window only (default 0 s).
    pub fn issue_normal_token(&mut self) -> (String, u64) {
        let now = self.now();
        let overlap = self.token_overlap;
        if let Some(prev) = self.current_normal.take() {
            if let Some(rec) = self.tokens.get_mut(&prev) {
                rec.revoked_at = Some(now + overlap);
            }
        }
        let token = self.new_token();
        self.current_normal = Some(token.clone());
        self.counters.tokens_issued += 1;
        (token, self.token_lifetime.as_secs())
    }

    /// /cgi-bin/stable_token: the current stable token while it is valid, else a new one;
    /// `force_refresh` replaces it (the previous one is invalid at once) unless the last forced
    /// refresh is more recent than `force_refresh_interval` (then, as WeChat does within 30 s,
    /// the current token comes back unchanged).
    pub fn stable_token(&mut self, force_refresh: bool) -> (String, u64) {
        let now = self.now();
        let current = self.current_stable.clone().and_then(|t| {
            let rec = self.tokens.get(&t)?;
            let live = rec.revoked_at.is_none_or(|r| now < r) && now < rec.expires_at;
            live.then_some((t, rec.expires_at))
        });
        let throttled = self
            .last_forced_refresh
            .is_some_and(|at| now < at + self.force_refresh_interval);
        match current {
            Some((token, expires_at)) if !force_refresh || throttled => {
                let left = expires_at.saturating_duration_since(now);
                // Round up: a token with 0.4 s left still has "1 s", never 0.
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                (token, secs.max(1))
            }
            _ => {
                if force_refresh {
                    if let Some(prev) = self.current_stable.take() {
                        if let Some(rec) = self.tokens.get_mut(&prev) {
                            rec.revoked_at = Some(now);
                        }
                    }
                    self.counters.stable_tokens_forced += 1;
                    self.last_forced_refresh = Some(now);
                }
                let token = self.new_token();
                self.current_stable = Some(token.clone());
                self.counters.stable_tokens_issued += 1;
                (token, self.token_lifetime.as_secs())
            }
        }
    }

    pub fn check_token(&self, token: Option<&str>) -> TokenCheck {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return TokenCheck::Missing;
        };
        let well_formed = (16..=512).contains(&token.len())
            && token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !well_formed {
            return TokenCheck::Malformed;
        }
        let Some(rec) = self.tokens.get(token) else {
            return TokenCheck::Unknown;
        };
        let now = self.now();
        if rec.revoked_at.is_some_and(|r| now >= r) {
            TokenCheck::Unknown
        } else if now >= rec.expires_at {
            TokenCheck::Expired
        } else {
            TokenCheck::Ok
        }
    }

    /// getTicket: the cached ticket of this type while valid, else a new one.
    pub fn ticket(&mut self, ticket_type: &str) -> (String, u64) {
        let now = self.now();
        if let Some(t) = self.tickets.get(ticket_type).filter(|t| now < t.expires_at) {
            let left = t.expires_at.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            return (t.ticket.clone(), secs.max(1));
        }
        // Shaped like the documented example ticket (86 characters).
        let ticket = random_alphanumeric(86);
        let expires_at = now + self.ticket_lifetime;
        self.tickets.insert(
            ticket_type.to_owned(),
            Ticket {
                ticket: ticket.clone(),
                expires_at,
            },
        );
        *self
            .counters
            .tickets_issued
            .entry(ticket_type.to_owned())
            .or_default() += 1;
        (ticket, self.ticket_lifetime.as_secs())
    }

    /// Takes one use of the first fault matching `path`, if any: (errcode, errmsg override).
    pub fn take_fault(&mut self, path: &str) -> Option<(i32, Option<String>)> {
        let i = self
            .faults
            .iter()
            .position(|f| (f.path == path || f.path == "*") && f.remaining.is_none_or(|n| n > 0))?;
        let fault = &mut self.faults[i];
        let hit = (fault.errcode, fault.errmsg.clone());
        if let Some(n) = fault.remaining.as_mut() {
            *n -= 1;
            if *n == 0 {
                self.faults.remove(i);
            }
        }
        self.counters.faults_injected += 1;
        Some(hit)
    }
}

/// A notify_code to register (body of `POST /sandbox/mp/notify_codes`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyCodeRegistration {
    pub openid: String,
    pub notify_type: i32,
    pub notify_code: String,
    /// The code "does not exist" (85437) until this many seconds have passed, as a WeChat Pay
    /// transaction id can take about a minute to become verifiable.
    #[serde(default)]
    pub valid_after_secs: Option<u64>,
    /// Banned codes answer 85436 "notify_code abnormal".
    #[serde(default)]
    pub banned: bool,
    /// Code lifetime (default one day); afterwards setUserNotify/getUserNotify answer 85438.
    #[serde(default)]
    pub expire_after_secs: Option<u64>,
    /// code_state reported by getUserNotify (0 normal, 1 at risk, 2 abnormal, 10 refused);
    /// default 0, or 2 when banned.
    #[serde(default)]
    pub code_state: Option<i32>,
    /// A WeChat Pay transaction id used as the code: activation (the first setUserNotify) then
    /// requires check_json (else 85433).
    #[serde(default)]
    pub requires_check_json: bool,
}

/// State of the mini-program sandbox. Cheap to share: wrap it in an `Arc` and hand it to
/// [`super::router`] and [`super::control_router`].
pub struct MpState {
    pub(crate) inner: Mutex<Inner>,
    pub(crate) cipher: CardCodeCipher,
}

impl MpState {
    /// A sandbox for one mini-program: `appid`/`secret` are the credentials it accepts. Tokens
    /// and tickets live 7200 s, the previous normal token dies at once when a new one is got
    /// (overlap 0 s), forced stable refreshes are not throttled, and no user or code exists.
    pub fn new(appid: String, secret: String) -> Self {
        Self {
            inner: Mutex::new(Inner {
                appid,
                secret,
                token_lifetime: DEFAULT_LIFETIME,
                token_overlap: Duration::ZERO,
                ticket_lifetime: DEFAULT_LIFETIME,
                force_refresh_interval: Duration::ZERO,
                clock_offset: Duration::ZERO,
                tokens: HashMap::new(),
                current_normal: None,
                current_stable: None,
                last_forced_refresh: None,
                tickets: HashMap::new(),
                users: HashSet::new(),
                notify_types: DEFAULT_NOTIFY_TYPES.iter().copied().collect(),
                notify_codes: HashMap::new(),
                faults: Vec::new(),
                counters: Counters::default(),
            }),
            cipher: CardCodeCipher::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn appid(&self) -> String {
        self.lock().appid.clone()
    }

    /// `{"tokens_issued","stable_tokens_issued","stable_tokens_forced","tickets_issued",
    /// "tickets_issued_by_type":{type:n},"calls":{operationId:n},"faults_injected",
    /// "card_codes_issued"}`. `calls` counts every request that reached a WeChat route, errors
    /// and injected faults included.
    pub fn counters(&self) -> Value {
        let inner = self.lock();
        let c = &inner.counters;
        json!({
            "tokens_issued": c.tokens_issued,
            "stable_tokens_issued": c.stable_tokens_issued,
            "stable_tokens_forced": c.stable_tokens_forced,
            "tickets_issued": c.tickets_issued.values().sum::<u64>(),
            "tickets_issued_by_type": c.tickets_issued,
            "calls": c.calls,
            "faults_injected": c.faults_injected,
            "card_codes_issued": c.card_codes_issued,
        })
    }

    /// `POST /sandbox/mp/users {"openid"}`: a user the sandbox knows (others get 40003).
    pub fn add_user(&self, openid: impl Into<String>) {
        self.lock().users.insert(openid.into());
    }

    /// `POST /sandbox/mp/notify_codes`: registers a notify_code for openid + notify_type. The user
    /// is registered too. Re-registering a code replaces it (and forgets what it received).
    pub fn add_notify_code(&self, reg: NotifyCodeRegistration) -> Result<(), String> {
        if reg.openid.is_empty() || reg.notify_code.is_empty() {
            return Err("openid and notify_code must not be empty".into());
        }
        let mut inner = self.lock();
        let now = inner.now();
        let unix = inner.unix_now();
        let lifetime = reg
            .expire_after_secs
            .map_or(DEFAULT_NOTIFY_CODE_LIFETIME, Duration::from_secs);
        let code = NotifyCode {
            notify_type: reg.notify_type,
            valid_from: now + Duration::from_secs(reg.valid_after_secs.unwrap_or(0)),
            expires_at: now + lifetime,
            expire_unix: unix + lifetime.as_secs() as i64,
            banned: reg.banned,
            code_state: reg.code_state.unwrap_or(if reg.banned { 2 } else { 0 }),
            requires_check_json: reg.requires_check_json,
            activated: false,
            content_history: Vec::new(),
            check_json_history: Vec::new(),
            ext_history: Vec::new(),
        };
        inner.users.insert(reg.openid.clone());
        inner
            .notify_codes
            .insert((reg.openid, reg.notify_code), code);
        Ok(())
    }

    /// Shorthand for [`add_notify_code`](Self::add_notify_code) with the defaults.
    pub fn register_notify_code(&self, openid: &str, notify_type: i32, notify_code: &str) {
        self.add_notify_code(NotifyCodeRegistration {
            openid: openid.into(),
            notify_type,
            notify_code: notify_code.into(),
            ..Default::default()
        })
        .expect("non-empty openid and notify_code");
    }

    /// Bans (or unbans) a registered code: 85436 afterwards. False when the code is unknown.
    pub fn set_notify_code_banned(&self, openid: &str, notify_code: &str, banned: bool) -> bool {
        let mut inner = self.lock();
        match inner
            .notify_codes
            .get_mut(&(openid.to_owned(), notify_code.to_owned()))
        {
            Some(code) => {
                code.banned = banned;
                true
            }
            None => false,
        }
    }

    /// `POST /sandbox/mp/notify_types {"notify_types":[…]}`: the supported card ids (others 85434).
    pub fn set_notify_types(&self, types: impl IntoIterator<Item = i32>) {
        self.lock().notify_types = types.into_iter().collect();
    }

    /// `GET /sandbox/mp/notify_ext?openid=&notify_code=`: what the sandbox received for this code,
    /// or None when the code was never registered. `ext_json` is the last ext_json string exactly
    /// as received (null before any), `ext` the same decoded (string values that hold JSON decoded
    /// too), `ext_history` every accepted call in order; likewise `content_json` (last accepted
    /// setUserNotify content_json, "" before any) and `content_history`.
    pub fn notify_ext(&self, openid: &str, notify_code: &str) -> Option<Value> {
        let inner = self.lock();
        let code = inner
            .notify_codes
            .get(&(openid.to_owned(), notify_code.to_owned()))?;
        let last = code.ext_history.last();
        Some(json!({
            "openid": openid,
            "notify_code": notify_code,
            "notify_type": code.notify_type,
            "count": code.ext_history.len(),
            "ext_json": last.map(|r| r.ext_json.clone()),
            "ext": last.map(|r| decode_nested(&r.ext_json)),
            "ext_history": code.ext_history.iter().map(|r| json!({
                "notify_type": r.notify_type,
                "ext_json": r.ext_json,
                "received_at": r.received_at,
            })).collect::<Vec<_>>(),
            "activated": code.activated,
            "content_json": code.content_history.last().cloned().unwrap_or_default(),
            "content_history": code.content_history,
            "check_json_history": code.check_json_history,
        }))
    }

    /// Every ext_json string received for this code, in order (empty when none or unknown).
    pub fn received_ext_json(&self, openid: &str, notify_code: &str) -> Vec<String> {
        let inner = self.lock();
        inner
            .notify_codes
            .get(&(openid.to_owned(), notify_code.to_owned()))
            .map(|c| c.ext_history.iter().map(|r| r.ext_json.clone()).collect())
            .unwrap_or_default()
    }

    /// `POST /sandbox/mp/token_lifetime {"seconds"}`: lifetime of access tokens issued from now on
    /// (tokens already issued keep theirs).
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.lock().token_lifetime = lifetime;
    }

    /// How long the previous normal token stays valid after /cgi-bin/token issues a new one.
    /// Default 0 s. The docs mention a 5-minute overlap during which the old and new tokens are
    /// both valid ("公众平台后台会保证在5分钟内,新老 access_token 都可用"); the sandbox defaults
    /// to none so that clients must cope with the strictest case ("重复获取将导致上次获取的
    /// access_token 失效").
    pub fn set_token_overlap(&self, overlap: Duration) {
        self.lock().token_overlap = overlap;
    }

    /// Lifetime of tickets issued from now on (default 7200 s).
    pub fn set_ticket_lifetime(&self, lifetime: Duration) {
        self.lock().ticket_lifetime = lifetime;
    }

    /// Minimum time between two effective force_refresh calls of stable_token (default 0; the
    /// platform's is 30 s: "连续使用该模式时,请保证调用时间隔至少为30s,否则不会刷新").
    pub fn set_force_refresh_interval(&self, interval: Duration) {
        self.lock().force_refresh_interval = interval;
    }

    /// `POST /sandbox/mp/expire_tokens`: every access token issued so far (normal and stable)
    /// expires now: 42001 on use, and the token endpoints issue new ones.
    pub fn expire_tokens(&self) {
        let mut inner = self.lock();
        let now = inner.now();
        for rec in inner.tokens.values_mut() {
            rec.expires_at = rec.expires_at.min(now);
        }
    }

    /// `POST /sandbox/mp/expire_tickets`: cached tickets expire now; getTicket issues new ones.
    pub fn expire_tickets(&self) {
        self.lock().tickets.clear();
    }

    /// `POST /sandbox/mp/advance_clock {"seconds"}`: moves the sandbox clock forward (token,
    /// ticket and notify_code expiry, valid_after delays), so tests need not sleep.
    pub fn advance_clock(&self, by: Duration) {
        self.lock().clock_offset += by;
    }

    /// `POST /sandbox/mp/card_codes {"card_id","code"}`: the encrypt_code that wx.addCard would
    /// return for this code; `/card/code/decrypt` turns it back into `code`.
    pub fn encrypt_card_code(&self, card_id: &str, code: &str) -> String {
        let _ = card_id; // The real decrypt API takes only encrypt_code; card_id is not bound.
        self.lock().counters.card_codes_issued += 1;
        self.cipher.encrypt(code)
    }

    /// The code inside an encrypt_code made by this sandbox, or None.
    pub fn decrypt_card_code(&self, encrypt_code: &str) -> Option<String> {
        self.cipher.decrypt(encrypt_code)
    }

    /// `POST /sandbox/mp/errcode_faults {"path","errcode","count"?,"errmsg"?}`: requests to `path`
    /// (a WeChat route such as `/wxa/set_user_notifyext`, or `*` for all) answer `errcode` before
    /// anything else is checked, for the next `count` calls (None: until cleared). errmsg defaults
    /// to the documented one for that code. Faults stack; the oldest matching one applies first.
    pub fn add_errcode_fault(
        &self,
        path: impl Into<String>,
        errcode: i32,
        count: Option<u64>,
        errmsg: Option<String>,
    ) {
        if count == Some(0) {
            return;
        }
        self.lock().faults.push(Fault {
            path: path.into(),
            errcode,
            errmsg,
            remaining: count,
        });
    }

    /// `DELETE /sandbox/mp/errcode_faults`.
    pub fn clear_errcode_faults(&self) {
        self.lock().faults.clear();
    }

    /// The access token most recently issued by /cgi-bin/token (if any), for tests.
    pub fn current_access_token(&self) -> Option<String> {
        self.lock().current_normal.clone()
    }

    /// The current stable token (if any), for tests.
    pub fn current_stable_token(&self) -> Option<String> {
        self.lock().current_stable.clone()
    }
}

/// `s` parsed as JSON, with every string value that itself holds a JSON object or array decoded
/// too (ext_json's values are JSON-encoded strings). Not JSON: the string as is.
pub(crate) fn decode_nested(s: &str) -> Value {
    fn walk(v: Value) -> Value {
        match v {
            Value::String(s) => match serde_json::from_str::<Value>(&s) {
                Ok(inner @ (Value::Object(_) | Value::Array(_))) => walk(inner),
                _ => Value::String(s),
            },
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, walk(v))).collect())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(walk).collect()),
            other => other,
        }
    }
    match serde_json::from_str::<Value>(s) {
        Ok(v) => walk(v),
        Err(_) => Value::String(s.to_owned()),
    }
}
