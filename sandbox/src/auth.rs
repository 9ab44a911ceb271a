//! WeChat Pay APIv3 authentication: verifying a request's `Authorization` header the way WeChat
//! does, and signing responses (and notifications) the way WeChat does.
//!
//! Request signing string: `METHOD\nPATH_AND_QUERY\nTIMESTAMP\nNONCE\nBODY\n`, over the exact
//! bytes received (for a media upload, BODY is the `meta` part). Response signing string:
//! `TIMESTAMP\nNONCE\nBODY\n`.

use axum::http::{HeaderMap, HeaderValue};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::json;

use crate::keys::{self, RsaKey};
use crate::{Identity, SigningMode};

/// The only scheme WeChat Pay APIv3 accepts.
pub const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";
/// How far a request timestamp may be from the server's clock.
pub const MAX_SKEW_SECS: i64 = 300;

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub mchid: String,
    pub nonce_str: String,
    pub timestamp: String,
    pub serial_no: String,
    pub signature: String,
}

/// Parses `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…"`
/// (the five parameters in any order, each exactly once, values in double quotes).
pub fn parse_authorization(value: &str) -> Result<AuthHeader, String> {
    let rest = value.strip_prefix(SCHEME).ok_or_else(|| {
        let scheme = value.split_whitespace().next().unwrap_or("");
        format!("authorization scheme must be {SCHEME}, got `{scheme}`")
    })?;
    if !rest.starts_with(' ') {
        return Err(format!("expected a space after {SCHEME}"));
    }
    let mut rest = rest.trim_start();
    let mut fields: Vec<(String, String)> = Vec::new();
    loop {
        let eq = rest
            .find('=')
            .ok_or_else(|| format!("expected key=\"value\" at `{rest}`"))?;
        let key = rest[..eq].trim().to_owned();
        let after = &rest[eq + 1..];
        let after = after
            .strip_prefix('"')
            .ok_or_else(|| format!("the value of `{key}` must be in double quotes"))?;
        let close = after
            .find('"')
            .ok_or_else(|| format!("unterminated value of `{key}`"))?;
        let value = after[..close].to_owned();
        if fields.iter().any(|(k, _)| *k == key) {
            return Err(format!("parameter `{key}` appears twice"));
        }
        fields.push((key, value));
        rest = after[close + 1..].trim_start();
        if rest.is_empty() {
            break;
        }
        rest = rest
            .strip_prefix(',')
            .ok_or_else(|| format!("expected `,` between parameters at `{rest}`"))?
            .trim_start();
    }
    let mut take = |name: &str| -> Result<String, String> {
        let i = fields
            .iter()
            .position(|(k, _)| k == name)
            .ok_or_else(|| format!("parameter `{name}` is missing"))?;
        let (_, v) = fields.remove(i);
        if v.is_empty() {
            return Err(format!("parameter `{name}` is empty"));
        }
        Ok(v)
    };
    let header = AuthHeader {
        mchid: take("mchid")?,
        nonce_str: take("nonce_str")?,
        timestamp: take("timestamp")?,
        serial_no: take("serial_no")?,
        signature: take("signature")?,
    };
    if let Some((k, _)) = fields.first() {
        return Err(format!("unknown parameter `{k}`"));
    }
    Ok(header)
}

/// `METHOD\nPATH_AND_QUERY\nTIMESTAMP\nNONCE\nBODY\n`.
pub fn request_signing_string(
    method: &str,
    path_and_query: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut s = format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n").into_bytes();
    s.extend_from_slice(body);
    s.push(b'\n');
    s
}

/// `TIMESTAMP\nNONCE\nBODY\n`.
pub fn response_signing_string(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut s = format!("{timestamp}\n{nonce}\n").into_bytes();
    s.extend_from_slice(body);
    s.push(b'\n');
    s
}

/// The verified caller, put in the request extensions for the handlers.
#[derive(Debug, Clone)]
pub struct Caller {
    pub mchid: String,
}

