//! WeChat Pay routes: ModifyStockInfo, SetCouponNotify, MarketingImageUpload and
//! `GET /v3/certificates`. Signature checks and response signing happen in the server layer;
//! these handlers see verified requests only.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Extension, Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use weixin_kit::pay::{ImageUploadMeta, ModifyStockInfoRequest, SetCouponNotifyRequest};

use crate::auth::Caller;
use crate::out_requests::{OutRequestCount, OutRequests, Seen};
use crate::{keys, util, SandboxError, Shared};

/// Largest image MarketingImageUpload accepts ("不能超过2M", read as 2 MiB).
pub const MAX_IMAGE_BYTES: usize = 2 * 1024 * 1024;

/// A merchant coupon stock (批次) held by the sandbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Stock {
    pub stock_id: String,
    /// The merchant that created the stock; only it may modify it.
    pub creator_mchid: String,
    /// End of the availability period (RFC 3339); modifications after it are refused.
    pub available_end_time: String,
    /// stock_name, comment, goods_name, subsidy, display_pattern_info, custom_entrance, …
    #[serde(flatten)]
    pub fields: Map<String, Value>,
    /// The out_request_no of every change applied, in order.
    pub applied_out_request_nos: Vec<String>,
}

impl Stock {
    pub fn stock_name(&self) -> Option<&str> {
        self.fields.get("stock_name").and_then(Value::as_str)
    }

    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }
}

/// What the control API needs to create a stock. Unlisted members (display_pattern_info, …) are
/// kept as given.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewStock {
    /// Generated when absent.
    #[serde(default)]
    pub stock_id: Option<String>,
    pub stock_name: String,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub goods_name: Option<String>,
    #[serde(default)]
    pub subsidy: bool,
    /// Defaults to the sandbox merchant.
    #[serde(default)]
    pub creator_mchid: Option<String>,
    /// RFC 3339; defaults to 30 days from now.
    #[serde(default)]
    pub available_end_time: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NewStock {
    pub fn named(stock_name: &str) -> NewStock {
        NewStock {
            stock_name: stock_name.to_owned(),
            ..NewStock::default()
        }
    }
}

/// An image uploaded through MarketingImageUpload.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Media {
    pub media_url: String,
    pub filename: String,
    pub sha256: String,
    pub size: usize,
    pub upload_time: String,
}

#[derive(Debug, Clone, Serialize)]
struct Registration {
    mchid: String,
    notify_url: String,
    update_time: String,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    stocks: BTreeMap<String, Stock>,
    /// The idempotency record of ModifyStockInfo.
    out_requests: OutRequests,
    notify: Option<Registration>,
    media: Vec<Media>,
}

#[derive(Default)]
pub struct PayState {
    inner: Mutex<Inner>,
}

impl PayState {
    pub fn create_stock(&self, new: NewStock, merchant: &str) -> Result<Stock, SandboxError> {
        if new.stock_name.chars().count() > 21 {
            return Err(SandboxError::BadRequest(
                "stock_name is at most 21 characters".into(),
            ));
        }
        let end = match &new.available_end_time {
            Some(t) => {
                util::parse_rfc3339(t).ok_or_else(|| {
                    SandboxError::BadRequest(format!(
                        "available_end_time `{t}` is not RFC 3339 (e.g. 2030-01-01T00:00:00+08:00)"
                    ))
                })?;
                t.clone()
            }
            None => util::rfc3339_cst(util::now() + time::Duration::days(30)),
        };
        let mut inner = self.inner.lock().expect("lock");
        let stock_id = match new.stock_id {
            Some(id) if id.is_empty() => {
                return Err(SandboxError::BadRequest("stock_id is empty".into()))
            }
            Some(id) => id,
            None => loop {
                inner.next_id += 1;
                let id = format!("98560{:07}", inner.next_id);
                if !inner.stocks.contains_key(&id) {
                    break id;
                }
            },
        };
        if inner.stocks.contains_key(&stock_id) {
            return Err(SandboxError::BadRequest(format!(
                "stock {stock_id} already exists"
            )));
        }
        let mut fields = new.extra;
        fields.insert("stock_name".into(), Value::String(new.stock_name));
        if let Some(c) = new.comment {
            fields.insert("comment".into(), Value::String(c));
        }
        if let Some(g) = new.goods_name {
            fields.insert("goods_name".into(), Value::String(g));
        }
        fields.insert("subsidy".into(), Value::Bool(new.subsidy));
        let stock = Stock {
            stock_id: stock_id.clone(),
            creator_mchid: new.creator_mchid.unwrap_or_else(|| merchant.to_owned()),
            available_end_time: end,
            fields,
            applied_out_request_nos: Vec::new(),
        };
        inner.stocks.insert(stock_id, stock.clone());
        Ok(stock)
    }

