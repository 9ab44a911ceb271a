//! The third-party platform client (第三方平台) against the sandbox, which plays WeChat's side
//! on its own (its WXBizMsgCrypt, token routes, counters): the push URL of a web app receiving
//! tickets and authorization events, the token chain, an authorizer's mini-program calls, and
//! four processes sharing one real Redis for fifty authorizers.

use serde_json::{json, Value};
use weixin_kit::bridge::{Callbacks, Client, ErrorDescription, ErrorKind, Family};
use weixin_kit::component::{ComponentClient, ComponentPush};
use weixin_kit::dispatch::JsonArgs;
use weixin_kit::mp::token::keys;
use weixin_kit::Error;
use weixin_kit_sandbox::Sandbox;

use crate::common::component::{component_builder, counter, receive_pushes, refreshes};
use crate::common::{mp_error, CODE, NOTIFY_TYPE, OPENID};

fn pay_info() -> Value {
    json!({
        "pay_info": {"transaction_id": CODE, "pay_amount": 2001, "pay_time": 1683546394},
    })
}

fn json_args(v: Value) -> JsonArgs {
    let Value::Object(map) = v else {
        panic!("arguments are an object")
    };
    JsonArgs::new(map)
}

fn mp_calls(sb: &Sandbox, op: &str) -> u64 {
    sb.mp().counters()["calls"][op].as_u64().unwrap_or(0)
}

/// The ticket inside a delivered push (the sandbox's diagnostic copy of the event XML), to check
/// it never shows anywhere else.
fn ticket_of(plaintext: &str) -> String {
    let start = plaintext.find("<ComponentVerifyTicket><![CDATA[").unwrap() + 32;
    let end = plaintext[start..].find("]]>").unwrap();
    plaintext[start..start + end].to_owned()
}

/// A client whose web app receives the sandbox's pushes, with one ticket already received.
async fn platform(
    sb: &Sandbox,
) -> (
    ComponentClient,
    tokio::sync::mpsc::UnboundedReceiver<weixin_kit::Result<ComponentPush>>,
) {
    let client = component_builder(sb).build().unwrap();
    let mut pushes = receive_pushes(sb, client.clone()).await;
    let delivery = sb.push_component_verify_ticket().await;
    assert!(delivery.delivered, "{delivery:?}");
    let push = pushes.recv().await.unwrap().unwrap();
    assert!(
        matches!(push, ComponentPush::VerifyTicket { .. }),
        "{push:?}"
    );
    (client, pushes)
}

/// The `authorized` push for a new authorizer (permission sets `func_ids`, default 17, 18, 19)
/// and `authorize` with its code: the authorizer's appid.
async fn authorized(
    sb: &Sandbox,
    client: &ComponentClient,
    pushes: &mut tokio::sync::mpsc::UnboundedReceiver<weixin_kit::Result<ComponentPush>>,
    func_ids: Option<Vec<u32>>,
) -> String {
    let granted = sb.authorize_component(None, func_ids).await.unwrap();
    let ComponentPush::Authorized(event) = pushes.recv().await.unwrap().unwrap() else {
        panic!("expected the authorized push");
    };
    assert_eq!(event.authorizer_appid, granted.authorizer_appid);
    let code = event.authorization_code.unwrap();
    let auth = client.authorize(code.expose()).await.unwrap();
    assert_eq!(auth.authorizer_appid, granted.authorizer_appid);
    auth.authorizer_appid
}

