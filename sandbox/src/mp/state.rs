//! [`MpState`]: everything the mini-program sandbox remembers, and the Rust control methods that
//! the `/sandbox/mp/…` routes mirror.
//!
//! Two accounts: the mini-program (小程序) and the Official Account (公众号) that owns the cards
//! (卡券). Tokens, tickets and card codes are per account (appid).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::crypto::{random_alphanumeric, CardCodeCipher};

/// Default lifetime of access tokens and tickets: the documented 7200 s.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(7200);

/// `/cgi-bin/token`: how long the previous token stays valid after a new one is issued.
/// Source: https://developers.weixin.qq.com/doc/oplatform/developers/dev/AccessToken.html
/// ("在刷新过程中…公众平台后台会保证在5分钟内,新老access_token都可用").
pub const DEFAULT_TOKEN_OVERLAP: Duration = Duration::from_secs(300);

/// `/cgi-bin/stable_token`, normal mode: a new token is handed out during the last 5 minutes of
/// the current one, which stays valid until it expires, so `expires_in` is never below 300.
/// Source: https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getStableAccessToken.html
/// (and the Official Account copy, doc/offiaccount/Basic_Information/getStableAccessToken.html):
/// "在普通模式调用下,平台会提前5分钟更新access_token,即在有效期倒计时5分钟内发起调用会获取新的
/// access_token。在新旧access_token交接之际,平台会保证在5分钟内,新旧access_token都可用…
/// expires_in >= 300".
pub const DEFAULT_STABLE_RENEW_WINDOW: Duration = Duration::from_secs(300);

/// stable_token force_refresh: "该模式限制每天20次…连续使用该模式时,请保证调用时间隔至少为30s,
/// 否则不会刷新" (same source as [`DEFAULT_STABLE_RENEW_WINDOW`]).
pub const DEFAULT_FORCE_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_FORCE_REFRESH_DAILY_LIMIT: u32 = 20;

/// Default lifetime of a notify_code registered with `expire_after_secs` absent and no window
/// applying (kept for compatibility; the source windows below normally decide).
pub const DEFAULT_NOTIFY_CODE_LIFETIME: Duration = Duration::from_secs(86_400);

/// The supported notify_type (card id) list of the service-card guide (新版一次性订阅消息开发指南,
/// 1.1, https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/subscribe-message-2.html):
/// 2001–2011 take a WeChat Pay transaction id as code ("将微信支付订单号作为 code"); 1001, 1003,
/// 1004, 1005 take a code obtained in the front end ("通过前端获取 code"). Nothing else exists.
pub const DEFAULT_NOTIFY_TYPES: &[i32] = &[
    1001, 1003, 1004, 1005, 2001, 2002, 2003, 2004, 2005, 2006, 2007, 2008, 2009, 2010, 2011,
];

/// Payment codes: "开发者需在支付完成24小时内调用服务端接口 setUserNotify …以首次激活 code"
/// (guide 1.3.2) and "可在激活后30天内…更新" (1.3.3).
pub const PAYMENT_ACTIVATION_WINDOW: Duration = Duration::from_secs(24 * 3600);
pub const PAYMENT_UPDATE_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);
/// Front-end codes: "需要在获取后5分钟内调用服务端接口 setUserNotify…以首次激活 code" (1.4.2) and
/// "可在激活后24小时内…更新" (1.4.3).
pub const FRONTEND_ACTIVATION_WINDOW: Duration = Duration::from_secs(5 * 60);
pub const FRONTEND_UPDATE_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// How a service-card notify_code was obtained (guide 1.3 / 1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeSource {
    /// A WeChat Pay transaction id (notify types 2001–2011).
    Payment,
    /// From the `liveActivity` button in the front end (notify types 1001, 1003–1005).
    Frontend,
}

impl CodeSource {
    /// The guide ties the source to the notify type: 2xxx payment, 1xxx front end. Types outside
    /// the guide follow the same rule by their first digit.
    pub fn for_notify_type(notify_type: i32) -> CodeSource {
        if notify_type >= 2000 {
            CodeSource::Payment
        } else {
            CodeSource::Frontend
        }
    }

    fn windows(self) -> (Duration, Duration) {
        match self {
            CodeSource::Payment => (PAYMENT_ACTIVATION_WINDOW, PAYMENT_UPDATE_WINDOW),
            CodeSource::Frontend => (FRONTEND_ACTIVATION_WINDOW, FRONTEND_UPDATE_WINDOW),
        }
    }
}

