//! The WeChat Pay client against the in-process sandbox: the real protocol peer (it verifies
//! our signatures as WeChat does and signs its answers). No mocks of our HTTP layer.

use std::time::Duration;

use serde_json::json;
use weixin_kit::operation::Execute as _;
use weixin_kit::operation::{self, PreparedRequest, RequestBody};
use weixin_kit::pay::{
    self, CouponUseMethod, ModifyCouponUseRule, ModifyStockInfoRequest, NotificationEvent,
    Operations as _, PayClient, RetryPolicy, SetCouponNotifyRequest,
};
use weixin_kit::Error;
use weixin_kit_sandbox::{
    CouponNotification, Fault, FaultKind, Listener, NewStock, Sandbox, SigningMode,
};

use crate::common::notify::notification_receiver;
use crate::common::{
    api_error, certificate_client, fast_retry, pay_builder, pay_builder_with_public_key,
    pay_client, sandbox, sandbox_signing, validation,
};

fn modify(out_request_no: &str, comment: &str) -> ModifyStockInfoRequest {
    ModifyStockInfoRequest {
        out_request_no: out_request_no.into(),
        comment: Some(comment.into()),
        ..Default::default()
    }
}

fn new_stock(sb: &Sandbox) -> String {
    sb.create_stock(NewStock::named("8月1日活动券"))
        .unwrap()
        .stock_id
}

fn requests_of(sb: &Sandbox, operation: &str) -> Vec<weixin_kit_sandbox::LogEntry> {
    sb.requests()
        .into_iter()
        .filter(|r| r.operation.as_deref() == Some(operation))
        .collect()
}

fn certificate_downloads(sb: &Sandbox) -> usize {
    sb.requests()
        .iter()
        .filter(|r| r.path == "/v3/certificates")
        .count()
}

async fn modify_and_set_notify(sb: &Sandbox, client: &PayClient, tag: &str) {
    let stock = new_stock(sb);
    client
        .busifavor()
        .modify_stock_info(&stock, &modify(&format!("{tag}-1"), "备注"))
        .await
        .unwrap();
    assert_eq!(
        sb.stock(&stock).unwrap().field("comment"),
        Some(&json!("备注"))
    );
    let resp = client
        .busifavor()
        .set_coupon_notify(&SetCouponNotifyRequest {
            mchid: None,
            notify_url: "https://merchant.example.com/wxpay/coupon".into(),
        })
        .await
        .unwrap();
    assert_eq!(resp.notify_url, "https://merchant.example.com/wxpay/coupon");
    assert_eq!(resp.mchid.as_deref(), Some(sb.credentials().mchid.as_str()));
    assert!(!resp.update_time.is_empty());
}

/// One of the client builders, as a table column.
type MakeClient = fn(&Sandbox) -> PayClient;

/// Certificate mode with the platform certificate configured: nothing to download.
fn configured_certificate_client(sb: &Sandbox) -> PayClient {
    pay_builder(sb)
        .platform_certificates([&sb.credentials().platform_certificate_pem])
        .unwrap()
        .build()
        .unwrap()
}

/// The key a request asks WeChat Pay to answer with (`Wechatpay-Serial`): the public key ID in
/// public-key mode, the newest platform certificate's serial in certificate mode (as
/// wechatpay-go sends it), which a migrating WeChat Pay honours.
#[tokio::test]
async fn requests_name_the_key_to_answer_with() {
    let sb = sandbox_signing(SigningMode::Migration).await;
    let c = sb.credentials().clone();
    for (client, expected) in [
        (
            configured_certificate_client(&sb),
            c.platform_serial_no.clone(),
        ),
        (pay_client(&sb), c.wechatpay_public_key_id.clone()),
    ] {
        sb.reset_log();
        modify_and_set_notify(&sb, &client, &format!("serial-{}", &expected[..4])).await;
        for r in sb.requests() {
            assert_eq!(
                r.wechatpay_serial.as_deref(),
                Some(expected.as_str()),
                "{r:?}"
            );
            assert_eq!(r.signature.as_deref(), Some("ok"));
        }
    }
}

/// Both operations in each way a client can verify what the sandbox signs: every request reached
/// the sandbox signed correctly, and certificates were downloaded only where none was configured
/// (once: the first response named an unknown serial, bootstrapped, then none).
#[tokio::test]
async fn both_operations_in_every_verification_mode() {
    // (what, out_request_no prefix, the sandbox signs with, the client, certificate downloads)
    let cases: [(&str, &str, SigningMode, MakeClient, usize); 3] = [
        ("public key", "pk", SigningMode::PublicKey, pay_client, 0),
        (
            "downloaded certificates",
            "cert",
            SigningMode::Certificate,
            certificate_client,
            1,
        ),
        (
            "configured certificate",
            "static",
            SigningMode::Certificate,
            configured_certificate_client,
            0,
        ),
    ];
    for (what, tag, mode, client, downloads) in cases {
        let sb = sandbox_signing(mode).await;
        let client = client(&sb);
        if downloads > 0 {
            assert!(client.platform_certificate_serials().is_empty(), "{what}");
        }
        modify_and_set_notify(&sb, &client, tag).await;
        assert!(
            sb.requests()
                .iter()
                .all(|r| r.signature.as_deref() == Some("ok")),
            "{what}"
        );
        assert_eq!(certificate_downloads(&sb), downloads, "{what}");
        assert_eq!(client.certificate_downloads() as usize, downloads, "{what}");
        if downloads > 0 {
            assert_eq!(
                client.platform_certificate_serials(),
                vec![sb.credentials().platform_serial_no.clone()],
                "{what}"
            );
        }
    }
}

