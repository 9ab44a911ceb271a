//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz, nightly), kept here so that stable
//! `cargo test` replays the committed corpora and regression inputs through the very same code
//! (`core/tests/it/fuzz_corpus.rs`). Not an API: each function feeds arbitrary bytes to a real
//! entry point and panics only on a bug (a panic inside the entry point, or an error text that
//! shows a secret).
//!
//! Inputs that carry headers are written like an HTTP message: `Name: value` lines, an empty
//! line, then the body. A pseudo-header `@now: <i64>` sets the receiver's clock (default
//! [`DEFAULT_NOW`], the time of the notification vectors).

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

use crate::crypto::{ApiV3Key, Certificate, PrivateKey, PublicKey};
use crate::dispatch::JsonArgs;
use crate::pay::signing::{self, Verifier};

/// The receiver's clock when an input does not set one: `Wechatpay-Timestamp` of
/// `spec/vectors/notification.json`.
pub const DEFAULT_NOW: i64 = 1_700_002_000;

/// The keys of `spec/vectors/` the targets verify and decrypt with.
pub struct Fixture {
    /// The WeChat Pay public key (as `public_key_id`) and the platform certificate.
    pub verifier: Verifier,
    /// Only the public key: a listing signed by a certificate it carries takes the bootstrap
    /// path.
    pub public_key_only: Verifier,
    pub apiv3_key: ApiV3Key,
    /// Text no error may contain (the APIv3 key).
    secret: String,
}

impl Fixture {
    /// From the text of `spec/vectors/keys.json` and `spec/vectors/notification.json`.
    pub fn from_vectors(keys_json: &str, notification_json: &str) -> Fixture {
        let keys: Value = serde_json::from_str(keys_json).expect("keys.json is JSON");
        let notification: Value =
            serde_json::from_str(notification_json).expect("notification.json is JSON");
        let text = |v: &Value| v.as_str().expect("a string in the vectors").to_owned();
        let public_key = PublicKey::from_pem(&text(&keys["platform"]["public_key_spki_pem"]))
            .expect("the vectors' platform public key");
        let certificate = Certificate::from_pem(&text(&keys["platform"]["certificate_pem"]))
            .expect("the vectors' platform certificate");
        let public_key_id = text(&keys["public_key_id"]);
        let public_key_only = Verifier::new().with_public_key(&public_key_id, public_key.clone());
        // Clones share the certificate set: `verifier` is a verifier of its own.
        let verifier = Verifier::new().with_public_key(public_key_id, public_key);
        verifier.set_certificates(vec![certificate]);
        let secret = text(&notification["apiv3_key"]);
        Fixture {
            verifier,
            public_key_only,
            apiv3_key: ApiV3Key::new(&secret).expect("the vectors' APIv3 key"),
            secret,
        }
    }

    fn check_text(&self, text: &str) {
        assert!(
            !text.contains(&self.secret),
            "an error text shows the APIv3 key: {text}"
        );
    }
}

/// Headers, the receiver's clock and the body of an HTTP-like input (see the module docs).
/// Lines that are not a valid header are skipped; repeated names are appended, not replaced.
pub fn message(data: &[u8]) -> (HeaderMap, i64, &[u8]) {
    let mut headers = HeaderMap::new();
    let mut now = DEFAULT_NOW;
    let mut rest = data;
    loop {
        let (line, after) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = after;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name == b"@now" {
            if let Some(n) = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok()) {
                now = n;
            }
            continue;
        }
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
        if rest.is_empty() {
            break;
        }
    }
    (headers, now, rest)
}

/// Response signature verification (`Wechatpay-*` headers, extreme timestamps, raw body).
pub fn response_signature(fixture: &Fixture, data: &[u8]) {
    let (headers, now, body) = message(data);
    if let Err(failure) = signing::verify(&fixture.verifier, &headers, body, now) {
        let error: crate::Error = failure.clone().into();
        fixture.check_text(&format!("{failure} {failure:?} {error} {error:?}"));
    }
}

/// A notification: size cap, signature, envelope, AEAD_AES_256_GCM, typed payload.
pub fn notification(fixture: &Fixture, data: &[u8]) {
    let (headers, now, body) = message(data);
    let text = match crate::pay::notification::parse(
        &fixture.verifier,
        &fixture.apiv3_key,
        &headers,
        body,
        now,
    ) {
        Ok(n) => format!("{n:?} {}", n.to_json()),
        Err(e) => format!("{e} {e:?}"),
    };
    fixture.check_text(&text);
    // The decryption and typing alone, as if the signature had verified.
    if let Err(e) = crate::pay::notification::decrypt_verified(&fixture.apiv3_key, body) {
        fixture.check_text(&format!("{e} {e:?}"));
    }
}

/// PEM and X.509: private keys, public keys and certificates from arbitrary text, and the
/// X.509 parser on the raw bytes (DER).
pub fn pem(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for backend in crate::crypto::backends() {
        let _ = PrivateKey::from_pem_with(*backend, &text).map(|k| format!("{k:?}"));
        let _ = PublicKey::from_pem_with(*backend, &text).map(|k| format!("{k:?}"));
        if let Ok(cert) = Certificate::from_pem_with(*backend, &text) {
            let _ = cert.is_valid_at(DEFAULT_NOW);
        }
    }
    let _ = crate::crypto::x509::parse(data);
}

