//! The listeners and the layer every request goes through: main-down, request log, signature
//! verification (WeChat Pay routes), faults, response signing, then the after-apply faults
//! (the route has run and the log holds its answer: drop the connection, or answer late).

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower::ServiceExt as _;

use crate::faults::FaultKind;
use crate::log::{body_text, Listener, LogEntry};
use crate::{auth, keys, mp, pay, util, Shared};

/// Largest request body read (an image upload is at most 2 MiB plus the multipart framing;
/// larger ones are read so that they can be refused with PARAM_ERROR).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Per-connection facts, put in every request's extensions by the accept loop.
#[derive(Clone)]
pub(crate) struct ConnInfo {
    pub listener: Listener,
    /// Notified to drop the connection without a response.
    pub abort: Arc<Notify>,
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let mp_state = shared.mp.clone();
    Router::new()
        .merge(pay::routes().with_state(shared.clone()))
        .merge(crate::control::routes().with_state(shared.clone()))
        .merge(mp::router(mp_state.clone()))
        .merge(mp::control_router(mp_state))
        .merge(crate::component::router(shared.component.clone()))
        .merge(crate::component::control_router(shared.component.clone()))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(shared, frontline))
}

async fn fallback(req: Request) -> Response {
    let path = req.uri().path();
    if path.starts_with("/v3/") {
        pay::error(
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_EXISTS",
            "the sandbox has no such WeChat Pay route",
        )
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no route {} {}", req.method(), path)})),
        )
            .into_response()
    }
}

/// The operation a request is, from the specs' method and path templates.
pub(crate) fn operation_name(method: &Method, path: &str) -> Option<&'static str> {
    if method == Method::GET && path == "/v3/certificates" {
        return Some("Certificates");
    }
    let component = mp::operation_of(path);
    if path.starts_with("/cgi-bin/component/") && component != "unknown" {
        return Some(component);
    }
    weixin_kit::pay::OPERATIONS
        .iter()
        .chain(weixin_kit::mp::OPERATIONS.iter())
        .find(|op| op.method.eq_ignore_ascii_case(method.as_str()) && matches(op.path, path))
        .map(|op| op.name)
}