#[tokio::test]
async fn concurrent_unknown_serials_cause_one_download() {
    let sb = sandbox_signing(SigningMode::Certificate).await;
    let client = certificate_client(&sb);
    let stock = new_stock(&sb);
    let calls = (0..8).map(|i| {
        let client = client.clone();
        let stock = stock.clone();
        tokio::spawn(async move {
            client
                .busifavor()
                .modify_stock_info(&stock, &modify(&format!("sf-{i}"), "x"))
                .await
        })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap().unwrap();
    }
    assert_eq!(certificate_downloads(&sb), 1);
}

#[tokio::test]
async fn migration_public_key_and_certificates_both_accepted() {
    let sb = sandbox().await;
    // Public key + APIv3 key: certificates are fetched when a certificate serial shows up.
    let client = pay_client(&sb);
    let stock = new_stock(&sb);
    let bf = client.busifavor();
    bf.modify_stock_info(&stock, &modify("mig-1", "a"))
        .await
        .unwrap();
    sb.set_signing_mode(SigningMode::Certificate);
    bf.modify_stock_info(&stock, &modify("mig-2", "b"))
        .await
        .unwrap();
    sb.set_signing_mode(SigningMode::PublicKey);
    bf.modify_stock_info(&stock, &modify("mig-3", "c"))
        .await
        .unwrap();
    sb.set_signing_mode(SigningMode::Certificate);
    bf.modify_stock_info(&stock, &modify("mig-4", "d"))
        .await
        .unwrap();
    assert_eq!(certificate_downloads(&sb), 1);

    // Public key + configured certificate, no downloads at all.
    let c = sb.credentials();
    let client = pay_builder_with_public_key(&sb)
        .platform_certificates([&c.platform_certificate_pem])
        .unwrap()
        .build()
        .unwrap();
    sb.reset_log();
    for (i, mode) in [
        SigningMode::PublicKey,
        SigningMode::Certificate,
        SigningMode::PublicKey,
    ]
    .into_iter()
    .enumerate()
    {
        sb.set_signing_mode(mode);
        client
            .busifavor()
            .modify_stock_info(&stock, &modify(&format!("mig-static-{i}"), "e"))
            .await
            .unwrap();
    }
    assert_eq!(certificate_downloads(&sb), 0);
}

#[tokio::test]
async fn public_key_only_rejects_certificate_signed_responses() {
    let sb = sandbox().await;
    let client = pay_builder_with_public_key(&sb).build().unwrap();
    sb.set_signing_mode(SigningMode::Certificate);
    let stock = new_stock(&sb);
    let err = client
        .busifavor()
        .modify_stock_info(&stock, &modify("pk-only", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Signature { .. }), "{err:?}");
}

async fn notification_round_trip(sb: &Sandbox, client: &PayClient) {
    let (url, mut rx) = notification_receiver().await;
    let resp = client
        .busifavor()
        .set_coupon_notify(&SetCouponNotifyRequest {
            mchid: Some(sb.credentials().mchid.clone()),
            notify_url: url.clone(),
        })
        .await
        .unwrap();
    assert_eq!(resp.notify_url, url);
    let stock = new_stock(sb);
    let report = sb
        .send_coupon_notification(CouponNotification {
            stock_id: stock.clone(),
            openid: Some("oUser123".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(report.delivered, "{report:?}");
    let (headers, body) = rx.recv().await.unwrap();
    let notification = client.parse_notification(&headers, &body).await.unwrap();
    assert_eq!(notification.event_type, "COUPON.SEND");
    assert_eq!(notification.id, report.id);
    let NotificationEvent::BusifavorCoupon(event) = notification.event else {
        panic!(
            "expected a typed coupon event, got {:?}",
            notification.event
        );
    };
    assert_eq!(event.stock_id, stock);
    assert_eq!(event.openid.as_deref(), Some("oUser123"));
    assert_eq!(event.send_merchant, sb.credentials().mchid);

    // Tampered and stale notifications are rejected.
    for spoil in [
        CouponNotification {
            stock_id: stock.clone(),
            tamper_signature: true,
            max_attempts: Some(1),
            ..Default::default()
        },
        CouponNotification {
            stock_id: stock.clone(),
            stale_timestamp: true,
            max_attempts: Some(1),
            ..Default::default()
        },
    ] {
        sb.send_coupon_notification(spoil).await.unwrap();
        let (headers, body) = rx.recv().await.unwrap();
        let err = client
            .parse_notification(&headers, &body)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Signature { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn notification_round_trip_in_both_modes() {
    let cases: [(SigningMode, MakeClient); 2] = [
        (SigningMode::PublicKey, pay_client),
        (SigningMode::Certificate, certificate_client),
    ];
    for (mode, client) in cases {
        let sb = sandbox_signing(mode).await;
        notification_round_trip(&sb, &client(&sb)).await;
    }
}

#[tokio::test]
async fn notification_signed_by_a_new_certificate_triggers_a_download() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    let (url, mut rx) = notification_receiver().await;
    client
        .busifavor()
        .set_coupon_notify(&SetCouponNotifyRequest {
            mchid: None,
            notify_url: url,
        })
        .await
        .unwrap();
    sb.set_signing_mode(SigningMode::Certificate);
    let stock = new_stock(&sb);
    sb.send_coupon_notification(CouponNotification {
        stock_id: stock.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let (headers, body) = rx.recv().await.unwrap();
    let n = client.parse_notification(&headers, &body).await.unwrap();
    assert!(matches!(n.event, NotificationEvent::BusifavorCoupon(e) if e.stock_id == stock));
    assert_eq!(certificate_downloads(&sb), 1);
}

#[tokio::test]
async fn failover_to_backup_when_main_is_down() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    let stock = new_stock(&sb);
    sb.set_main_down(true);
    client
        .busifavor()
        .modify_stock_info(&stock, &modify("fo-1", "via backup"))
        .await
        .unwrap();
    let log = requests_of(&sb, "ModifyStockInfo");
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0].listener, Listener::Main);
    assert!(log[0].faults.contains(&"main_down".to_string()));
    assert_eq!(log[1].listener, Listener::Backup);
    assert_eq!(log[1].status, Some(204));

    // Failover off: the dropped connection is a transport error.
    let no_failover = pay_builder_with_public_key(&sb)
        .retry(RetryPolicy {
            failover: false,
            max_attempts: 2,
            ..fast_retry()
        })
        .build()
        .unwrap();
    sb.reset_log();
    let err = no_failover
        .busifavor()
        .modify_stock_info(&stock, &modify("fo-2", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    let text = err.to_string();
    assert!(!text.contains("WECHATPAY2"), "{text}");
    let log = requests_of(&sb, "ModifyStockInfo");
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|r| r.listener == Listener::Main));
    sb.set_main_down(false);
}

#[tokio::test]
async fn system_errors_are_retried_with_the_same_out_request_no_and_applied_once() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    let stock = new_stock(&sb);
    sb.inject_fault(Fault::operation(
        "ModifyStockInfo",
        FaultKind::SystemError,
        2,
    ))
    .unwrap();
    client
        .busifavor()
        .modify_stock_info(&stock, &modify("retry-1", "retried"))
        .await
        .unwrap();
    let log = requests_of(&sb, "ModifyStockInfo");
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![Some(500), Some(500), Some(204)]
    );
    // The same bytes every time (same out_request_no), each attempt signed afresh.
    assert!(log.iter().all(|r| r.body == log[0].body));
    assert!(log[0].body.contains("retry-1"));
    assert!(log.iter().all(|r| r.signature.as_deref() == Some("ok")));
    let counters = sb.counters();
    assert_eq!(
        counters["applied_out_request_nos"][&stock],
        json!(["retry-1"]),
        "{counters}"
    );
    assert_eq!(counters["requests"]["ModifyStockInfo"], json!(3));
}

#[tokio::test]
async fn frequency_limited_is_retried() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    sb.inject_fault(Fault::operation(
        "SetCouponNotify",
        FaultKind::FrequencyLimited,
        1,
    ))
    .unwrap();
    client
        .busifavor()
        .set_coupon_notify(&SetCouponNotifyRequest {
            mchid: None,
            notify_url: "https://m.example.com/n".into(),
        })
        .await
        .unwrap();
    let log = requests_of(&sb, "SetCouponNotify");
    assert_eq!(
        log.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![Some(429), Some(200)]
    );
    // 429 is not a reason to leave the main host.
    assert!(log.iter().all(|r| r.listener == Listener::Main));
}

#[tokio::test]
async fn retries_are_bounded() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    let stock = new_stock(&sb);
    sb.inject_fault(Fault {
        count: None,
        ..Fault::operation("ModifyStockInfo", FaultKind::SystemError, 0)
    })
    .unwrap();
    let err = client
        .busifavor()
        .modify_stock_info(&stock, &modify("bounded", "x"))
        .await
        .unwrap_err();
    let api = api_error(err);
    assert_eq!((api.status, api.code.as_str()), (500, "SYSTEM_ERROR"));
    assert_eq!(api.solution.as_deref(), Some("请稍后重试"));
    assert!(api.retryable);
    assert!(api.request_id.is_some());
    assert_eq!(requests_of(&sb, "ModifyStockInfo").len(), 3);
    assert!(sb.stock(&stock).unwrap().field("comment").is_none());

    // No retries at all.
    let once = pay_builder_with_public_key(&sb)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    sb.reset_log();
    once.busifavor()
        .modify_stock_info(&stock, &modify("bounded-2", "x"))
        .await
        .unwrap_err();
    assert_eq!(requests_of(&sb, "ModifyStockInfo").len(), 1);
}

#[tokio::test]
async fn connection_reset_is_retried() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    let stock = new_stock(&sb);
    sb.inject_fault(Fault::operation(
        "ModifyStockInfo",
        FaultKind::ConnectionReset,
        1,
    ))
    .unwrap();
    client
        .busifavor()
        .modify_stock_info(&stock, &modify("reset-1", "after reset"))
        .await
        .unwrap();
    let log = requests_of(&sb, "ModifyStockInfo");
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].status, None);
    assert_eq!(log[1].status, Some(204));
    assert_eq!(
        sb.counters()["applied_out_request_nos"][&stock],
        json!(["reset-1"])
    );
}

