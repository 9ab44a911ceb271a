//! A third-party platform against the sandbox: the component client configured with the
//! sandbox's platform settings, and the authorization-event URL of a web app — a loopback
//! receiver that hands every push to `parse_push` and answers `success`, as WeChat expects.

use tokio::sync::mpsc;
use weixin_kit::component::{ComponentClient, ComponentClientBuilder, ComponentPush};
use weixin_kit::Result;
use weixin_kit_sandbox::{ComponentUpdate, Sandbox};

use super::fast_retry;

/// The sandbox's platform: its component appid, AppSecret, message-check Token and
/// EncodingAESKey, and its host.
pub fn component_builder(sb: &Sandbox) -> ComponentClientBuilder {
    let s = sb.component_settings();
    ComponentClient::builder()
        .component_appid(s.component_appid.clone())
        .component_appsecret(s.component_appsecret.clone())
        .token(s.token.clone())
        .encoding_aes_key(s.encoding_aes_key.clone())
        .base_url(sb.base_url())
        .retry(fast_retry())
}

/// The authorization-event URL (授权事件接收URL) of an app using `client`: every push goes to
/// `parse_push(query, body)`; `success` when it parsed, 400 otherwise. The sandbox is pointed at
/// it. Each outcome is also sent to the returned channel.
pub async fn receive_pushes(
    sb: &Sandbox,
    client: ComponentClient,
) -> mpsc::UnboundedReceiver<Result<ComponentPush>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/wechat/component/events",
        axum::routing::post(
            move |axum::extract::RawQuery(query): axum::extract::RawQuery,
                  body: axum::body::Bytes| {
                let client = client.clone();
                let tx = tx.clone();
                async move {
                    let parsed = client
                        .parse_push(query.as_deref().unwrap_or(""), &body)
                        .await;
                    let answer = match &parsed {
                        Ok(_) => (http::StatusCode::OK, "success"),
                        Err(_) => (http::StatusCode::BAD_REQUEST, "refused"),
                    };
                    let _ = tx.send(parsed);
                    answer
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    sb.configure_component(ComponentUpdate {
        push_url: Some(format!("http://{addr}/wechat/component/events")),
        ..ComponentUpdate::default()
    })
    .unwrap();
    rx
}

/// A sandbox counter of the platform side (`component_token_calls`, …), 0 when absent.
pub fn counter(sb: &Sandbox, name: &str) -> u64 {
    sb.component_counters()[name].as_u64().unwrap_or(0)
}

/// How many getAuthorizerAccessToken requests the sandbox received for `appid`.
pub fn refreshes(sb: &Sandbox, appid: &str) -> u64 {
    sb.component_counters()["refreshes"][appid]
        .as_u64()
        .unwrap_or(0)
}
