//! How many signed calls/s the sandbox serves, next to the crypto cost of one signed call.
//! `cargo bench -p weixin-kit-sandbox --bench throughput` (prints numbers; nothing is asserted).
//!
//! Requests are signed before the clock starts, so the rate measures the sandbox (verify the
//! request, apply it, sign the response) plus a thin HTTP client sharing the same two cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use weixin_kit_sandbox::keys::{random_alnum, verify, RsaKey};
use weixin_kit_sandbox::{NewStock, Sandbox, SandboxConfig};

const CALLS: usize = 3000;

fn per_op(f: impl Fn(), n: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed() / n
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sb = Sandbox::start(SandboxConfig::default())
        .await
        .expect("sandbox starts");
    let creds = sb.credentials().clone();
    let key = RsaKey::from_pem(creds.merchant_private_key_pem.expose()).unwrap();
    let public = key.public_der();

    let msg = b"PATCH\n/v3/marketing/busifavor/stocks/1\n1700000000\nNONCE\n{}\n";
    let sig = key.sign(msg);
    let sign = per_op(|| drop(key.sign(msg)), 300);
    let check = per_op(|| assert!(verify(&public, msg, &sig)), 3000);
    println!("crypto floor (aws-lc-rs, one thread): RSA-2048 sign {sign:?}, verify {check:?}");
    println!(
        "  one signed call costs the client 1 sign + 1 verify ≈ {:?}, and the sandbox the same",
        sign + check
    );

    let stock = sb.create_stock(NewStock::named("bench")).unwrap().stock_id;
    let path = format!("/v3/marketing/busifavor/stocks/{stock}");
    let url = format!("{}{}", sb.base_url(), path);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed: Vec<(String, String)> = (0..CALLS)
        .map(|i| {
            let body = format!(r#"{{"out_request_no":"bench{i:08}","comment":"c{i}"}}"#);
            let nonce = random_alnum(32);
            let string = format!("PATCH\n{path}\n{now}\n{nonce}\n{body}\n");
            let auth = format!(
                r#"WECHATPAY2-SHA256-RSA2048 mchid="{}",nonce_str="{nonce}",timestamp="{now}",serial_no="{}",signature="{}""#,
                creds.mchid,
                creds.merchant_serial_no,
                key.sign_base64(string.as_bytes())
            );
            (auth, body)
        })
        .collect();
    let signed = Arc::new(signed);
    let client = reqwest::Client::new();

    let mut offset = 0;
    for concurrency in [1usize, 4, 16] {
        let share = CALLS / 3 / concurrency;
        let start = Instant::now();
        let tasks: Vec<_> = (0..concurrency)
            .map(|t| {
                let (client, url, signed) = (client.clone(), url.clone(), signed.clone());
                let first = offset + t * share;
                tokio::spawn(async move {
                    for (auth, body) in &signed[first..first + share] {
                        let resp = client
                            .patch(&url)
                            .header("Authorization", auth)
                            .header("Content-Type", "application/json")
                            .body(body.clone())
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(resp.status(), 204);
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let calls = share * concurrency;
        offset += calls;
        let rate = calls as f64 / start.elapsed().as_secs_f64();
        println!("sandbox, concurrency {concurrency:>2}: {calls} ModifyStockInfo calls, {rate:.0} calls/s");
    }
    sb.shutdown().await;
}
