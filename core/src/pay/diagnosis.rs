//! Why WeChat Pay refused a request's signature: a `401 SIGN_ERROR` compared with what the
//! client actually signed.
//!
//! WeChat Pay answers a bad signature with `detail.sign_information = { method, url,
//! truncated_sign_message, sign_message_length }`: the signing string it built from the request
//! as received (newlines as `\n`, the body truncated) and that string's full length in bytes.
//! Source: WeChat Pay APIv3 FAQ 签名相关 — 如何定位"错误的签名，导致验签失败"的错误
//! (wechatpay-apiv3.github.io; mirrored in charmingzuo/charmingzuo.github.io,
//! chang-jian-wen-ti/qian-ming-xiang-guan.md), which also lists the usual causes compared here:
//! a URL built by hand that differs from the one sent, the JSON serialised twice (once to sign,
//! once to send), timestamp or nonce generated twice, the wrong merchant private key (compare
//! `openssl x509 -noout -modulus -in cert.pem` with `openssl rsa -noout -modulus -in key.pem`).
//!
//! The client keeps each attempt's timestamp and nonce; on a 401 it assembles what the last
//! attempt signed ([`SignedRequest`]: method, URL, timestamp, nonce, body — never the key) and
//! [`diagnose`] compares it with WeChat's string part by part:
//! the first part that differs, the lengths side by side, the likely cause in words.

use std::fmt;

use serde::Serialize;

use crate::http::RawResponse;
use crate::pay::signing::signing_string;

/// How far a request timestamp may be from WeChat Pay's clock (文档: Http头Authorization中的
/// timestamp与发起请求的时间不得超过5分钟).
pub const MAX_REQUEST_SKEW_SECS: i64 = 300;

/// How many body bytes WeChat shows in `truncated_sign_message`, as far as published answers
/// show (`{"amount`, `{"appid"`, `{\n"appid` — 8 bytes each; see the sandbox's `auth.rs`).
/// Only used to print our own string the same way; the comparison takes whatever WeChat sent.
pub const TRUNCATED_BODY_BYTES: usize = 8;

/// What one attempt signed. Holds no key and no signature.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub method: String,
    /// Path and query, exactly as signed.
    pub url: String,
    pub timestamp: i64,
    pub nonce: String,
    /// The signed bytes (the JSON, or a media upload's `meta`).
    pub body: Vec<u8>,
}

impl fmt::Debug for SignedRequest {
    // The body can hold personal data: its length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("timestamp", &self.timestamp)
            .field("nonce", &self.nonce)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl SignedRequest {
    /// `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`.
    pub fn signing_string(&self) -> Vec<u8> {
        signing_string(
            &self.method,
            &self.url,
            self.timestamp,
            &self.nonce,
            &self.body,
        )
    }

    /// The signing string shown the way WeChat shows its own: the body cut after
    /// [`TRUNCATED_BODY_BYTES`] bytes.
    pub fn truncated(&self) -> String {
        let mut cut = TRUNCATED_BODY_BYTES.min(self.body.len());
        while cut > 0 && std::str::from_utf8(&self.body[..cut]).is_err() {
            cut -= 1;
        }
        let s = signing_string(
            &self.method,
            &self.url,
            self.timestamp,
            &self.nonce,
            &self.body[..cut],
        );
        String::from_utf8_lossy(&s).into_owned()
    }
}

/// A part of the request signing string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignPart {
    Method,
    /// Path and query.
    Url,
    Timestamp,
    Nonce,
    Body,
}

impl SignPart {
    pub fn as_str(self) -> &'static str {
        match self {
            SignPart::Method => "method",
            SignPart::Url => "url",
            SignPart::Timestamp => "timestamp",
            SignPart::Nonce => "nonce",
            SignPart::Body => "body",
        }
    }
}

/// The likely cause of a `SIGN_ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignCause {
    /// The body WeChat received is not the body signed (a proxy, a middleware, the JSON
    /// serialised again).
    BodyChanged,
    /// Same path and query once percent-decoded, encoded differently.
    QueryEncoding,
    /// The path or query WeChat received is another one.
    UrlChanged,
    /// The method WeChat received is another one.
    MethodChanged,
    /// The timestamp or nonce of the Authorization header is not the one signed.
    HeaderMismatch,
    /// The timestamp is more than five minutes from WeChat Pay's clock.
    ClockSkew,
    /// The `mchid` in the Authorization header is not the merchant of the certificate serial.
    WrongMchid,
    /// `serial_no` is not a merchant certificate serial WeChat Pay knows for this merchant.
    WrongSerial,
    /// The strings are identical: the signature itself is wrong — the private key does not
    /// belong to the certificate serial (or the mchid is not that certificate's merchant).
    KeyMismatch,
    /// Nothing to compare with (no `sign_information`) and no other hint.
    Unknown,
}

