//! `cargo xtask demo`: the documented flows end to end against the built-in sandbox, with no
//! credentials: the sandbox generates a merchant and a WeChat Pay identity and hands them over.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use weixin_kit::component::{ComponentClient, ComponentPush};
use weixin_kit::mp::MiniProgramClient;
use weixin_kit::operation;
use weixin_kit::pay::{
    self, NotificationEvent, Operations as _, PayClient, SetCouponNotifyRequest,
};
use weixin_kit_sandbox::{ComponentUpdate, CouponNotification, NewStock, Sandbox, SandboxConfig};

type Received = (http::HeaderMap, Vec<u8>);

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start(SandboxConfig::default()).await?;
    let c = sandbox.credentials();
    println!(
        "sandbox (WeChat Pay + mini-program) at {}",
        sandbox.base_url()
    );
    println!(
        "  merchant {} / WeChat Pay public key {}",
        c.mchid, c.wechatpay_public_key_id
    );

    let pay = PayClient::builder()
        .mchid(&c.mchid)
        .serial_no(&c.merchant_serial_no)
        .private_key_pem(c.merchant_private_key_pem.expose())?
        .wechatpay_public_key(&c.wechatpay_public_key_id, &c.wechatpay_public_key_pem)?
        .apiv3_key(c.apiv3_key.expose())?
        .base_url(sandbox.base_url())
        .backup_base_url(sandbox.backup_base_url())
        .build()?;

    // 1. SetCouponNotify: where WeChat Pay sends merchant-coupon events (here: a loopback server).
    let (notify_url, mut received) = receiver().await?;
    let set = pay
        .busifavor()
        .set_coupon_notify(&SetCouponNotifyRequest {
            mchid: Some(c.mchid.clone()),
            notify_url,
        })
        .await?;
    println!(
        "\n1. SetCouponNotify → notify_url {} (updated {})",
        set.notify_url, set.update_time
    );

    // 2. ModifyStockInfo with the document's example body; the 204 is signature-verified.
    let stock = sandbox.create_stock(NewStock::named("8月1日活动券"))?;
    let body: pay::ModifyStockInfoRequest = operation::request_from_json(serde_json::json!({
        "out_request_no": "6122352020010133287985742",
        "stock_name": "8月1日活动券",
        "comment": "活动使用",
        "goods_name": "xxx商品使用",
        "custom_entrance": {"appid": "wx324345hgfhfghfg", "hall_id": "233455656", "code_display_mode": "BARCODE"},
        "coupon_use_rule": {"use_method": "OFF_LINE"},
    }))?;
    pay.busifavor()
        .modify_stock_info(&stock.stock_id, &body)
        .await?;
    let applied = &sandbox.counters()["applied_out_request_nos"][&stock.stock_id];
    println!(
        "2. ModifyStockInfo {} → 204 (verified); applied out_request_no {applied}",
        stock.stock_id
    );
    let too_long = pay::ModifyStockInfoRequest {
        stock_name: Some("八".repeat(22)),
        ..body
    };
    if let Err(e) = pay
        .busifavor()
        .modify_stock_info(&stock.stock_id, &too_long)
        .await
    {
        println!("   and a 22-character stock_name never leaves the process: {e}");
    }

    // 3. A coupon event: the sandbox encrypts it with the APIv3 key and signs it like WeChat Pay.
    let report = sandbox
        .send_coupon_notification(CouponNotification {
            stock_id: stock.stock_id.clone(),
            openid: Some("oDemoUser".into()),
            ..Default::default()
        })
        .await?;
    let (headers, raw) = received.recv().await.ok_or("no notification arrived")?;
    let notification = pay.parse_notification(&headers, &raw).await?;
    print!(
        "3. {} notification {} received after {} attempt(s): ",
        notification.event_type,
        notification.id,
        report.attempts.len()
    );
    match notification.event {
        NotificationEvent::BusifavorCoupon(event) => println!(
            "verified and decrypted: coupon {} of stock {} sent to {}",
            event.coupon_code,
            event.stock_id,
            event.openid.as_deref().unwrap_or("-")
        ),
        NotificationEvent::Other(value) => println!("{value}"),
    }

    // 4. setUserNotifyExt with a structured ext_json: the nested JSON encoding of doc 01 is ours.
    // The cards belong to the Official Account that created them (WeChat's guide 小程序内领取
    // 卡券): its ticket signs cardExt and its token decrypts codes.
    let mp = MiniProgramClient::builder()
        .appid(&c.appid)
        .secret(c.app_secret.clone())
        .card_account(&c.card_appid, c.card_app_secret.clone())
        .base_url(sandbox.base_url())
        .build()?;
    let (openid, notify_code) = ("oDemoUser", "4200001855202305090060871147");
    sandbox.mp().add_user(openid);
    sandbox.mp().register_notify_code(openid, 1003, notify_code);
    let ext_json = serde_json::json!({
        "pay_info": {"transaction_id": notify_code, "pay_amount": 2001, "pay_time": 1683546394},
        "store_info": {"store_name": "westore", "store_address": "深圳市南山区南山大道18号", "latitude": 22, "longitude": 114},
    });
    let answer = mp
        .set_user_notify_ext(openid, 1003, notify_code, ext_json)
        .await?;
    let received = sandbox.mp().received_ext_json(openid, notify_code);
    println!(
        "4. setUserNotifyExt → errcode {} ({}); the server received ext_json {}",
        answer.errcode.unwrap_or_default(),
        answer.errmsg.as_deref().unwrap_or(""),
        received.last().map(String::as_str).unwrap_or("-")
    );

    // 5. wx.addCard's cardList entry, signed with the card account's (cached) wx_card
    //    api_ticket; the sandbox's wx.addCard stand-in checks it against the card's owner and
    //    returns the encrypted code, which the owner's token decodes for wx.openCard.
    let card_id = "pFS7Fjg8kV1IdDz01r4SQwMkuCKc";
    sandbox
        .control(
            "POST",
            "/sandbox/mp/cards",
            Some(serde_json::json!({"card_id": card_id, "bind_openid": true})),
        )
        .await?;
    let item = mp.card_ext(card_id, Some(openid), None).await?;
    println!(
        "5. cardList item for wx.addCard: cardId {}, cardExt {}",
        item.card_id, item.card_ext
    );
    let added = sandbox
        .control(
            "POST",
            "/sandbox/card/add",
            Some(serde_json::json!({
                "cardList": [{"cardId": item.card_id, "cardExt": item.card_ext}],
                "openid": openid,
            })),
        )
        .await?;
    let claimed = &added["cardList"][0];
    let encrypted = claimed["code"].as_str().unwrap_or_default();
    println!(
        "   wx.addCard: {} (isSuccess {}); code decrypt: {encrypted} → {}",
        added["errMsg"],
        claimed["isSuccess"],
        mp.decrypt_card_code(encrypted).await?
    );
    let counters = sandbox.counters();
    println!(
        "   (access tokens fetched, one per account: {}; card tickets issued: {})",
        counters["mp"]["stable_tokens_issued"], counters["mp"]["tickets_issued"]
    );

    // 6. A third-party platform (第三方平台) calling setUserNotifyExt on a merchant's behalf: the
    //    app's authorization-event URL passes every push to parse_push (which keeps the ticket)
    //    and answers `success`; the `authorized` push's code becomes the authorizer's tokens.
    let platform = {
        let s = sandbox.component_settings();
        ComponentClient::builder()
            .component_appid(s.component_appid.clone())
            .component_appsecret(s.component_appsecret.clone())
            .token(s.token.clone())
            .encoding_aes_key(s.encoding_aes_key.clone())
            .base_url(sandbox.base_url())
            .build()?
    };
    let (push_url, mut pushes) = push_receiver(platform.clone()).await?;
    sandbox.configure_component(ComponentUpdate {
        push_url: Some(push_url),
        ..ComponentUpdate::default()
    })?;
    let delivery = sandbox.push_component_verify_ticket().await;
    let ticket_push = pushes.recv().await.ok_or("no push received")??;
    println!(
        "\n6. third-party platform {}: push {} (answered {:?})",
        platform.component_appid(),
        ticket_push.to_json(),
        delivery.response.as_deref().unwrap_or("-")
    );
    let granted = sandbox.authorize_component(None, None).await?;
    let ComponentPush::Authorized(event) = pushes.recv().await.ok_or("no push received")?? else {
        return Err("expected the authorized push".into());
    };
    let code = event.authorization_code.ok_or("the push carries no code")?;
    let authorization = platform.authorize(code.expose()).await?;
    println!(
        "   authorized by {} with permission sets {:?} (the refresh token is stored, never shown)",
        authorization.authorizer_appid, authorization.func_info
    );
    let merchant = platform.authorizer(&granted.authorizer_appid)?;
    let merchant_code = "4200001855202305090060871148";
    sandbox
        .mp()
        .register_notify_code(openid, 1003, merchant_code);
    let answer = merchant
        .set_user_notify_ext(
            openid,
            1003,
            merchant_code,
            serde_json::json!({"pay_info": {"transaction_id": merchant_code, "pay_amount": 100, "pay_time": 1683546394}}),
        )
        .await?;
    println!(
        "   setUserNotifyExt as {} with its authorizer_access_token → errcode {}",
        merchant.appid(),
        answer.errcode.unwrap_or_default()
    );

    sandbox.shutdown().await;
    Ok(())
}

/// The platform's authorization-event URL (授权事件接收URL): every push goes to `parse_push`,
/// answered `success` when it parsed (400 otherwise); each outcome also goes to the channel.
async fn push_receiver(
    platform: ComponentClient,
) -> std::io::Result<(
    String,
    mpsc::UnboundedReceiver<weixin_kit::Result<ComponentPush>>,
)> {
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/wechat/component/events",
        axum::routing::post(
            move |axum::extract::RawQuery(query): axum::extract::RawQuery,
                  body: axum::body::Bytes| {
                let (platform, tx) = (platform.clone(), tx.clone());
                async move {
                    let parsed = platform
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/wechat/component/events", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, rx))
}

/// A loopback HTTP server standing in for the merchant's notification URL.
async fn receiver() -> std::io::Result<(String, mpsc::UnboundedReceiver<Received>)> {
    let (tx, rx) = mpsc::unbounded_channel::<Received>();
    let tx = Arc::new(Mutex::new(tx));
    let app = axum::Router::new().route(
        "/wxpay/coupon",
        axum::routing::post(move |headers: http::HeaderMap, body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.lock().map(|tx| tx.send((headers, body.to_vec())));
                http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/wxpay/coupon", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, rx))
}