/// Issue 15's chain, from the first push to a call as the merchant: ticket push → component
/// token → authorization code (authorized push) → authorizer token → setUserNotifyExt with it.
#[tokio::test]
async fn ticket_push_to_set_user_notify_ext_as_the_authorizer() {
    let sb = crate::common::sandbox().await;
    let client = component_builder(&sb).build().unwrap();
    let mut pushes = receive_pushes(&sb, client.clone()).await;

    // No ticket yet: a typed error saying so, and nothing sent.
    let e = client.component_access_token().await.unwrap_err();
    let Error::Config { detail } = &e else {
        panic!("{e:?}")
    };
    assert!(detail.contains("no component_verify_ticket"), "{detail}");
    assert_eq!(counter(&sb, "component_token_calls"), 0);

    // The ticket push, received by the app's URL, answered `success`.
    let delivery = sb.push_component_verify_ticket().await;
    assert!(delivery.delivered, "{delivery:?}");
    assert_eq!(delivery.response.as_deref(), Some("success"));
    let ticket = ticket_of(&delivery.plaintext);
    let push = pushes.recv().await.unwrap().unwrap();
    let event = push.to_json();
    assert_eq!(event["info_type"], "component_verify_ticket");
    assert!(!event.to_string().contains(&ticket), "{event}");
    assert!(!format!("{push:?} {client:?}").contains(&ticket));
    let s = sb.component_settings();
    let shown = format!("{client:?} {:?}", component_builder(&sb));
    for secret in [&s.component_appsecret, &s.token, &s.encoding_aes_key] {
        assert!(!shown.contains(secret.expose()), "{shown}");
    }
    assert!(shown.contains(&s.component_appid), "{shown}");
    let stored = client
        .token_store()
        .get(&keys::component_verify_ticket(client.component_appid()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.value.expose(), ticket);

    // The merchant authorizes: the authorized push carries the code; authorize exchanges it.
    let granted = sb.authorize_component(None, None).await.unwrap();
    let ComponentPush::Authorized(authorized) = pushes.recv().await.unwrap().unwrap() else {
        panic!("expected the authorized push");
    };
    let code = authorized.authorization_code.clone().unwrap();
    assert_eq!(code.expose(), granted.authorization_code);
    let auth = client.authorize(code.expose()).await.unwrap();
    assert_eq!(auth.authorizer_appid, granted.authorizer_appid);
    assert_eq!(auth.func_info, vec![17, 18, 19]);
    assert_eq!(counter(&sb, "component_token_calls"), 1);
    assert_eq!(counter(&sb, "query_auth_succeeded"), 1);

    // As the merchant: the authorizer token from queryAuth, no refresh needed.
    let merchant = client.authorizer(&auth.authorizer_appid).unwrap();
    assert_eq!(merchant.appid(), auth.authorizer_appid);
    merchant
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap();
    assert_eq!(mp_calls(&sb, "setUserNotifyExt"), 1);
    assert_eq!(refreshes(&sb, &auth.authorizer_appid), 0);
    let token = client
        .authorizer_access_token(&auth.authorizer_appid)
        .await
        .unwrap();
    assert_eq!(merchant.access_token().await.unwrap(), token);
    assert!(!format!("{merchant:?}").contains(token.expose()));

    // The authorizer token expires at WeChat: 42001, one refresh with the refresh token, one
    // resend — the mini-program rule as it is.
    sb.mp().expire_tokens();
    merchant
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap();
    assert_eq!(mp_calls(&sb, "setUserNotifyExt"), 3);
    assert_eq!(refreshes(&sb, &auth.authorizer_appid), 1);
    assert_ne!(merchant.access_token().await.unwrap(), token);
}

/// 40001/42001 with the component token: compare-and-expire, one new token, one resend.
#[tokio::test]
async fn a_rejected_component_token_is_replaced_once() {
    let sb = crate::common::sandbox().await;
    let (client, mut pushes) = platform(&sb).await;
    let appid = authorized(&sb, &client, &mut pushes, None).await;
    let first = client.component_access_token().await.unwrap();
    assert_eq!(counter(&sb, "component_token_calls"), 1);

    // Every token expires at WeChat: the call as the merchant meets 42001 (one refresh of the
    // authorizer token), whose refresh meets 42001 with the component token (one new component
    // token, the refresh sent once more).
    sb.component().expire_tokens();
    sb.mp().expire_tokens();
    client
        .authorizer(&appid)
        .unwrap()
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap();
    assert_eq!(counter(&sb, "component_token_calls"), 2);
    assert_eq!(
        mp_calls(&sb, "getAuthorizerAccessToken"),
        2,
        "the refresh refused with 42001, and its one resend"
    );
    assert_eq!(
        refreshes(&sb, &appid),
        1,
        "one refresh got past the token check"
    );
    assert_eq!(mp_calls(&sb, "setUserNotifyExt"), 2);
    assert_ne!(client.component_access_token().await.unwrap(), first);
}

/// A refresh token rotated by WeChat is persisted before the access token is used, and the old
/// one is never sent again.
#[tokio::test]
async fn a_rotated_refresh_token_is_persisted_and_the_old_one_never_reused() {
    let sb = crate::common::sandbox().await;
    let (client, mut pushes) = platform(&sb).await;
    let appid = authorized(&sb, &client, &mut pushes, None).await;
    let refresh_key = keys::authorizer_refresh_token(client.component_appid(), &appid);
    let stored = |client: &ComponentClient| {
        let client = client.clone();
        let key = refresh_key.clone();
        async move { client.token_store().get(&key).await.unwrap().unwrap().value }
    };
    let original = stored(&client).await;

    sb.arm_refresh_token_rotation(&appid).unwrap();
    sb.mp().expire_tokens();
    let merchant = client.authorizer(&appid).unwrap();
    merchant
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap();
    assert_eq!(refreshes(&sb, &appid), 1);
    assert_eq!(counter(&sb, "refresh_tokens_rotated"), 1);
    let rotated = stored(&client).await;
    assert_ne!(rotated, original, "the new refresh token was stored");

    // Twice more: every refresh succeeds, so none used the old token (it answers 61023 now).
    for round in 2..=3 {
        sb.mp().expire_tokens();
        merchant
            .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
            .await
            .unwrap();
        assert_eq!(refreshes(&sb, &appid), round);
        assert_eq!(
            sb.component_counters()["refreshes_succeeded"][&appid],
            json!(round)
        );
    }
    assert_eq!(stored(&client).await, rotated);

    // A second instance over the same store (a restart) uses the rotated one too.
    let other = component_builder(&sb)
        .token_store(client.token_store().clone())
        .build()
        .unwrap();
    sb.mp().expire_tokens();
    other
        .authorizer(&appid)
        .unwrap()
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap();
    assert_eq!(
        sb.component_counters()["refreshes_succeeded"][&appid],
        json!(4)
    );
}

/// A revoked authorization whose push was missed: the access token answers 40001, the refresh
/// 61023 → NotAuthorized; the tokens are cleared and no refresh is attempted again.
#[tokio::test]
async fn a_revoked_authorization_is_not_authorized_and_stops_refreshing() {
    let sb = crate::common::sandbox().await;
    let (client, mut pushes) = platform(&sb).await;
    let appid = authorized(&sb, &client, &mut pushes, None).await;
    let merchant = client.authorizer(&appid).unwrap();
    // The push is lost: the app's URL is not reached.
    sb.configure_component(weixin_kit_sandbox::ComponentUpdate {
        push_url: Some(String::new()),
        ..Default::default()
    })
    .unwrap();
    let delivery = sb.revoke_component_authorization(&appid).await.unwrap();
    assert!(!delivery.delivered);

    let e = merchant
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap_err();
    let Error::NotAuthorized {
        authorizer_appid,
        detail,
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(authorizer_appid, &appid);
    assert!(detail.contains("61023"), "{detail}");
    assert!(e.to_string().contains("authorize"), "{e}");
    assert_eq!(refreshes(&sb, &appid), 1);
    let d = ErrorDescription::from(&e);
    assert_eq!(d.kind, ErrorKind::NotAuthorized);
    assert_eq!(d.kind.class_name(), "NotAuthorizedError");
    assert_eq!(d.field("authorizer_appid"), json!(appid));
    for key in [
        keys::authorizer_refresh_token(client.component_appid(), &appid),
        keys::authorizer_access_token(client.component_appid(), &appid),
    ] {
        assert!(client.token_store().get(&key).await.unwrap().is_none());
    }

    let calls = mp_calls(&sb, "setUserNotifyExt");
    for _ in 0..3 {
        let e = merchant
            .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::NotAuthorized { .. }), "{e:?}");
        let e = client.authorizer_access_token(&appid).await.unwrap_err();
        assert!(matches!(e, Error::NotAuthorized { .. }), "{e:?}");
    }
    assert_eq!(refreshes(&sb, &appid), 1, "no further refresh requests");
    assert_eq!(mp_calls(&sb, "setUserNotifyExt"), calls, "nor calls");
}