impl SignCause {
    pub fn as_str(self) -> &'static str {
        match self {
            SignCause::BodyChanged => "body_changed",
            SignCause::QueryEncoding => "query_encoding",
            SignCause::UrlChanged => "url_changed",
            SignCause::MethodChanged => "method_changed",
            SignCause::HeaderMismatch => "header_mismatch",
            SignCause::ClockSkew => "clock_skew",
            SignCause::WrongMchid => "wrong_mchid",
            SignCause::WrongSerial => "wrong_serial",
            SignCause::KeyMismatch => "key_mismatch",
            SignCause::Unknown => "unknown",
        }
    }
}

/// The diagnosis of a `401 SIGN_ERROR`, attached to the [`ApiError`](crate::ApiError).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignDiagnosis {
    /// The first part of the signing string where WeChat's differs from ours; `None` when they
    /// are identical (as far as WeChat shows its truncated body) or WeChat sent none.
    pub first_difference: Option<SignPart>,
    /// Our signing string's length in bytes.
    pub ours_len: usize,
    /// WeChat's `sign_message_length`.
    pub theirs_len: Option<usize>,
    /// Our body's length in bytes.
    pub ours_body_len: usize,
    /// The body length WeChat's string implies (its length minus the four lines before the
    /// body and the final newline).
    pub theirs_body_len: Option<usize>,
    /// Our string shown like WeChat's `truncated_sign_message` (body cut after 8 bytes).
    pub ours_truncated: String,
    /// WeChat's `truncated_sign_message`.
    pub theirs_truncated: Option<String>,
    /// Our timestamp minus the server's clock (its `Date` header), in seconds.
    pub clock_skew_secs: Option<i64>,
    pub cause: SignCause,
    /// The cause in words, and what to do.
    pub explanation: String,
}

impl fmt::Display for SignDiagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signature diagnosis: {}", self.cause.as_str())?;
        match self.first_difference {
            Some(part) => write!(f, "; first difference: {}", part.as_str())?,
            None => f.write_str("; no difference in the signing string")?,
        }
        let theirs = |v: Option<usize>| v.map_or("?".to_owned(), |v| v.to_string());
        write!(
            f,
            "; signing string {} bytes (ours) vs {} (WeChat's); body {} vs {}",
            self.ours_len,
            theirs(self.theirs_len),
            self.ours_body_len,
            theirs(self.theirs_body_len)
        )?;
        if let Some(skew) = self.clock_skew_secs {
            write!(f, "; clock skew {skew:+} s")?;
        }
        write!(f, ". {}", self.explanation)
    }
}

/// WeChat's `sign_information`.
#[derive(serde::Deserialize)]
struct SignInformation {
    #[serde(default)]
    truncated_sign_message: Option<String>,
    #[serde(default)]
    sign_message_length: Option<usize>,
}

#[derive(serde::Deserialize)]
struct ErrorBody {
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    detail: Option<Detail>,
}

#[derive(serde::Deserialize, Default)]
struct Detail {
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    issue: Option<String>,
    #[serde(default)]
    sign_information: Option<SignInformation>,
}

/// The diagnosis of `response` if it is a `401 SIGN_ERROR`, comparing with what was `signed`.
pub fn diagnose(signed: &SignedRequest, response: &RawResponse) -> Option<SignDiagnosis> {
    if response.status != 401 {
        return None;
    }
    let body: ErrorBody = serde_json::from_slice(&response.body).ok()?;
    if body.code != "SIGN_ERROR" {
        return None;
    }
    let detail = body.detail.unwrap_or_default();
    let server_now = response
        .headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64);
    let info = detail.sign_information.as_ref();
    Some(compare(
        signed,
        info.and_then(|i| i.truncated_sign_message.as_deref()),
        info.and_then(|i| i.sign_message_length),
        Hints {
            field: detail.field.as_deref().unwrap_or(""),
            text: &format!("{} {}", body.message, detail.issue.unwrap_or_default()),
            server_now,
        },
    ))
}

