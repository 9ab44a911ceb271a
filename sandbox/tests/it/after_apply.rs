//! The faults that act after the route has applied the change (`reset_after_apply`,
//! `latency_after_apply`), ModifyStockInfo's out_request_no record under them, and seeded
//! random faults.

use std::time::{Duration, Instant};

use crate::common::{start, Tweak};
use serde_json::json;
use weixin_kit_sandbox::{Fault, FaultKind, NewStock, OutRequestCount};

#[tokio::test]
async fn reset_after_apply_applies_then_drops_and_a_retry_is_not_applied_twice() {
    let env = start().await;
    let sb = &env.sandbox;
    let stock = sb.create_stock(NewStock::named("应用后断开")).unwrap();
    let path = format!("/v3/marketing/busifavor/stocks/{}", stock.stock_id);
    let body = r#"{"out_request_no":"raa-1","comment":"改了"}"#;
    sb.inject_fault(Fault::operation(
        "ModifyStockInfo",
        FaultKind::ResetAfterApply,
        1,
    ))
    .unwrap();
    let lost = env
        .send_to(
            &sb.base_url(),
            "PATCH",
            &path,
            body.as_bytes(),
            None,
            Tweak::default(),
        )
        .await;
    assert!(lost.is_err(), "the answer must be lost");
    // ... but the change was applied, and logged with the status the route answered.
    let after = sb.stock(&stock.stock_id).unwrap();
    assert_eq!(after.field("comment"), Some(&json!("改了")));
    assert_eq!(after.applied_out_request_nos, ["raa-1"]);
    let entry = sb.requests().pop().unwrap();
    assert_eq!(entry.faults, ["reset_after_apply"]);
    assert_eq!(entry.status, Some(204));

    // The client's retry (same out_request_no, same change): 204, not applied again.
    assert_eq!(env.send("PATCH", &path, body).await.status, 204);
    let once = OutRequestCount {
        applied: 1,
        replayed: 1,
        refused: 0,
    };
    assert_eq!(sb.out_request_counts()["raa-1"], once);
    assert_eq!(
        sb.stock(&stock.stock_id).unwrap().applied_out_request_nos,
        ["raa-1"]
    );
    // The same number over the control API, and in the counters.
    let url = format!("{}/sandbox/out_request_nos", sb.base_url());
    let counts: serde_json::Value = env
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        counts["raa-1"],
        json!({"applied": 1, "replayed": 1, "refused": 0})
    );
    assert_eq!(sb.counters()["out_request_nos"], counts);
    assert_eq!(
        sb.counters()["faults_by_kind"],
        json!({"reset_after_apply": 1})
    );

    // Reused with another change: refused, counted, not applied.
    let other = r#"{"out_request_no":"raa-1","comment":"又改"}"#;
    let reply = env.send("PATCH", &path, other).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "INVALID_REQUEST");
    assert_eq!(sb.out_request_counts()["raa-1"].refused, 1);
    assert_eq!(sb.out_request_counts()["raa-1"].applied, 1);
}

#[tokio::test]
async fn latency_after_apply_applies_before_the_late_answer() {
    let env = start().await;
    let sb = &env.sandbox;
    let stock = sb.create_stock(NewStock::named("应用后延迟")).unwrap();
    let path = format!("/v3/marketing/busifavor/stocks/{}", stock.stock_id);
    sb.inject_fault(Fault::operation(
        "ModifyStockInfo",
        FaultKind::LatencyAfterApply { ms: 400 },
        1,
    ))
    .unwrap();
    let started = Instant::now();
    let request = env.send(
        "PATCH",
        &path,
        r#"{"out_request_no":"laa-1","comment":"慢"}"#,
    );
    let watcher = async {
        // While the answer is held back, the change is already there.
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if sb.out_request_counts().contains_key("laa-1") {
                return started.elapsed();
            }
        }
    };
    let (reply, applied_at) = tokio::join!(request, watcher);
    let answered_at = started.elapsed();
    assert_eq!(reply.status, 204);
    assert!(answered_at >= Duration::from_millis(400), "{answered_at:?}");
    assert!(
        applied_at + Duration::from_millis(200) < answered_at,
        "applied at {applied_at:?}, answered at {answered_at:?}"
    );
    assert_eq!(sb.out_request_counts()["laa-1"].applied, 1);
    assert_eq!(sb.requests().pop().unwrap().faults, ["latency_after_apply"]);
}