#[tokio::test]
async fn tampered_and_stale_response_signatures_are_rejected_without_retry() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    let stock = new_stock(&sb);
    for (kind, tag) in [
        (FaultKind::TamperSignature, "tamper"),
        (FaultKind::StaleTimestamp { seconds: 600 }, "stale"),
    ] {
        sb.reset_log();
        sb.inject_fault(Fault::operation("ModifyStockInfo", kind, 1))
            .unwrap();
        let err = client
            .busifavor()
            .modify_stock_info(&stock, &modify(tag, tag))
            .await
            .unwrap_err();
        let Error::Signature { detail } = &err else {
            panic!("{tag}: expected Error::Signature, got {err:?}");
        };
        assert!(detail.contains("Request-ID"), "{detail}");
        assert_eq!(requests_of(&sb, "ModifyStockInfo").len(), 1, "{tag}");
    }
    // A stale SetCouponNotify response (typed body) is rejected too.
    sb.inject_fault(Fault::operation(
        "SetCouponNotify",
        FaultKind::StaleTimestamp { seconds: 301 },
        1,
    ))
    .unwrap();
    let err = client
        .busifavor()
        .set_coupon_notify(&SetCouponNotifyRequest {
            mchid: None,
            notify_url: "https://m.example.com/n".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Signature { .. }), "{err:?}");
}