/// What the answer says besides the signing string.
struct Hints<'a> {
    /// `detail.field` (`signature`, `timestamp`, `mchid`, `serial_no` …).
    field: &'a str,
    /// `message` and `detail.issue`.
    text: &'a str,
    /// The server's clock (`Date`), Unix seconds.
    server_now: Option<i64>,
}

fn compare(
    signed: &SignedRequest,
    theirs: Option<&str>,
    theirs_len: Option<usize>,
    hints: Hints<'_>,
) -> SignDiagnosis {
    let ours = signed.signing_string();
    let ts = signed.timestamp.to_string();
    let mut d = SignDiagnosis {
        first_difference: None,
        ours_len: ours.len(),
        theirs_len,
        ours_body_len: signed.body.len(),
        theirs_body_len: None,
        ours_truncated: signed.truncated(),
        theirs_truncated: theirs.map(str::to_owned),
        clock_skew_secs: hints.server_now.map(|now| signed.timestamp - now),
        cause: SignCause::Unknown,
        explanation: String::new(),
    };
    if let Some(theirs) = theirs {
        let mut parts = theirs.splitn(5, '\n');
        let (m, u, t, n) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
        );
        // The body as shown, without the signing string's final newline.
        let rest = parts.next().unwrap_or("");
        let shown = rest.strip_suffix('\n').unwrap_or(rest);
        d.theirs_body_len = theirs_len
            .and_then(|len| len.checked_sub(m.len() + u.len() + t.len() + n.len() + 4 + 1));
        let body_differs = !signed.body.starts_with(shown.as_bytes())
            || d.theirs_body_len.is_some_and(|l| l != signed.body.len());
        d.first_difference = if m != signed.method {
            Some(SignPart::Method)
        } else if u != signed.url {
            Some(SignPart::Url)
        } else if t != ts {
            Some(SignPart::Timestamp)
        } else if n != signed.nonce {
            Some(SignPart::Nonce)
        } else if body_differs {
            Some(SignPart::Body)
        } else {
            None
        };
        let (cause, words) = match d.first_difference {
            Some(SignPart::Method) => (
                SignCause::MethodChanged,
                format!("WeChat Pay received {m} but {} was signed (a redirect or a proxy changed the method)", signed.method),
            ),
            Some(SignPart::Url) if decoded(u) == decoded(&signed.url) => (
                SignCause::QueryEncoding,
                format!(
                    "the URL WeChat Pay received ({u}) is the one signed ({}) encoded differently: something between the client and WeChat Pay (a proxy, a URL library) percent-encoded the path or query again; sign the URL exactly as it is sent",
                    signed.url
                ),
            ),
            Some(SignPart::Url) => (
                SignCause::UrlChanged,
                format!(
                    "WeChat Pay received the URL {u} but {} was signed (a proxy prefix or rewrite, or a query built after signing)",
                    signed.url
                ),
            ),
            Some(SignPart::Timestamp | SignPart::Nonce) => (
                SignCause::HeaderMismatch,
                "the timestamp or nonce in the Authorization header is not the one signed (generated twice)".to_owned(),
            ),
            Some(SignPart::Body) => (
                SignCause::BodyChanged,
                format!(
                    "the body was changed after signing: WeChat Pay received {} bytes, {} were signed — by a proxy or middleware, or by serialising the JSON again (other spacing, key order or escaping); send exactly the bytes that were signed",
                    d.theirs_body_len.map_or("other".to_owned(), |l| l.to_string()),
                    signed.body.len()
                ),
            ),
            None => (SignCause::Unknown, String::new()),
        };
        d.cause = cause;
        d.explanation = words;
    }
    if d.first_difference.is_none() {
        let skewed = d
            .clock_skew_secs
            .is_some_and(|s| s.abs() > MAX_REQUEST_SKEW_SECS);
        let field = hints.field;
        let (cause, words) = if field == "timestamp" || skewed || hints.text.contains("timestamp") {
            (
                SignCause::ClockSkew,
                format!(
                    "clock skew: the request's timestamp {} is more than {MAX_REQUEST_SKEW_SECS} s from WeChat Pay's clock{}; set this machine's clock (NTP)",
                    signed.timestamp,
                    d.clock_skew_secs
                        .map(|s| format!(" ({s:+} s by the server's Date header)"))
                        .unwrap_or_default()
                ),
            )
        } else if field == "mchid" {
            (
                SignCause::WrongMchid,
                "wrong mchid: the mchid in the Authorization header is not the merchant the certificate serial belongs to; check the configured mchid".to_owned(),
            )
        } else if field == "serial_no" {
            (
                SignCause::WrongSerial,
                "wrong serial_no: it is not the serial of this merchant's API certificate (apiclient_cert.pem); check the configured serial_no".to_owned(),
            )
        } else if theirs.is_some() {
            (
                SignCause::KeyMismatch,
                "the signing strings are identical, so the signature itself is wrong: the private key does not belong to the certificate serial_no (compare `openssl x509 -noout -modulus -in apiclient_cert.pem` with `openssl rsa -noout -modulus -in apiclient_key.pem`), or the mchid in the Authorization header is not that certificate's merchant".to_owned(),
            )
        } else {
            (
                SignCause::Unknown,
                "WeChat Pay sent no sign_information to compare with".to_owned(),
            )
        };
        d.cause = cause;
        d.explanation = words;
    }
    d
}