/// The `unauthorized` push itself forgets the authorizer: not authorized, without a request.
#[tokio::test]
async fn the_unauthorized_push_forgets_the_authorizer() {
    let sb = crate::common::sandbox().await;
    let (client, mut pushes) = platform(&sb).await;
    let appid = authorized(&sb, &client, &mut pushes, None).await;
    let delivery = sb.revoke_component_authorization(&appid).await.unwrap();
    assert!(delivery.delivered, "{delivery:?}");
    let ComponentPush::Unauthorized(event) = pushes.recv().await.unwrap().unwrap() else {
        panic!("expected the unauthorized push");
    };
    assert_eq!(event.authorizer_appid, appid);
    let e = client
        .authorizer(&appid)
        .unwrap()
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NotAuthorized { .. }), "{e:?}");
    assert_eq!(refreshes(&sb, &appid), 0);
    assert_eq!(mp_calls(&sb, "setUserNotifyExt"), 0);
    // Authorized again: a new code, and calls work again.
    let again = sb.authorize_component(Some(&appid), None).await.unwrap();
    pushes.recv().await.unwrap().unwrap();
    client.authorize(&again.authorization_code).await.unwrap();
    client
        .authorizer(&appid)
        .unwrap()
        .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
        .await
        .unwrap();
}

