//! Calls/s of `PayClient` against the in-process sandbox: ModifyStockInfo (sign the request,
//! send it over the pooled connection, verify the 204), sequentially and 16 in flight.
//! `cargo bench -p weixin-kit --bench pay_client` prints numbers; nothing is asserted.
//! `PAY_BENCH_CALLS=N` changes the number of calls per run (default 1000).
//!
//! Client and sandbox share the machine's cores, so the rate includes the sandbox's own work
//! (verify our signature, apply the change, sign its answer): two RSA signs and two verifies per
//! call in total.

use std::sync::Arc;
use std::time::Instant;

use weixin_kit::pay::{ModifyStockInfoRequest, Operations as _, PayClient};
use weixin_kit_sandbox::{NewStock, Sandbox, SandboxConfig};

fn request(i: usize, tag: &str) -> ModifyStockInfoRequest {
    ModifyStockInfoRequest {
        out_request_no: format!("bench-{tag}-{i}"),
        comment: Some(format!("c{}", i % 1000)),
        ..Default::default()
    }
}

fn main() {
    // The sandbox stands for a remote server: it gets its own runtime (2 workers), so the
    // client's signing and the sandbox's work are scheduled by the OS, not by one shared pool.
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sb = server
        .block_on(Sandbox::start(SandboxConfig::default()))
        .expect("sandbox starts");
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    client_rt.block_on(run(&sb));
    drop(sb);
    drop(server);
}

async fn run(sb: &Sandbox) {
    let calls: usize = std::env::var("PAY_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let c = sb.credentials().clone();
    let client = PayClient::builder()
        .mchid(&c.mchid)
        .serial_no(&c.merchant_serial_no)
        .private_key_pem(c.merchant_private_key_pem.expose())
        .unwrap()
        .wechatpay_public_key(&c.wechatpay_public_key_id, &c.wechatpay_public_key_pem)
        .unwrap()
        .base_url(sb.base_url())
        .backup_base_url(sb.backup_base_url())
        .build()
        .unwrap();
    let stock = sb.create_stock(NewStock::named("bench")).unwrap().stock_id;

    // Warm up: connection pool, caches.
    for i in 0..20 {
        client
            .busifavor()
            .modify_stock_info(&stock, &request(i, "warm"))
            .await
            .unwrap();
    }

    let start = Instant::now();
    for i in 0..calls {
        client
            .busifavor()
            .modify_stock_info(&stock, &request(i, "seq"))
            .await
            .unwrap();
    }
    let seq = start.elapsed();
    println!(
        "sequential: {calls} ModifyStockInfo calls in {:.2?} = {:.0} calls/s ({:.2?}/call)",
        seq,
        calls as f64 / seq.as_secs_f64(),
        seq / calls as u32
    );

    const IN_FLIGHT: usize = 16;
    let client = Arc::new(client);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..IN_FLIGHT)
        .map(|_| {
            let client = client.clone();
            let next = next.clone();
            let stock = stock.clone();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= calls {
                        break;
                    }
                    client
                        .busifavor()
                        .modify_stock_info(&stock, &request(i, "conc"))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
    let conc = start.elapsed();
    println!(
        "concurrent ({IN_FLIGHT} in flight): {calls} calls in {:.2?} = {:.0} calls/s",
        conc,
        calls as f64 / conc.as_secs_f64()
    );
}