/// `s` percent-decoded (for comparing two encodings of one URL).
fn decoded(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(&s.replace('+', "%20")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(body: &str) -> SignedRequest {
        SignedRequest {
            method: "POST".into(),
            url: "/v3/x?a=b%20c".into(),
            timestamp: 1_700_000_000,
            nonce: "N".into(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn hints(field: &str) -> Hints<'_> {
        Hints {
            field,
            text: "",
            server_now: None,
        }
    }

    #[test]
    fn each_part_and_cause() {
        let s = signed(r#"{"a":1}"#);
        // Lengths: "POST\n/v3/x?a=b%20c\n1700000000\nN\n" = 5+14+11+2 = 32, body 7, newline 1.
        let d = compare(
            &s,
            Some("POST\n/v3/x?a=b%20c\n1700000000\nN\n{\"a\":1}\n"),
            Some(40),
            hints("signature"),
        );
        assert_eq!(
            (d.first_difference, d.cause),
            (None, SignCause::KeyMismatch)
        );
        assert_eq!((d.ours_len, d.theirs_body_len), (40, Some(7)));
        let d = compare(
            &s,
            Some("POST\n/v3/x?a=b%20c\n1700000000\nN\n{\"a\": 1\n"),
            Some(41),
            hints("signature"),
        );
        assert_eq!(
            (d.first_difference, d.cause),
            (Some(SignPart::Body), SignCause::BodyChanged)
        );
        assert_eq!(d.theirs_body_len, Some(8));
        let d = compare(
            &s,
            Some("POST\n/v3/x?a=b+c\n1700000000\nN\n{\"a\":1}\n"),
            Some(38),
            hints("signature"),
        );
        assert_eq!(
            (d.first_difference, d.cause),
            (Some(SignPart::Url), SignCause::QueryEncoding)
        );
        let d = compare(
            &s,
            Some("POST\n/v3/y\n1700000000\nN\n{\"a\":1}\n"),
            None,
            hints("signature"),
        );
        assert_eq!(d.cause, SignCause::UrlChanged);
        let d = compare(
            &s,
            Some("GET\n/v3/x?a=b%20c\n1700000000\nN\n\n"),
            None,
            hints("signature"),
        );
        assert_eq!(d.cause, SignCause::MethodChanged);
        let d = compare(
            &s,
            Some("POST\n/v3/x?a=b%20c\n1700000001\nN\n{\"a\":1}\n"),
            None,
            hints("signature"),
        );
        assert_eq!(
            (d.first_difference, d.cause),
            (Some(SignPart::Timestamp), SignCause::HeaderMismatch)
        );
        let d = compare(&s, None, None, hints("timestamp"));
        assert_eq!(d.cause, SignCause::ClockSkew);
        let d = compare(
            &s,
            None,
            None,
            Hints {
                field: "signature",
                text: "",
                server_now: Some(1_700_000_000 - 900),
            },
        );
        assert_eq!(
            (d.cause, d.clock_skew_secs),
            (SignCause::ClockSkew, Some(900))
        );
        let d = compare(&s, None, None, hints("mchid"));
        assert_eq!(d.cause, SignCause::WrongMchid);
        let d = compare(&s, None, None, hints("signature"));
        assert_eq!(d.cause, SignCause::Unknown);
    }
}