/// Without permission set 18 the service-card call is a MiniProgramError (61007), not retried
/// and not a token problem.
#[tokio::test]
async fn without_permission_set_18_set_user_notify_ext_is_refused() {
    let sb = crate::common::sandbox().await;
    let (client, mut pushes) = platform(&sb).await;
    let appid = authorized(&sb, &client, &mut pushes, Some(vec![17, 19])).await;
    let e = mp_error(
        client
            .authorizer(&appid)
            .unwrap()
            .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
            .await,
    );
    assert_eq!(e.errcode, 61007);
    assert_eq!(mp_calls(&sb, "setUserNotifyExt"), 1);
    assert_eq!(refreshes(&sb, &appid), 0);
}

/// The bridge: a component client by configuration, its actions, and `authorizer(appid)` as a
/// mini-program client.
#[tokio::test]
async fn the_bridge_reaches_the_chain_and_the_authorizer() {
    let sb = crate::common::sandbox().await;
    let s = sb.component_settings();
    let config = json!({
        "component_appid": s.component_appid,
        "component_appsecret": s.component_appsecret.expose(),
        "token": s.token.expose(),
        "encoding_aes_key": s.encoding_aes_key.expose(),
        "base_url": sb.base_url(),
    });
    let client = Client::new(Family::Component, config, &Callbacks::default(), "test/0").unwrap();
    assert_eq!(client.family(), Family::Component);
    let info = client.info().to_string();
    for secret in [&s.component_appsecret, &s.token, &s.encoding_aes_key] {
        assert!(!info.contains(secret.expose()), "{info}");
    }
    let component = client.as_component().unwrap().clone();
    let mut pushes = receive_pushes(&sb, component).await;
    sb.push_component_verify_ticket().await;
    pushes.recv().await.unwrap().unwrap();
    let granted = sb.authorize_component(None, None).await.unwrap();
    pushes.recv().await.unwrap().unwrap();

    let call = |name: &'static str, args: Value| {
        let client = client.clone();
        async move { client.call(name, json_args(args)).await }
    };
    let auth = call(
        "authorize",
        json!({"authorization_code": granted.authorization_code}),
    )
    .await
    .unwrap();
    assert_eq!(auth["authorizer_appid"], json!(granted.authorizer_appid));
    assert_eq!(auth["func_info"], json!([17, 18, 19]));
    assert!(!auth.to_string().contains("token"), "{auth}");
    let appid = granted.authorizer_appid.clone();
    let token = call("authorizerAccessToken", json!({"authorizer_appid": appid}))
        .await
        .unwrap();
    assert!(token.as_str().is_some_and(|t| !t.is_empty()));

    let merchant = client.authorizer(&appid).unwrap();
    assert_eq!(merchant.family(), Family::MiniProgram);
    assert_eq!(merchant.info()["appid"], json!(appid));
    merchant
        .call(
            "setUserNotifyExt",
            json_args(json!({
                "openid": OPENID, "notify_type": NOTIFY_TYPE, "notify_code": CODE,
                "ext_json": json!({"pay_info": pay_info()["pay_info"].to_string()}).to_string(),
            })),
        )
        .await
        .unwrap();

    call("forgetAuthorizer", json!({"authorizer_appid": appid}))
        .await
        .unwrap();
    let e = call("authorizerAccessToken", json!({"authorizer_appid": appid}))
        .await
        .unwrap_err();
    assert_eq!(ErrorDescription::from(&e).kind, ErrorKind::NotAuthorized);
    assert!(client.authorizer("wx:bad").is_err());
    assert!(
        merchant.authorizer(&appid).is_err(),
        "only a component client has authorizers"
    );
}

