//! Clear-text base URLs (issue 14 item 2): `http://` only to a loopback host (127.0.0.0/8,
//! ::1, localhost) unless the client opts in with `danger_allow_insecure_http` — the builder
//! method and the configuration key every binding passes.

use serde_json::{json, Value};
use weixin_kit::bridge::{Callbacks, Client, Family};
use weixin_kit::Error;
use weixin_kit_sandbox::Sandbox;

use crate::common::{mp_builder, pay_builder_with_public_key, sandbox};

/// A host that is not loopback (`.invalid` never resolves: nothing can leave by accident).
const REMOTE: &str = "http://api.weixin.invalid";

fn config_detail<T: std::fmt::Debug>(result: weixin_kit::Result<T>) -> String {
    match result {
        Err(Error::Config { detail }) => detail,
        other => panic!("expected Error::Config, got {other:?}"),
    }
}

fn assert_refused(detail: &str, key: &str) {
    assert!(
        detail.starts_with(&format!("`{key}` (http://"))
            && detail.contains("not loopback")
            && detail.contains("danger_allow_insecure_http"),
        "{detail}"
    );
}

#[tokio::test]
async fn builders_refuse_clear_text_to_a_remote_host() {
    let sb = sandbox().await;
    assert_refused(
        &config_detail(pay_builder_with_public_key(&sb).base_url(REMOTE).build()),
        "base_url",
    );
    assert_refused(
        &config_detail(
            pay_builder_with_public_key(&sb)
                .backup_base_url("http://10.1.2.3:8080")
                .build(),
        ),
        "backup_base_url",
    );
    assert_refused(
        &config_detail(mp_builder(&sb).base_url(REMOTE).build()),
        "base_url",
    );
    // The sandbox itself is loopback: no opt-in needed.
    assert!(sb.base_url().starts_with("http://127.0.0.1:"));
    pay_builder_with_public_key(&sb).build().unwrap();
    mp_builder(&sb)
        .base_url(sb.base_url().replace("127.0.0.1", "localhost"))
        .build()
        .unwrap();
    // Opted in: built.
    pay_builder_with_public_key(&sb)
        .base_url(REMOTE)
        .backup_base_url("http://10.1.2.3:8080")
        .danger_allow_insecure_http(true)
        .build()
        .unwrap();
}

/// The opt-in really sends: the remote `http://` host is reached through the sandbox acting as
/// the HTTP proxy (a plain-HTTP proxy gets the absolute URL), and the call succeeds.
#[tokio::test]
async fn the_opt_in_sends_in_clear_text() {
    let sb = sandbox().await;
    let mp = mp_builder(&sb)
        .base_url(REMOTE)
        .proxy(sb.base_url())
        .danger_allow_insecure_http(true)
        .build()
        .unwrap();
    assert_eq!(mp.base_url(), REMOTE);
    let token = mp.access_token().await.unwrap();
    assert!(!token.expose().is_empty());
}

async fn bridge_config(sb: &Sandbox, family: &str, changes: Value) -> Value {
    let mut config = sb
        .control("GET", &format!("/sandbox/client/{family}_config"), None)
        .await
        .unwrap();
    for (k, v) in changes.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

#[tokio::test]
async fn the_configuration_key_opts_in() {
    let sb = sandbox().await;
    let none = Callbacks::default();
    for (family, name) in [(Family::Pay, "pay"), (Family::MiniProgram, "mp")] {
        let build = |config: Value| Client::new(family, config, &none, "insecure-http-test/0");
        let detail = config_detail(build(
            bridge_config(&sb, name, json!({"base_url": REMOTE})).await,
        ));
        assert_refused(&detail, "base_url");
        build(
            bridge_config(
                &sb,
                name,
                json!({"base_url": REMOTE, "danger_allow_insecure_http": true}),
            )
            .await,
        )
        .unwrap();
        let detail = config_detail(build(
            bridge_config(
                &sb,
                name,
                json!({"base_url": REMOTE, "danger_allow_insecure_http": false}),
            )
            .await,
        ));
        assert_refused(&detail, "base_url");
        let detail = config_detail(build(
            bridge_config(&sb, name, json!({"danger_allow_insecure_http": "yes"})).await,
        ));
        assert!(
            detail.contains("`danger_allow_insecure_http` has the wrong type"),
            "{detail}"
        );
    }
}