/// The two accounts a sandbox serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    MiniProgram,
    /// The Official Account (公众号) with card rights that creates the cards.
    OfficialAccount,
    /// An authorizer_access_token: a token a third-party platform (第三方平台) obtained for an
    /// account that authorized it (see [`crate::component`]); the mini-program routes check the
    /// permission sets the authorizer granted.
    Authorizer,
}

#[derive(Debug)]
pub(crate) struct Account {
    pub secret: String,
    pub kind: AccountKind,
    pub current_normal: Option<String>,
    pub current_stable: Option<String>,
    pub last_forced_refresh: Option<Instant>,
    /// (Beijing-time day number, forced refreshes that day).
    pub forced_day: (i64, u32),
}

#[derive(Debug)]
pub(crate) struct TokenRecord {
    pub appid: String,
    pub stable: bool,
    pub issued_at: Instant,
    pub expires_at: Instant,
    /// Replaced by a newer token of the same kind: invalid from this instant on (40001).
    pub revoked_at: Option<Instant>,
    /// An authorizer_access_token issued through the third-party platform.
    pub authorizer: bool,
}

/// Why a token was refused, or whose it is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    Ok(String, AccountKind),
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
    pub source: CodeSource,
    pub registered_at: Instant,
    pub valid_from: Instant,
    /// The first setUserNotify must come before this (activation window).
    pub activate_by: Instant,
    /// How long after activation updates are accepted.
    pub update_window: Duration,
    pub activated_at: Option<Instant>,
    /// `expire_after_secs`: a hard end for everything, whatever the windows say.
    pub hard_expiry: Option<Instant>,
    pub banned: bool,
    pub code_state: i32,
    pub requires_check_json: bool,
    pub content_history: Vec<String>,
    pub check_json_history: Vec<String>,
    pub ext_history: Vec<ExtRecord>,
}

impl NotifyCode {
    /// When the code stops being usable: before activation the end of the activation window,
    /// after it the end of the update window; never after `hard_expiry`.
    pub fn deadline(&self) -> Instant {
        let window_end = match self.activated_at {
            None => self.activate_by,
            Some(at) => at + self.update_window,
        };
        self.hard_expiry.map_or(window_end, |h| h.min(window_end))
    }
}

#[derive(Debug)]
pub(crate) struct Fault {
    pub path: String,
    pub errcode: i32,
    pub errmsg: Option<String>,
    pub remaining: Option<u64>,
}

/// One card claimed through the wx.addCard stand-in.
#[derive(Clone, Debug, Serialize)]
pub struct CardClaim {
    pub code: String,
    pub encrypt_code: String,
    pub openid: Option<String>,
    pub outer_str: Option<String>,
    pub fixed_begintimestamp: Option<Value>,
    pub timestamp: String,
    pub nonce_str: Option<String>,
    /// The cardExt string exactly as received.
    pub card_ext: String,
    pub claimed_at: i64,
}

/// A card (卡券) known to the sandbox.
#[derive(Clone, Debug, Serialize)]
pub struct Card {
    pub card_id: String,
    /// The Official Account that created it: its api_ticket signs cardExt, its token decrypts.
    pub owner_appid: String,
    /// Custom-code mode: `Some(true)` cardExt must carry `code`, `Some(false)` must not, `None`
    /// not checked.
    pub custom_code: Option<bool>,
    /// bind_openid: `Some(true)` cardExt must carry `openid`, `Some(false)` must not, `None` not
    /// checked.
    pub bind_openid: Option<bool>,
    /// Registered implicitly by a control route (`/sandbox/mp/card_codes`) rather than by
    /// `POST /sandbox/mp/cards`.
    pub auto_registered: bool,
    pub claims: Vec<CardClaim>,
}

