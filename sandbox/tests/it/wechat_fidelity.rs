//! Issue 11: where the sandbox must behave as WeChat documents it, not as our client expects.
//! Each test drives a full sandbox over HTTP (its WeChat routes and its control API) and would
//! fail against the sandbox as it was before (a single account, tokens dying at once, HTTP 429
//! quota errors, 2010/2011 refused, one global signing key, lower-case header names, …).
//!
//! Sources of the facts are in the sandbox's code comments (sandbox/src/mp/state.rs,
//! sandbox/src/mp/cards.rs, sandbox/src/auth.rs, sandbox/src/notify.rs).

use std::io::{Read as _, Write as _};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde_json::{json, Value};
use weixin_kit_sandbox::{Sandbox, SandboxConfig};

use crate::common::{identity, unix_now};

// ---------------------------------------------------------------------------------------------
// Helpers (this module's own: an HTTP client against a whole sandbox)

struct Sb {
    sandbox: Sandbox,
    http: reqwest::Client,
}

async fn start() -> Sb {
    let sandbox = Sandbox::start(SandboxConfig {
        identity: Some(identity()),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    Sb {
        sandbox,
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    }
}

/// SHA-1 hex by the `sha1sum` CLI (independent of the sandbox's own digest).
fn sha1sum(data: &str) -> String {
    let mut child = Command::new("sha1sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha1sum");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(data.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..40].to_owned()
}

/// 卡券签名: SHA1 over the sorted concatenation of the values given.
fn card_sign(values: &[&str]) -> String {
    let mut v: Vec<&str> = values.to_vec();
    v.sort();
    sha1sum(&v.concat())
}

impl Sb {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox.base_url())
    }

    async fn get(&self, path: &str) -> Value {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    async fn post(&self, path: &str, body: &Value) -> Value {
        let r = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "POST {path}: {v}");
        v
    }

    async fn advance(&self, seconds: u64) {
        self.post("/sandbox/mp/advance_clock", &json!({ "seconds": seconds }))
            .await;
    }

    fn mp(&self) -> (String, String) {
        let c = self.sandbox.credentials();
        (c.appid.clone(), c.app_secret.expose().to_owned())
    }

    fn oa(&self) -> (String, String) {
        let c = self.sandbox.credentials();
        (c.card_appid.clone(), c.card_app_secret.expose().to_owned())
    }

    async fn token(&self, (appid, secret): &(String, String)) -> Value {
        self.get(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={secret}"
        ))
        .await
    }

    async fn stable(&self, (appid, secret): &(String, String), force: bool) -> Value {
        self.post(
            "/cgi-bin/stable_token",
            &json!({"grant_type": "client_credential", "appid": appid, "secret": secret,
                    "force_refresh": force}),
        )
        .await
    }

    async fn access_token(&self, account: &(String, String)) -> String {
        let v = self.stable(account, false).await;
        v["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_owned()
    }

    /// Any AccessToken call: getticket (jsapi, so the wx_card ticket is left alone).
    async fn use_token(&self, token: &str) -> Value {
        self.get(&format!(
            "/cgi-bin/ticket/getticket?access_token={token}&type=jsapi"
        ))
        .await
    }

    async fn wx_card_ticket(&self, token: &str) -> String {
        let v = self
            .get(&format!(
                "/cgi-bin/ticket/getticket?access_token={token}&type=wx_card"
            ))
            .await;
        v["ticket"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .to_owned()
    }

    async fn decrypt(&self, token: &str, encrypt_code: &str) -> Value {
        self.post(
            &format!("/card/code/decrypt?access_token={token}"),
            &json!({ "encrypt_code": encrypt_code }),
        )
        .await
    }

    async fn add_card(&self, card_list: Value) -> Value {
        self.post("/sandbox/card/add", &json!({ "cardList": card_list }))
            .await
    }
}

/// A cardExt string as our client (and wechatpy) builds it: timestamp as a string.
fn card_ext(ticket: &str, card_id: &str, ts: &str, nonce: &str, extra: Value) -> String {
    let mut ext = json!({
        "timestamp": ts,
        "nonce_str": nonce,
        "signature": card_sign(&[ticket, ts, card_id, nonce]),
    });
    if let (Some(map), Value::Object(more)) = (ext.as_object_mut(), extra) {
        map.extend(more);
    }
    ext.to_string()
}

// ---------------------------------------------------------------------------------------------
// §1 Cards belong to the Official Account that created them

#[tokio::test]
async fn credentials_expose_the_card_owning_official_account() {
    let sb = start().await;
    let creds = sb.get("/sandbox/credentials").await;
    let card_appid = creds["card_appid"].as_str().unwrap().to_owned();
    assert!(card_appid.starts_with("wx") && card_appid.len() == 18);
    assert_ne!(card_appid, creds["appid"].as_str().unwrap());
    assert_eq!(creds["card_app_secret"].as_str().unwrap().len(), 32);

    let client = sb.get("/sandbox/client/credentials").await;
    assert_eq!(client["card_appid"], json!(card_appid));
    assert_eq!(client["card_secret"], creds["card_app_secret"]);
    assert_eq!(client["appid"], creds["appid"], "existing keys are kept");
    assert_eq!(client["secret"], creds["app_secret"]);

    let mp = sb.get("/sandbox/client/mp_config").await;
    assert_eq!(mp["card_appid"], json!(card_appid));
    assert_eq!(mp["card_secret"], creds["card_app_secret"]);
    assert_eq!(mp["appid"], creds["appid"]);
    assert_eq!(mp["base_url"], json!(sb.sandbox.base_url()));

    // Both accounts get tokens from both endpoints; their tickets differ.
    let oa_token = sb.token(&sb.oa()).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let oa_stable = sb.access_token(&sb.oa()).await;
    let mp_stable = sb.access_token(&sb.mp()).await;
    assert_eq!(sb.use_token(&oa_token).await["errcode"], json!(0));
    let oa_ticket = sb.wx_card_ticket(&oa_stable).await;
    assert_eq!(
        sb.wx_card_ticket(&oa_token).await,
        oa_ticket,
        "one ticket per account"
    );
    assert_ne!(sb.wx_card_ticket(&mp_stable).await, oa_ticket);
    let by_appid = &sb.sandbox.counters()["mp"]["by_appid"];
    // jsapi (use_token) + wx_card: per account, the mini-program's are counted apart.
    assert_eq!(by_appid[&card_appid]["tickets_issued"], json!(2));
    assert_eq!(by_appid[&sb.mp().0]["tickets_issued"], json!(1));
    assert_eq!(by_appid[&card_appid]["stable_tokens_issued"], json!(1));
    // A wrong secret for the Official Account is refused as for the mini-program.
    let v = sb.token(&(card_appid.clone(), "0".repeat(32))).await;
    assert_eq!(v["errcode"], json!(40125));
}

#[tokio::test]
async fn card_ext_must_be_signed_with_the_owners_ticket_and_the_code_decrypts_only_with_its_token()
{
    let sb = start().await;
    let card_id = "pFS7Fjg8kV1IdDz01r4SQwMkuCKc";
    let card = sb
        .post("/sandbox/mp/cards", &json!({ "card_id": card_id }))
        .await;
    assert_eq!(
        card["owner_appid"],
        json!(sb.oa().0),
        "default owner: the Official Account"
    );

    let oa_token = sb.access_token(&sb.oa()).await;
    let mp_token = sb.access_token(&sb.mp()).await;
    let oa_ticket = sb.wx_card_ticket(&oa_token).await;
    let mp_ticket = sb.wx_card_ticket(&mp_token).await;
    let ts = unix_now().to_string();

    // Signed with the mini-program's own ticket: refused.
    let wrong = card_ext(&mp_ticket, card_id, &ts, "nonceA", json!({}));
    let v = sb
        .add_card(json!([{ "cardId": card_id, "cardExt": wrong }]))
        .await;
    let item = &v["cardList"][0];
    assert_eq!(item["isSuccess"], json!(false), "{v}");
    assert_eq!(item["reason"], json!("signature"));
    assert!(item["detail"].as_str().unwrap().contains(&sb.mp().0), "{v}");
    assert!(item.get("code").is_none());
    assert!(v["errMsg"].as_str().unwrap().starts_with("addCard:fail"));

    // Signed with the owner's ticket: claimed; outer_str and fixed_begintimestamp ride along
    // unsigned.
    let begin = unix_now() + 86_400;
    let good = card_ext(
        &oa_ticket,
        card_id,
        &ts,
        "nonceB",
        json!({ "outer_str": "channel-7", "fixed_begintimestamp": begin }),
    );
    let v = sb
        .add_card(json!([{ "cardId": card_id, "cardExt": good }]))
        .await;
    assert_eq!(v["errMsg"], json!("addCard:ok"));
    let item = &v["cardList"][0];
    assert_eq!(item["isSuccess"], json!(true), "{v}");
    assert_eq!(item["cardId"], json!(card_id));
    assert_eq!(item["cardExt"], json!(good), "cardExt comes back as passed");
    let encrypt_code = item["code"].as_str().unwrap().to_owned();

    // Decrypt: the owner's token only.
    let plain = sb.decrypt(&oa_token, &encrypt_code).await;
    assert_eq!(plain["errcode"], json!(0), "{plain}");
    let code = plain["code"].as_str().unwrap().to_owned();
    assert!(code.len() == 12 && code.bytes().all(|b| b.is_ascii_digit()));
    let foreign = sb.decrypt(&mp_token, &encrypt_code).await;
    assert_eq!(foreign["errcode"], json!(40056), "{foreign}");

    // What the sandbox recorded.
    let cards = sb.get("/sandbox/mp/cards").await;
    let claim = &cards[0]["claims"][0];
    assert_eq!(claim["code"], json!(code));
    assert_eq!(claim["outer_str"], json!("channel-7"));
    assert_eq!(claim["fixed_begintimestamp"], json!(begin));
    let verdicts = sb.get("/sandbox/mp/card_adds").await;
    assert_eq!(verdicts[0]["reason"], json!("signature"));
    assert_eq!(verdicts[1]["reason"], json!("ok"));
    let c = &sb.sandbox.counters()["mp"]["card_adds"];
    assert_eq!(c["accepted"], json!(1));
    assert_eq!(c["rejected_by_reason"]["signature"], json!(1));
    let log: Vec<_> = sb
        .sandbox
        .requests()
        .into_iter()
        .filter(|e| e.operation.as_deref() == Some("addCard"))
        .map(|e| e.signature.unwrap())
        .collect();
    assert_eq!(log, ["item 0: signature", "ok"]);
}

#[tokio::test]
async fn card_ext_rules_timestamp_forms_unsigned_fields_nonce_and_code_reuse() {
    let sb = start().await;
    let card_id = "pCustomCode0000000000000001";
    sb.post(
        "/sandbox/mp/cards",
        &json!({ "card_id": card_id, "custom_code": true }),
    )
    .await;
    let oa_token = sb.access_token(&sb.oa()).await;
    let ticket = sb.wx_card_ticket(&oa_token).await;
    let now = unix_now();
    let ts = now.to_string();

    let signed = |code: &str, nonce: &str| card_sign(&[&ticket, &ts, card_id, code, nonce]);
    // timestamp as a JSON number: the decimal text is what was signed.
    let as_number = json!({"code": "A001", "timestamp": now, "nonce_str": "n1",
                           "signature": signed("A001", "n1"), "outer_str": "x"})
    .to_string();
    // A custom-code card needs the code; an item without it is refused.
    let no_code = json!({"timestamp": ts, "nonce_str": "n2",
                         "signature": card_sign(&[&ticket, &ts, card_id, "n2"])})
    .to_string();
    // The code is signed: changing it after signing breaks the signature.
    let altered = json!({"code": "A999", "timestamp": ts, "nonce_str": "n3",
                         "signature": signed("A001", "n3")})
    .to_string();
    // cardExt must be a string, not an object.
    let object = json!({"code": "A002", "timestamp": ts, "nonce_str": "n4",
                        "signature": signed("A002", "n4")});
    let v = sb
        .add_card(json!([
            {"cardId": card_id, "cardExt": as_number},
            {"cardId": card_id, "cardExt": no_code},
            {"cardId": card_id, "cardExt": altered},
            {"cardId": card_id, "cardExt": object},
            {"cardId": "pNoSuchCard", "cardExt": as_number},
        ]))
        .await;
    let results: Vec<(bool, String)> = v["cardList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["isSuccess"].as_bool().unwrap(),
                i["reason"].as_str().unwrap_or("ok").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        results,
        vec![
            (true, "ok".into()),
            (false, "code".into()),
            (false, "signature".into()),
            (false, "bad_card_ext".into()),
            (false, "unknown_card".into()),
        ],
        "{v}"
    );
    assert_eq!(v["errMsg"], json!("addCard:ok"), "one item succeeded");

    // The same nonce_str again (another code): refused; the same code again: refused.
    let reuse_nonce = json!({"code": "A003", "timestamp": ts, "nonce_str": "n1",
                             "signature": signed("A003", "n1")})
    .to_string();
    let reuse_code = json!({"code": "A001", "timestamp": ts, "nonce_str": "n5",
                            "signature": signed("A001", "n5")})
    .to_string();
    // Too old a timestamp (signed correctly).
    let old = (now - 7300).to_string();
    let stale = json!({"code": "A004", "timestamp": old, "nonce_str": "n6",
                       "signature": card_sign(&[&ticket, &old, card_id, "A004", "n6"])})
    .to_string();
    let v = sb
        .add_card(json!([
            {"cardId": card_id, "cardExt": reuse_nonce},
            {"cardId": card_id, "cardExt": reuse_code},
            {"cardId": card_id, "cardExt": stale},
        ]))
        .await;
    let reasons: Vec<&str> = v["cardList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["nonce_reused", "code", "timestamp"], "{v}");

    // The custom code comes back encrypted and decrypts to itself.
    let cards = sb.get("/sandbox/mp/cards").await;
    let enc = cards[0]["claims"][0]["encrypt_code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sb.decrypt(&oa_token, &enc).await["code"], json!("A001"));

    // A ticket that expired no longer signs.
    sb.post("/sandbox/mp/expire_tickets", &json!({})).await;
    let late = json!({"code": "A005", "timestamp": ts, "nonce_str": "n7",
                      "signature": signed("A005", "n7")})
    .to_string();
    let v = sb
        .add_card(json!([{"cardId": card_id, "cardExt": late}]))
        .await;
    assert_eq!(v["cardList"][0]["reason"], json!("signature"), "{v}");
}

#[tokio::test]
async fn control_card_codes_auto_register_cards_for_the_official_account() {
    let sb = start().await;
    let v = sb
        .post(
            "/sandbox/mp/card_codes",
            &json!({"card_id": "pAnyCardId", "code": "110201201245"}),
        )
        .await;
    assert_eq!(v["owner_appid"], json!(sb.oa().0));
    let enc = v["encrypt_code"].as_str().unwrap().to_owned();
    let cards = sb.get("/sandbox/mp/cards").await;
    assert_eq!(cards[0]["card_id"], json!("pAnyCardId"));
    assert_eq!(cards[0]["auto_registered"], json!(true));
    let oa_token = sb.access_token(&sb.oa()).await;
    let mp_token = sb.access_token(&sb.mp()).await;
    assert_eq!(
        sb.decrypt(&oa_token, &enc).await["code"],
        json!("110201201245")
    );
    assert_eq!(sb.decrypt(&mp_token, &enc).await["errcode"], json!(40056));

    // A card registered as the mini-program's: its own token decrypts, the OA's does not.
    sb.post(
        "/sandbox/mp/cards",
        &json!({"card_id": "pMpCard", "owner_appid": sb.mp().0}),
    )
    .await;
    let enc = sb
        .post(
            "/sandbox/mp/card_codes",
            &json!({"card_id": "pMpCard", "code": "42"}),
        )
        .await["encrypt_code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sb.decrypt(&mp_token, &enc).await["code"], json!("42"));
    assert_eq!(sb.decrypt(&oa_token, &enc).await["errcode"], json!(40056));
    // An owner that is no account of the sandbox is refused.
    let r = sb
        .http
        .post(sb.url("/sandbox/mp/cards"))
        .json(&json!({"card_id": "pX", "owner_appid": "wxnobody"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // The Official Account's token is no mini-program token: service-card routes refuse it.
    let v = sb
        .post(
            &format!("/wxa/get_user_notify?access_token={oa_token}"),
            &json!({"openid": "o1", "notify_type": 1001, "notify_code": "c"}),
        )
        .await;
    assert_eq!(v["errcode"], json!(48001), "{v}");
}

// ---------------------------------------------------------------------------------------------
// §3 Tokens as WeChat issues them

#[tokio::test]
async fn stable_token_is_renewed_in_its_last_five_minutes_and_the_old_one_lives_on() {
    let sb = start().await;
    let mp = sb.mp();
    let first = sb.stable(&mp, false).await;
    assert_eq!(first["expires_in"], json!(7200));
    let t1 = first["access_token"].as_str().unwrap().to_owned();
    sb.advance(6899).await;
    let again = sb.stable(&mp, false).await;
    assert_eq!(again["access_token"], json!(t1));
    assert_eq!(again["expires_in"], json!(301));
    sb.advance(2).await; // 299 s left: the handover
    let renewed = sb.stable(&mp, false).await;
    let t2 = renewed["access_token"].as_str().unwrap().to_owned();
    assert_ne!(t2, t1);
    assert_eq!(renewed["expires_in"], json!(7200));
    assert_eq!(
        sb.use_token(&t1).await["errcode"],
        json!(0),
        "old one still valid"
    );
    assert_eq!(sb.stable(&mp, false).await["access_token"], json!(t2));
    sb.advance(300).await;
    assert_eq!(
        sb.use_token(&t1).await["errcode"],
        json!(42001),
        "then it expires"
    );
    assert_eq!(sb.use_token(&t2).await["errcode"], json!(0));

    // expires_in never below 300 whenever one asks.
    for _ in 0..30 {
        sb.advance(251).await;
        let v = sb.stable(&mp, false).await;
        assert!(v["expires_in"].as_u64().unwrap() >= 300, "{v}");
    }

    // The strict behaviour stays selectable.
    sb.post("/sandbox/mp/token_lifetime", &json!({"mode": "strict"}))
        .await;
    let s = sb.stable(&mp, false).await;
    let left = s["expires_in"].as_u64().unwrap();
    sb.advance(left - 1).await;
    let v = sb.stable(&mp, false).await;
    assert_eq!(v["access_token"], s["access_token"]);
    assert_eq!(v["expires_in"], json!(1));
}

#[tokio::test]
async fn normal_tokens_overlap_for_five_minutes() {
    let sb = start().await;
    let mp = sb.mp();
    let t1 = sb.token(&mp).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let t2 = sb.token(&mp).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(t1, t2);
    assert_eq!(sb.use_token(&t1).await["errcode"], json!(0));
    sb.advance(299).await;
    assert_eq!(sb.use_token(&t1).await["errcode"], json!(0));
    sb.advance(2).await;
    assert_eq!(sb.use_token(&t1).await["errcode"], json!(40001));
    assert_eq!(sb.use_token(&t2).await["errcode"], json!(0));
}

/// Our client's policy: keep the token, fetch a new one when at most 5 minutes are left.
async fn run_client_policy(sb: &Sb, endpoint: &str) -> (u32, Vec<Value>) {
    let mp = sb.mp();
    let total: u64 = 2 * 3600 + 10 * 60;
    let step: u64 = 30;
    let mut clock: u64 = 0;
    let mut fetches = 0;
    let mut held: Option<(String, u64)> = None; // (token, expires_at on the sandbox clock)
    let mut errors = Vec::new();
    while clock <= total {
        let need = held
            .as_ref()
            .is_none_or(|(_, expires_at)| expires_at.saturating_sub(clock) <= 300);
        if need {
            let v = if endpoint == "stable" {
                sb.stable(&mp, false).await
            } else {
                sb.token(&mp).await
            };
            fetches += 1;
            let token = v["access_token"].as_str().unwrap().to_owned();
            held = Some((token, clock + v["expires_in"].as_u64().unwrap()));
        }
        let v = sb.use_token(&held.as_ref().unwrap().0).await;
        if v["errcode"] != json!(0) {
            errors.push(v);
        }
        sb.advance(step).await;
        clock += step;
    }
    (fetches, errors)
}

#[tokio::test]
async fn a_client_refreshing_five_minutes_early_fetches_twice_in_two_hours_ten_without_errors() {
    for endpoint in ["stable", "token"] {
        let sb = start().await;
        let (fetches, errors) = run_client_policy(&sb, endpoint).await;
        assert_eq!(fetches, 2, "{endpoint}");
        assert!(errors.is_empty(), "{endpoint}: {errors:?}");
    }
}

#[tokio::test]
async fn force_refresh_is_30_seconds_apart_and_20_a_day() {
    let sb = start().await;
    let mp = sb.mp();
    // Start just after a Beijing midnight, so the ~10 minutes below stay within one day.
    let into_day = (unix_now() + 8 * 3600).rem_euclid(86_400) as u64;
    sb.advance(86_400 - into_day + 60).await;
    let s1 = sb.stable(&mp, true).await["access_token"].clone();
    // Within 30 s: not refreshed ("否则不会刷新"): the current token comes back.
    assert_eq!(sb.stable(&mp, true).await["access_token"], s1);
    assert_eq!(
        sb.sandbox.counters()["mp"]["stable_force_refresh_ignored"],
        json!(1)
    );
    sb.advance(30).await;
    let s2 = sb.stable(&mp, true).await["access_token"].clone();
    assert_ne!(s2, s1);
    assert_eq!(
        sb.use_token(s1.as_str().unwrap()).await["errcode"],
        json!(40001),
        "a forced refresh invalidates the previous token"
    );
    // 20 a day: 18 more (30 s apart) are honoured, the 21st is not.
    let mut last = s2;
    for _ in 0..18 {
        sb.advance(30).await;
        let next = sb.stable(&mp, true).await["access_token"].clone();
        assert_ne!(next, last);
        last = next;
    }
    sb.advance(30).await;
    assert_eq!(sb.stable(&mp, true).await["access_token"], last);
    assert_eq!(
        sb.sandbox.counters()["mp"]["stable_tokens_forced"],
        json!(20)
    );
    // The next day the limit starts again.
    sb.advance(86_400).await;
    assert_ne!(sb.stable(&mp, true).await["access_token"], last);
    // The limits are configurable.
    sb.post(
        "/sandbox/mp/token_lifetime",
        &json!({"force_refresh_interval_seconds": 0, "force_refresh_daily_limit": 1000}),
    )
    .await;
    let a = sb.stable(&mp, true).await["access_token"].clone();
    assert_ne!(sb.stable(&mp, true).await["access_token"], a);
}

// ---------------------------------------------------------------------------------------------
// §3 Quota errors: HTTP 200 with an errcode on the mini-program side

#[tokio::test]
async fn quota_faults_on_mini_program_routes_are_http_200_errcodes() {
    let sb = start().await;
    let mp = sb.mp();
    let token = sb.access_token(&mp).await;
    sb.post(
        "/sandbox/faults",
        &json!({"operation": "getStableAccessToken", "kind": "frequency_limited", "count": 1}),
    )
    .await;
    let r = sb
        .http
        .post(sb.url("/cgi-bin/stable_token"))
        .json(&json!({"grant_type": "client_credential", "appid": mp.0, "secret": mp.1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "never 429 on the mini-program side");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["errcode"], json!(45011));
    assert_eq!(
        v["errmsg"],
        json!("api minute-quota reach limit, must slower, retry next minute")
    );

    sb.post(
        "/sandbox/faults",
        &json!({"path_prefix": "/cgi-bin/ticket/", "kind": "daily_quota", "count": 1}),
    )
    .await;
    let r = sb
        .http
        .get(sb.url(&format!(
            "/cgi-bin/ticket/getticket?access_token={token}&type=jsapi"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"errcode": 45009, "errmsg": "reach max api daily quota limit"})
    );
    assert_eq!(
        sb.use_token(&token).await["errcode"],
        json!(0),
        "count 1 used up"
    );

    // errcode faults: by operationId or path, any route, HTTP 200.
    sb.post(
        "/sandbox/mp/errcode_faults",
        &json!({"path": "getStableAccessToken", "errcode": 45009, "count": 1}),
    )
    .await;
    assert_eq!(sb.stable(&mp, false).await["errcode"], json!(45009));
    sb.post(
        "/sandbox/mp/errcode_faults",
        &json!({"path": "/card/code/decrypt", "errcode": 45011, "count": 1}),
    )
    .await;
    let v = sb.decrypt(&token, "x").await;
    assert_eq!(v["errcode"], json!(45011));
    assert_eq!(
        v["errmsg"],
        json!("api minute-quota reach limit, must slower, retry next minute")
    );
}

// ---------------------------------------------------------------------------------------------
// §4 Service cards

async fn user_notify(sb: &Sb, token: &str, route: &str, body: Value) -> Value {
    sb.post(&format!("/wxa/{route}?access_token={token}"), &body)
        .await
}

#[tokio::test]
async fn service_card_notify_types_are_the_guides() {
    let sb = start().await;
    let token = sb.access_token(&sb.mp()).await;
    for (notify_type, expected) in [
        (2010, 0),
        (2011, 0),
        (1004, 0),
        (1005, 0),
        (1002, 85434),
        (1006, 85434),
        (1010, 85434),
        (2012, 85434),
    ] {
        let code = format!("code-{notify_type}");
        sb.post(
            "/sandbox/mp/notify_codes",
            &json!({"openid": "o1", "notify_type": notify_type, "notify_code": code}),
        )
        .await;
        let v = user_notify(
            &sb,
            &token,
            "get_user_notify",
            json!({"openid": "o1", "notify_type": notify_type, "notify_code": code}),
        )
        .await;
        assert_eq!(v["errcode"], json!(expected), "{notify_type}: {v}");
    }
}

#[tokio::test]
async fn payment_codes_activate_within_24h_and_update_for_30_days() {
    let sb = start().await;
    let token = sb.access_token(&sb.mp()).await;
    let reg = |code: &str| json!({"openid": "o1", "notify_type": 2001, "notify_code": code});
    sb.post("/sandbox/mp/notify_codes", &reg("4200000001"))
        .await;
    sb.post("/sandbox/mp/notify_codes", &reg("4200000002"))
        .await;
    let code = sb
        .get("/sandbox/mp/notify_ext?openid=o1&notify_code=4200000001")
        .await;
    assert_eq!(code["source"], json!("payment"));
    let set = |code: &str, check: bool| {
        let mut b = json!({"openid": "o1", "notify_type": 2001, "notify_code": code,
                           "content_json": "{\"cur_status\":1}"});
        if check {
            b["check_json"] = json!("{\"pay_amount\":1005,\"pay_time\":1683525070}");
        }
        b
    };
    // A payment code needs check_json at activation (by default).
    assert_eq!(
        user_notify(&sb, &token, "set_user_notify", set("4200000001", false)).await["errcode"],
        json!(85433)
    );
    sb.advance(23 * 3600).await;
    let token = sb.access_token(&sb.mp()).await;
    assert_eq!(
        user_notify(&sb, &token, "set_user_notify", set("4200000001", true)).await["errcode"],
        json!(0),
        "activated within 24 h"
    );
    sb.advance(3601).await;
    let token = sb.access_token(&sb.mp()).await;
    assert_eq!(
        user_notify(&sb, &token, "set_user_notify", set("4200000002", true)).await["errcode"],
        json!(85438),
        "not activated within 24 h"
    );
    // Updates for 30 days after activation.
    for _ in 0..29 {
        sb.advance(86_400).await;
    }
    let token = sb.access_token(&sb.mp()).await;
    assert_eq!(
        user_notify(&sb, &token, "set_user_notify", set("4200000001", false)).await["errcode"],
        json!(0),
        "day 29 after activation"
    );
    sb.advance(86_400).await;
    let token = sb.access_token(&sb.mp()).await;
    assert_eq!(
        user_notify(&sb, &token, "set_user_notify", set("4200000001", false)).await["errcode"],
        json!(85438)
    );
    let get = json!({"openid": "o1", "notify_type": 2001, "notify_code": "4200000001"});
    assert_eq!(
        user_notify(&sb, &token, "get_user_notify", get).await["errcode"],
        json!(85438)
    );
    let ext = json!({"openid": "o1", "notify_type": 2001, "notify_code": "4200000001",
                     "ext_json": "{}"});
    assert_eq!(
        user_notify(&sb, &token, "set_user_notifyext", ext).await["errcode"],
        json!(85437)
    );
}

#[tokio::test]
async fn frontend_codes_activate_within_5_minutes_and_update_for_24h() {
    let sb = start().await;
    let token = sb.access_token(&sb.mp()).await;
    let reg = |code: &str| json!({"openid": "o1", "notify_type": 1001, "notify_code": code});
    sb.post("/sandbox/mp/notify_codes", &reg("late")).await;
    sb.post("/sandbox/mp/notify_codes", &reg("prompt")).await;
    let set = |code: &str| {
        json!({"openid": "o1", "notify_type": 1001, "notify_code": code,
               "content_json": "{\"cur_status\":2}"})
    };
    let get = |code: &str| json!({"openid": "o1", "notify_type": 1001, "notify_code": code});
    // getUserNotify reports the activation deadline: 5 minutes after the code was obtained.
    let v = user_notify(&sb, &token, "get_user_notify", get("late")).await;
    let expire = v["notify_info"]["code_expire_time"].as_i64().unwrap();
    assert!((expire - (unix_now() + 300)).abs() <= 2, "{v}");
    assert_eq!(
        user_notify(&sb, &token, "set_user_notify", set("prompt")).await["errcode"],
        json!(0),
        "no check_json needed for a front-end code"
    );
    sb.advance(301).await;
    assert_eq!(
        user_notify(&sb, &token, "set_user_notify", set("late")).await["errcode"],
        json!(85438),
        "not activated within 5 minutes"
    );
    sb.advance(23 * 3600).await;
    let token = sb.access_token(&sb.mp()).await;
    assert_eq!(
        user_notify(&sb, &token, "set_user_notify", set("prompt")).await["errcode"],
        json!(0)
    );
    sb.advance(3600).await;
    let token = sb.access_token(&sb.mp()).await;
    assert_eq!(
        user_notify(&sb, &token, "set_user_notify", set("prompt")).await["errcode"],
        json!(85438),
        "24 h after activation"
    );

    // The source may be given explicitly: a 1001 code registered as a payment code gets 24 h.
    sb.post(
        "/sandbox/mp/notify_codes",
        &json!({"openid": "o1", "notify_type": 1001, "notify_code": "paid",
                "source": "payment", "requires_check_json": false}),
    )
    .await;
    sb.advance(3600).await;
    let token = sb.access_token(&sb.mp()).await;
    assert_eq!(
        user_notify(&sb, &token, "set_user_notify", set("paid")).await["errcode"],
        json!(0)
    );
}

// ---------------------------------------------------------------------------------------------
// §5 WeChat Pay: key selection during migration, header capitalisation

/// A signed `GET /v3/certificates` (signed by the merchant key), with `Wechatpay-Serial` set to
/// `serial` when given; returns (serial answered, signature verifies with that key).
async fn certificates_with_serial(sb: &Sb, serial: Option<&str>) -> (String, bool) {
    let id = identity();
    let path = "/v3/certificates";
    let ts = unix_now().to_string();
    let nonce = "5K8264ILTKCH16CQ2502SI8ZNMTM67VS";
    let message = format!("GET\n{path}\n{ts}\n{nonce}\n\n");
    let sig = id.merchant_key.sign_base64(message.as_bytes());
    let auth = format!(
        "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",timestamp=\"{ts}\",serial_no=\"{}\",signature=\"{sig}\"",
        id.mchid, id.merchant_serial_no
    );
    let mut req = sb
        .http
        .get(sb.url(path))
        .header("Authorization", auth)
        .header("Accept", "application/json");
    if let Some(s) = serial {
        req = req.header("wechatpay-serial", s); // any case is accepted
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200);
    let h = |n: &str| r.headers()[n].to_str().unwrap().to_owned();
    let (answered, rts, rnonce, rsig) = (
        h("Wechatpay-Serial"),
        h("Wechatpay-Timestamp"),
        h("Wechatpay-Nonce"),
        h("Wechatpay-Signature"),
    );
    let body = r.bytes().await.unwrap();
    let mut signed = format!("{rts}\n{rnonce}\n").into_bytes();
    signed.extend_from_slice(&body);
    signed.push(b'\n');
    let key = if answered == id.wechatpay_public_key_id {
        id.wechatpay_key.public_der()
    } else {
        assert_eq!(answered, id.platform_serial_no);
        id.platform_key.public_der()
    };
    let sig = base64::engine::general_purpose::STANDARD
        .decode(rsig)
        .unwrap();
    (
        answered,
        weixin_kit_sandbox::keys::verify(&key, &signed, &sig),
    )
}

#[tokio::test]
async fn migration_mode_answers_with_the_key_the_request_names() {
    let sb = start().await;
    let id = identity();
    let v = sb
        .post("/sandbox/signing_mode", &json!({"mode": "migration"}))
        .await;
    assert_eq!(v["mode"], json!("migration"));
    let (serial, ok) = certificates_with_serial(&sb, Some(&id.wechatpay_public_key_id)).await;
    assert_eq!(serial, id.wechatpay_public_key_id);
    assert!(ok);
    let (serial, ok) = certificates_with_serial(&sb, Some(&id.platform_serial_no)).await;
    assert_eq!(serial, id.platform_serial_no);
    assert!(ok);
    let (serial, ok) = certificates_with_serial(&sb, None).await;
    assert_eq!(
        serial, id.platform_serial_no,
        "no header: as before the migration"
    );
    assert!(ok);
    // The other modes ignore the header.
    sb.post("/sandbox/signing_mode", &json!({"mode": "public_key"}))
        .await;
    let (serial, _) = certificates_with_serial(&sb, Some(&id.platform_serial_no)).await;
    assert_eq!(serial, id.wechatpay_public_key_id);
    sb.post("/sandbox/signing_mode", &json!({"mode": "certificate"}))
        .await;
    let (serial, _) = certificates_with_serial(&sb, Some(&id.wechatpay_public_key_id)).await;
    assert_eq!(serial, id.platform_serial_no);
}

/// The raw response head for `request` (one request, `Connection: close`).
fn raw_exchange(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn wechat_pay_header_names_are_written_as_wechat_writes_them() {
    let sb = start().await;
    let addr = sb.sandbox.main_addr();
    // No Authorization: 401 SIGN_ERROR, still signed; lower-case request headers are fine.
    let raw = tokio::task::spawn_blocking(move || {
        raw_exchange(
            addr,
            "GET /v3/certificates HTTP/1.1\r\nhost: x\r\naccept: application/json\r\nwechatpay-serial: X\r\nconnection: close\r\n\r\n",
        )
    })
    .await
    .unwrap();
    let head = raw.split("\r\n\r\n").next().unwrap();
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    for name in [
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Signature",
        "Wechatpay-Serial",
        "Wechatpay-Signature-Type",
        "Request-ID",
    ] {
        assert!(
            head.contains(&format!("\r\n{name}: ")),
            "{name} not written as such in:\n{head}"
        );
    }
    assert!(head.contains("\r\nWechatpay-Signature-Type: WECHATPAY2-SHA256-RSA2048\r\n"));
    // Mini-program answers carry Request-ID too, and bodies are untouched.
    let raw = tokio::task::spawn_blocking(move || {
        raw_exchange(
            addr,
            "GET /cgi-bin/token?grant_type=x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
    })
    .await
    .unwrap();
    assert!(raw.contains("\r\nRequest-ID: "), "{raw}");
    assert!(
        raw.ends_with(r#"{"errcode":40002,"errmsg":"invalid grant_type"}"#),
        "{raw}"
    );
}

// ---------------------------------------------------------------------------------------------
// §2 The published (minimal) COUPON.SEND variant

/// One notification as the merchant's endpoint received it.
type Received = (axum::http::HeaderMap, Vec<u8>);

#[tokio::test]
async fn minimal_coupon_notification_has_no_summary_or_original_type_and_empty_aad() {
    let sb = start().await;
    let id = identity();
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let sink = sink.clone();
                async move {
                    sink.lock().unwrap().push((headers, body.to_vec()));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let report = sb
        .post(
            "/sandbox/notifications/coupon",
            &json!({"stock_id": "1212", "notify_url": url, "variant": "minimal",
                    "openid": "o1"}),
        )
        .await;
    assert_eq!(report["delivered"], json!(true), "{report}");
    let (headers, body) = received.lock().unwrap().last().cloned().unwrap();
    let envelope: Value = serde_json::from_slice(&body).unwrap();
    assert!(envelope.get("summary").is_none(), "{envelope}");
    assert!(envelope["resource"].get("original_type").is_none());
    assert_eq!(envelope["resource"]["associated_data"], json!(""));
    assert_eq!(envelope["event_type"], json!("COUPON.SEND"));

    // Signed (public-key mode by default) over TIMESTAMP\nNONCE\nBODY\n.
    let h = |n: &str| headers[n].to_str().unwrap().to_owned();
    assert_eq!(h("Wechatpay-Serial"), id.wechatpay_public_key_id);
    let mut signed =
        format!("{}\n{}\n", h("Wechatpay-Timestamp"), h("Wechatpay-Nonce")).into_bytes();
    signed.extend_from_slice(&body);
    signed.push(b'\n');
    let sig = base64::engine::general_purpose::STANDARD
        .decode(h("Wechatpay-Signature"))
        .unwrap();
    assert!(weixin_kit_sandbox::keys::verify(
        &id.wechatpay_key.public_der(),
        &signed,
        &sig
    ));

    // Decrypts with the APIv3 key and the empty string as AAD (and not with "coupon").
    let r = &envelope["resource"];
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(r["ciphertext"].as_str().unwrap())
        .unwrap();
    let key = id.apiv3_key.expose().as_bytes().to_vec();
    let nonce = r["nonce"].as_str().unwrap().as_bytes().to_vec();
    let plain = weixin_kit_sandbox::keys::aes_gcm_decrypt(&key, &nonce, b"", &sealed)
        .expect("AAD is the empty string");
    assert!(weixin_kit_sandbox::keys::aes_gcm_decrypt(&key, &nonce, b"coupon", &sealed).is_none());
    let payload: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(payload["stock_id"], json!("1212"));
    assert_eq!(payload["openid"], json!("o1"));

    // The default variant keeps the official example's fields.
    let report = sb
        .post(
            "/sandbox/notifications/coupon",
            &json!({"stock_id": "1212", "notify_url": url}),
        )
        .await;
    assert!(report["envelope"]["summary"].is_string());
    assert_eq!(
        report["envelope"]["resource"]["original_type"],
        json!("coupon")
    );
    assert_eq!(
        report["envelope"]["resource"]["associated_data"],
        json!("coupon")
    );
}
