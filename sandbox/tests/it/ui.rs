//! The inspector page (`/sandbox/ui`) in a real browser: headless Chromium (Debian's `chromium`,
//! installed by `.ci/run`) loads the page after a signed call, a forged one (body changed after
//! signing) and a notification with a failed then a successful delivery; the test checks the
//! DOM Chromium rendered and writes a screenshot to `target/ui/inspector.png`.
//!
//! Without Chromium the test FAILS (CI installs it), unless `WEIXIN_KIT_SKIP_BROWSER=1` says
//! to skip it explicitly.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::json;
use weixin_kit_sandbox::{CouponNotification, FaultKind, NewStock};

use crate::common::{start, Tweak};

#[cfg(unix)]
mod cdp;

const CALLBACKS: &str = "/v3/marketing/busifavor/callbacks";

/// The browser binary: `$CHROMIUM`, else the first of chromium / chromium-browser /
/// google-chrome on PATH. `None`: skipped on request; missing otherwise: a failure.
fn chromium() -> Option<PathBuf> {
    if std::env::var("WEIXIN_KIT_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("WEIXIN_KIT_SKIP_BROWSER=1: the inspector browser test is skipped");
        return None;
    }
    if let Ok(p) = std::env::var("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    panic!(
        "headless Chromium is needed for the inspector test and was not found on PATH \
         (apt-get install -y chromium, or CHROMIUM=/path/to/chrome); \
         set WEIXIN_KIT_SKIP_BROWSER=1 to skip it explicitly"
    );
}