/// The verdict on one cardList item of `POST /sandbox/card/add`.
#[derive(Clone, Debug, Serialize)]
pub struct CardAddVerdict {
    pub card_id: String,
    pub accepted: bool,
    /// `ok`, or why the item was refused (`unknown_card`, `bad_card_ext`, `signature`,
    /// `timestamp`, `nonce_reused`, `code`, `openid`).
    pub reason: String,
    pub detail: Option<String>,
    pub time: i64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub tokens_issued: u64,
    pub stable_tokens_issued: u64,
    pub stable_tokens_forced: u64,
    pub stable_force_refresh_ignored: u64,
    pub tickets_issued: BTreeMap<String, u64>,
    /// appid → {tokens_issued, stable_tokens_issued, tickets_issued}.
    pub by_appid: BTreeMap<String, BTreeMap<&'static str, u64>>,
    pub calls: BTreeMap<String, u64>,
    pub faults_injected: u64,
    pub card_codes_issued: u64,
    pub card_adds_accepted: u64,
    pub card_adds_rejected: BTreeMap<String, u64>,
}

impl Counters {
    pub(crate) fn bump(&mut self, appid: &str, what: &'static str) {
        *self
            .by_appid
            .entry(appid.to_owned())
            .or_default()
            .entry(what)
            .or_default() += 1;
    }
}

/// Token and ticket policy (`POST /sandbox/mp/token_lifetime`).
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub token_lifetime: Duration,
    pub token_overlap: Duration,
    pub stable_renew_window: Duration,
    pub ticket_lifetime: Duration,
    pub force_refresh_interval: Duration,
    pub force_refresh_daily_limit: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            token_lifetime: DEFAULT_LIFETIME,
            token_overlap: DEFAULT_TOKEN_OVERLAP,
            stable_renew_window: DEFAULT_STABLE_RENEW_WINDOW,
            ticket_lifetime: DEFAULT_LIFETIME,
            force_refresh_interval: DEFAULT_FORCE_REFRESH_INTERVAL,
            force_refresh_daily_limit: DEFAULT_FORCE_REFRESH_DAILY_LIMIT,
        }
    }
}

pub(crate) struct Inner {
    /// The mini-program's appid.
    pub appid: String,
    /// The card-owning Official Account's appid.
    pub card_appid: String,
    pub accounts: BTreeMap<String, Account>,
    pub policy: Policy,
    pub clock_offset: Duration,
    pub tokens: HashMap<String, TokenRecord>,
    /// (appid, type) → tickets issued, oldest first; the last one is current.
    pub tickets: HashMap<(String, String), Vec<Ticket>>,
    pub users: HashSet<String>,
    pub notify_types: BTreeSet<i32>,
    /// Keyed by (openid, notify_code).
    pub notify_codes: HashMap<(String, String), NotifyCode>,
    pub cards: BTreeMap<String, Card>,
    /// (owner appid, nonce_str) already used by an accepted claim.
    pub used_nonces: HashSet<(String, String)>,
    pub card_adds: Vec<CardAddVerdict>,
    pub faults: Vec<Fault>,
    pub counters: Counters,
    /// Authorizer appid → what it granted the third-party platform ([`super::authorizer`]).
    pub authorizer_grants: HashMap<String, super::authorizer::Grant>,
}