    pub fn stock(&self, stock_id: &str) -> Option<Stock> {
        self.inner
            .lock()
            .expect("lock")
            .stocks
            .get(stock_id)
            .cloned()
    }

    pub fn stocks(&self) -> Vec<Stock> {
        self.inner
            .lock()
            .expect("lock")
            .stocks
            .values()
            .cloned()
            .collect()
    }

    pub fn media(&self) -> Vec<Media> {
        self.inner.lock().expect("lock").media.clone()
    }

    pub fn notify_url(&self) -> Option<String> {
        self.inner
            .lock()
            .expect("lock")
            .notify
            .as_ref()
            .map(|r| r.notify_url.clone())
    }

    /// out_request_no → how many times its change was applied, replayed, refused.
    pub fn out_request_counts(&self) -> BTreeMap<String, OutRequestCount> {
        self.inner.lock().expect("lock").out_requests.counts()
    }

    /// stock_id → applied out_request_no values.
    pub fn applied(&self) -> BTreeMap<String, Vec<String>> {
        self.inner
            .lock()
            .expect("lock")
            .stocks
            .values()
            .map(|s| (s.stock_id.clone(), s.applied_out_request_nos.clone()))
            .collect()
    }
}

/// A WeChat Pay error response `{"code","message"[,"detail"]}`.
pub fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

fn param_error(field: &str, issue: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({
            "code": "PARAM_ERROR",
            "message": "参数错误",
            "detail": {"field": field, "location": "body", "issue": issue}
        })),
    )
        .into_response()
}

/// A `weixin_kit` validation error as 400 PARAM_ERROR; `detail.field` is a JSON pointer.
fn validation_response(e: weixin_kit::Error) -> Response {
    match e {
        weixin_kit::Error::Validation { field, rule } => {
            let pointer = format!("/{}", field.replace('.', "/"));
            param_error(&pointer, &format!("`{field}` {rule}"))
        }
        other => param_error("/", &other.to_string()),
    }
}

/// Parses and validates a JSON body the way the client library would.
fn parse_body<T: serde::de::DeserializeOwned + weixin_kit::validate::Validate>(
    body: &[u8],
) -> Result<(T, Value), Response> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| param_error("/", &format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(param_error("/", "the body must be a JSON object"));
    }
    let parsed = weixin_kit::operation::request_from_json::<T>(value.clone())
        .map_err(validation_response)?;
    Ok((parsed, value))
}

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            "/v3/marketing/busifavor/stocks/{stock_id}",
            patch(modify_stock_info),
        )
        .route("/v3/marketing/busifavor/callbacks", post(set_coupon_notify))
        .route(
            "/v3/marketing/favor/media/image-upload",
            post(marketing_image_upload),
        )
        .route("/v3/certificates", get(certificates))
}

