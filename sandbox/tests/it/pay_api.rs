//! WeChat Pay routes against an independent signer (the openssl CLI): request verification,
//! response signatures, every ModifyStockInfo rule, SetCouponNotify, the image upload and
//! /v3/certificates.

use crate::common::{start, Tweak};
use serde_json::json;
use weixin_kit_sandbox::{NewStock, SigningMode};

const STOCKS: &str = "/v3/marketing/busifavor/stocks";
const CALLBACKS: &str = "/v3/marketing/busifavor/callbacks";

#[tokio::test]
async fn openssl_signed_requests_are_accepted_and_responses_verify() {
    let env = start().await;
    let stock = env
        .sandbox
        .create_stock(NewStock::named("8月1日活动券"))
        .unwrap();
    let path = format!("{STOCKS}/{}", stock.stock_id);

    // ModifyStockInfo → 204, signed (empty body), in public-key mode.
    let reply = env
        .send(
            "PATCH",
            &path,
            r#"{"out_request_no":"1900000001202401010001","comment":"活动使用"}"#,
        )
        .await;
    assert_eq!(
        reply.status,
        204,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(reply.body.is_empty());
    assert_eq!(
        reply.header("Wechatpay-Serial"),
        env.sandbox.credentials().wechatpay_public_key_id
    );
    assert_eq!(reply.header("Wechatpay-Nonce").len(), 32);
    assert!(!reply.header("Request-ID").is_empty());
    assert!(env.verify_response(&reply), "204 response signature");
    assert_eq!(
        env.sandbox.stock(&stock.stock_id).unwrap().field("comment"),
        Some(&json!("活动使用"))
    );

    // SetCouponNotify → 200, in certificate mode.
    env.sandbox.set_signing_mode(SigningMode::Certificate);
    let reply = env
        .send(
            "POST",
            CALLBACKS,
            r#"{"mchid":"1900000001","notify_url":"https://pay.weixin.qq.com/notify"}"#,
        )
        .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(
        reply.header("Wechatpay-Serial"),
        env.sandbox.credentials().platform_serial_no
    );
    assert!(
        env.verify_response(&reply),
        "200 response signature (certificate)"
    );
    let body = reply.json();
    assert_eq!(body["notify_url"], "https://pay.weixin.qq.com/notify");
    assert_eq!(body["mchid"], "1900000001");
    assert!(body["update_time"].as_str().unwrap().ends_with("+08:00"));

    // The log records the verdicts.
    let log = env.sandbox.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].operation.as_deref(), Some("ModifyStockInfo"));
    assert_eq!(log[0].signature.as_deref(), Some("ok"));
    assert_eq!(log[0].status, Some(204));
    assert_eq!(log[1].operation.as_deref(), Some("SetCouponNotify"));
}