/// Why a request was rejected with 401 SIGN_ERROR.
#[derive(Debug, Clone)]
pub struct SignFailure {
    /// What was wrong, in words (also the request log's verdict).
    pub reason: String,
    /// Which part was wrong: authorization, mchid, serial_no, timestamp, nonce_str, signature.
    pub field: &'static str,
    /// The signing string the sandbox built from the request as received.
    pub expected_signing_string: String,
    /// WeChat's `detail.sign_information`, once the Authorization header parsed (its timestamp
    /// and nonce are part of the signing string).
    pub sign_information: Option<SignInformation>,
}

/// How many bytes of the body WeChat shows in `truncated_sign_message`.
///
/// Inferred from published real answers, all cutting the body after 8 bytes and ending the
/// string with `\n`: `…\n{"amount\n` with `sign_message_length: 349`
/// (lihongsheng/payment-sdk, a comment quoting a `/v3/pay/transactions/jsapi` answer), `…\n{"appid"`
/// and `…\n{\n"appid` (bin278/mvp_22_1, analyze-new-error.js and its sibling script). An empty
/// body shows as the empty last line (`…\n\n`, the documented GET example). UNCONFIRMED as a rule.
pub const TRUNCATED_BODY_BYTES: usize = 8;

/// WeChat's `detail.sign_information` of a 401 SIGN_ERROR: the signing string WeChat built from
/// the request as received, its body truncated, and the full string's byte length.
///
/// Source: WeChat Pay APIv3 FAQ 签名相关 — 如何定位"错误的签名，导致验签失败"的错误
/// (wechatpay-apiv3.github.io; mirrored in charmingzuo/charmingzuo.github.io,
/// chang-jian-wen-ti/qian-ming-xiang-guan.md): `method` (HTTP method), `url` (the request URL,
/// path and query), `truncated_sign_message` (微信支付验签时使用的签名串, newlines as `\n`, the body
/// truncated), `sign_message_length` (the signing string's length in bytes), next to
/// `field: "signature"`, `issue: "sign not match"`, `location: "authorization"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInformation {
    pub method: String,
    pub url: String,
    pub truncated_sign_message: String,
    pub sign_message_length: usize,
}

impl SignInformation {
    pub fn new(method: &str, url: &str, timestamp: &str, nonce: &str, body: &[u8]) -> Self {
        let full = request_signing_string(method, url, timestamp, nonce, body);
        let mut cut = TRUNCATED_BODY_BYTES.min(body.len());
        // Not inside a UTF-8 sequence.
        while cut > 0 && std::str::from_utf8(&body[..cut]).is_err() {
            cut -= 1;
        }
        let truncated = request_signing_string(method, url, timestamp, nonce, &body[..cut]);
        SignInformation {
            method: method.to_owned(),
            url: url.to_owned(),
            truncated_sign_message: String::from_utf8_lossy(&truncated).into_owned(),
            sign_message_length: full.len(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "method": self.method,
            "url": self.url,
            "truncated_sign_message": self.truncated_sign_message,
            "sign_message_length": self.sign_message_length,
        })
    }
}

impl SignFailure {
    /// The 401 body: WeChat's shape (`field`, `location`, `issue` and, once the header parsed,
    /// `sign_information`, see [`SignInformation`]), plus the sandbox's own fuller diagnostic
    /// `expected_signing_string` (the whole signing string, body not truncated).
    pub fn body(&self) -> serde_json::Value {
        let mut detail = json!({
            "field": self.field,
            "location": "authorization",
            "issue": self.reason,
            "expected_signing_string": self.expected_signing_string,
        });
        if let Some(info) = &self.sign_information {
            detail["sign_information"] = info.to_json();
        }
        json!({
            "code": "SIGN_ERROR",
            "message": "签名错误",
            "detail": detail,
        })
    }
}