/// Runs headless Chromium on `url` with `args` and returns its stdout.
async fn run_chromium(browser: PathBuf, args: Vec<String>, url: String) -> String {
    tokio::task::spawn_blocking(move || {
        let profile = tempfile::tempdir().unwrap();
        let out = Command::new(&browser)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-dev-shm-usage",
                "--virtual-time-budget=5000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(&args)
            .arg(&url)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", browser.display()));
        assert!(
            out.status.success(),
            "chromium failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap()
}

/// The `<tr>`…`</tr>` elements of `dom` whose opening tag contains `needle`.
fn rows<'a>(dom: &'a str, needle: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = dom;
    while let Some(i) = rest.find("<tr ") {
        let tail = &rest[i..];
        let end = tail.find("</tr>").map_or(tail.len(), |e| e + 5);
        let open = &tail[..tail.find('>').unwrap_or(0)];
        if open.contains(needle) {
            found.push(&tail[..end]);
        }
        rest = &tail[end..];
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspector_page_renders_calls_forgeries_and_notifications_in_chromium() {
    let Some(browser) = chromium() else { return };
    let started = Instant::now();
    let env = start().await;

    // A merchant server answering 500 to the first notification attempt, 200 afterwards.
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(move || {
            let h = h.clone();
            async move {
                if h.fetch_add(1, Ordering::SeqCst) == 0 {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let notify_url = format!("http://{}/notify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // 1. A signed call (SetCouponNotify).
    let mchid = env.sandbox.credentials().mchid.clone();
    let signed = env
        .send(
            "POST",
            CALLBACKS,
            &json!({"mchid": mchid, "notify_url": notify_url}).to_string(),
        )
        .await;
    assert_eq!(
        signed.status,
        200,
        "{}",
        String::from_utf8_lossy(&signed.body)
    );

    // 2. A forged one: signed over one body, sent with another (the last characters differ),
    // with what was signed in X-Sandbox-Signed-String.
    let signed_body = format!(r#"{{"mchid":"{mchid}","notify_url":"https://example.com/a"}}"#);
    let sent_body = format!(r#"{{"mchid":"{mchid}","notify_url":"https://example.com/b"}}"#);
    // Rebuild the string the helper signs (its fixed nonce, the timestamp within a second).
    let forged = {
        let ts = crate::common::unix_now();
        let nonce = "593BEC0C930BF1AFEB40B4A08C8FB242";
        let signed_string = format!("POST\n{CALLBACKS}\n{ts}\n{nonce}\n{signed_body}\n");
        env.send_tweaked(
            "POST",
            CALLBACKS,
            &signed_body,
            Tweak {
                send_body: Some(sent_body.clone().into_bytes()),
                extra_headers: vec![(
                    "X-Sandbox-Signed-String".into(),
                    base64::engine::general_purpose::STANDARD.encode(&signed_string),
                )],
                ..Tweak::default()
            },
        )
        .await
    };
    assert_eq!(forged.status, 401);

    // 3. A notification: the first attempt answered 500, the second 200.
    let stock = env
        .sandbox
        .create_stock(NewStock::named("Inspector demo"))
        .unwrap();
    let report = env
        .sandbox
        .send_coupon_notification(CouponNotification {
            stock_id: stock.stock_id.clone(),
            openid: Some("oInspector".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(report.delivered);

    // 4. A mini-program token: shown as a fingerprint, never as the value.
    let creds = env.sandbox.credentials();
    let token: serde_json::Value = env
        .http
        .get(format!(
            "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            env.sandbox.base_url(),
            creds.appid,
            creds.app_secret.expose()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().expect("a token").to_owned();

    // 5. A third-party platform's authorizer (its `authorized` push goes nowhere: no push URL).
    let granted = env
        .sandbox
        .authorize_component(None, Some(vec![17, 18]))
        .await
        .unwrap();

    let url = format!("{}/sandbox/ui", env.sandbox.base_url());
    let browser_started = Instant::now();
    let dom = run_chromium(browser.clone(), vec!["--dump-dom".into()], url.clone()).await;
    let dom_time = browser_started.elapsed();

    // The signed call: its row, verdict ok.
    let ok_rows: Vec<_> = rows(&dom, r#"data-verdict="ok""#)
        .into_iter()
        .filter(|r| r.contains(&format!("POST {CALLBACKS}")))
        .collect();
    assert_eq!(ok_rows.len(), 1, "the signed call, verdict ok: {dom}");
    assert!(
        ok_rows[0].contains(r#"<td class="verdict verdict-ok" title="ok">ok</td>"#),
        "{}",
        ok_rows[0]
    );

    // The forged call: verdict fail, and the two signing strings with the first difference
    // (the last `a`/`b` of the URL, to the end of the body line) marked in each.
    let failed = rows(&dom, r#"data-verdict="fail""#);
    assert_eq!(failed.len(), 1, "{dom}");
    assert!(
        failed[0].contains("signature does not verify"),
        "{}",
        failed[0]
    );
    let detail = rows(&dom, r#"class="sign-failure""#);
    assert_eq!(detail.len(), 1, "{dom}");
    let detail = detail[0];
    let expected_at = detail
        .find(r#"class="signing-expected""#)
        .expect("expected string");
    let received_at = detail
        .find(r#"class="signing-received""#)
        .expect("received string");
    let (expected, received) = (&detail[expected_at..received_at], &detail[received_at..]);
    assert!(
        expected.contains(r#"<mark class="diff">b"}</mark>"#),
        "{expected}"
    );
    assert!(
        received.contains(r#"<mark class="diff">a"}</mark>"#),
        "{received}"
    );
    assert!(received.contains("matches the signature"), "{received}");
    assert!(detail.contains("line 5: body"), "{detail}");
    assert!(expected.contains(r#"example.com/"#), "{expected}");

    // The notification with both delivery attempts and their answers.
    let notes = rows(&dom, r#"class="notification""#);
    assert_eq!(notes.len(), 1, "{dom}");
    assert!(notes[0].contains(&report.id), "{}", notes[0]);
    assert!(notes[0].contains(r#"data-status="500""#), "{}", notes[0]);
    assert!(notes[0].contains("#1: HTTP 500"), "{}", notes[0]);
    assert!(notes[0].contains("#2: HTTP 200"), "{}", notes[0]);

    // The stock, the token fingerprint; no secret anywhere on the page.
    assert!(dom.contains(&stock.stock_id), "stock listed");
    assert_eq!(rows(&dom, r#"class="token""#).len(), 1, "{dom}");
    for secret in [
        token.as_str(),
        creds.app_secret.expose(),
        creds.apiv3_key.expose(),
    ] {
        assert!(!dom.contains(secret), "a secret is on the page");
    }
    assert!(!dom.contains("PRIVATE KEY"));

    // The authorizer with its permission sets, and its `authorized` push, undelivered; neither
    // the authorization code nor a refresh token in clear.
    let authorizers = rows(&dom, r#"class="authorizer""#);
    assert_eq!(authorizers.len(), 1, "{dom}");
    assert!(
        authorizers[0].contains(&granted.authorizer_appid),
        "{}",
        authorizers[0]
    );
    assert!(
        authorizers[0].contains("<td>17, 18</td>"),
        "{}",
        authorizers[0]
    );
    let pushes = rows(&dom, r#"class="component-push""#);
    assert_eq!(pushes.len(), 1, "{dom}");
    assert!(
        pushes[0].contains(r#"data-info-type="authorized""#),
        "{}",
        pushes[0]
    );
    assert!(pushes[0].contains("(no push URL)"), "{}", pushes[0]);
    assert!(
        !dom.contains(&granted.authorization_code),
        "the code is on the page"
    );

    // The screenshot, in the build directory.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("inspector.png");
    let _ = std::fs::remove_file(&png);
    run_chromium(
        browser,
        vec![
            format!("--screenshot={}", png.display()),
            "--window-size=1280,900".into(),
            "--hide-scrollbars".into(),
        ],
        url,
    )
    .await;
    let bytes = std::fs::read(&png).expect("chromium wrote the screenshot");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    eprintln!(
        "inspector test: {:?} in all, chromium --dump-dom {:?}; screenshot {}",
        started.elapsed(),
        dom_time,
        png.display()
    );
}

/// The fault buttons, clicked in a real page (Chromium driven over the DevTools protocol): each
/// click reaches the sandbox (checked on the sandbox's own state, not on the page) and the page
/// then shows what is in force.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspector_fault_buttons_inject_faults_in_chromium() {
    let Some(browser) = chromium() else { return };
    let started = Instant::now();
    let env = start().await;
    let url = format!("{}/sandbox/ui", env.sandbox.base_url());
    let profile = tempfile::tempdir().unwrap();
    tokio::task::block_in_place(|| {
        let wait = std::time::Duration::from_secs(10);
        let mut page = cdp::Browser::launch(&browser, profile.path(), &url);
        assert!(
            page.wait_for(
                "document.querySelectorAll('button[data-kind]').length === 9 \
                 && document.getElementById('meta').textContent.startsWith('main up')",
                wait
            ),
            "the page did not load its fault buttons"
        );
        let poll = |check: &dyn Fn() -> bool| {
            let until = Instant::now() + wait;
            while Instant::now() < until {
                if check() {
                    return true;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            false
        };

        // system_error for the next 2 ModifyStockInfo calls.
        page.eval(
            "document.getElementById('fault-operation').value = 'ModifyStockInfo';\
             document.getElementById('fault-count').value = '2';\
             document.querySelector('button[data-kind=\"system_error\"]').click(); true",
        );
        assert!(
            poll(&|| {
                let faults = env.sandbox.faults();
                faults.len() == 1
                    && faults[0].fault.kind == FaultKind::SystemError
                    && faults[0].fault.operation.as_deref() == Some("ModifyStockInfo")
                    && faults[0].remaining == Some(2)
            }),
            "the click injected no system_error fault: {:?}",
            env.sandbox.faults()
        );
        assert!(
            page.wait_for(
                "[...document.querySelectorAll('#faults-body tr.fault')].some(r => \
                 r.textContent.includes('system_error') && r.textContent.includes('ModifyStockInfo'))",
                wait
            ),
            "the page does not list the fault in force"
        );

        // Latency (with its ms) for any operation, until cleared (count emptied).
        page.eval(
            "document.getElementById('fault-operation').value = '';\
             document.getElementById('fault-count').value = '';\
             document.querySelector('button[data-kind=\"latency\"]').click(); true",
        );
        assert!(
            poll(&|| env
                .sandbox
                .faults()
                .iter()
                .any(|f| f.fault.kind == FaultKind::Latency { ms: 2000 }
                    && f.fault.operation.is_none()
                    && f.remaining.is_none())),
            "the click injected no latency fault: {:?}",
            env.sandbox.faults()
        );

        // Main down and up again.
        page.eval("document.getElementById('main-toggle').click(); true");
        assert!(poll(&|| env.sandbox.main_down()), "main is not down");
        assert!(page.wait_for(
            "document.getElementById('meta').textContent.startsWith('main DOWN')",
            wait
        ));
        page.eval("document.getElementById('main-toggle').click(); true");
        assert!(poll(&|| !env.sandbox.main_down()), "main is still down");

        // Clear.
        page.eval("document.getElementById('clear-faults').click(); true");
        assert!(
            poll(&|| env.sandbox.faults().is_empty()),
            "faults not cleared"
        );
        assert!(page.wait_for(
            "document.querySelectorAll('#faults-body tr.fault').length === 0",
            wait
        ));
    });
    eprintln!("inspector fault buttons test: {:?}", started.elapsed());
}
