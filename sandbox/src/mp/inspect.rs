//! What the inspector page (`/sandbox/ui`) shows of the mini-program side: tokens, tickets and
//! notify codes. Tokens and tickets are secrets (a token calls the APIs, a ticket signs
//! cardExt/JS-SDK): only a fingerprint (the first 8 hex digits of the value's SHA-256), the
//! length and the lifetimes are shown, never the value.

use serde_json::{json, Value};

use super::state::{unix_of, MpState};

/// The first 8 hex digits of SHA-256(`secret`) and its length: enough to tell two tokens apart
/// (and to match one a client holds), nothing to call with.
pub fn fingerprint(secret: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    format!(
        "sha256:{} ({} chars)",
        hex::encode(&digest.as_ref()[..4]),
        secret.len()
    )
}

impl MpState {
    /// `{"tokens":[{appid,kind,fingerprint,issued_at,expires_at,state}],
    /// "tickets":[{appid,type,fingerprint,expires_at,current,state}],
    /// "notify_codes":[{openid,notify_code,notify_type,source,activated,banned,code_state,
    /// deadline,ext_calls}]}`; times are Unix seconds on the sandbox clock, `state` is
    /// `valid`, `replaced` or `expired`. Sorted (newest token first).
    pub fn inspect(&self) -> Value {
        let inner = self.lock();
        let now = inner.now();
        let mut tokens: Vec<(i64, Value)> = inner
            .tokens
            .iter()
            .map(|(token, r)| {
                let state = if r.revoked_at.is_some_and(|at| at <= now) {
                    "replaced"
                } else if r.expires_at <= now {
                    "expired"
                } else {
                    "valid"
                };
                let issued = unix_of(&inner, r.issued_at);
                (
                    issued,
                    json!({
                        "appid": r.appid,
                        "kind": if r.authorizer {
                            "authorizer_access_token"
                        } else if r.stable {
                            "stable_access_token"
                        } else {
                            "access_token"
                        },
                        "fingerprint": fingerprint(token),
                        "issued_at": issued,
                        "expires_at": unix_of(&inner, r.expires_at),
                        "state": state,
                    }),
                )
            })
            .collect();
        tokens.sort_by_key(|t| std::cmp::Reverse(t.0));
        let mut tickets: Vec<Value> = Vec::new();
        let mut keys: Vec<_> = inner.tickets.keys().cloned().collect();
        keys.sort();
        for key in keys {
            let list = &inner.tickets[&key];
            for (i, t) in list.iter().enumerate().rev() {
                let current = i + 1 == list.len();
                let state = if t.expires_at <= now {
                    "expired"
                } else if current {
                    "valid"
                } else {
                    "replaced"
                };
                tickets.push(json!({
                    "appid": key.0,
                    "type": key.1,
                    "fingerprint": fingerprint(&t.ticket),
                    "expires_at": unix_of(&inner, t.expires_at),
                    "current": current,
                    "state": state,
                }));
            }
        }
        let mut codes: Vec<_> = inner.notify_codes.iter().collect();
        codes.sort_by(|a, b| a.0.cmp(b.0));
        let notify_codes: Vec<Value> = codes
            .into_iter()
            .map(|((openid, code), c)| {
                json!({
                    "openid": openid,
                    "notify_code": code,
                    "notify_type": c.notify_type,
                    "source": c.source,
                    "activated": c.activated_at.is_some(),
                    "banned": c.banned,
                    "code_state": c.code_state,
                    "deadline": unix_of(&inner, c.deadline()),
                    "ext_calls": c.ext_history.len(),
                })
            })
            .collect();
        json!({ "tokens": tokens.into_iter().map(|t| t.1).collect::<Vec<_>>(), "tickets": tickets, "notify_codes": notify_codes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_sha256_prefix_and_hides_the_value() {
        // `printf 'ACCESS_TOKEN' | sha256sum` (coreutils) → ffc52dcb17afedeb…
        let f = fingerprint("ACCESS_TOKEN");
        assert_eq!(f, "sha256:ffc52dcb (12 chars)");
        assert!(!f.contains("ACCESS_TOKEN"));
    }
}