/// Verifies a request: the header parses, mchid and serial_no are the merchant's, the timestamp
/// is within five minutes, and the signature verifies with the merchant's public key.
/// `signed_body` is the body as received (the `meta` part for a media upload).
pub fn verify_request(
    identity: &Identity,
    method: &str,
    path_and_query: &str,
    headers: &HeaderMap,
    signed_body: &[u8],
    now: i64,
) -> Result<Caller, SignFailure> {
    let template = || {
        String::from_utf8_lossy(&request_signing_string(
            method,
            path_and_query,
            "<timestamp>",
            "<nonce_str>",
            signed_body,
        ))
        .into_owned()
    };
    let fail = |field: &'static str, reason: String, expected: String| SignFailure {
        reason,
        field,
        expected_signing_string: expected,
        sign_information: None,
    };
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(fail(
            "authorization",
            "the Authorization header is missing".into(),
            template(),
        ));
    };
    let value = value.to_str().map_err(|_| {
        fail(
            "authorization",
            "the Authorization header is not ASCII".into(),
            template(),
        )
    })?;
    let header = parse_authorization(value).map_err(|e| {
        fail(
            "authorization",
            format!("malformed Authorization: {e}"),
            template(),
        )
    })?;
    let expected = request_signing_string(
        method,
        path_and_query,
        &header.timestamp,
        &header.nonce_str,
        signed_body,
    );
    let expected_text = String::from_utf8_lossy(&expected).into_owned();
    let info = SignInformation::new(
        method,
        path_and_query,
        &header.timestamp,
        &header.nonce_str,
        signed_body,
    );
    let fail = |field: &'static str, reason: String, expected: String| SignFailure {
        sign_information: Some(info.clone()),
        ..fail(field, reason, expected)
    };
    if header.mchid != identity.mchid {
        return Err(fail(
            "mchid",
            format!(
                "mchid `{}` is not the merchant `{}`",
                header.mchid, identity.mchid
            ),
            expected_text,
        ));
    }
    if !header
        .serial_no
        .eq_ignore_ascii_case(&identity.merchant_serial_no)
    {
        return Err(fail(
            "serial_no",
            format!(
                "serial_no `{}` is not the merchant certificate serial `{}`",
                header.serial_no, identity.merchant_serial_no
            ),
            expected_text,
        ));
    }
    let Ok(ts) = header.timestamp.parse::<i64>() else {
        return Err(fail(
            "timestamp",
            format!(
                "timestamp `{}` is not a Unix time in seconds",
                header.timestamp
            ),
            expected_text,
        ));
    };
    if (now - ts).abs() > MAX_SKEW_SECS {
        return Err(fail(
            "timestamp",
            format!(
                "timestamp {ts} is {}s from the server time {now} (at most {MAX_SKEW_SECS}s allowed)",
                (now - ts).abs()
            ),
            expected_text,
        ));
    }
    let Ok(sig) = B64.decode(header.signature.as_bytes()) else {
        return Err(fail(
            "signature",
            "signature is not valid base64".into(),
            expected_text,
        ));
    };
    if !keys::verify(&identity.merchant_key.public_der(), &expected, &sig) {
        return Err(fail(
            "signature",
            "signature does not verify with the merchant public key over the expected signing string".into(),
            expected_text,
        ));
    }
    Ok(Caller {
        mchid: header.mchid,
    })
}

/// How a response or notification signature is to be spoiled (fault injection).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignFaults {
    /// Sign, then flip bits of the signature.
    pub tamper: bool,
    /// Sign with a timestamp this many seconds in the past.
    pub stale_secs: Option<i64>,
}

/// The key and serial that sign in `mode` (migration without a request to go by: the
/// platform certificate, as before the migration).
pub fn signer(identity: &Identity, mode: SigningMode) -> (&RsaKey, &str) {
    match mode {
        SigningMode::PublicKey => (&identity.wechatpay_key, &identity.wechatpay_public_key_id),
        SigningMode::Certificate | SigningMode::Migration => {
            (&identity.platform_key, &identity.platform_serial_no)
        }
    }
}