fn ceil_secs(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
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

    /// `Ok(kind)` when appid and secret are an account's; else the errcode (40013 unknown
    /// appid, 40125 wrong secret).
    pub fn check_credentials(&self, appid: &str, secret: &str) -> Result<AccountKind, i32> {
        let account = self.accounts.get(appid).ok_or(40013)?;
        if account.secret != secret {
            return Err(40125);
        }
        Ok(account.kind)
    }

    /// A new token shaped like WeChat's: a two-digit prefix, `_`, then random alphanumerics
    /// (136 characters in all; the docs say to reserve 512).
    fn new_token(&mut self, appid: &str, stable: bool) -> String {
        let token = format!("90_{}", random_alphanumeric(133));
        let now = self.now();
        self.tokens.insert(
            token.clone(),
            TokenRecord {
                appid: appid.to_owned(),
                stable,
                issued_at: now,
                expires_at: now + self.policy.token_lifetime,
                revoked_at: None,
                authorizer: false,
            },
        );
        token
    }

    /// /cgi-bin/token: a new token every call; the previous one of this account stays valid for
    /// the overlap window (default 300 s, the documented 5 minutes; 0 = strict).
    pub fn issue_normal_token(&mut self, appid: &str) -> (String, u64) {
        let now = self.now();
        let overlap = self.policy.token_overlap;
        let prev = self
            .accounts
            .get_mut(appid)
            .and_then(|a| a.current_normal.take());
        if let Some(rec) = prev.and_then(|p| self.tokens.get_mut(&p)) {
            let until = now + overlap;
            rec.revoked_at = Some(rec.revoked_at.map_or(until, |r| r.min(until)));
        }
        let token = self.new_token(appid, false);
        if let Some(a) = self.accounts.get_mut(appid) {
            a.current_normal = Some(token.clone());
        }
        self.counters.tokens_issued += 1;
        self.counters.bump(appid, "tokens_issued");
        (token, self.policy.token_lifetime.as_secs())
    }

    /// Whether a token record is usable at `now`.
    fn live(rec: &TokenRecord, now: Instant) -> bool {
        rec.revoked_at.is_none_or(|r| now < r) && now < rec.expires_at
    }

    /// /cgi-bin/stable_token for `appid`.
    ///
    /// Normal mode: the current stable token while more than the renewal window is left (with
    /// `expires_in` = seconds left); during its last `stable_renew_window` (default 300 s; half
    /// the lifetime for lifetimes under 600 s) a NEW token, the current one staying valid until
    /// it expires; a new one when there is none or it expired. `stable_renew_window` 0 is the
    /// strict behaviour: the same token down to `expires_in: 1`, then 42001.
    ///
    /// force_refresh: a new token, every other stable token of the account invalid at once
    /// (40001) — unless the last effective force refresh is less than `force_refresh_interval`
    /// ago (default 30 s) or `force_refresh_daily_limit` (default 20) were made this (Beijing)
    /// day: then the refresh does not happen ("否则不会刷新") and the answer is the normal-mode
    /// answer. What WeChat answers beyond 20 a day is UNCONFIRMED (not documented): the sandbox
    /// does the same as within 30 s.
    pub fn stable_token(&mut self, appid: &str, force_refresh: bool) -> (String, u64) {
        let now = self.now();
        let day = (self.unix_now() + 8 * 3600).div_euclid(86_400);
        let policy = self.policy.clone();
        if force_refresh {
            let account = self.accounts.get_mut(appid).expect("credentials checked");
            let too_soon = account
                .last_forced_refresh
                .is_some_and(|at| now < at + policy.force_refresh_interval);
            if account.forced_day.0 != day {
                account.forced_day = (day, 0);
            }
            let over_limit = account.forced_day.1 >= policy.force_refresh_daily_limit;
            if too_soon || over_limit {
                self.counters.stable_force_refresh_ignored += 1;
            } else {
                account.forced_day.1 += 1;
                account.last_forced_refresh = Some(now);
                account.current_stable = None;
                for rec in self.tokens.values_mut() {
                    if rec.stable && rec.appid == appid && Self::live(rec, now) {
                        rec.revoked_at = Some(now);
                    }
                }
                self.counters.stable_tokens_forced += 1;
                return self.issue_stable(appid);
            }
        }
        let current = self
            .accounts
            .get(appid)
            .and_then(|a| a.current_stable.clone())
            .and_then(|t| {
                let rec = self.tokens.get(&t).filter(|r| Self::live(r, now))?;
                Some((t, rec.issued_at, rec.expires_at))
            });
        match current {
            Some((token, issued_at, expires_at)) => {
                let left = expires_at.saturating_duration_since(now);
                let lifetime = expires_at.saturating_duration_since(issued_at);
                let window = policy.stable_renew_window.min(lifetime / 2);
                if left > window || window.is_zero() {
                    (token, ceil_secs(left))
                } else {
                    // The handover: the old token stays valid until it expires.
                    self.issue_stable(appid)
                }
            }
            None => self.issue_stable(appid),
        }
    }

    fn issue_stable(&mut self, appid: &str) -> (String, u64) {
        let token = self.new_token(appid, true);
        if let Some(a) = self.accounts.get_mut(appid) {
            a.current_stable = Some(token.clone());
        }
        self.counters.stable_tokens_issued += 1;
        self.counters.bump(appid, "stable_tokens_issued");
        (token, self.policy.token_lifetime.as_secs())
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
            let kind = if rec.authorizer {
                AccountKind::Authorizer
            } else {
                self.accounts
                    .get(&rec.appid)
                    .map_or(AccountKind::MiniProgram, |a| a.kind)
            };
            TokenCheck::Ok(rec.appid.clone(), kind)
        }
    }

    /// getTicket for `appid`: the current ticket of this type while valid ("7200s内重复请求保持
    /// 不变"), else a new one. Earlier tickets stay valid until their own expiry.
    pub fn ticket(&mut self, appid: &str, ticket_type: &str) -> (String, u64) {
        let now = self.now();
        let key = (appid.to_owned(), ticket_type.to_owned());
        if let Some(t) = self
            .tickets
            .get(&key)
            .and_then(|v| v.last())
            .filter(|t| now < t.expires_at)
        {
            return (t.ticket.clone(), ceil_secs(t.expires_at - now));
        }
        // Shaped like the documented example ticket (86 characters).
        let ticket = random_alphanumeric(86);
        let expires_at = now + self.policy.ticket_lifetime;
        let list = self.tickets.entry(key).or_default();
        list.retain(|t| now < t.expires_at);
        list.push(Ticket {
            ticket: ticket.clone(),
            expires_at,
        });
        *self
            .counters
            .tickets_issued
            .entry(ticket_type.to_owned())
            .or_default() += 1;
        self.counters.bump(appid, "tickets_issued");
        (ticket, self.policy.ticket_lifetime.as_secs())
    }

    /// Every still-valid ticket of this type issued to `appid` (current and earlier).
    pub fn live_tickets(&self, appid: &str, ticket_type: &str) -> Vec<String> {
        let now = self.now();
        self.tickets
            .get(&(appid.to_owned(), ticket_type.to_owned()))
            .map(|v| {
                v.iter()
                    .filter(|t| now < t.expires_at)
                    .map(|t| t.ticket.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Takes one use of the first fault matching `path` or `operation`: (errcode, errmsg).
    pub fn take_fault(&mut self, path: &str, operation: &str) -> Option<(i32, Option<String>)> {
        let i = self.faults.iter().position(|f| {
            (f.path == path || f.path == operation || f.path == "*")
                && f.remaining.is_none_or(|n| n > 0)
        })?;
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

    /// The card, registered as owned by the Official Account when unknown (control routes).
    pub fn card_or_register(&mut self, card_id: &str) -> &mut Card {
        let owner = self.card_appid.clone();
        self.cards
            .entry(card_id.to_owned())
            .or_insert_with(|| Card {
                card_id: card_id.to_owned(),
                owner_appid: owner,
                custom_code: None,
                bind_openid: None,
                auto_registered: true,
                claims: Vec::new(),
            })
    }
}

/// A notify_code to register (body of `POST /sandbox/mp/notify_codes`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyCodeRegistration {
    pub openid: String,
    pub notify_type: i32,
    pub notify_code: String,
    /// `payment` (a WeChat Pay transaction id: activate within 24 h, update for 30 days after
    /// activation) or `frontend` (from the `liveActivity` button: activate within 5 minutes,
    /// update for 24 h). Default: by notify type, as the guide ties them (2xxx payment, 1xxx
    /// front end).
    #[serde(default)]
    pub source: Option<CodeSource>,
    /// The code "does not exist" (85437) until this many seconds have passed, as a WeChat Pay
    /// transaction id can take about a minute to become verifiable ("微信支付订单号从生成到可被
    /// 校验存在一定的时延可能…建议在1分钟后重试", doc 01). Meant for payment codes.
    #[serde(default)]
    pub valid_after_secs: Option<u64>,
    /// Banned codes answer 85436 "notify_code abnormal".
    #[serde(default)]
    pub banned: bool,
    /// A hard end of the code's life (seconds from registration), whatever the windows say:
    /// afterwards setUserNotify/getUserNotify answer 85438, setUserNotifyExt 85437.
    #[serde(default)]
    pub expire_after_secs: Option<u64>,
    /// Override the activation window of the source (seconds from registration).
    #[serde(default)]
    pub activate_within_secs: Option<u64>,
    /// Override the update window of the source (seconds from activation).
    #[serde(default)]
    pub update_within_secs: Option<u64>,
    /// code_state reported by getUserNotify (0 normal, 1 at risk, 2 abnormal, 10 refused);
    /// default 0, or 2 when banned.
    #[serde(default)]
    pub code_state: Option<i32>,
    /// Activation (the first setUserNotify) requires check_json (else 85433). Default: true for
    /// payment codes ("当将微信支付订单号作为 notify_code 时,在激活时需要传入", setUserNotify's
    /// check_json row), false for front-end codes.
    #[serde(default)]
    pub requires_check_json: Option<bool>,
}

/// A card to register (body of `POST /sandbox/mp/cards`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardRegistration {
    pub card_id: String,
    /// Default: the sandbox's Official Account.
    #[serde(default)]
    pub owner_appid: Option<String>,
    #[serde(default)]
    pub custom_code: Option<bool>,
    #[serde(default)]
    pub bind_openid: Option<bool>,
}

/// State of the mini-program sandbox. Cheap to share: wrap it in an `Arc` and hand it to
/// [`super::router`] and [`super::control_router`].
pub struct MpState {
    pub(crate) inner: Mutex<Inner>,
    pub(crate) cipher: CardCodeCipher,
}

impl MpState {
    /// A sandbox for one mini-program (`appid`/`secret`) and a generated Official Account that
    /// owns the cards (see [`MpState::card_appid`]).
    pub fn new(appid: String, secret: String) -> Self {
        let card_appid = format!("wx{}", crate::keys::random_hex(16));
        let card_secret = crate::keys::random_hex(32);
        Self::with_card_account(appid, secret, card_appid, card_secret)
    }

    /// A sandbox for one mini-program and the Official Account (`card_appid`/`card_secret`)
    /// that owns its cards. Tokens and tickets live 7200 s; the policy is WeChat's documented
    /// one (see [`MpState::set_token_overlap`] and siblings); no user, code or card exists.
    pub fn with_card_account(
        appid: String,
        secret: String,
        card_appid: String,
        card_secret: String,
    ) -> Self {
        let account = |secret: String, kind| Account {
            secret,
            kind,
            current_normal: None,
            current_stable: None,
            last_forced_refresh: None,
            forced_day: (0, 0),
        };
        let mut accounts = BTreeMap::new();
        accounts.insert(appid.clone(), account(secret, AccountKind::MiniProgram));
        accounts.insert(
            card_appid.clone(),
            account(card_secret, AccountKind::OfficialAccount),
        );
        Self {
            inner: Mutex::new(Inner {
                appid,
                card_appid,
                accounts,
                policy: Policy::default(),
                clock_offset: Duration::ZERO,
                tokens: HashMap::new(),
                tickets: HashMap::new(),
                users: HashSet::new(),
                notify_types: DEFAULT_NOTIFY_TYPES.iter().copied().collect(),
                notify_codes: HashMap::new(),
                cards: BTreeMap::new(),
                used_nonces: HashSet::new(),
                card_adds: Vec::new(),
                faults: Vec::new(),
                counters: Counters::default(),
                authorizer_grants: HashMap::new(),
            }),
            cipher: CardCodeCipher::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The mini-program's appid.
    pub fn appid(&self) -> String {
        self.lock().appid.clone()
    }

    /// The card-owning Official Account's appid.
    pub fn card_appid(&self) -> String {
        self.lock().card_appid.clone()
    }

    /// `{"tokens_issued","stable_tokens_issued","stable_tokens_forced",
    /// "stable_force_refresh_ignored","tickets_issued","tickets_issued_by_type":{type:n},
    /// "by_appid":{appid:{tokens_issued,stable_tokens_issued,tickets_issued}},
    /// "calls":{operationId:n},"faults_injected","card_codes_issued",
    /// "card_adds":{"accepted","rejected","rejected_by_reason":{reason:n}}}`. `calls` counts
    /// every request that reached a WeChat route, errors and injected faults included.
    pub fn counters(&self) -> Value {
        let inner = self.lock();
        let c = &inner.counters;
        json!({
            "tokens_issued": c.tokens_issued,
            "stable_tokens_issued": c.stable_tokens_issued,
            "stable_tokens_forced": c.stable_tokens_forced,
            "stable_force_refresh_ignored": c.stable_force_refresh_ignored,
            "tickets_issued": c.tickets_issued.values().sum::<u64>(),
            "tickets_issued_by_type": c.tickets_issued,
            "by_appid": c.by_appid,
            "calls": c.calls,
            "faults_injected": c.faults_injected,
            "card_codes_issued": c.card_codes_issued,
            "card_adds": {
                "accepted": c.card_adds_accepted,
                "rejected": c.card_adds_rejected.values().sum::<u64>(),
                "rejected_by_reason": c.card_adds_rejected,
            },
        })
    }

    /// `POST /sandbox/mp/users {"openid"}`: a user the sandbox knows (others get 40003).
    pub fn add_user(&self, openid: impl Into<String>) {
        self.lock().users.insert(openid.into());
    }

    /// `POST /sandbox/mp/notify_codes`: registers a notify_code for openid + notify_type, obtained
    /// now (payment made / button clicked now). The user is registered too. Re-registering a
    /// code replaces it (and forgets what it received).
    pub fn add_notify_code(&self, reg: NotifyCodeRegistration) -> Result<(), String> {
        if reg.openid.is_empty() || reg.notify_code.is_empty() {
            return Err("openid and notify_code must not be empty".into());
        }
        let mut inner = self.lock();
        let now = inner.now();
        let source = reg
            .source
            .unwrap_or_else(|| CodeSource::for_notify_type(reg.notify_type));
        let (activate, update) = source.windows();
        let activate = reg
            .activate_within_secs
            .map_or(activate, Duration::from_secs);
        let update = reg.update_within_secs.map_or(update, Duration::from_secs);
        let code = NotifyCode {
            notify_type: reg.notify_type,
            source,
            registered_at: now,
            valid_from: now + Duration::from_secs(reg.valid_after_secs.unwrap_or(0)),
            activate_by: now + activate,
            update_window: update,
            activated_at: None,
            hard_expiry: reg.expire_after_secs.map(|s| now + Duration::from_secs(s)),
            banned: reg.banned,
            code_state: reg.code_state.unwrap_or(if reg.banned { 2 } else { 0 }),
            requires_check_json: reg
                .requires_check_json
                .unwrap_or(source == CodeSource::Payment),
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
    /// setUserNotify content_json, "" before any) and `content_history`; `source`, `activated`
    /// and `deadline` (Unix seconds: the end of the activation window before activation, of the
    /// update window after it).
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
            "source": code.source,
            "count": code.ext_history.len(),
            "ext_json": last.map(|r| r.ext_json.clone()),
            "ext": last.map(|r| decode_nested(&r.ext_json)),
            "ext_history": code.ext_history.iter().map(|r| json!({
                "notify_type": r.notify_type,
                "ext_json": r.ext_json,
                "received_at": r.received_at,
            })).collect::<Vec<_>>(),
            "activated": code.activated_at.is_some(),
            "registered_at": unix_of(&inner, code.registered_at),
            "deadline": unix_of(&inner, code.deadline()),
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
        self.lock().policy.token_lifetime = lifetime;
    }

    /// How long the previous normal token stays valid after /cgi-bin/token issues a new one.
    /// Default 300 s, as documented ("公众平台后台会保证在5分钟内,新老 access_token 都可用",
    /// https://developers.weixin.qq.com/doc/oplatform/developers/dev/AccessToken.html); 0 is the
    /// strict reading ("重复获取将导致上次获取的 access_token 失效").
    pub fn set_token_overlap(&self, overlap: Duration) {
        self.lock().policy.token_overlap = overlap;
    }

    /// How long before its expiry the stable token is renewed in normal mode (default 300 s;
    /// 0 = strict: the same token until it expires).
    pub fn set_stable_renew_window(&self, window: Duration) {
        self.lock().policy.stable_renew_window = window;
    }

    /// Lifetime of tickets issued from now on (default 7200 s).
    pub fn set_ticket_lifetime(&self, lifetime: Duration) {
        self.lock().policy.ticket_lifetime = lifetime;
    }

    /// Minimum time between two effective force_refresh calls of stable_token (default 30 s,
    /// as documented; 0 = not throttled).
    pub fn set_force_refresh_interval(&self, interval: Duration) {
        self.lock().policy.force_refresh_interval = interval;
    }

    /// Effective force refreshes allowed per account per (Beijing) day (default 20).
    pub fn set_force_refresh_daily_limit(&self, limit: u32) {
        self.lock().policy.force_refresh_daily_limit = limit;
    }

    /// `POST /sandbox/mp/expire_tokens`: every access token issued so far (normal and stable,
    /// every account) expires now: 42001 on use, and the token endpoints issue new ones.
    pub fn expire_tokens(&self) {
        let mut inner = self.lock();
        let now = inner.now();
        for rec in inner.tokens.values_mut() {
            rec.expires_at = rec.expires_at.min(now);
        }
    }

    /// `POST /sandbox/mp/expire_tickets`: every ticket (every account, current and earlier)
    /// expires now; getTicket issues new ones, and cardExt signed with the old ones fail.
    pub fn expire_tickets(&self) {
        self.lock().tickets.clear();
    }

    /// `POST /sandbox/mp/advance_clock {"seconds"}`: moves the sandbox clock forward (token,
    /// ticket and notify_code expiry, valid_after delays), so tests need not sleep.
    pub fn advance_clock(&self, by: Duration) {
        self.lock().clock_offset += by;
    }

    /// `POST /sandbox/mp/cards`: registers (or re-registers, keeping its claims) a card.
    pub fn add_card(&self, reg: CardRegistration) -> Result<Card, String> {
        if reg.card_id.is_empty() {
            return Err("card_id must not be empty".into());
        }
        let mut inner = self.lock();
        let owner = reg.owner_appid.unwrap_or_else(|| inner.card_appid.clone());
        if !inner.accounts.contains_key(&owner) {
            return Err(format!(
                "owner_appid {owner} is not an account of this sandbox (the mini-program {} or \
                 the Official Account {})",
                inner.appid, inner.card_appid
            ));
        }
        let card = inner.card_or_register(&reg.card_id);
        card.owner_appid = owner;
        card.custom_code = reg.custom_code;
        card.bind_openid = reg.bind_openid;
        card.auto_registered = false;
        Ok(card.clone())
    }

    /// `GET /sandbox/mp/cards`: every card with its owner and claims.
    pub fn cards(&self) -> Vec<Card> {
        self.lock().cards.values().cloned().collect()
    }

    /// `GET /sandbox/mp/card_adds`: the verdict on every cardList item the wx.addCard stand-in
    /// received, oldest first.
    pub fn card_adds(&self) -> Vec<CardAddVerdict> {
        self.lock().card_adds.clone()
    }

    /// `POST /sandbox/mp/card_codes {"card_id","code"}`: the encrypt_code that wx.addCard would
    /// return for this code. An unknown card_id is registered first, owned by the Official
    /// Account. Only the owner's token decrypts it (`/card/code/decrypt`).
    pub fn encrypt_card_code(&self, card_id: &str, code: &str) -> String {
        let mut inner = self.lock();
        let owner = inner.card_or_register(card_id).owner_appid.clone();
        inner.counters.card_codes_issued += 1;
        self.cipher.encrypt(code, &owner)
    }

    /// The code inside an encrypt_code made by this sandbox for a card of `appid`, or None.
    pub fn decrypt_card_code_as(&self, appid: &str, encrypt_code: &str) -> Option<String> {
        self.cipher.decrypt(encrypt_code, appid)
    }

    /// The code inside an encrypt_code made by this sandbox for any of its accounts, or None.
    pub fn decrypt_card_code(&self, encrypt_code: &str) -> Option<String> {
        let appids: Vec<String> = self.lock().accounts.keys().cloned().collect();
        appids
            .iter()
            .find_map(|a| self.cipher.decrypt(encrypt_code, a))
    }

    /// `POST /sandbox/mp/errcode_faults {"path","errcode","count"?,"errmsg"?}`: requests to `path`
    /// (a WeChat route such as `/wxa/set_user_notifyext`, an operationId such as
    /// `getStableAccessToken`, or `*` for all) answer `errcode` (HTTP 200) before anything else
    /// is checked, for the next `count` calls (None: until cleared). errmsg defaults to the
    /// documented one for that code (45009 "reach max api daily quota limit", 45011 "api
    /// minute-quota reach limit…"). Faults stack; the oldest matching one applies first.
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

    /// The access token most recently issued by /cgi-bin/token to the mini-program (if any).
    pub fn current_access_token(&self) -> Option<String> {
        let inner = self.lock();
        inner.accounts.get(&inner.appid)?.current_normal.clone()
    }

    /// The mini-program's current stable token (if any).
    pub fn current_stable_token(&self) -> Option<String> {
        let inner = self.lock();
        inner.accounts.get(&inner.appid)?.current_stable.clone()
    }
}

/// The Unix time (sandbox clock) of a sandbox instant.
pub(crate) fn unix_of(inner: &Inner, at: Instant) -> i64 {
    let now = inner.now();
    let unix = inner.unix_now();
    if at >= now {
        unix + (at - now).as_secs() as i64
    } else {
        unix - (now - at).as_secs() as i64
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