/// A signed `/v3/certificates` answer, checked as the certificate manager checks a download:
/// with the full verifier, and with the public key only (the bootstrap path).
pub fn certificate_listing(fixture: &Fixture, data: &[u8]) {
    let (headers, now, body) = message(data);
    for verifier in [&fixture.verifier, &fixture.public_key_only] {
        let text = match crate::pay::certificates::read_listing(
            verifier,
            &fixture.apiv3_key,
            &headers,
            body,
            now,
        ) {
            Ok(certs) => format!("{}", certs.len()),
            Err(e) => format!("{e} {e:?}"),
        };
        fixture.check_text(&text);
    }
}

/// The mini-program error body (`{"errcode","errmsg"}`), under the status of the first byte.
pub fn mp_error_body(data: &[u8]) {
    let (status, body) = match data.split_first() {
        Some((&s, body)) => (if s & 1 == 0 { 200 } else { 400 + u16::from(s) }, body),
        None => (200, data),
    };
    let response = crate::http::RawResponse {
        status,
        headers: HeaderMap::new(),
        body: body.to_vec(),
    };
    let op = &crate::mp::specs::SET_USER_NOTIFY_EXT;
    if let Err(e) = crate::mp::errors::check_errcode(op, &response) {
        let _ = format!("{e} {e:?}");
    }
    let _ = crate::mp::errors::verdict(op, &response);
    let _ = crate::mp::errors::errcode_of(&response);
    let _ = crate::mp::errors::notify_type_of(body);
}

/// `JsonArgs` conversion: the first byte picks an operation of either family, the rest is its
/// arguments as a JSON object (a value `{"$bytes": "…"}` becomes a bytes argument).
pub fn json_args(data: &[u8]) {
    let Some((&pick, json)) = data.split_first() else {
        return;
    };
    let Ok(Value::Object(given)) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    let mut values = Map::new();
    let mut args = JsonArgs::default();
    for (name, value) in given {
        match value.get("$bytes").and_then(Value::as_str) {
            Some(b) => {
                args.bytes.insert(name, b.as_bytes().to_vec());
            }
            None => {
                values.insert(name, value);
            }
        }
    }
    args.values = values;
    let tables = [crate::pay::JSON_OPERATIONS, crate::mp::JSON_OPERATIONS];
    let ops: Vec<_> = tables.iter().flat_map(|t| t.iter()).collect();
    let op = ops[usize::from(pick) % ops.len()];
    match (op.prepare)(args) {
        Ok(request) => {
            let _ = format!("{request:?}");
        }
        Err(e) => {
            let _ = format!("{e} {e:?}");
        }
    }
}

/// The third-party platform of `spec/vectors/msg_crypt.json` (the `ticket_push` message's Token,
/// EncodingAESKey and appid), once per crypto backend.
pub struct ComponentFixture {
    pub crypts: Vec<crate::component::msg_crypt::MsgCrypt>,
    /// Text no error or event may show (the Token and the EncodingAESKey).
    secrets: [String; 2],
}

impl ComponentFixture {
    /// From the text of `spec/vectors/msg_crypt.json`.
    pub fn from_vectors(msg_crypt_json: &str) -> ComponentFixture {
        let doc: Value = serde_json::from_str(msg_crypt_json).expect("msg_crypt.json is JSON");
        let m = doc["messages"]
            .as_array()
            .and_then(|ms| ms.iter().find(|m| m["name"] == "ticket_push"))
            .expect("the ticket_push message");
        let text = |k: &str| m[k].as_str().expect("a string in the vectors").to_owned();
        let crypts = crate::crypto::backends()
            .iter()
            .map(|b| {
                crate::component::msg_crypt::MsgCrypt::new_with(
                    *b,
                    &text("token"),
                    &text("encoding_aes_key"),
                    &text("appid"),
                )
                .expect("the vectors' credentials")
            })
            .collect();
        ComponentFixture {
            crypts,
            secrets: [text("token"), text("encoding_aes_key")],
        }
    }
}

/// An open-platform push: the first line is the URL's query string, the rest the body (the XML
/// envelope). Every backend must give the same outcome; no outcome may show the Token or key.
pub fn component_push(fixture: &ComponentFixture, data: &[u8]) {
    let (query, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let query = String::from_utf8_lossy(query);
    let outcomes: Vec<String> = fixture
        .crypts
        .iter()
        .map(|crypt| {
            match crate::component::push::PushQuery::parse(&query)
                .and_then(|q| crate::component::push::parse_push(crypt, &q, body))
            {
                Ok(push) => format!("{push:?} {}", push.to_json()),
                Err(e) => format!("{e} {e:?}"),
            }
        })
        .collect();
    for text in &outcomes {
        for secret in &fixture.secrets {
            assert!(
                !text.contains(secret.as_str()),
                "a push outcome shows a secret: {text}"
            );
        }
    }
    assert!(
        outcomes.windows(2).all(|w| w[0] == w[1]),
        "the crypto backends disagree: {outcomes:?}"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_reads_headers_clock_and_body() {
        let (headers, now, body) = message(b"A: 1\r\nA: 2\n@now: -5\nbad line\n\nbody\n\nmore");
        assert_eq!(headers.get_all("a").iter().count(), 2);
        assert_eq!(now, -5);
        assert_eq!(body, b"body\n\nmore");
        let (headers, now, body) = message(b"B: x");
        assert_eq!(headers.len(), 1);
        assert_eq!(now, DEFAULT_NOW);
        assert!(body.is_empty());
    }
}
