//! Helpers of the third-party platform tests (`component.rs`): a push receiver, the independent
//! Python `cryptography` check of a push (wxbizmsgcrypt_decrypt.py), and plain-HTTP calls of the
//! platform routes.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::Uri;
use serde_json::{json, Value};
use weixin_kit_sandbox::{Sandbox, SandboxConfig};

use super::identity;

pub const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
pub const NOTIFY_TYPE: i32 = 2001;
pub const CODE: &str = "4200001855202305090060871147";

/// One captured push: its query parameters and raw body.
#[derive(Clone, Debug)]
pub struct Captured {
    pub query: BTreeMap<String, String>,
    pub body: String,
}

pub type Inbox = Arc<Mutex<Vec<Captured>>>;

/// A push receiver answering `success`; returns its URL and what it received.
pub async fn receiver() -> (String, Inbox) {
    let inbox: Inbox = Arc::default();
    let seen = inbox.clone();
    let app = axum::Router::new().route(
        "/push",
        axum::routing::post(move |uri: Uri, body: Bytes| {
            let seen = seen.clone();
            async move {
                let query = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                    .into_owned()
                    .collect();
                let body = String::from_utf8(body.to_vec()).unwrap();
                seen.lock().unwrap().push(Captured { query, body });
                "success"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/push"), inbox)
}

pub struct Env {
    pub sandbox: Sandbox,
    pub inbox: Inbox,
    pub http: reqwest::Client,
}

pub async fn start() -> Env {
    let (url, inbox) = receiver().await;
    let sandbox = Sandbox::start(SandboxConfig {
        identity: Some(identity()),
        component_push_url: Some(url),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    sandbox.mp().register_notify_code(OPENID, NOTIFY_TYPE, CODE);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    Env {
        sandbox,
        inbox,
        http,
    }
}

/// A Python with `cryptography`: `WEIXIN_KIT_TEST_PYTHON`, else the venv `cargo xtask test`
/// installs requirements-dev.txt into (target/py-venv), else `python3`.
pub fn python() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os("WEIXIN_KIT_TEST_PYTHON") {
        return p.into();
    }
    let venv =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/py-venv/bin/python");
    if venv.exists() {
        return venv;
    }
    "python3".into()
}

/// Runs the independent decryption; Err(stderr) when a check fails.
pub fn python_decrypt(
    token: &str,
    aes_key: &str,
    appid: &str,
    push: &Captured,
) -> Result<Value, String> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/it/common/wxbizmsgcrypt_decrypt.py"
    );
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let input = json!({"token": token, "encoding_aes_key": aes_key, "appid": appid,
                       "query": push.query, "body": push.body});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

impl Env {
    /// The last push received, decrypted and verified with the sandbox's settings.
    pub fn last_push(&self) -> Value {
        let push = self.inbox.lock().unwrap().last().cloned().expect("a push");
        let s = self.sandbox.component_settings();
        python_decrypt(
            s.token.expose(),
            s.encoding_aes_key.expose(),
            &s.component_appid,
            &push,
        )
        .unwrap_or_else(|e| panic!("push does not verify/decrypt: {e}\n{push:?}"))
    }

    pub async fn post(&self, path_and_query: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}{path_and_query}", self.sandbox.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    }

    /// Pushes a ticket and reads it back from the decrypted push.
    pub async fn ticket(&self) -> String {
        let delivery = self.sandbox.push_component_verify_ticket().await;
        assert!(delivery.delivered, "{delivery:?}");
        let event = self.last_push();
        event["fields"]["ComponentVerifyTicket"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn component_token_with(&self, ticket: &str) -> Value {
        let s = self.sandbox.component_settings();
        self.post(
            "/cgi-bin/component/api_component_token",
            json!({"component_appid": s.component_appid,
                   "component_appsecret": s.component_appsecret.expose(),
                   "component_verify_ticket": ticket}),
        )
        .await
    }

    pub async fn component_token(&self) -> String {
        let ticket = self.ticket().await;
        let v = self.component_token_with(&ticket).await;
        assert_eq!(v["expires_in"], json!(7200), "{v}");
        v["component_access_token"].as_str().unwrap().to_owned()
    }

    /// Authorizes through the control API over HTTP and reads the code from the push.
    pub async fn authorize(&self, body: Value) -> (String, String) {
        let a = self.post("/sandbox/component/authorize", body).await;
        let event = self.last_push();
        assert_eq!(event["fields"]["InfoType"], json!("authorized"), "{event}");
        let code = event["fields"]["AuthorizationCode"].as_str().unwrap();
        assert_eq!(a["authorization_code"], json!(code));
        assert_eq!(event["fields"]["AuthorizerAppid"], a["authorizer_appid"]);
        (
            a["authorizer_appid"].as_str().unwrap().to_owned(),
            code.to_owned(),
        )
    }

    pub async fn query_auth(&self, token: &str, code: &str) -> Value {
        let appid = self.sandbox.component_settings().component_appid;
        self.post(
            &format!("/cgi-bin/component/api_query_auth?component_access_token={token}"),
            json!({"component_appid": appid, "authorization_code": code}),
        )
        .await
    }

    pub async fn refresh(&self, token: &str, authorizer: &str, refresh: &str) -> Value {
        let appid = self.sandbox.component_settings().component_appid;
        self.post(
            &format!("/cgi-bin/component/api_authorizer_token?component_access_token={token}"),
            json!({"component_appid": appid, "authorizer_appid": authorizer,
                   "authorizer_refresh_token": refresh}),
        )
        .await
    }

    pub async fn set_user_notify_ext(&self, access_token: &str) -> Value {
        let ext_json = r#"{"pay_info":"{\"transaction_id\":\"4200001855202305090060871147\",\"pay_amount\":2001,\"pay_time\":1683546394}"}"#;
        self.post(
            &format!("/wxa/set_user_notifyext?access_token={access_token}"),
            json!({"openid": OPENID, "notify_type": NOTIFY_TYPE, "notify_code": CODE,
                   "ext_json": ext_json}),
        )
        .await
    }

    pub async fn get_user_notify(&self, access_token: &str) -> Value {
        self.post(
            &format!("/wxa/get_user_notify?access_token={access_token}"),
            json!({"openid": OPENID, "notify_type": NOTIFY_TYPE, "notify_code": CODE}),
        )
        .await
    }

    /// ticket → component token → authorization → queryAuth: (component token, authorizer
    /// appid, authorization_info).
    pub async fn authorized(&self, body: Value) -> (String, String, Value) {
        let token = self.component_token().await;
        let (appid, code) = self.authorize(body).await;
        let info = self.query_auth(&token, &code).await;
        (token, appid, info["authorization_info"].clone())
    }
}

#[track_caller]
pub fn assert_errcode(v: &Value, code: i32, errmsg: &str) {
    assert_eq!(v["errcode"], json!(code), "{v}");
    assert_eq!(v["errmsg"], json!(errmsg), "{v}");
}