#[tokio::test]
async fn bad_signatures_get_401_sign_error_with_the_expected_string() {
    let env = start().await;
    let stock = env.sandbox.create_stock(NewStock::named("券")).unwrap();
    let path = format!("{STOCKS}/{}", stock.stock_id);
    let body = r#"{"out_request_no":"r1","comment":"a"}"#;

    // Body tampered after signing.
    let tampered = r#"{"out_request_no":"r1","comment":"b"}"#;
    let reply = env
        .send_tweaked(
            "PATCH",
            &path,
            body,
            Tweak {
                send_body: Some(tampered.as_bytes().to_vec()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(reply.status, 401);
    let err = reply.json();
    assert_eq!(err["code"], "SIGN_ERROR");
    assert_eq!(err["message"], "签名错误");
    assert_eq!(err["detail"]["field"], "signature");
    let expected = err["detail"]["expected_signing_string"].as_str().unwrap();
    assert!(
        expected.starts_with(&format!("PATCH\n{path}\n")),
        "{expected}"
    );
    assert!(expected.ends_with(&format!("\n{tampered}\n")), "{expected}");
    // WeChat's own shape (FAQ 如何定位"错误的签名，导致验签失败"): exactly these four keys; the
    // string WeChat built with the body cut after 8 bytes, and the full string's byte length.
    let info = &err["detail"]["sign_information"];
    let mut keys: Vec<&str> = info
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "method",
            "sign_message_length",
            "truncated_sign_message",
            "url"
        ]
    );
    assert_eq!(info["method"], "PATCH");
    assert_eq!(info["url"], path.as_str());
    let truncated = info["truncated_sign_message"].as_str().unwrap();
    let lines: Vec<&str> = truncated.split('\n').collect();
    assert_eq!(lines.len(), 6, "{truncated:?}");
    assert_eq!(&lines[..2], ["PATCH", path.as_str()]);
    assert_eq!(lines[4], "{\"out_re", "the body cut after 8 bytes");
    assert_eq!(lines[5], "");
    // 4 header lines and their newlines, the 37-byte body and its newline.
    let header_bytes = "PATCH\n".len() + path.len() + 1 + lines[2].len() + 1 + lines[3].len() + 1;
    assert_eq!(tampered.len(), 37);
    assert_eq!(info["sign_message_length"], header_bytes + 37 + 1);
    assert!(
        env.verify_response(&reply),
        "error responses are signed too"
    );

    // Stale timestamp (10 minutes old).
    let reply = env
        .send_tweaked(
            "PATCH",
            &path,
            body,
            Tweak {
                timestamp_offset: -600,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(reply.status, 401);
    let err = reply.json();
    assert_eq!(err["detail"]["field"], "timestamp");
    assert!(err["detail"]["expected_signing_string"]
        .as_str()
        .unwrap()
        .ends_with(&format!("\n{body}\n")));

    // Wrong serial, and no header at all.
    let reply = env
        .send_tweaked(
            "PATCH",
            &path,
            body,
            Tweak {
                serial_no: Some("0123".into()),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.json()["detail"]["field"], "serial_no");
    let reply = env
        .send_tweaked(
            "PATCH",
            &path,
            body,
            Tweak {
                no_auth: true,
                ..Default::default()
            },
        )
        .await;
    assert_eq!(reply.status, 401);
    assert!(reply.json()["detail"]["issue"]
        .as_str()
        .unwrap()
        .contains("missing"));

    // Nothing was applied, and the log says why.
    assert!(env
        .sandbox
        .stock(&stock.stock_id)
        .unwrap()
        .applied_out_request_nos
        .is_empty());
    let verdicts: Vec<_> = env
        .sandbox
        .requests()
        .into_iter()
        .map(|e| e.signature.unwrap())
        .collect();
    assert_eq!(verdicts.len(), 4);
    assert!(verdicts.iter().all(|v| v != "ok"), "{verdicts:?}");
}

#[tokio::test]
async fn modify_stock_info_rules() {
    let env = start().await;
    let sb = &env.sandbox;
    let stock = sb
        .create_stock(NewStock {
            stock_name: "8月1日活动券".into(),
            comment: Some("旧备注".into()),
            ..Default::default()
        })
        .unwrap();
    let path = format!("{STOCKS}/{}", stock.stock_id);

    // Unknown stock → 404.
    let reply = env
        .send(
            "PATCH",
            &format!("{STOCKS}/404404404"),
            r#"{"out_request_no":"x1"}"#,
        )
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.json(),
        json!({"code":"RESOURCE_NOT_EXISTS","message":"批次不存在"})
    );

    // After the end time → 403 RULE_LIMIT.
    let expired = sb
        .create_stock(NewStock {
            stock_name: "过期".into(),
            available_end_time: Some("2020-01-01T00:00:00+08:00".into()),
            ..Default::default()
        })
        .unwrap();
    let reply = env
        .send(
            "PATCH",
            &format!("{STOCKS}/{}", expired.stock_id),
            r#"{"out_request_no":"x2"}"#,
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["code"], "RULE_LIMIT");

    // Created by another merchant → 403 RULE_LIMIT 修改流程中仅允许创建方进行操作.
    let foreign = sb
        .create_stock(NewStock {
            stock_name: "别人的".into(),
            creator_mchid: Some("1900000002".into()),
            ..Default::default()
        })
        .unwrap();
    let reply = env
        .send(
            "PATCH",
            &format!("{STOCKS}/{}", foreign.stock_id),
            r#"{"out_request_no":"x3"}"#,
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.json(),
        json!({"code":"RULE_LIMIT","message":"修改流程中仅允许创建方进行操作"})
    );

    // stock_name: the same is fine, a different one is refused.
    let reply = env
        .send(
            "PATCH",
            &path,
            r#"{"out_request_no":"n1","stock_name":"改名"}"#,
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "INVALID_REQUEST");
    let reply = env
        .send(
            "PATCH",
            &path,
            r#"{"out_request_no":"n2","stock_name":"8月1日活动券"}"#,
        )
        .await;
    assert_eq!(reply.status, 204);

    // subsidy: false → true allowed, true → false refused.
    let reply = env
        .send("PATCH", &path, r#"{"out_request_no":"s1","subsidy":true}"#)
        .await;
    assert_eq!(reply.status, 204);
    let reply = env
        .send("PATCH", &path, r#"{"out_request_no":"s2","subsidy":false}"#)
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "INVALID_REQUEST");
    assert_eq!(
        sb.stock(&stock.stock_id).unwrap().field("subsidy"),
        Some(&json!(true))
    );

    // The same out_request_no and body again → 204, applied once.
    let change = r#"{"out_request_no":"d1","comment":"新备注","display_pattern_info":{"description":"门店可用"}}"#;
    assert_eq!(env.send("PATCH", &path, change).await.status, 204);
    let respaced = r#"{ "out_request_no": "d1", "comment": "新备注", "display_pattern_info": {"description": "门店可用"} }"#;
    assert_eq!(env.send("PATCH", &path, respaced).await.status, 204);
    // … with a different body → 400.
    let reply = env
        .send(
            "PATCH",
            &path,
            r#"{"out_request_no":"d1","comment":"别的"}"#,
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "INVALID_REQUEST");
    let now = sb.stock(&stock.stock_id).unwrap();
    assert_eq!(now.field("comment"), Some(&json!("新备注")));
    assert_eq!(now.applied_out_request_nos, ["n2", "s1", "d1"]);
    let counters = sb.counters();
    assert_eq!(
        counters["applied_out_request_nos"][&stock.stock_id],
        json!(["n2", "s1", "d1"])
    );

    // Validation → 400 PARAM_ERROR naming the field.
    let reply = env
        .send(
            "PATCH",
            &path,
            r#"{"out_request_no":"v1","custom_entrance":{"mini_programs_info":{"entrance_words":"六个字的入口"}}}"#,
        )
        .await;
    assert_eq!(reply.status, 400);
    let err = reply.json();
    assert_eq!(err["code"], "PARAM_ERROR");
    assert_eq!(
        err["detail"]["field"],
        "/custom_entrance/mini_programs_info/entrance_words"
    );
    let reply = env.send("PATCH", &path, r#"{"comment":"无单号"}"#).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["detail"]["field"], "/out_request_no");
    let reply = env
        .send(
            "PATCH",
            &path,
            r#"{"out_request_no":"v2","comment":"二十一个字二十一个字二十一个字二十一个字二"}"#,
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["detail"]["field"], "/comment");
    let reply = env.send("PATCH", &path, "not json").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "PARAM_ERROR");

    assert_eq!(sb.counters()["requests"]["ModifyStockInfo"], 14);
}

#[tokio::test]
async fn set_coupon_notify_rules() {
    let env = start().await;
    // http is refused, except to a loopback host.
    let reply = env
        .send(
            "POST",
            CALLBACKS,
            r#"{"notify_url":"http://example.com/notify"}"#,
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["code"], "PARAM_ERROR");
    for ok in [
        "http://127.0.0.1:9/notify",
        "http://localhost:9/n",
        "http://[::1]:9/n",
    ] {
        let reply = env
            .send("POST", CALLBACKS, &json!({ "notify_url": ok }).to_string())
            .await;
        assert_eq!(reply.status, 200, "{ok}");
        assert_eq!(reply.json()["mchid"], "1900000001");
    }
    assert_eq!(
        env.sandbox.notify_url().as_deref(),
        Some("http://[::1]:9/n")
    );
    // Too short a URL (string[10,256]) → PARAM_ERROR naming notify_url.
    let reply = env
        .send("POST", CALLBACKS, r#"{"notify_url":"https://a"}"#)
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["detail"]["field"], "/notify_url");
    // Another merchant's mchid → 403 NOAUTH.
    let reply = env
        .send(
            "POST",
            CALLBACKS,
            r#"{"mchid":"1900000002","notify_url":"https://pay.weixin.qq.com"}"#,
        )
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.json()["code"], "NOAUTH");
}

#[tokio::test]
async fn image_upload_signs_the_meta_part() {
    let env = start().await;
    let file: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    let sha = weixin_kit::operation::sha256_hex(&file);
    let upload = |meta: String, file: Vec<u8>, signed: Option<String>| {
        let boundary = "----weixinkitboundary";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n{meta}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(&file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let env = &env;
        async move {
            env.send_to(
                &env.sandbox.base_url(),
                "POST",
                "/v3/marketing/favor/media/image-upload",
                signed.unwrap_or(meta).as_bytes(),
                Some(body),
                Tweak {
                    content_type: Some(format!("multipart/form-data; boundary={boundary}")),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
        }
    };
    let meta = format!(r#"{{"filename":"a.png","sha256":"{sha}"}}"#);
    let reply = upload(meta.clone(), file.clone(), None).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert!(env.verify_response(&reply));
    let url = reply.json()["media_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("https://wxpaylogo.qpic.cn/"), "{url}");
    assert_eq!(env.sandbox.media()[0].media_url, url);

    // Wrong digest → 400 PARAM_ERROR.
    let bad = format!(r#"{{"filename":"a.png","sha256":"{}"}}"#, "0".repeat(64));
    let reply = upload(bad, file.clone(), None).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["detail"]["field"], "/meta/sha256");
    // Wrong suffix → 400.
    let gif = format!(r#"{{"filename":"a.gif","sha256":"{sha}"}}"#);
    assert_eq!(upload(gif, file.clone(), None).await.status, 400);
    // Too big → 400.
    let big = vec![1u8; 2 * 1024 * 1024 + 1];
    let big_meta = format!(
        r#"{{"filename":"a.jpg","sha256":"{}"}}"#,
        weixin_kit::operation::sha256_hex(&big)
    );
    assert_eq!(upload(big_meta, big, None).await.status, 400);
    // Signed over something other than the meta part → 401.
    let reply = upload(meta.clone(), file, Some(format!("{meta} "))).await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn certificates_decrypt_to_the_platform_certificate() {
    use base64::Engine as _;
    let env = start().await;
    env.sandbox.set_signing_mode(SigningMode::Certificate);
    let reply = env.send("GET", "/v3/certificates", "").await;
    assert_eq!(reply.status, 200);
    assert!(env.verify_response(&reply));
    let body = reply.json();
    let item = &body["data"][0];
    let creds = env.sandbox.credentials();
    assert_eq!(item["serial_no"], creds.platform_serial_no.as_str());
    let enc = &item["encrypt_certificate"];
    assert_eq!(enc["algorithm"], "AEAD_AES_256_GCM");
    assert_eq!(enc["associated_data"], "certificate");
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(enc["ciphertext"].as_str().unwrap())
        .unwrap();
    let pem = weixin_kit_sandbox::keys::aes_gcm_decrypt(
        creds.apiv3_key.expose().as_bytes(),
        enc["nonce"].as_str().unwrap().as_bytes(),
        b"certificate",
        &sealed,
    )
    .expect("decrypts with the APIv3 key");
    // The decrypted certificate's serial (read by openssl) is the advertised one.
    let path = env.dir.path().join("downloaded.pem");
    std::fs::write(&path, &pem).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(&path)
        .output()
        .unwrap();
    let serial = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        serial.trim(),
        format!("serial={}", creds.platform_serial_no)
    );
}

#[tokio::test]
async fn credentials_debug_is_redacted() {
    let env = start().await;
    let creds = env.sandbox.credentials();
    let debug = format!("{creds:?}");
    assert!(!debug.contains("PRIVATE KEY"));
    assert!(!debug.contains(creds.apiv3_key.expose()));
    assert!(!debug.contains(creds.app_secret.expose()));
    assert!(debug.contains(&creds.mchid));
    assert_eq!(creds.apiv3_key.expose().len(), 32);
    assert!(creds.wechatpay_public_key_id.starts_with("PUB_KEY_ID_01"));
    assert!(creds.appid.starts_with("wx"));
    // Serialization (what the binary prints) carries the secrets.
    let json = serde_json::to_value(creds).unwrap();
    assert!(json["merchant_private_key_pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
}