/// `PATCH /v3/marketing/busifavor/stocks/{stock_id}` → 204.
async fn modify_stock_info(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    Path(stock_id): Path<String>,
    body: Bytes,
) -> Response {
    let (req, value) = match parse_body::<ModifyStockInfoRequest>(&body) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let mut inner = shared.pay.inner.lock().expect("lock");
    let inner = &mut *inner;
    let Some(stock) = inner.stocks.get_mut(&stock_id) else {
        return error(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "批次不存在");
    };
    if stock.creator_mchid != caller.mchid {
        return error(
            StatusCode::FORBIDDEN,
            "RULE_LIMIT",
            "修改流程中仅允许创建方进行操作",
        );
    }
    // See crate::out_requests for the documents behind this.
    match inner
        .out_requests
        .check(&req.out_request_no, &stock_id, &value)
    {
        Seen::New => {}
        // The same change again: an idempotent retry, not applied twice.
        Seen::Replay => return StatusCode::NO_CONTENT.into_response(),
        Seen::Conflict => return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "商户请求单号out_request_no已使用，且请求参数与首次请求不一致，请更换out_request_no",
        ),
    }
    let end = util::parse_rfc3339(&stock.available_end_time);
    if end.is_some_and(|end| util::now() > end) {
        return error(
            StatusCode::FORBIDDEN,
            "RULE_LIMIT",
            "批次已过有效期结束时间，不允许修改",
        );
    }
    if let Some(name) = &req.stock_name {
        if Some(name.as_str()) != stock.stock_name() {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "批次名称stock_name暂不支持修改",
            );
        }
    }
    if let Some(subsidy) = req.subsidy {
        let current = stock
            .fields
            .get("subsidy")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if current && !subsidy {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "是否允许营销补差subsidy只允许从false改为true，不支持从true改为false",
            );
        }
    }
    // Apply: PATCH semantics, nested objects merged member by member.
    if let Value::Object(changes) = &value {
        for (k, v) in changes {
            if k == "out_request_no" {
                continue;
            }
            merge(stock.fields.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
    stock
        .applied_out_request_nos
        .push(req.out_request_no.clone());
    inner
        .out_requests
        .record_applied(&req.out_request_no, &stock_id, value);
    StatusCode::NO_CONTENT.into_response()
}

fn merge(target: &mut Value, change: &Value) {
    match (target, change) {
        (Value::Object(t), Value::Object(c)) => {
            for (k, v) in c {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, c) => *t = c.clone(),
    }
}

/// True for http URLs WeChat would refuse but a local test needs: loopback hosts.
fn is_loopback_host(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// `POST /v3/marketing/busifavor/callbacks` → 200 `{update_time, notify_url, mchid}`.
async fn set_coupon_notify(
    State(shared): State<Arc<Shared>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Response {
    let (req, _) = match parse_body::<SetCouponNotifyRequest>(&body) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    if let Some(mchid) = &req.mchid {
        if !mchid.chars().all(|c| c.is_ascii_digit()) {
            return error(StatusCode::BAD_REQUEST, "MCH_NOT_EXISTS", "商户号不存在");
        }
        if *mchid != caller.mchid {
            return error(StatusCode::FORBIDDEN, "NOAUTH", "无权限");
        }
    }
    let url = match reqwest::Url::parse(&req.notify_url) {
        Ok(u) => u,
        Err(e) => {
            return param_error("/notify_url", &format!("`notify_url` is not a URL: {e}"));
        }
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&url) => {}
        _ => {
            return param_error(
                "/notify_url",
                "`notify_url` must be https (the sandbox also accepts http to a loopback host)",
            )
        }
    }
    if url.query().is_some() {
        return param_error(
            "/notify_url",
            "`notify_url` must not carry query parameters",
        );
    }
    let registration = Registration {
        mchid: caller.mchid.clone(),
        notify_url: req.notify_url.clone(),
        update_time: util::now_rfc3339(),
    };
    shared.pay.inner.lock().expect("lock").notify = Some(registration.clone());
    Json(json!({
        "update_time": registration.update_time,
        "notify_url": registration.notify_url,
        "mchid": registration.mchid,
    }))
    .into_response()
}

/// One part of a multipart/form-data body.
#[derive(Debug, Clone)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub data: Bytes,
}

/// Splits a multipart/form-data body into its parts.
pub async fn parse_multipart(content_type: &str, body: Bytes) -> Result<Vec<Part>, String> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| format!("bad multipart Content-Type: {e}"))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts = Vec::new();
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| format!("bad multipart body: {e}"))?
    {
        let name = field.name().unwrap_or_default().to_owned();
        let filename = field.file_name().map(str::to_owned);
        let data = field
            .bytes()
            .await
            .map_err(|e| format!("bad multipart body: {e}"))?;
        parts.push(Part {
            name,
            filename,
            data,
        });
    }
    Ok(parts)
}

