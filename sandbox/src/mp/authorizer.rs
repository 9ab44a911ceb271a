//! Authorizer access tokens (授权方令牌, authorizer_access_token): what the third-party
//! platform side of the sandbox ([`crate::component`]) mints for an account that authorized it,
//! accepted by the mini-program routes as that account's `access_token`.
//!
//! The service-card APIs (setUserNotifyExt and friends) belong to permission set **18**
//! (开发管理与数据分析权限, "支持第三方平台代商家调用" in document 01). Without it the routes
//! answer **61007** "api is unauthorized to component" — the code WeChat's troubleshooting guide
//! gives for an authorizer that did not grant the permission set ("出现61007错误的原因主要是:
//! …尚未将对应的权限集授权给第三方平台", 权限集常见排错指南,
//! https://developers.weixin.qq.com/doc/oplatform/Third-party_Platforms/2.0/troubleshooting/third_party_authority_instructions_troubleshooting.html;
//! a WeChat operator answering a 61007 on the forum: "小程序…尚未授权【18】权限集给第三方平台",
//! https://developers.weixin.qq.com/community/develop/doc/000e0ce8f982f805d6f02639f61800).
//! The same guide says 48001 "api unauthorized" *may* also come back for that reason, so the
//! code is configurable (`missing_permission_errcode` on `/sandbox/component/config`).

use std::collections::BTreeSet;

use super::crypto::random_alphanumeric;
use super::state::{MpState, TokenRecord};

/// The permission set the service-card routes need.
pub const SERVICE_CARD_PERMISSION_SET: u32 = 18;

/// What an authorizer granted the third-party platform.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub func_ids: BTreeSet<u32>,
    /// Answered by the service-card routes when 18 is missing.
    pub missing_errcode: i32,
}

impl MpState {
    /// A new authorizer_access_token for `appid` (lifetime: the token lifetime policy, 7200 s by
    /// default) and its `expires_in`. Earlier ones stay valid until they expire (UNCONFIRMED:
    /// WeChat documents no overlap rule for authorizer tokens).
    pub fn issue_authorizer_token(&self, appid: &str) -> (String, u64) {
        let mut inner = self.lock();
        let token = format!("90_{}", random_alphanumeric(133));
        let now = inner.now();
        let lifetime = inner.policy.token_lifetime;
        inner.tokens.insert(
            token.clone(),
            TokenRecord {
                appid: appid.to_owned(),
                stable: false,
                issued_at: now,
                expires_at: now + lifetime,
                revoked_at: None,
                authorizer: true,
            },
        );
        inner.counters.bump(appid, "authorizer_tokens_issued");
        (token, lifetime.as_secs())
    }

    /// Records what `appid` granted (replacing what it granted before).
    pub fn set_authorizer_grant(
        &self,
        appid: &str,
        func_ids: impl IntoIterator<Item = u32>,
        missing_errcode: i32,
    ) {
        self.lock().authorizer_grants.insert(
            appid.to_owned(),
            Grant {
                func_ids: func_ids.into_iter().collect(),
                missing_errcode,
            },
        );
    }

    /// The authorization ended: every authorizer_access_token of `appid` is invalid from now on
    /// (40001) and its grant is gone.
    pub fn revoke_authorizer(&self, appid: &str) {
        let mut inner = self.lock();
        let now = inner.now();
        for rec in inner.tokens.values_mut() {
            if rec.authorizer && rec.appid == appid {
                rec.revoked_at = Some(rec.revoked_at.map_or(now, |r| r.min(now)));
            }
        }
        inner.authorizer_grants.remove(appid);
    }

    /// The errcode a service-card route answers an authorizer_access_token of `appid` with, or
    /// None when permission set 18 was granted.
    pub(crate) fn authorizer_denial(&self, appid: &str) -> Option<i32> {
        match self.lock().authorizer_grants.get(appid) {
            Some(g) if g.func_ids.contains(&SERVICE_CARD_PERMISSION_SET) => None,
            Some(g) => Some(g.missing_errcode),
            // Revoked meanwhile (its tokens are revoked too, so this is a race): no grant.
            None => Some(61007),
        }
    }
}

impl MpState {
    /// The sandbox clock (monotonic, and Unix seconds), moved by `advance_clock` like every
    /// other expiry of the mini-program side.
    pub(crate) fn clock(&self) -> (std::time::Instant, i64) {
        let inner = self.lock();
        (inner.now(), inner.unix_now())
    }
}
