//! The third-party platform side over plain HTTP: pushes checked and decrypted by an independent
//! Python `cryptography` script (common/wxbizmsgcrypt_decrypt.py), the token chain, refresh
//! token rotation and revocation, and the permission-set check on the mini-program routes.

use serde_json::{json, Value};
use weixin_kit_sandbox::{ComponentUpdate, Sandbox, SandboxConfig};

use crate::common::component::{assert_errcode, python_decrypt, receiver, start};
use crate::common::identity;

#[tokio::test]
async fn pushed_ticket_decrypts_and_verifies_independently() {
    let env = start().await;
    let delivery = env.sandbox.push_component_verify_ticket().await;
    assert!(delivery.delivered, "{delivery:?}");
    assert_eq!(delivery.status, Some(200));
    let push = env.inbox.lock().unwrap()[0].clone();
    assert_eq!(push.query["encrypt_type"], "aes");
    for name in ["timestamp", "nonce", "msg_signature", "signature"] {
        assert!(!push.query[name].is_empty(), "{name}: {push:?}");
    }
    let s = env.sandbox.component_settings();
    let event = env.last_push();
    assert_eq!(event["envelope_appid"], json!(s.component_appid));
    assert_eq!(event["fields"]["AppId"], json!(s.component_appid));
    assert_eq!(
        event["fields"]["InfoType"],
        json!("component_verify_ticket")
    );
    let created: i64 = event["fields"]["CreateTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((created - crate::common::unix_now()).abs() < 60, "{event}");
    assert!(event["fields"]["ComponentVerifyTicket"]
        .as_str()
        .unwrap()
        .starts_with("ticket@@@"));

    // The checks can fail: a wrong Token, a wrong AppID, a tampered Encrypt.
    let wrong_token = python_decrypt(
        "not-the-token",
        s.encoding_aes_key.expose(),
        &s.component_appid,
        &push,
    );
    assert!(wrong_token.unwrap_err().contains("signature"));
    let wrong_appid = python_decrypt(
        s.token.expose(),
        s.encoding_aes_key.expose(),
        "wx0000000000000000",
        &push,
    );
    assert!(wrong_appid.unwrap_err().contains("appid"));
    let mut tampered = push.clone();
    tampered.body = tampered.body.replacen("<![CDATA[", "<![CDATA[A", 2);
    assert!(python_decrypt(
        s.token.expose(),
        s.encoding_aes_key.expose(),
        &s.component_appid,
        &tampered
    )
    .is_err());

    // Recorded, with the plaintext as a diagnostic.
    let pushes = env.sandbox.component_pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].info_type, "component_verify_ticket");
    assert_eq!(pushes[0].plaintext, event["xml"].as_str().unwrap());
}

#[tokio::test]
async fn token_chain_reaches_set_user_notify_ext_as_the_authorizer() {
    let env = start().await;
    let (token, appid, info) = env.authorized(json!({})).await;
    assert_eq!(info["authorizer_appid"], json!(appid));
    assert_eq!(info["expires_in"], json!(7200));
    let ids: Vec<u64> = info["func_info"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["funcscope_category"]["id"].as_u64().unwrap())
        .collect();
    assert!(ids.contains(&18), "{info}");
    let access = info["authorizer_access_token"].as_str().unwrap();
    let refresh = info["authorizer_refresh_token"].as_str().unwrap();
    assert_eq!(env.set_user_notify_ext(access).await["errcode"], json!(0));

    let v = env.refresh(&token, &appid, refresh).await;
    assert_eq!(v["expires_in"], json!(7200), "{v}");
    assert_eq!(
        v["authorizer_refresh_token"],
        json!(refresh),
        "no rotation armed"
    );
    let fresh = v["authorizer_access_token"].as_str().unwrap();
    assert_ne!(fresh, access);
    assert_eq!(env.get_user_notify(fresh).await["errcode"], json!(0));

    let c = env.sandbox.component_counters();
    assert_eq!(c["component_tokens_issued"], json!(1), "{c}");
    assert_eq!(c["query_auth_calls"], json!(1), "{c}");
    assert_eq!(c["refreshes"][&appid], json!(1), "{c}");
    // The same through the control API.
    let over_http = env
        .http
        .get(format!(
            "{}/sandbox/component/counters",
            env.sandbox.base_url()
        ))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(over_http, env.sandbox.component_counters());
}