fn matches(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                if ts.starts_with('{') && ts.ends_with('}') {
                    if ps.is_empty() {
                        return false;
                    }
                } else if ts != ps {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

fn request_id() -> String {
    format!("08{}-0", keys::random_hex(38).to_uppercase())
}

/// Drops the connection this request came on, without a response.
async fn drop_connection(conn: Option<&ConnInfo>) -> Response {
    if let Some(conn) = conn {
        conn.abort.notify_one();
        std::future::pending::<()>().await;
    }
    // Not reached when served by our accept loop.
    StatusCode::SERVICE_UNAVAILABLE.into_response()
}

/// What the handling of a WeChat route ends with.
enum Answer {
    Respond(Response),
    /// Drop the connection without a response.
    Drop,
}

async fn frontline(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path == "/sandbox/card/add" {
        return log_card_add(&shared, req, next).await;
    }
    if path.starts_with("/sandbox/") || path == "/sandbox" {
        return next.run(req).await;
    }
    // Handled in a task of its own, as a server does: a client that gives up (its timeout
    // during a `latency` fault) closes the connection, which drops this future — the request
    // is still handled, applied and logged, only its answer goes nowhere.
    let conn = req.extensions().get::<ConnInfo>().cloned();
    match tokio::spawn(wechat_route(shared, req, next)).await {
        Ok(Answer::Respond(response)) => response,
        Ok(Answer::Drop) => drop_connection(conn.as_ref()).await,
        Err(_) => pay::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "SYSTEM_ERROR",
            "the sandbox failed handling this request",
        ),
    }
}

async fn wechat_route(shared: Arc<Shared>, req: Request, next: Next) -> Answer {
    let path = req.uri().path().to_owned();
    let conn = req.extensions().get::<ConnInfo>().cloned();
    let listener = conn.as_ref().map(|c| c.listener).unwrap_or(Listener::Main);
    let method = req.method().clone();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| path.clone());
    let operation = operation_name(&method, &path);
    let is_pay = path.starts_with("/v3/");
    // The key WeChat Pay answers with may depend on this (migration mode).
    let request_serial = req
        .headers()
        .get("wechatpay-serial")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (mut parts, body) = req.into_parts();
    let bytes = match to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return Answer::Respond(
                (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
            );
        }
    };
    let mut entry = LogEntry {
        seq: 0,
        time: util::now_rfc3339(),
        listener,
        method: method.to_string(),
        path: path_and_query.clone(),
        operation: operation.map(str::to_owned),
        body: body_text(&bytes),
        signature: None,
        status: None,
        faults: Vec::new(),
        request_id: None,
        wechatpay_serial: request_serial.clone(),
        sign_failure: None,
    };

    if listener == Listener::Main && shared.main_down.load(Ordering::SeqCst) {
        entry.faults.push("main_down".into());
        shared.log.push(entry);
        return Answer::Drop;
    }

    let mut response = None;
    if is_pay {
        let content_type = parts
            .headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        // For a media upload the signed body is the `meta` part as sent.
        let signed = if content_type.starts_with("multipart/form-data") {
            pay::parse_multipart(&content_type, bytes.clone())
                .await
                .ok()
                .and_then(|p| p.into_iter().find(|p| p.name == "meta"))
                .map(|p| p.data)
                .unwrap_or_default()
        } else {
            bytes.clone()
        };
        match auth::verify_request(
            &shared.identity,
            method.as_str(),
            &path_and_query,
            &parts.headers,
            &signed,
            util::unix_now() + shared.clock_offset_secs,
        ) {
            Ok(caller) => {
                entry.signature = Some("ok".into());
                parts.extensions.insert(caller);
            }
            Err(failure) => {
                entry.signature = Some(failure.reason.clone());
                entry.sign_failure = Some(crate::log::SignFailureLog::new(
                    &shared.identity,
                    &parts.headers,
                    &failure,
                ));
                response = Some((StatusCode::UNAUTHORIZED, Json(failure.body())).into_response());
            }
        }
    }

    let applied = if response.is_none() {
        shared.faults.take(operation, &path)
    } else {
        Default::default()
    };
    entry
        .faults
        .extend(applied.names.iter().map(|s| s.to_string()));
    if applied.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(applied.latency_ms)).await;
    }
    if response.is_none() {
        response = match &applied.terminal {
            Some(FaultKind::ConnectionReset) => {
                shared.log.push(entry);
                return Answer::Drop;
            }
            Some(FaultKind::SystemError) => Some(if is_pay {
                let message = if operation == Some("SetCouponNotify") {
                    "系统失败"
                } else {
                    "系统异常,请稍后重试"
                };
                pay::error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", message)
            } else {
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"errcode": -1, "errmsg": "system error"})),
                )
                    .into_response()
            }),
            Some(kind @ (FaultKind::FrequencyLimited | FaultKind::DailyQuota)) => Some(if is_pay {
                pay::error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "FREQUENCY_LIMITED",
                    "频率限制",
                )
            } else {
                // The mini-program APIs answer quota errors with HTTP 200 and an errcode: 45011
                // per-minute frequency, 45009 daily quota (getStableAccessToken's table,
                // https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-access-token/getStableAccessToken.html,
                // and the general error codes); never HTTP 429.
                let errcode = if *kind == FaultKind::DailyQuota {
                    45009
                } else {
                    45011
                };
                let op = operation.unwrap_or("");
                Json(json!({"errcode": errcode, "errmsg": mp::errors::errmsg(op, errcode)}))
                    .into_response()
            }),
            _ => None,
        };
    }
    // The after-apply faults act only when the route ran (nothing else applies a change).
    let route_ran = response.is_none();
    let mut response = match response {
        Some(r) => r,
        None => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    };

    let rid = request_id();
    if is_pay {
        let (mut head, body) = response.into_parts();
        let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
        let mode = auth::response_key(
            &shared.identity,
            shared.signing_mode(),
            request_serial.as_deref(),
        );
        for (name, value) in auth::signature_headers(
            &shared.identity,
            mode,
            &body,
            util::unix_now(),
            auth::SignFaults {
                tamper: applied.tamper_signature,
                stale_secs: applied.stale_secs,
            },
        ) {
            head.headers.insert(name, value);
        }
        response = Response::from_parts(head, Body::from(body));
    }
    response.headers_mut().insert(
        "Request-ID",
        HeaderValue::from_str(&rid).expect("ASCII request id"),
    );
    entry.request_id = Some(rid);
    entry.status = Some(response.status().as_u16());
    if route_ran && applied.reset_after_apply {
        // Logged with the status the route answered: what was applied; the client gets none.
        shared.log.push(entry);
        return Answer::Drop;
    }
    shared.log.push(entry);
    if route_ran && applied.latency_after_apply_ms > 0 {
        tokio::time::sleep(Duration::from_millis(applied.latency_after_apply_ms)).await;
    }
    Answer::Respond(response)
}