// ---------------------------------------------------------------------------------------------
/// Four processes, one Redis, fifty authorizers.
#[cfg(feature = "redis")]
mod processes {
    use std::io::{BufRead, Write};
    use std::time::Duration;

    use weixin_kit::mp::TokenConfig;
    use weixin_kit::SecretString;

    use super::*;

    const CHILD_MODE: &str = "WEIXIN_KIT_TEST_COMPONENT_MODE";
    const CHILD_REDIS: &str = "WEIXIN_KIT_TEST_COMPONENT_REDIS";
    const CHILD_COUNT: &str = "WEIXIN_KIT_TEST_COMPONENT_COUNT";
    const CHILD_SANDBOX: &str = "WEIXIN_KIT_TEST_COMPONENT_SANDBOX";
    const CHILD_APPID: &str = "WEIXIN_KIT_TEST_COMPONENT_APPID";
    const CHILD_SECRET: &str = "WEIXIN_KIT_TEST_COMPONENT_SECRET";
    const CHILD_AUTHORIZERS: &str = "WEIXIN_KIT_TEST_COMPONENT_AUTHORIZERS";

    fn quick_config() -> TokenConfig {
        TokenConfig {
            poll_interval: Duration::from_millis(10),
            ..TokenConfig::default()
        }
    }

    /// 4 processes with their own ComponentClient over one Redis, calling setUserNotifyExt as each
    /// of 50 authorizers at once:
    /// 1. with the component token and every authorizer token absent from the store (expired):
    ///    exactly one component-token fetch and one refresh per authorizer;
    /// 2. with every token expired at WeChat but still in the store (42001 on every call and on
    ///    every refresh): compare-and-expire across the processes makes that again exactly one
    ///    component-token fetch and one refresh per authorizer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn four_processes_fifty_authorizers_one_fetch_and_one_refresh_each() {
        use crate::common::child::{self, ChildProc};
        use crate::common::redis_server::{redis_conn, RedisServer};
        const PROCESSES: usize = 4;
        const AUTHORIZERS: usize = 50;
        let server = RedisServer::start();
        let store_url = format!("{}0", server.url());
        let sb = crate::common::sandbox().await;
        let client = component_builder(&sb)
            .token_store_url(&store_url)
            .build()
            .unwrap();
        let mut pushes = receive_pushes(&sb, client.clone()).await;
        sb.push_component_verify_ticket().await;
        pushes.recv().await.unwrap().unwrap();
        let mut appids = Vec::new();
        for _ in 0..AUTHORIZERS {
            appids.push(authorized(&sb, &client, &mut pushes, None).await);
        }
        assert_eq!(counter(&sb, "component_token_calls"), 1);
        // Every token expires: gone from the store (Redis would drop them at expires_at).
        let mut conn = redis_conn(&store_url).await;
        let component = client.component_appid().to_owned();
        let mut expired = vec![keys::component_access_token(&component)];
        expired.extend(
            appids
                .iter()
                .map(|a| keys::authorizer_access_token(&component, a)),
        );
        let deleted: i64 = redis::cmd("DEL")
            .arg(&expired)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(deleted, expired.len() as i64);