#[tokio::test]
async fn component_token_checks_credentials_and_ticket() {
    let env = start().await;
    let s = env.sandbox.component_settings();
    let ticket = env.ticket().await;
    let call = |appid: &str, secret: &str, ticket: &str| {
        env.post(
            "/cgi-bin/component/api_component_token",
            json!({"component_appid": appid, "component_appsecret": secret,
                   "component_verify_ticket": ticket}),
        )
    };
    let secret = s.component_appsecret.expose();
    assert_errcode(
        &call("wx0000000000000000", secret, &ticket).await,
        61011,
        "invalid component",
    );
    assert_errcode(
        &call(&s.component_appid, "wrong", &ticket).await,
        40125,
        "invalid appsecret",
    );
    assert_errcode(
        &call(&s.component_appid, "", &ticket).await,
        41004,
        "appsecret missing",
    );
    assert_errcode(
        &call(&s.component_appid, secret, "ticket@@@never-pushed").await,
        61006,
        "component ticket is invalid",
    );
    assert!(call(&s.component_appid, secret, &ticket).await["component_access_token"].is_string());
    // 12 hours later the ticket is expired.
    env.sandbox
        .mp()
        .advance_clock(std::time::Duration::from_secs(12 * 3600 + 1));
    assert_errcode(
        &call(&s.component_appid, secret, &ticket).await,
        61005,
        "component ticket is expired",
    );
    let c = env.sandbox.component_counters();
    assert_eq!(c["component_token_calls"], json!(6), "{c}");
    assert_eq!(c["component_tokens_issued"], json!(1), "{c}");
}

#[tokio::test]
async fn component_token_and_codes_are_checked() {
    let env = start().await;
    let token = env.component_token().await;
    let (appid, code) = env.authorize(json!({})).await;
    assert_errcode(
        &env.query_auth("90_not-a-token-of-ours", &code).await,
        40001,
        "invalid credential, access_token is invalid or not latest",
    );
    let first = env.query_auth(&token, &code).await;
    assert!(first["authorization_info"].is_object(), "{first}");
    // Single use.
    assert_errcode(
        &env.query_auth(&token, &code).await,
        61009,
        "code is invalid",
    );
    // A code past its 10 minutes.
    let (_, late) = env.authorize(json!({"authorizer_appid": appid})).await;
    env.sandbox
        .mp()
        .advance_clock(std::time::Duration::from_secs(601));
    assert_errcode(
        &env.query_auth(&token, &late).await,
        61010,
        "code is expired",
    );
    // An expired component_access_token.
    env.post("/sandbox/component/expire_tokens", json!({}))
        .await;
    let (_, code3) = env.authorize(json!({"authorizer_appid": appid})).await;
    assert_errcode(
        &env.query_auth(&token, &code3).await,
        42001,
        "access_token expired",
    );
}

#[tokio::test]
async fn revoked_authorization_answers_61023_and_its_tokens_die() {
    let env = start().await;
    let (token, appid, info) = env.authorized(json!({})).await;
    let access = info["authorizer_access_token"].as_str().unwrap();
    let refresh = info["authorizer_refresh_token"].as_str().unwrap();
    let revoked = env
        .post(
            "/sandbox/component/revoke",
            json!({"authorizer_appid": appid}),
        )
        .await;
    assert_eq!(revoked["delivered"], json!(true), "{revoked}");
    let event = env.last_push();
    assert_eq!(event["fields"]["InfoType"], json!("unauthorized"));
    assert_eq!(event["fields"]["AuthorizerAppid"], json!(appid));
    assert_errcode(
        &env.refresh(&token, &appid, refresh).await,
        61023,
        "refresh_token is invalid",
    );
    assert_eq!(env.get_user_notify(access).await["errcode"], json!(40001));
    // A new authorization issues a new refresh token; the revoked one stays dead.
    let (_, code) = env.authorize(json!({"authorizer_appid": appid})).await;
    let again = env.query_auth(&token, &code).await["authorization_info"].clone();
    assert_ne!(again["authorizer_refresh_token"], json!(refresh));
    assert_errcode(
        &env.refresh(&token, &appid, refresh).await,
        61023,
        "refresh_token is invalid",
    );
}