#[tokio::test]
async fn documented_error_paths_map_to_api_errors() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    let bf = client.busifavor();

    // 404 RESOURCE_NOT_EXISTS with the documented solution.
    let api = api_error(
        bf.modify_stock_info("9999999999", &modify("e-404", "x"))
            .await
            .unwrap_err(),
    );
    assert_eq!(api.status, 404);
    assert_eq!(api.code, "RESOURCE_NOT_EXISTS");
    assert_eq!(api.message, "批次不存在");
    assert_eq!(api.solution.as_deref(), Some("请检查批次ID后重试"));
    assert!(api.request_id.as_deref().is_some_and(|id| !id.is_empty()));
    assert!(!api.retryable);

    // 403 RULE_LIMIT: a stock created by another merchant.
    let foreign = sb
        .create_stock(NewStock {
            creator_mchid: Some("1900000002".into()),
            ..NewStock::named("别人的券")
        })
        .unwrap()
        .stock_id;
    let api = api_error(
        bf.modify_stock_info(&foreign, &modify("e-403", "x"))
            .await
            .unwrap_err(),
    );
    assert_eq!((api.status, api.code.as_str()), (403, "RULE_LIMIT"));
    assert_eq!(
        api.solution.as_deref(),
        Some("仅允许调用方进行修改,请更换调用API的商户号")
    );

    // 400 PARAM_ERROR from the server: a body our validation would have refused, sent as
    // another SDK might (prepared by hand, bypassing validation).
    let stock = new_stock(&sb);
    let prepared = PreparedRequest {
        operation: &pay::specs::MODIFY_STOCK_INFO,
        path_and_query: format!("/v3/marketing/busifavor/stocks/{stock}"),
        body: RequestBody::Json(
            br#"{"out_request_no":"e-400","comment":"123456789012345678901"}"#.to_vec(),
        ),
    };
    let response = client.execute(prepared).await.unwrap();
    let api =
        api_error(operation::decode_empty(&pay::specs::MODIFY_STOCK_INFO, &response).unwrap_err());
    assert_eq!((api.status, api.code.as_str()), (400, "PARAM_ERROR"));
    assert_eq!(api.solution.as_deref(), Some("请根据错误提示正确传入参数"));
    assert!(api.detail.is_some());
    assert!(api.request_id.is_some());

    // SetCouponNotify: 400 MCH_NOT_EXISTS and 403 NOAUTH.
    let api = api_error(
        bf.set_coupon_notify(&SetCouponNotifyRequest {
            mchid: Some("1900abcd".into()),
            notify_url: "https://m.example.com/n".into(),
        })
        .await
        .unwrap_err(),
    );
    assert_eq!((api.status, api.code.as_str()), (400, "MCH_NOT_EXISTS"));
    assert_eq!(api.solution.as_deref(), Some("请确认传入的商户号是否正确"));
    let api = api_error(
        bf.set_coupon_notify(&SetCouponNotifyRequest {
            mchid: Some("1900000002".into()),
            notify_url: "https://m.example.com/n".into(),
        })
        .await
        .unwrap_err(),
    );
    assert_eq!((api.status, api.code.as_str()), (403, "NOAUTH"));
    // None of these was retried.
    assert!(sb.requests().iter().all(|r| r.faults.is_empty()));
    assert_eq!(sb.requests().len(), 5);
}

#[tokio::test]
async fn validation_errors_are_caught_before_sending() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    let stock = new_stock(&sb);
    // (what, body, the field named, part of the rule)
    let cases = [
        (
            "stock_name of 22 characters",
            ModifyStockInfoRequest {
                out_request_no: "v-1".into(),
                stock_name: Some("一二三四五六七八九十一二三四五六七八九十一二".into()),
                ..Default::default()
            },
            "stock_name",
            "21",
        ),
        (
            "comment of 21 characters",
            modify("v-2", "一二三四五六七八九十一二三四五六七八九十一"),
            "comment",
            "",
        ),
        (
            "a use_method the spec does not list",
            ModifyStockInfoRequest {
                out_request_no: "v-3".into(),
                coupon_use_rule: Some(ModifyCouponUseRule {
                    use_method: Some(CouponUseMethod::Unknown("TELEPORT".into())),
                    ..Default::default()
                }),
                ..Default::default()
            },
            "coupon_use_rule.use_method",
            "",
        ),
    ];
    for (what, body, want_field, rule_part) in cases {
        let (field, rule) = validation(client.busifavor().modify_stock_info(&stock, &body).await);
        assert_eq!(field, want_field, "{what}: {rule}");
        assert!(
            rule.contains(rule_part),
            "{what}: {rule_part:?} not in {rule:?}"
        );
    }
    let (field, rule) = validation(operation::request_from_json::<ModifyStockInfoRequest>(
        json!({"comment": "x"}),
    ));
    assert_eq!(
        (field.as_str(), rule.as_str()),
        ("out_request_no", "is required")
    );

    assert!(sb.requests().is_empty(), "{:?}", sb.requests());
}