        let secret = sb.component_settings().component_appsecret;
        let list = appids.join(",");
        let mut children: Vec<ChildProc> = (0..PROCESSES)
            .map(|_| {
                ChildProc::spawn(
                    &child::test_name(module_path!(), "component_child_process"),
                    &[
                        (CHILD_MODE, "component"),
                        (CHILD_REDIS, &store_url),
                        (CHILD_COUNT, &PROCESSES.to_string()),
                        (CHILD_SANDBOX, &sb.base_url()),
                        (CHILD_APPID, &component),
                        (CHILD_SECRET, secret.expose()),
                        (CHILD_AUTHORIZERS, &list),
                    ],
                )
            })
            .collect();
        let done: Vec<String> =
            tokio::task::block_in_place(|| children.iter_mut().map(|c| c.read("DONE")).collect());
        assert_eq!(done, vec![AUTHORIZERS.to_string(); PROCESSES]);
        assert_eq!(
            counter(&sb, "component_token_calls"),
            2,
            "one fetch for 4 processes"
        );
        for a in &appids {
            assert_eq!(refreshes(&sb, a), 1, "one refresh for {a}");
        }
        let calls = (PROCESSES * AUTHORIZERS) as u64;
        assert_eq!(
            mp_calls(&sb, "setUserNotifyExt"),
            calls,
            "no call was rejected"
        );

        // 2. Every token expires at WeChat, in the store they look fresh.
        sb.component().expire_tokens();
        sb.mp().expire_tokens();
        children.iter_mut().for_each(ChildProc::go);
        let done: Vec<String> =
            tokio::task::block_in_place(|| children.iter_mut().map(|c| c.read("DONE2")).collect());
        assert_eq!(done, vec![AUTHORIZERS.to_string(); PROCESSES]);
        assert_eq!(counter(&sb, "component_token_calls"), 3, "one more fetch");
        for a in &appids {
            assert_eq!(refreshes(&sb, a), 2, "one more refresh for {a}");
        }
        let again = mp_calls(&sb, "setUserNotifyExt") - calls;
        assert!(
            (calls + 1..=2 * calls).contains(&again),
            "each call, plus at most one resend ({again})"
        );
        children.into_iter().for_each(ChildProc::finish);
    }

    /// The child side of the test above; does nothing unless started by it.
    #[test]
    #[ignore = "run by four_processes_fifty_authorizers_one_fetch_and_one_refresh_each"]
    fn component_child_process() {
        use crate::common::redis_server::redis_barrier;
        let Ok(mode) = std::env::var(CHILD_MODE) else {
            return;
        };
        let env = |k: &str| std::env::var(k).unwrap();
        let n: i64 = env(CHILD_COUNT).parse().unwrap();
        let url = env(CHILD_REDIS);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        let client = ComponentClient::builder()
            .component_appid(env(CHILD_APPID))
            .component_appsecret(SecretString::from(env(CHILD_SECRET)))
            .base_url(env(CHILD_SANDBOX))
            .token_store_url(&url)
            .token_config(quick_config())
            .retry(crate::common::fast_retry())
            .build()
            .unwrap();
        let appids: Vec<String> = env(CHILD_AUTHORIZERS)
            .split(',')
            .map(str::to_owned)
            .collect();
        let call_all = || {
            let calls: Vec<_> = appids
                .iter()
                .map(|appid| {
                    let merchant = client.authorizer(appid).unwrap();
                    tokio::spawn(async move {
                        merchant
                            .set_user_notify_ext(OPENID, NOTIFY_TYPE, CODE, pay_info())
                            .await
                    })
                })
                .collect();
            async move {
                let mut ok = 0;
                for call in calls {
                    call.await.unwrap().unwrap();
                    ok += 1;
                }
                ok
            }
        };
        let ok = rt.block_on(async {
            // Barrier: every child connected before any asks.
            redis_barrier(&url, &mode, n).await;
            call_all().await
        });
        println!("DONE={ok}");
        std::io::stdout().flush().unwrap();
        let mut line = String::new();
        assert!(
            std::io::stdin().lock().read_line(&mut line).unwrap() > 0,
            "parent gone"
        );
        let ok = rt.block_on(call_all());
        println!("DONE2={ok}");
        std::io::stdout().flush().unwrap();
        let _ = std::io::stdin().lock().read_line(&mut line);
    }
}