/// Writes a connection's bytes, turning the header name `Request-Id` (hyper's title case) into
/// WeChat's `Request-ID` ("请求的唯一标识包含在应答的HTTP头Request-ID中", APIv3 基本规则,
/// https://pay.weixin.qq.com/doc/v3/partner/4012081726; the `Wechatpay-*` names as in
/// wechatpay-go `core/consts/const.go`).
/// The one byte that changes is the last of the pattern `\r\nRequest-Id`, so a streaming
/// matcher (its state kept across writes) rewrites it in place, whatever the write boundaries.
/// Only header sections can hold a raw CR LF: the sandbox's bodies are JSON (CR LF escaped) or
/// empty.
struct WeChatCase<S> {
    inner: S,
    matched: usize,
}

const TITLE_REQUEST_ID: &[u8] = b"\r\nRequest-Id";

impl<S> WeChatCase<S> {
    fn new(inner: S) -> Self {
        WeChatCase { inner, matched: 0 }
    }

    /// Advances the matcher over `buf`, rewriting the matched `d` when `rewrite` is given.
    fn scan(mut matched: usize, buf: &[u8], mut rewrite: Option<&mut Vec<u8>>) -> usize {
        for (i, &b) in buf.iter().enumerate() {
            if b == TITLE_REQUEST_ID[matched] {
                matched += 1;
                if matched == TITLE_REQUEST_ID.len() {
                    if let Some(out) = rewrite.as_deref_mut() {
                        out[i] = b'D';
                    }
                    matched = 0;
                }
            } else {
                matched = usize::from(b == TITLE_REQUEST_ID[0]);
            }
        }
        matched
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for WeChatCase<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for WeChatCase<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let mut out = buf.to_vec();
        Self::scan(self.matched, buf, Some(&mut out));
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, &out);
        if let std::task::Poll::Ready(Ok(n)) = polled {
            self.matched = Self::scan(self.matched, &buf[..n], None);
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The wx.addCard stand-in is a control route (never faulted) but stands for WeChat: its
/// requests are logged (operation `addCard`) with the verdicts in `signature`: `ok` when every
/// item was accepted, else `item N: reason` for each refused item.
async fn log_card_add(shared: &Shared, req: Request, next: Next) -> Response {
    let listener = req
        .extensions()
        .get::<ConnInfo>()
        .map(|c| c.listener)
        .unwrap_or(Listener::Main);
    let method = req.method().to_string();
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    let status = response.status().as_u16();
    let (head, out) = response.into_parts();
    let out = to_bytes(out, usize::MAX).await.unwrap_or_default();
    let verdict = serde_json::from_slice::<serde_json::Value>(&out)
        .ok()
        .and_then(|v| v["cardList"].as_array().cloned())
        .map(|items| {
            let refused: Vec<String> = items
                .iter()
                .enumerate()
                .filter(|(_, i)| i["isSuccess"] != json!(true))
                .map(|(n, i)| format!("item {n}: {}", i["reason"].as_str().unwrap_or("refused")))
                .collect();
            if refused.is_empty() {
                "ok".to_owned()
            } else {
                refused.join("; ")
            }
        });
    shared.log.push(LogEntry {
        seq: 0,
        time: util::now_rfc3339(),
        listener,
        method,
        path,
        operation: Some("addCard".into()),
        body: body_text(&bytes),
        signature: verdict,
        status: Some(status),
        faults: Vec::new(),
        request_id: None,
        wechatpay_serial: None,
        sign_failure: None,
    });
    Response::from_parts(head, Body::from(out))
}

/// Accepts connections until the task is aborted; each connection is served by hyper (HTTP/1.1,
/// keep-alive) in a task owned by this one, so aborting this task closes every connection.
pub(crate) async fn serve(listener: TcpListener, which: Listener, router: Router) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (mut stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        connections.spawn(async move {
            let abort = Arc::new(Notify::new());
            let info = ConnInfo {
                listener: which,
                abort: abort.clone(),
            };
            let service =
                hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(info.clone());
                    let router = router.clone();
                    async move {
                        let response = router.oneshot(req.map(Body::new)).await;
                        Ok::<_, Infallible>(response.unwrap_or_else(|e| match e {}))
                    }
                });
            let aborted = {
                // Header names as WeChat writes them (`Wechatpay-Timestamp`, `Request-ID`, …):
                // hyper lower-cases names, title_case_headers writes `Wechatpay-Serial`-style
                // names, and WeChatCase fixes the one name title case gets wrong (`Request-Id`).
                let conn = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .title_case_headers(true)
                    .serve_connection(
                        hyper_util::rt::TokioIo::new(WeChatCase::new(&mut stream)),
                        service,
                    );
                tokio::select! {
                    _ = conn => false,
                    _ = abort.notified() => true,
                }
            };
            if aborted {
                // RST instead of FIN: the client sees a reset, not a clean close.
                let _ = stream.set_zero_linger();
            }
            drop(stream);
        });
    }
}