/// `POST /v3/marketing/favor/media/image-upload` (multipart `meta` + `file`) → 200 `{media_url}`.
async fn marketing_image_upload(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("multipart/form-data") {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "HTTP 请求不符合微信支付 APIv3 接口规则",
        );
    }
    let parts = match parse_multipart(content_type, body).await {
        Ok(p) => p,
        Err(e) => return param_error("/", &e),
    };
    let Some(meta) = parts.iter().find(|p| p.name == "meta") else {
        return param_error("/meta", "the multipart part `meta` is missing");
    };
    let Some(file) = parts.iter().find(|p| p.name == "file") else {
        return param_error("/file", "the multipart part `file` is missing");
    };
    let (meta, _) = match parse_body::<ImageUploadMeta>(&meta.data) {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let lower = meta.filename.to_ascii_lowercase();
    if ![".jpg", ".bmp", ".png"].iter().any(|s| lower.ends_with(s)) {
        return param_error(
            "/meta/filename",
            "`filename` must end with .jpg, .bmp or .png",
        );
    }
    if file.data.len() > MAX_IMAGE_BYTES {
        return param_error(
            "/file",
            &format!(
                "the file is {} bytes; at most 2M ({MAX_IMAGE_BYTES} bytes)",
                file.data.len()
            ),
        );
    }
    if file.data.is_empty() {
        return param_error("/file", "the file is empty");
    }
    let digest = weixin_kit::operation::sha256_hex(&file.data);
    if meta.sha256 != digest {
        return param_error(
            "/meta/sha256",
            &format!("`sha256` does not match the file (the file's sha256 is {digest})"),
        );
    }
    let media_url = format!(
        "https://wxpaylogo.qpic.cn/wxpaylogo/sandbox/{}/0",
        &digest[..32]
    );
    let media = Media {
        media_url: media_url.clone(),
        filename: meta.filename,
        sha256: digest,
        size: file.data.len(),
        upload_time: util::now_rfc3339(),
    };
    shared.pay.inner.lock().expect("lock").media.push(media);
    Json(json!({ "media_url": media_url })).into_response()
}

/// `GET /v3/certificates`: the platform certificate, encrypted with the APIv3 key, in the shape
/// wechatpay-go's downloader and wechatpayv3's `_update_certificates` read.
async fn certificates(State(shared): State<Arc<Shared>>) -> Response {
    let id = &shared.identity;
    let nonce = keys::random_alnum(12);
    let sealed = match keys::aes_gcm_encrypt(
        id.apiv3_key.expose().as_bytes(),
        nonce.as_bytes(),
        b"certificate",
        id.platform_certificate_pem.as_bytes(),
    ) {
        Ok(s) => s,
        Err(_) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "SYSTEM_ERROR",
                "系统异常,请稍后重试",
            )
        }
    };
    Json(json!({
        "data": [{
            "serial_no": id.platform_serial_no,
            "effective_time": id.platform_effective_time,
            "expire_time": id.platform_expire_time,
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM",
                "nonce": nonce,
                "associated_data": "certificate",
                "ciphertext": B64.encode(sealed),
            }
        }]
    }))
    .into_response()
}