#[tokio::test]
async fn timeout_is_reported_as_timeout() {
    let sb = sandbox().await;
    let client = pay_builder_with_public_key(&sb)
        .timeout(Duration::from_millis(300))
        .retry(RetryPolicy {
            max_attempts: 2,
            ..fast_retry()
        })
        .build()
        .unwrap();
    let stock = new_stock(&sb);
    sb.inject_fault(Fault::operation(
        "ModifyStockInfo",
        FaultKind::Latency { ms: 1500 },
        3,
    ))
    .unwrap();
    let err = client
        .busifavor()
        .modify_stock_info(&stock, &modify("slow", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    // Both attempts reached the sandbox and each used up one of the three latency faults (the
    // sandbox logs a request only once it answers, and these were abandoned).
    let faults = sb.faults();
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0].remaining, Some(1), "{faults:?}");
    sb.clear_faults();
    // A slow host is retried, but it is not a reason to fail over: the backup saw nothing.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(sb.requests().iter().all(|r| r.listener == Listener::Main));
}

#[tokio::test]
async fn escape_hatch_request() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    let stock = new_stock(&sb);
    let path = format!("/v3/marketing/busifavor/stocks/{stock}");
    let v = client
        .request(
            "PATCH",
            &path,
            Some(json!({"out_request_no": "raw-1", "goods_name": "全场通用"})),
            None,
        )
        .await
        .unwrap();
    assert_eq!(v, serde_json::Value::Null);
    assert_eq!(
        sb.stock(&stock).unwrap().field("goods_name"),
        Some(&json!("全场通用"))
    );

    let certs = client
        .request("GET", "/v3/certificates", None, None)
        .await
        .unwrap();
    assert_eq!(
        certs["data"][0]["serial_no"],
        json!(sb.credentials().platform_serial_no)
    );
    assert_eq!(
        certs["data"][0]["encrypt_certificate"]["algorithm"],
        json!("AEAD_AES_256_GCM")
    );

    let api = api_error(
        client
            .request(
                "PATCH",
                "/v3/marketing/busifavor/stocks/0000",
                Some(json!({"out_request_no": "raw-2"})),
                None,
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(
        (api.status, api.code.as_str()),
        (404, "RESOURCE_NOT_EXISTS")
    );
    assert!(api.request_id.is_some());

    // Retried like the rest.
    sb.inject_fault(Fault::path_prefix(
        "/v3/certificates",
        FaultKind::SystemError,
        1,
    ))
    .unwrap();
    client
        .request("GET", "/v3/certificates", None, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn image_upload_is_multipart_with_signed_meta() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    // A tiny PNG-ish payload: the sandbox checks the suffix, the size and the sha256.
    let image: Vec<u8> = (0..4096u32).map(|i| (i % 251) as u8).collect();
    let resp = client
        .media()
        .marketing_image_upload("banner.png", image.clone())
        .await
        .unwrap();
    assert!(!resp.media_url.is_empty());
    let media = sb.media();
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].media_url, resp.media_url);
    assert_eq!(media[0].filename, "banner.png");
    assert_eq!(media[0].sha256, operation::sha256_hex(&image));
    assert_eq!(media[0].size, image.len());
}