/// The key a response is signed with, given the sandbox's mode and the request's
/// `Wechatpay-Serial` header (any case). `public_key` and `certificate` ignore the header. In
/// `migration` the header picks: the `PUB_KEY_ID_…` → the public key; the platform certificate
/// serial (case-insensitive) → the certificate; absent or anything else → the certificate.
///
/// Source: WeChat Pay's migration guide (如何从平台证书切换成微信支付公钥,
/// https://pay.weixin.qq.com/doc/v3/merchant/4012154180) and, stated plainly, the SKIT SDK's
/// notes on it (DotNetCore.SKIT.FlurlHttpClient.Wechat, docs/WechatTenpayV3/Basic_Certificate2PublicKey.md:
/// "发送请求前,需要指定请求的 WechatpaySerialNumber 字段…该操作会影响灰度进度中的'应答使用公钥
/// 比例'"). WeChat releases the switch gradually by a share of answers; the sandbox's per-request
/// rule (the header decides) is its deterministic model — UNCONFIRMED in detail, and so is the
/// answer to an unknown serial (here: the certificate).
pub fn response_key(
    identity: &Identity,
    mode: SigningMode,
    request_serial: Option<&str>,
) -> SigningMode {
    match mode {
        SigningMode::Migration => match request_serial.map(str::trim) {
            Some(s) if s == identity.wechatpay_public_key_id => SigningMode::PublicKey,
            _ => SigningMode::Certificate,
        },
        other => other,
    }
}

/// The `Wechatpay-*` headers for `body`: Timestamp, Nonce (32 alphanumerics), Signature, Serial,
/// Signature-Type.
pub fn signature_headers(
    identity: &Identity,
    mode: SigningMode,
    body: &[u8],
    now: i64,
    faults: SignFaults,
) -> Vec<(&'static str, HeaderValue)> {
    let (key, serial) = signer(identity, mode);
    let timestamp = (now - faults.stale_secs.unwrap_or(0)).to_string();
    let nonce = keys::random_alnum(32);
    let mut sig = key.sign(&response_signing_string(&timestamp, &nonce, body));
    if faults.tamper {
        let mid = sig.len() / 2;
        sig[mid] ^= 0x5a;
        sig[0] ^= 0x01;
    }
    let hv = |s: &str| HeaderValue::from_str(s).expect("ASCII header value");
    vec![
        ("Wechatpay-Timestamp", hv(&timestamp)),
        ("Wechatpay-Nonce", hv(&nonce)),
        ("Wechatpay-Signature", hv(&B64.encode(sig))),
        ("Wechatpay-Serial", hv(serial)),
        ("Wechatpay-Signature-Type", hv(SCHEME)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_order_and_rejects_garbage() {
        let h = parse_authorization(
            r#"WECHATPAY2-SHA256-RSA2048 mchid="1900000001",nonce_str="abc",signature="c2ln",timestamp="1554208460",serial_no="1DDE""#,
        )
        .unwrap();
        assert_eq!(h.mchid, "1900000001");
        assert_eq!(h.serial_no, "1DDE");
        assert_eq!(h.signature, "c2ln");
        let h2 = parse_authorization(
            r#"WECHATPAY2-SHA256-RSA2048 mchid="1", nonce_str="n", timestamp="1", serial_no="s", signature="x""#,
        )
        .unwrap();
        assert_eq!(h2.nonce_str, "n");
        for bad in [
            "Bearer x",
            r#"WECHATPAY2-SHA256-RSA2048 mchid="1""#,
            r#"WECHATPAY2-SHA256-RSA2048 mchid=1,nonce_str="n",timestamp="1",serial_no="s",signature="x""#,
            r#"WECHATPAY2-SHA256-RSA2048 mchid="1",mchid="1",nonce_str="n",timestamp="1",serial_no="s",signature="x""#,
            r#"WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n",timestamp="1",serial_no="s",signature="x",extra="y""#,
        ] {
            assert!(parse_authorization(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signing_strings() {
        assert_eq!(
            request_signing_string("GET", "/v3/certificates", "1", "n", b""),
            b"GET\n/v3/certificates\n1\nn\n\n"
        );
        assert_eq!(response_signing_string("1", "n", b"{}"), b"1\nn\n{}\n");
    }
}
