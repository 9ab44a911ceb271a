//! Notifications (signed, encrypted, retried), faults of every kind, main-down failover, the
//! control API over HTTP, and the startup time (printed, never asserted).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::{self, start, Tweak};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use serde_json::json;
use weixin_kit_sandbox::{
    CouponNotification, Fault, FaultKind, NewStock, Sandbox, SandboxConfig, SigningMode,
};

const CALLBACKS: &str = "/v3/marketing/busifavor/callbacks";

type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A tiny merchant server: records every notification; answers 500 for the first `fail_first`.
async fn receiver(fail_first: usize) -> (String, Received) {
    let received: Received = Arc::default();
    let r = received.clone();
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let r = r.clone();
            async move {
                let mut got = r.lock().unwrap();
                got.push((headers, body));
                if got.len() <= fail_first {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        r#"{"code":"FAIL","message":"失败"}"#,
                    )
                } else {
                    (StatusCode::OK, "")
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn coupon_notification_is_signed_encrypted_and_decrypts() {
    let env = start().await;
    let (url, received) = receiver(0).await;
    let reply = env
        .send("POST", CALLBACKS, &json!({ "notify_url": url }).to_string())
        .await;
    assert_eq!(reply.status, 200);
    let stock = env.sandbox.create_stock(NewStock::named("领券")).unwrap();

    for mode in [SigningMode::PublicKey, SigningMode::Certificate] {
        env.sandbox.set_signing_mode(mode);
        let report = env
            .sandbox
            .send_coupon_notification(CouponNotification {
                stock_id: stock.stock_id.clone(),
                openid: Some("oUser123".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(report.delivered);
        assert_eq!(report.attempts.len(), 1);
        assert_eq!(report.attempts[0].status, Some(200));

        let (headers, body) = received.lock().unwrap().last().cloned().unwrap();
        let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_owned();
        // Signature over TIMESTAMP\nNONCE\nBODY\n, verified with openssl by serial.
        let creds = env.sandbox.credentials();
        let public = match mode {
            SigningMode::PublicKey => {
                assert_eq!(h("Wechatpay-Serial"), creds.wechatpay_public_key_id);
                env.dir.path().join("wechatpay_pub.pem")
            }
            SigningMode::Certificate | SigningMode::Migration => {
                assert_eq!(h("Wechatpay-Serial"), creds.platform_serial_no);
                common::cert_public_key(env.dir.path())
            }
        };
        let mut message =
            format!("{}\n{}\n", h("Wechatpay-Timestamp"), h("Wechatpay-Nonce")).into_bytes();
        message.extend_from_slice(&body);
        message.push(b'\n');
        assert!(common::openssl_verify(
            env.dir.path(),
            &public,
            &message,
            &h("Wechatpay-Signature")
        ));
        // Decrypt the resource (AES-256-GCM, APIv3 key) and compare the payload.
        let envelope: weixin_kit::pay::NotificationEnvelope =
            serde_json::from_slice(&body).unwrap();
        assert_eq!(envelope.event_type, "COUPON.SEND");
        assert_eq!(envelope.resource_type, "encrypt-resource");
        let res = &envelope.resource;
        assert_eq!(res.nonce.len(), 12);
        let sealed = base64::engine::general_purpose::STANDARD
            .decode(&res.ciphertext)
            .unwrap();
        let plain = weixin_kit_sandbox::keys::aes_gcm_decrypt(
            creds.apiv3_key.expose().as_bytes(),
            res.nonce.as_bytes(),
            res.associated_data.as_deref().unwrap_or("").as_bytes(),
            &sealed,
        )
        .unwrap();
        let event: weixin_kit::pay::BusifavorCouponEvent = serde_json::from_slice(&plain).unwrap();
        assert_eq!(event.stock_id, stock.stock_id);
        assert_eq!(event.openid.as_deref(), Some("oUser123"));
        assert_eq!(event.send_merchant, "1900000001");
        assert_eq!(serde_json::to_value(&event).unwrap(), report.payload);
    }
    let counters = env.sandbox.counters();
    assert_eq!(counters["notifications"]["delivered"], 2);
}

#[tokio::test]
async fn notification_retries_until_2xx() {
    let env = start().await;
    let (url, received) = receiver(2).await;
    env.send("POST", CALLBACKS, &json!({ "notify_url": url }).to_string())
        .await;
    let report = env
        .sandbox
        .send_coupon_notification(CouponNotification {
            stock_id: "98560000001".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let statuses: Vec<_> = report.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert!(report.delivered);
    assert_eq!(received.lock().unwrap().len(), 3);
    // Each attempt is signed afresh.
    let nonces: std::collections::HashSet<_> = received
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _)| h["Wechatpay-Nonce"].to_str().unwrap().to_owned())
        .collect();
    assert_eq!(nonces.len(), 3);
    assert_eq!(env.sandbox.counters()["notifications"]["attempts"], 3);

    // A receiver that never answers 2xx: bounded attempts; a dead port: connection errors.
    let (url, _) = receiver(usize::MAX).await;
    let report = env
        .sandbox
        .send_coupon_notification(CouponNotification {
            stock_id: "1".into(),
            notify_url: Some(url),
            max_attempts: Some(2),
            interval_ms: Some(10),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!report.delivered);
    assert_eq!(report.attempts.len(), 2);
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/n", dead.local_addr().unwrap());
    drop(dead);
    let report = env
        .sandbox
        .send_coupon_notification(CouponNotification {
            stock_id: "1".into(),
            notify_url: Some(dead_url),
            interval_ms: Some(10),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(report.attempts.len(), 3);
    assert!(report
        .attempts
        .iter()
        .all(|a| a.status.is_none() && a.error.is_some()));
}

#[tokio::test]
async fn faults_of_every_kind() {
    let env = start().await;
    let sb = &env.sandbox;
    let stock = sb.create_stock(NewStock::named("故障")).unwrap();
    let path = format!("/v3/marketing/busifavor/stocks/{}", stock.stock_id);
    let change = |n: u32| format!(r#"{{"out_request_no":"f{n}","comment":"c{n}"}}"#);

    // 500 SYSTEM_ERROR for the next request of ModifyStockInfo only.
    sb.inject_fault(Fault::operation(
        "ModifyStockInfo",
        FaultKind::SystemError,
        1,
    ))
    .unwrap();
    let reply = env.send("PATCH", &path, &change(1)).await;
    assert_eq!(reply.status, 500);
    assert_eq!(
        reply.json(),
        json!({"code":"SYSTEM_ERROR","message":"系统异常,请稍后重试"})
    );
    assert_eq!(env.send("PATCH", &path, &change(1)).await.status, 204);

    // 429 FREQUENCY_LIMITED by path prefix.
    sb.inject_fault(Fault::path_prefix(
        "/v3/marketing/",
        FaultKind::FrequencyLimited,
        1,
    ))
    .unwrap();
    let reply = env.send("PATCH", &path, &change(2)).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.json()["code"], "FREQUENCY_LIMITED");

    // Connection reset: no HTTP response at all.
    sb.inject_fault(Fault::operation(
        "ModifyStockInfo",
        FaultKind::ConnectionReset,
        1,
    ))
    .unwrap();
    let err = env
        .send_to(
            &sb.base_url(),
            "PATCH",
            &path,
            change(3).as_bytes(),
            None,
            Tweak::default(),
        )
        .await;
    assert!(err.is_err(), "expected a transport error");
    assert_eq!(env.send("PATCH", &path, &change(3)).await.status, 204);

    // Latency.
    sb.inject_fault(Fault::operation(
        "ModifyStockInfo",
        FaultKind::Latency { ms: 300 },
        1,
    ))
    .unwrap();
    let t = Instant::now();
    assert_eq!(env.send("PATCH", &path, &change(4)).await.status, 204);
    let slow = t.elapsed();
    assert!(slow >= Duration::from_millis(300), "{slow:?}");

    // Tampered signature: status fine, signature does not verify.
    sb.inject_fault(Fault::operation(
        "ModifyStockInfo",
        FaultKind::TamperSignature,
        1,
    ))
    .unwrap();
    let reply = env.send("PATCH", &path, &change(5)).await;
    assert_eq!(reply.status, 204);
    assert!(!env.verify_response(&reply));

    // Stale timestamp: signature verifies, timestamp is 10 minutes old.
    sb.inject_fault(Fault::operation(
        "ModifyStockInfo",
        FaultKind::StaleTimestamp { seconds: 600 },
        1,
    ))
    .unwrap();
    let reply = env.send("PATCH", &path, &change(6)).await;
    assert!(env.verify_response(&reply));
    let ts: i64 = reply.header("Wechatpay-Timestamp").parse().unwrap();
    assert!(common::unix_now() - ts >= 599);

    // Until cleared (no count), and faults on mini-program routes by path.
    sb.inject_fault(Fault {
        operation: None,
        path_prefix: Some("/cgi-bin/".into()),
        kind: FaultKind::SystemError,
        count: None,
        probability: None,
        seed: None,
    })
    .unwrap();
    for _ in 0..2 {
        let resp = env
            .http
            .get(format!(
                "{}/cgi-bin/token?grant_type=client_credential",
                sb.base_url()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 500);
    }
    sb.clear_faults();
    let resp = env
        .http
        .get(format!(
            "{}/cgi-bin/token?grant_type=client_credential",
            sb.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    let log = sb.requests();
    assert!(log
        .iter()
        .any(|e| e.faults == ["connection_reset"] && e.status.is_none()));
    assert!(log.iter().any(|e| e.faults == ["latency"]));
}

#[tokio::test]
async fn main_down_fails_over_to_backup() {
    let env = start().await;
    let sb = &env.sandbox;
    let stock = sb.create_stock(NewStock::named("主备")).unwrap();
    let path = format!("/v3/marketing/busifavor/stocks/{}", stock.stock_id);
    let body = r#"{"out_request_no":"m1","comment":"备用"}"#;
    sb.set_main_down(true);
    let main = env
        .send_to(
            &sb.base_url(),
            "PATCH",
            &path,
            body.as_bytes(),
            None,
            Tweak::default(),
        )
        .await;
    assert!(main.is_err(), "main must not answer");
    let backup = env
        .send_to(
            &sb.backup_base_url(),
            "PATCH",
            &path,
            body.as_bytes(),
            None,
            Tweak::default(),
        )
        .await
        .unwrap();
    assert_eq!(backup.status, 204);
    assert!(env.verify_response(&backup));
    // Same state behind both.
    assert_eq!(
        sb.stock(&stock.stock_id).unwrap().applied_out_request_nos,
        ["m1"]
    );
    let listeners: Vec<_> = sb.requests().iter().map(|e| e.listener).collect();
    assert_eq!(
        listeners,
        [
            weixin_kit_sandbox::Listener::Main,
            weixin_kit_sandbox::Listener::Backup
        ]
    );
    // Control routes keep working on main; bring it back up.
    env.control("POST", "/sandbox/main/up", json!({})).await;
    let reply = env
        .send("PATCH", &path, r#"{"out_request_no":"m2","comment":"主"}"#)
        .await;
    assert_eq!(reply.status, 204);
}

#[tokio::test]
async fn control_api_over_http() {
    let env = start().await;
    let stock = env
        .control(
            "POST",
            "/sandbox/stocks",
            json!({"stock_name":"HTTP券","comment":"c","available_end_time":"2030-01-01T00:00:00+08:00"}),
        )
        .await;
    let id = stock["stock_id"].as_str().unwrap().to_owned();
    assert_eq!(stock["subsidy"], false);
    let got = env
        .control("GET", &format!("/sandbox/stocks/{id}"), json!(null))
        .await;
    assert_eq!(got["stock_name"], "HTTP券");
    env.control(
        "POST",
        "/sandbox/signing_mode",
        json!({"mode":"certificate"}),
    )
    .await;
    assert_eq!(env.sandbox.signing_mode(), SigningMode::Certificate);
    let f = env
        .control(
            "POST",
            "/sandbox/faults",
            json!({"operation":"ModifyStockInfo","kind":"frequency_limited","count":1}),
        )
        .await;
    assert!(f["id"].as_u64().is_some());
    assert_eq!(
        env.control("GET", "/sandbox/faults", json!(null)).await[0]["remaining"],
        1
    );
    let reply = env
        .send(
            "PATCH",
            &format!("/v3/marketing/busifavor/stocks/{id}"),
            r#"{"out_request_no":"h1"}"#,
        )
        .await;
    assert_eq!(reply.status, 429);
    env.control("DELETE", "/sandbox/faults", json!(null)).await;

    let (url, received) = receiver(0).await;
    env.send("POST", CALLBACKS, &json!({ "notify_url": url }).to_string())
        .await;
    let report = env
        .control(
            "POST",
            "/sandbox/notifications/coupon",
            json!({"stock_id": id}),
        )
        .await;
    assert_eq!(report["delivered"], true);
    assert_eq!(report["attempts"][0]["status"], 200);
    assert_eq!(received.lock().unwrap().len(), 1);

    let sent = env
        .control("GET", "/sandbox/notifications", json!(null))
        .await;
    assert_eq!(sent[0]["id"], report["id"]);
    let log = env.control("GET", "/sandbox/requests", json!(null)).await;
    assert_eq!(log.as_array().unwrap().len(), 2);
    let counters = env.control("GET", "/sandbox/counters", json!(null)).await;
    assert_eq!(counters["requests"]["ModifyStockInfo"], 1);
    assert_eq!(counters["requests"]["SetCouponNotify"], 1);
    assert!(counters["mp"].is_object());
    env.control("DELETE", "/sandbox/requests", json!(null))
        .await;
    assert!(env.sandbox.requests().is_empty());
    let creds = env
        .control("GET", "/sandbox/credentials", json!(null))
        .await;
    assert_eq!(creds["mchid"], "1900000001");
}

#[tokio::test]
async fn startup_time_is_reported() {
    for _ in 0..3 {
        let t = Instant::now();
        let sb = Sandbox::start(SandboxConfig::default()).await.unwrap();
        eprintln!(
            "startup (3 RSA-2048 keys + certificate + 2 listeners): {:?}",
            t.elapsed()
        );
        sb.shutdown().await;
    }
}

#[tokio::test]
async fn binary_prints_one_json_line_and_serves() {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_weixin-kit-sandbox"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: serde_json::Value = serde_json::from_str(&line).unwrap();
    let base = info["base_url"].as_str().unwrap().to_owned();
    assert!(info["backup_base_url"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    let creds = &info["credentials"];
    assert!(creds["merchant_private_key_pem"]
        .as_str()
        .unwrap()
        .contains("BEGIN PRIVATE KEY"));
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let served: serde_json::Value = http
        .get(format!("{base}/sandbox/credentials"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(&served, creds);
    child.kill().unwrap();
    child.wait().unwrap();
}