#[tokio::test]
async fn pkcs1_private_key_works() {
    let sb = sandbox().await;
    let c = sb.credentials();
    let dir = std::env::temp_dir().join(format!("wxk-pkcs1-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pkcs8 = dir.join("key8.pem");
    std::fs::write(&pkcs8, c.merchant_private_key_pem.expose()).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["rsa", "-traditional", "-in"])
        .arg(&pkcs8)
        .output()
        .expect("openssl");
    assert!(out.status.success());
    let pkcs1 = String::from_utf8(out.stdout).unwrap();
    assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"));
    let pkcs1_path = dir.join("key1.pem");
    std::fs::write(&pkcs1_path, &pkcs1).unwrap();

    let client = PayClient::builder()
        .mchid(&c.mchid)
        .serial_no(&c.merchant_serial_no)
        .private_key_file(&pkcs1_path)
        .unwrap()
        .wechatpay_public_key(&c.wechatpay_public_key_id, &c.wechatpay_public_key_pem)
        .unwrap()
        .base_url(sb.base_url())
        .no_backup()
        .build()
        .unwrap();
    let stock = new_stock(&sb);
    client
        .busifavor()
        .modify_stock_info(&stock, &modify("pkcs1", "x"))
        .await
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn configuration_errors_and_redaction() {
    let sb = sandbox().await;
    let c = sb.credentials();

    let err = pay_builder(&sb).apiv3_key("too-short").unwrap_err();
    let Error::Config { detail } = &err else {
        panic!("{err:?}")
    };
    assert!(detail.contains("32"), "{detail}");
    assert!(!detail.contains("too-short"), "{detail}");

    let err = PayClient::builder().build().unwrap_err();
    let Error::Config { detail } = &err else {
        panic!("{err:?}")
    };
    for what in ["mchid", "serial_no", "private key", "verify"] {
        assert!(detail.contains(what), "{what} not in {detail}");
    }

    let err = pay_builder(&sb).build().unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");

    let err = pay_builder(&sb).private_key_pem("not a key").unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");

    let client = pay_client(&sb);
    let debug = format!("{client:?}");
    assert!(debug.contains(&c.mchid));
    assert!(!debug.contains(c.apiv3_key.expose()), "{debug}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");

    // Notifications need the APIv3 key.
    let no_key = pay_builder_with_public_key(&sb).build().unwrap();
    let err = no_key
        .parse_notification(&http::HeaderMap::new(), b"{}")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
}

#[tokio::test]
async fn background_refresher_ends_with_the_client() {
    let sb = sandbox_signing(SigningMode::Certificate).await;
    let client = pay_builder(&sb)
        .apiv3_key(sb.credentials().apiv3_key.expose())
        .unwrap()
        // Below the 60 s floor of certificate_refresh_interval: the test-only setter.
        .certificate_refresh_interval_unchecked(Duration::from_millis(200))
        .build()
        .unwrap();
    let serials = client.refresh_certificates().await.unwrap();
    assert_eq!(serials, vec![sb.credentials().platform_serial_no.clone()]);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let during = certificate_downloads(&sb);
    assert!(during >= 3, "background refreshes: {during}");
    drop(client);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = certificate_downloads(&sb);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(certificate_downloads(&sb), after, "refresher still running");
}

/// A notification that names `serial` but is signed by nobody: what a forger can send.
fn forged_notification(serial: &str) -> (http::HeaderMap, Vec<u8>) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut h = http::HeaderMap::new();
    h.insert("Wechatpay-Serial", serial.parse().unwrap());
    h.insert("Wechatpay-Signature", "Zm9yZ2Vk".parse().unwrap());
    h.insert("Wechatpay-Timestamp", now.to_string().parse().unwrap());
    h.insert("Wechatpay-Nonce", "forged-nonce".parse().unwrap());
    (h, br#"{"id":"forged"}"#.to_vec())
}

#[tokio::test]
async fn forged_serials_cause_at_most_one_download_per_interval() {
    // A download that fails (its signature does not verify): the next unknown serial within
    // ON_DEMAND_MIN_INTERVAL does not try again.
    let sb = sandbox().await;
    let client = pay_client(&sb);
    sb.inject_fault(Fault::path_prefix(
        "/v3/certificates",
        FaultKind::TamperSignature,
        100,
    ))
    .unwrap();
    for serial in ["1A2B3C4D5E6F", "6F5E4D3C2B1A", "0123456789AB"] {
        let (headers, body) = forged_notification(serial);
        let err = client
            .parse_notification(&headers, &body)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Signature { .. }), "{err:?}");
    }
    assert_eq!(certificate_downloads(&sb), 1);
    assert_eq!(client.certificate_downloads(), 0);

    // A download that succeeds but does not bring the serial: likewise.
    let sb = sandbox().await;
    let client = pay_client(&sb);
    for serial in ["1A2B3C4D5E6F", "6F5E4D3C2B1A"] {
        let (headers, body) = forged_notification(serial);
        let err = client
            .parse_notification(&headers, &body)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Signature { detail } if detail.contains(serial)),
            "{err:?}"
        );
    }
    assert_eq!(certificate_downloads(&sb), 1);
    assert_eq!(client.certificate_downloads(), 1);
}