#[tokio::test]
async fn reset_after_apply_on_a_mini_program_route_mints_the_token() {
    let env = start().await;
    let sb = &env.sandbox;
    let c = sb.credentials();
    sb.inject_fault(Fault::path_prefix(
        "/cgi-bin/token",
        FaultKind::ResetAfterApply,
        1,
    ))
    .unwrap();
    let url = format!(
        "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        sb.base_url(),
        c.appid,
        c.app_secret.expose()
    );
    assert!(env.http.get(&url).send().await.is_err());
    assert_eq!(sb.counters()["mp"]["tokens_issued"], 1);
    let entry = sb.requests().pop().unwrap();
    assert_eq!(entry.faults, ["reset_after_apply"]);
    assert_eq!(entry.status, Some(200));
    // Without the fault the next call answers (a second token).
    let reply = env.http.get(&url).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(sb.counters()["mp"]["tokens_issued"], 2);
}

#[tokio::test]
async fn random_faults_over_the_control_api_hit_a_seeded_share() {
    let env = start().await;
    let sb = &env.sandbox;
    let url = format!("{}/sandbox/faults", sb.base_url());
    let reply = env
        .http
        .post(&url)
        .body(r#"{"path_prefix":"/cgi-bin/","kind":"system_error","probability":0.25,"seed":11}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let bad = env
        .http
        .post(&url)
        .body(r#"{"kind":"system_error","probability":2}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("probability"));

    let c = sb.credentials();
    let token = format!(
        "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        sb.base_url(),
        c.appid,
        c.app_secret.expose()
    );
    let mut hits = Vec::new();
    for i in 0..200 {
        if env.http.get(&token).send().await.unwrap().status() == 500 {
            hits.push(i);
        }
    }
    // About a quarter (binomial, n = 200: ±5 σ is ±31).
    assert!((19..=81).contains(&hits.len()), "{} hits", hits.len());
    // The same seed on a fresh rule: the same requests hit.
    sb.clear_faults();
    sb.inject_fault(Fault {
        path_prefix: Some("/cgi-bin/".into()),
        ..Fault::random(FaultKind::SystemError, 0.25, 11)
    })
    .unwrap();
    let mut again = Vec::new();
    for i in 0..200 {
        if env.http.get(&token).send().await.unwrap().status() == 500 {
            again.push(i);
        }
    }
    assert_eq!(hits, again);
}

/// A client that gives up during a `latency` fault (before the route) does not stop the
/// request: as on a real server it is still handled, applied and logged.
#[tokio::test]
async fn a_request_abandoned_during_latency_is_still_applied_and_logged() {
    let env = start().await;
    let sb = &env.sandbox;
    let c = sb.credentials();
    sb.inject_fault(Fault::path_prefix(
        "/cgi-bin/token",
        FaultKind::Latency { ms: 500 },
        1,
    ))
    .unwrap();
    let url = format!(
        "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        sb.base_url(),
        c.appid,
        c.app_secret.expose()
    );
    let gave_up = env
        .http
        .get(&url)
        .timeout(Duration::from_millis(150))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client's timeout must fire first");
    assert_eq!(sb.counters()["mp"]["tokens_issued"], 0, "not yet handled");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(sb.counters()["mp"]["tokens_issued"], 1);
    let entry = sb.requests().pop().expect("the request is logged");
    assert_eq!(entry.faults, ["latency"]);
    assert_eq!(entry.status, Some(200));
}
