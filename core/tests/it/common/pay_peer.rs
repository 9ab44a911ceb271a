//! A WeChat Pay that misbehaves on purpose: a real TCP listener (axum) that answers every
//! request with the answer a test sets — missing or repeated `Wechatpay-*` headers, a 3xx,
//! certificate listings the sandbox never serves — signed with the shared [`identity`]'s keys
//! where the test wants a valid signature. What the sandbox does right, the peer does wrong.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use base64::Engine as _;
use weixin_kit_sandbox::keys::{self, RsaKey};

use super::identity;

/// One answer: status, headers (repeated names allowed), body.
#[derive(Clone, Debug, Default)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    /// HTTP 200 with `body`, signed over `timestamp` (text, as sent) by `key` under `serial`,
    /// with `Wechatpay-Signature-Type: WECHATPAY2-SHA256-RSA2048`.
    pub fn signed(body: &[u8], key: &RsaKey, serial: &str, timestamp: &str) -> Answer {
        let nonce = keys::random_alnum(32);
        let mut message = format!("{timestamp}\n{nonce}\n").into_bytes();
        message.extend_from_slice(body);
        message.push(b'\n');
        Answer {
            status: 200,
            headers: vec![
                ("Wechatpay-Serial".into(), serial.into()),
                ("Wechatpay-Signature".into(), key.sign_base64(&message)),
                ("Wechatpay-Timestamp".into(), timestamp.into()),
                ("Wechatpay-Nonce".into(), nonce),
                (
                    "Wechatpay-Signature-Type".into(),
                    "WECHATPAY2-SHA256-RSA2048".into(),
                ),
            ],
            body: body.to_vec(),
        }
    }

    /// [`Answer::signed`] now, with the WeChat Pay public key of [`identity`] (public-key mode).
    pub fn signed_now(body: &[u8]) -> Answer {
        let id = identity();
        Answer::signed(body, &id.wechatpay_key, &id.wechatpay_public_key_id, &now())
    }

    /// Replaces (or, when absent, adds) header `name`.
    pub fn with_header(mut self, name: &str, value: &str) -> Answer {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Adds one more `name` header, keeping those there are.
    pub fn and_header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// The current Unix time as the `Wechatpay-Timestamp` text.
pub fn now() -> String {
    weixin_kit::time::unix_now().to_string()
}

/// A `/v3/certificates` body listing `certificate_pem` `count` times, encrypted with the shared
/// identity's APIv3 key.
pub fn listing(certificate_pem: &str, serial: &str, count: usize) -> Vec<u8> {
    let id = identity();
    let nonce = keys::random_alnum(12);
    let sealed = keys::aes_gcm_encrypt(
        id.apiv3_key.expose().as_bytes(),
        nonce.as_bytes(),
        b"certificate",
        certificate_pem.as_bytes(),
    )
    .unwrap();
    let entry = serde_json::json!({
        "serial_no": serial,
        "effective_time": "2020-01-01T00:00:00+08:00",
        "expire_time": "2040-01-01T00:00:00+08:00",
        "encrypt_certificate": {
            "algorithm": "AEAD_AES_256_GCM",
            "nonce": nonce,
            "associated_data": "certificate",
            "ciphertext": base64::engine::general_purpose::STANDARD.encode(sealed),
        }
    });
    serde_json::to_vec(&serde_json::json!({ "data": vec![entry; count] })).unwrap()
}

/// A platform certificate of the shared identity's platform key, with `serial`, valid from
/// `from_days` to `to_days` days from now (negative: in the past).
pub fn platform_certificate(serial: &str, from_days: i64, to_days: i64) -> String {
    let day = std::time::Duration::from_secs(86_400);
    let now = weixin_kit_sandbox::util::now();
    let at = |days: i64| {
        if days < 0 {
            now - day * days.unsigned_abs() as u32
        } else {
            now + day * days as u32
        }
    };
    let id = identity();
    keys::platform_certificate(
        &id.platform_key,
        serial,
        at(from_days),
        at(to_days),
        &id.mchid,
    )
    .unwrap()
}

#[derive(Default)]
struct State {
    answer: Answer,
    listing: Option<Answer>,
    seen: Vec<String>,
}

/// The listener; dropped with the test's runtime.
#[derive(Clone)]
pub struct Peer {
    pub base_url: String,
    state: Arc<Mutex<State>>,
}

impl Peer {
    pub async fn start() -> Peer {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let app = axum::Router::new().fallback(move |uri: Uri, _body: Bytes| {
            let shared = shared.clone();
            async move {
                let mut state = shared.lock().unwrap();
                state.seen.push(uri.path().to_owned());
                let answer = match (&state.listing, uri.path()) {
                    (Some(listing), "/v3/certificates") => listing.clone(),
                    _ => state.answer.clone(),
                };
                let mut headers = HeaderMap::new();
                for (name, value) in &answer.headers {
                    headers.append(
                        HeaderName::from_bytes(name.as_bytes()).unwrap(),
                        HeaderValue::from_str(value).unwrap(),
                    );
                }
                (
                    StatusCode::from_u16(answer.status).unwrap(),
                    headers,
                    answer.body,
                )
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Peer {
            base_url: format!("http://{addr}"),
            state,
        }
    }

    /// What every request is answered with (except `/v3/certificates` when
    /// [`Peer::set_listing`] was called).
    pub fn set_answer(&self, answer: Answer) {
        self.state.lock().unwrap().answer = answer;
    }

    /// What `GET /v3/certificates` is answered with.
    pub fn set_listing(&self, answer: Answer) {
        self.state.lock().unwrap().listing = Some(answer);
    }

    /// Forgets the answers and the requests seen.
    pub fn reset(&self) {
        *self.state.lock().unwrap() = State::default();
    }

    /// The paths requested so far, in order.
    pub fn seen(&self) -> Vec<String> {
        self.state.lock().unwrap().seen.clone()
    }
}
