//! Notifications as WeChat Pay sends them: the sandbox signs and encrypts a coupon notification
//! and POSTs it to a loopback receiver, which hands back the headers and body received.

use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use weixin_kit_sandbox::{CouponNotification, NewStock, Sandbox};

pub type Received = (http::HeaderMap, Vec<u8>);

/// A loopback receiver: records what WeChat Pay (the sandbox) POSTs and answers 204.
pub async fn notification_receiver() -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let tx = Arc::new(Mutex::new(tx));
    let app = axum::Router::new().route(
        "/wxpay/notify",
        axum::routing::post(move |headers: http::HeaderMap, body: axum::body::Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.lock().unwrap().send((headers, body.to_vec()));
                http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}/wxpay/notify"), rx)
}

/// One signed, encrypted `COUPON.SEND` notification for `openid`, as received: the headers, the
/// body and the envelope id.
pub async fn coupon_notification(sb: &Sandbox, openid: &str) -> (http::HeaderMap, Vec<u8>, String) {
    let (url, mut rx) = notification_receiver().await;
    let stock = sb
        .create_stock(NewStock::named("重放测试券"))
        .unwrap()
        .stock_id;
    let report = sb
        .send_coupon_notification(CouponNotification {
            stock_id: stock,
            openid: Some(openid.into()),
            notify_url: Some(url),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(report.delivered, "{report:?}");
    let (headers, body) = rx.recv().await.unwrap();
    (headers, body, report.id)
}