#[tokio::test]
async fn escape_hatch_rejects_paths_that_would_not_be_sent_as_signed() {
    let sb = sandbox().await;
    let client = pay_client(&sb);
    for (path, rule_part) in [
        ("/v3/marketing/busifavor/stocks/a b", "percent-encode"),
        ("/v3/marketing/busifavor/stocks/中文", "percent-encode"),
        ("/v3/marketing/busifavor/stocks/{id}", "percent-encode"),
        ("/v3/marketing/busifavor/../certificates", "segments"),
        ("/v3/./certificates", "segments"),
    ] {
        match client.request("GET", path, None, None).await {
            Err(Error::Validation { field, rule }) => {
                assert_eq!(field, "path", "{path}");
                assert!(rule.contains(rule_part), "{path}: {rule}");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
    assert!(sb.requests().is_empty(), "{:?}", sb.requests());
    // Percent-encoded, the same characters are fine.
    let stock = new_stock(&sb);
    client
        .request(
            "PATCH",
            &format!("/v3/marketing/busifavor/stocks/{stock}"),
            Some(json!({"out_request_no": "raw-enc", "goods_name": "a b"})),
            None,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn base_url_with_a_path_is_a_configuration_error() {
    let sb = sandbox().await;
    let c = sb.credentials();
    for (main, backup) in [
        (format!("{}/prefix", sb.base_url()), sb.backup_base_url()),
        (sb.base_url(), format!("{}/v3", sb.backup_base_url())),
    ] {
        let err = pay_builder(&sb)
            .base_url(main)
            .backup_base_url(backup)
            .wechatpay_public_key(&c.wechatpay_public_key_id, &c.wechatpay_public_key_pem)
            .unwrap()
            .build()
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config { detail } if detail.contains("without a path")),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn a_custom_base_url_never_fails_over_to_the_real_backup_host() {
    let sb = sandbox().await;
    let c = sb.credentials();
    let client = PayClient::builder()
        .mchid(&c.mchid)
        .serial_no(&c.merchant_serial_no)
        .private_key_pem(c.merchant_private_key_pem.expose())
        .unwrap()
        .wechatpay_public_key(&c.wechatpay_public_key_id, &c.wechatpay_public_key_pem)
        .unwrap()
        .base_url(sb.base_url())
        .retry(fast_retry())
        .build()
        .unwrap();
    let debug = format!("{client:?}");
    assert!(debug.contains("backup_base_url: None"), "{debug}");
    assert!(!debug.contains("api2.mch.weixin.qq.com"), "{debug}");

    // Main down: the call fails on the sandbox's main host instead of going anywhere else.
    sb.set_main_down(true);
    let err = client
        .busifavor()
        .modify_stock_info("1", &modify("no-real-backup", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(
        sb.requests().iter().all(|r| r.listener == Listener::Main),
        "the backup listener saw nothing"
    );
    assert!(!sb.requests().is_empty(), "main saw the attempts");

    // Without a base_url the documented backup host stays the default.
    let default = PayClient::builder()
        .mchid(&c.mchid)
        .serial_no(&c.merchant_serial_no)
        .private_key_pem(c.merchant_private_key_pem.expose())
        .unwrap()
        .wechatpay_public_key(&c.wechatpay_public_key_id, &c.wechatpay_public_key_pem)
        .unwrap()
        .build()
        .unwrap();
    assert!(format!("{default:?}").contains("api2.mch.weixin.qq.com"));
}

// =============================================================================================
// Signer: the merchant key kept in a KMS/HSM, reached through `PayClientBuilder::signer`.
// Self-contained block (its own helpers), so it can move as one piece.
// =============================================================================================
mod signer {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use base64::Engine as _;
    use weixin_kit::crypto::PrivateKey;
    use weixin_kit::pay::{Operations as _, PayClient, PayClientBuilder, Signer};
    use weixin_kit::{BoxFuture, Error, Result};
    use weixin_kit_sandbox::{Fault, FaultKind, Sandbox};

    use super::{fast_retry, modify, new_stock, requests_of, sandbox};

    /// What a KMS client looks like: asynchronous, holding the key elsewhere (here: the
    /// sandbox's merchant key), answering base64. Records every signing string it was given.
    struct RemoteKey {
        key: PrivateKey,
        /// Fail (with `Error::Transport`, as a KMS outage would) from this call on (0-based).
        fail_from: usize,
        /// Answer this instead of a signature.
        answer: Option<&'static str>,
        messages: Mutex<Vec<Vec<u8>>>,
        calls: AtomicUsize,
    }

    impl RemoteKey {
        fn new(sb: &Sandbox) -> Self {
            RemoteKey {
                key: PrivateKey::from_pem(sb.credentials().merchant_private_key_pem.expose())
                    .unwrap(),
                fail_from: usize::MAX,
                answer: None,
                messages: Mutex::new(Vec::new()),
                calls: AtomicUsize::new(0),
            }
        }
    }

    impl Signer for RemoteKey {
        fn sign<'a>(&'a self, message: &'a [u8]) -> BoxFuture<'a, Result<String>> {
            Box::pin(async move {
                // A network round trip to the key service.
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                let call = self.calls.fetch_add(1, Ordering::SeqCst);
                self.messages.lock().unwrap().push(message.to_vec());
                if call >= self.fail_from {
                    return Err(Error::Transport {
                        may_have_been_applied: false,
                        detail: "KMS unreachable".into(),
                    });
                }
                if let Some(answer) = self.answer {
                    return Ok(answer.to_owned());
                }
                let signature = self.key.sign_sha256(message)?;
                Ok(base64::engine::general_purpose::STANDARD.encode(signature))
            })
        }
    }

    /// Identity and hosts with a signer instead of a private key; public-key mode.
    fn with_signer(sb: &Sandbox, signer: Arc<dyn Signer>) -> PayClientBuilder {
        let c = sb.credentials();
        PayClient::builder()
            .mchid(&c.mchid)
            .serial_no(&c.merchant_serial_no)
            .signer(signer)
            .wechatpay_public_key(&c.wechatpay_public_key_id, &c.wechatpay_public_key_pem)
            .unwrap()
            .base_url(sb.base_url())
            .backup_base_url(sb.backup_base_url())
            .retry(fast_retry())
    }

    #[tokio::test]
    async fn a_signer_signs_every_attempt_and_the_sandbox_accepts_it() {
        let sb = sandbox().await;
        let remote = Arc::new(RemoteKey::new(&sb));
        let client = with_signer(&sb, remote.clone()).build().unwrap();
        let stock = new_stock(&sb);
        // Two 500s then success: three attempts, each signed afresh by the signer.
        sb.inject_fault(Fault::operation(
            "ModifyStockInfo",
            FaultKind::SystemError,
            2,
        ))
        .unwrap();
        client
            .busifavor()
            .modify_stock_info(&stock, &modify("signer-1", "KMS"))
            .await
            .unwrap();
        let log = requests_of(&sb, "ModifyStockInfo");
        assert_eq!(log.len(), 3, "{log:?}");
        assert!(
            log.iter().all(|r| r.signature.as_deref() == Some("ok")),
            "{log:?}"
        );
        let messages = remote.messages.lock().unwrap().clone();
        assert_eq!(messages.len(), 3);
        // METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n over the exact bytes sent; fresh nonce each time.
        let path = format!("/v3/marketing/busifavor/stocks/{stock}");
        for (message, entry) in messages.iter().zip(&log) {
            let text = String::from_utf8(message.clone()).unwrap();
            let parts: Vec<&str> = text.split('\n').collect();
            assert_eq!(parts.len(), 6, "{text}");
            assert_eq!(parts[0], "PATCH");
            assert_eq!(parts[1], path);
            assert_eq!(parts[4], entry.body);
            assert_eq!(parts[5], "");
        }
        let nonces: std::collections::HashSet<&[u8]> = messages
            .iter()
            .map(|m| m.split(|&b| b == b'\n').nth(3).unwrap())
            .collect();
        assert_eq!(nonces.len(), 3, "every attempt has its own nonce");

        // The escape hatch is signed by it too.
        let answer = client
            .request("GET", "/v3/certificates", None, None)
            .await
            .unwrap();
        assert!(answer["data"].is_array(), "{answer}");
        assert_eq!(
            sb.requests().last().unwrap().signature.as_deref(),
            Some("ok")
        );
        assert_eq!(remote.calls.load(Ordering::SeqCst), 4);

        // No key material, and the signer is named as such.
        let debug = format!("{client:?}");
        assert!(debug.contains("external Signer"), "{debug}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    }

    #[tokio::test]
    async fn a_failing_signer_fails_the_call_and_nothing_is_sent() {
        let sb = sandbox().await;
        let remote = Arc::new(RemoteKey {
            fail_from: 0,
            ..RemoteKey::new(&sb)
        });
        let client = with_signer(&sb, remote.clone()).build().unwrap();
        let stock = new_stock(&sb);
        sb.reset_log();
        let err = client
            .busifavor()
            .modify_stock_info(&stock, &modify("signer-2", "x"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Transport { detail, .. } if detail == "KMS unreachable"),
            "{err:?}"
        );
        assert_eq!(remote.calls.load(Ordering::SeqCst), 1, "not retried");
        assert!(sb.requests().is_empty(), "{:?}", sb.requests());

        // Failing on a retry: the attempt already sent stands, the retry is not sent.
        let remote = Arc::new(RemoteKey {
            fail_from: 1,
            ..RemoteKey::new(&sb)
        });
        let client = with_signer(&sb, remote.clone()).build().unwrap();
        sb.inject_fault(Fault::operation(
            "ModifyStockInfo",
            FaultKind::SystemError,
            1,
        ))
        .unwrap();
        let err = client
            .busifavor()
            .modify_stock_info(&stock, &modify("signer-3", "x"))
            .await
            .unwrap_err();
        assert!(matches!(&err, Error::Transport { .. }), "{err:?}");
        let log = requests_of(&sb, "ModifyStockInfo");
        assert_eq!(log.len(), 1, "{log:?}");
        assert_eq!(log[0].status, Some(500));
    }

    #[tokio::test]
    async fn a_signer_answering_something_that_is_not_base64_is_a_config_error() {
        let sb = sandbox().await;
        let stock = new_stock(&sb);
        for answer in ["", "not base64!", "-----BEGIN PRIVATE KEY-----"] {
            sb.reset_log();
            let remote = Arc::new(RemoteKey {
                answer: Some(answer),
                ..RemoteKey::new(&sb)
            });
            let client = with_signer(&sb, remote.clone()).build().unwrap();
            let err = client
                .busifavor()
                .modify_stock_info(&stock, &modify("signer-4", "x"))
                .await
                .unwrap_err();
            let Error::Config { detail } = &err else {
                panic!("{answer:?}: {err:?}")
            };
            assert!(
                detail.contains("the signer returned an invalid signature"),
                "{detail}"
            );
            assert!(answer.is_empty() || !detail.contains(answer), "{detail}");
            assert_eq!(remote.calls.load(Ordering::SeqCst), 1);
            assert!(sb.requests().is_empty(), "{answer:?}: {:?}", sb.requests());
        }
    }

    #[tokio::test]
    async fn a_signer_replaces_the_private_key_in_the_builder() {
        let sb = sandbox().await;
        let c = sb.credentials();
        let remote: Arc<dyn Signer> = Arc::new(RemoteKey::new(&sb));
        // A signer alone is enough (no private key).
        with_signer(&sb, remote.clone()).build().unwrap();
        // Neither: the error names both ways.
        let err = PayClient::builder()
            .mchid(&c.mchid)
            .serial_no(&c.merchant_serial_no)
            .wechatpay_public_key(&c.wechatpay_public_key_id, &c.wechatpay_public_key_pem)
            .unwrap()
            .build()
            .unwrap_err();
        let Error::Config { detail } = &err else {
            panic!("{err:?}")
        };
        assert!(detail.contains("a private key or a signer"), "{detail}");
        // Both: ambiguous, refused.
        let err = with_signer(&sb, remote)
            .private_key_pem(c.merchant_private_key_pem.expose())
            .unwrap()
            .build()
            .unwrap_err();
        let Error::Config { detail } = &err else {
            panic!("{err:?}")
        };
        assert!(detail.contains("both"), "{detail}");
        assert!(!detail.contains("PRIVATE KEY"), "{detail}");
    }
}