#[tokio::test]
async fn armed_rotation_replaces_the_refresh_token_once() {
    let env = start().await;
    let (token, appid, info) = env.authorized(json!({})).await;
    let old = info["authorizer_refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    env.post(
        "/sandbox/component/rotate_refresh_token",
        json!({"authorizer_appid": appid}),
    )
    .await;
    let v = env.refresh(&token, &appid, &old).await;
    let new = v["authorizer_refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new, old, "{v}");
    assert!(new.starts_with("refreshtoken@@@"));
    assert_errcode(
        &env.refresh(&token, &appid, &old).await,
        61023,
        "refresh_token is invalid",
    );
    // Not armed any more: the new one is answered back unchanged.
    let v = env.refresh(&token, &appid, &new).await;
    assert_eq!(v["authorizer_refresh_token"], json!(new), "{v}");
    let c = env.sandbox.component_counters();
    assert_eq!(c["refreshes"][&appid], json!(3), "{c}");
    assert_eq!(c["refreshes_succeeded"][&appid], json!(2), "{c}");
    assert_eq!(c["refresh_tokens_rotated"], json!(1), "{c}");
}

#[tokio::test]
async fn without_permission_set_18_service_cards_are_refused() {
    let env = start().await;
    let (token, appid, info) = env.authorized(json!({"func_ids": [17, 19]})).await;
    let access = info["authorizer_access_token"].as_str().unwrap();
    // The documented code for a permission set not granted (权限集常见排错指南).
    assert_errcode(
        &env.set_user_notify_ext(access).await,
        61007,
        "api is unauthorized to component",
    );
    assert_errcode(
        &env.get_user_notify(access).await,
        61007,
        "api is unauthorized to component",
    );
    // Configurable to 48001 "api unauthorized".
    env.sandbox
        .configure_component(ComponentUpdate {
            missing_permission_errcode: Some(48001),
            ..ComponentUpdate::default()
        })
        .unwrap();
    let upd = env
        .post(
            "/sandbox/component/update_authorization",
            json!({"authorizer_appid": appid, "func_ids": [17]}),
        )
        .await;
    assert_eq!(upd["push"]["delivered"], json!(true), "{upd}");
    let event = env.last_push();
    assert_eq!(event["fields"]["InfoType"], json!("updateauthorized"));
    assert_errcode(
        &env.set_user_notify_ext(access).await,
        48001,
        "api unauthorized",
    );
    // Granting 18 lets the same token through.
    env.post(
        "/sandbox/component/update_authorization",
        json!({"authorizer_appid": appid, "func_ids": [17, 18]}),
    )
    .await;
    assert_eq!(env.set_user_notify_ext(access).await["errcode"], json!(0));
    let _ = token;
}

#[tokio::test]
async fn control_api_configures_the_platform_and_refuses_bad_keys() {
    let env = start().await;
    let bad = env
        .http
        .post(format!(
            "{}/sandbox/component/config",
            env.sandbox.base_url()
        ))
        .json(&json!({"encoding_aes_key": "too-short"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    // A new key and token: the next push verifies with them, not the old ones.
    let old = env.sandbox.component_settings();
    // 43 characters whose last one leaves non-zero bits past the 32nd byte, as WeChat's random
    // keys often do: accepted.
    let new_key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    env.post(
        "/sandbox/component/config",
        json!({"encoding_aes_key": new_key, "token": "tok3n"}),
    )
    .await;
    env.sandbox.push_component_verify_ticket().await;
    let push = env.inbox.lock().unwrap().last().cloned().unwrap();
    assert!(python_decrypt("tok3n", new_key, &old.component_appid, &push).is_ok());
    assert!(python_decrypt(
        old.token.expose(),
        old.encoding_aes_key.expose(),
        &old.component_appid,
        &push
    )
    .is_err());
    // No push URL: the push is recorded as undelivered.
    env.post("/sandbox/component/config", json!({"push_url": ""}))
        .await;
    let d = env.post("/sandbox/component/push_ticket", json!({})).await;
    assert_eq!(d["delivered"], json!(false), "{d}");
    assert!(d["error"].as_str().unwrap().contains("push URL"), "{d}");
    // Unknown authorizer.
    let r = env
        .http
        .post(format!(
            "{}/sandbox/component/revoke",
            env.sandbox.base_url()
        ))
        .json(&json!({"authorizer_appid": "wxnobody"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn tickets_are_pushed_on_a_configured_interval() {
    let (url, inbox) = receiver().await;
    let sandbox = Sandbox::start(SandboxConfig {
        identity: Some(identity()),
        component_push_url: Some(url),
        component_ticket_interval: Some(std::time::Duration::from_secs(1)),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    // Waits for two pushes (no timing asserted: a generous bound only ends a hung test).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while inbox.lock().unwrap().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no scheduled pushes");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let tickets: Vec<String> = sandbox
        .component_pushes()
        .iter()
        .map(|p| {
            assert_eq!(p.info_type, "component_verify_ticket");
            assert!(p.delivered, "{p:?}");
            p.plaintext.clone()
        })
        .collect();
    assert_ne!(tickets[0], tickets[1], "each push carries a new ticket");
    // Stopped by the control API (served in-process here).
    sandbox
        .control(
            "POST",
            "/sandbox/component/config",
            Some(json!({"ticket_interval_secs": 0})),
        )
        .await
        .unwrap();
    let cfg = sandbox
        .control("GET", "/sandbox/component/config", None)
        .await
        .unwrap();
    assert_eq!(cfg["ticket_interval_secs"], Value::Null, "{cfg}");
    assert_eq!(cfg["component_appid"], json!(identity().component_appid));
}

#[tokio::test]
async fn debug_output_hides_tickets_codes_and_secrets() {
    let env = start().await;
    let a = env.sandbox.authorize_component(None, None).await.unwrap();
    let text = format!("{a:?} {:?}", env.sandbox.component_settings());
    let s = env.sandbox.component_settings();
    for secret in [
        a.authorization_code.as_str(),
        s.component_appsecret.expose(),
        s.token.expose(),
        s.encoding_aes_key.expose(),
    ] {
        assert!(!text.contains(secret), "{text}");
    }
    let d = env.sandbox.push_component_verify_ticket().await;
    let ticket = d
        .plaintext
        .split("<ComponentVerifyTicket><![CDATA[")
        .nth(1)
        .unwrap()
        .split("]]>")
        .next()
        .unwrap()
        .to_owned();
    assert!(!format!("{d:?}").contains(&ticket));
}

#[tokio::test]
async fn errcode_faults_reach_the_platform_routes() {
    let env = start().await;
    let (token, appid, info) = env.authorized(json!({})).await;
    let refresh = info["authorizer_refresh_token"].as_str().unwrap();
    // A component_access_token WeChat no longer takes, once (what a client's
    // compare-and-expire path meets), by operationId.
    env.post(
        "/sandbox/mp/errcode_faults",
        json!({"path": "getAuthorizerAccessToken", "errcode": 40001, "count": 1}),
    )
    .await;
    assert_errcode(
        &env.refresh(&token, &appid, refresh).await,
        40001,
        "invalid credential, access_token is invalid or not latest",
    );
    assert!(env.refresh(&token, &appid, refresh).await["authorizer_access_token"].is_string());
    // By path, with the platform's errmsg.
    env.post(
        "/sandbox/mp/errcode_faults",
        json!({"path": "/cgi-bin/component/api_component_token", "errcode": 61004, "errmsg": "access clientip is not registered", "count": 1}),
    )
    .await;
    let v = env.component_token_with("ticket@@@x").await;
    assert_errcode(&v, 61004, "access clientip is not registered");
    env.post(
        "/sandbox/mp/errcode_faults",
        json!({"path": "queryAuth", "errcode": 61010, "count": 1}),
    )
    .await;
    assert_errcode(
        &env.query_auth(&token, "any").await,
        61010,
        "code is expired",
    );
    let calls = &env.sandbox.mp().counters()["calls"];
    assert_eq!(calls["getAuthorizerAccessToken"], json!(2), "{calls}");
}
