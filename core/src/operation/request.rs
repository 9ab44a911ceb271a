//! The request an operation prepares: [`PreparedRequest`] (path, query and body, validated once:
//! these bytes are signed and sent), built with [`PathBuilder`], [`json_body`] and
//! [`request_from_json`]; and how it goes out over HTTP ([`Outgoing`]: headers, JSON or
//! multipart media upload).

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::OperationSpec;
use crate::error::{Error, Result};
use crate::http::{idempotent_method, Body, Outgoing, Part, RedactedPath};
use crate::validate::{self, Validate};

/// A request ready to be authenticated and sent: nothing in it changes after this point, so the
/// bytes signed are the bytes sent, and a retry resends exactly the same request.
///
/// `Debug` shows the path without its query (`/cgi-bin/token` carries the AppSecret there).
#[derive(Clone)]
pub struct PreparedRequest {
    pub operation: &'static OperationSpec,
    /// Path and query as sent (percent-encoded), without the `access_token` the client adds.
    pub path_and_query: String,
    pub body: RequestBody,
}

impl std::fmt::Debug for PreparedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedRequest")
            .field("operation", &self.operation.name)
            .field("path_and_query", &RedactedPath(&self.path_and_query))
            .field("body", &self.body)
            .finish()
    }
}

#[derive(Clone, PartialEq)]
pub enum RequestBody {
    Empty,
    Json(Vec<u8>),
    /// WeChat's media upload: multipart `meta` (JSON, the signed body) + `file`.
    MediaUpload {
        meta: Vec<u8>,
        filename: String,
        file: Vec<u8>,
    },
}

impl std::fmt::Debug for RequestBody {
    // Bodies may carry personal data and credentials; Debug shows sizes only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestBody::Empty => f.write_str("Empty"),
            RequestBody::Json(b) => write!(f, "Json({} bytes)", b.len()),
            RequestBody::MediaUpload { meta, file, .. } => {
                write!(
                    f,
                    "MediaUpload(meta {} bytes, file {} bytes)",
                    meta.len(),
                    file.len()
                )
            }
        }
    }
}

impl RequestBody {
    /// The bytes that take part in the request signature.
    pub fn signed_bytes(&self) -> &[u8] {
        match self {
            RequestBody::Empty => b"",
            RequestBody::Json(b) => b,
            RequestBody::MediaUpload { meta, .. } => meta,
        }
    }
}

/// Characters escaped in a path segment (everything but unreserved), as Go's `url.PathEscape`.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Builds `path_and_query` from a path template and its parameters.
#[derive(Debug)]
pub struct PathBuilder {
    out: String,
    has_query: bool,
}

impl PathBuilder {
    /// Fills `{name}` placeholders; every path parameter is required and non-empty.
    pub fn new(template: &str, params: &[(&str, &str)]) -> Result<Self> {
        let mut out = template.to_owned();
        for (name, value) in params {
            validate::not_empty("", name, value)?;
            // `.` and `..` are unreserved, so they would go out unescaped and the URL parser
            // would remove them: the request sent would not be the request signed.
            if *value == "." || *value == ".." {
                return Err(Error::validation(
                    *name,
                    "must not be `.` or `..` (a path segment the URL would drop)",
                ));
            }
            let encoded = utf8_percent_encode(value, PATH_SEGMENT).to_string();
            out = out.replace(&format!("{{{name}}}"), &encoded);
        }
        debug_assert!(!out.contains('{'), "unfilled path parameter in {template}");
        Ok(PathBuilder {
            out,
            has_query: false,
        })
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.out.push(if self.has_query { '&' } else { '?' });
        self.out
            .push_str(&utf8_percent_encode(name, PATH_SEGMENT).to_string());
        self.out.push('=');
        self.out
            .push_str(&utf8_percent_encode(value, PATH_SEGMENT).to_string());
        self.has_query = true;
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Lower-case hex SHA-256, as the media upload `meta.sha256` wants it.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Validates and serializes a JSON request body, once: these bytes are signed and sent.
pub fn json_body<T: Serialize + Validate>(body: &T) -> Result<RequestBody> {
    body.validate()?;
    serde_json::to_vec(body)
        .map(RequestBody::Json)
        .map_err(|_| Error::validation("body", "cannot be serialized as JSON"))
}

/// Reads a request value from JSON (what the language bindings hand over), reporting a missing or
/// mistyped field as a validation error that names it, then runs the spec's checks.
pub fn request_from_json<T: DeserializeOwned + Validate>(value: serde_json::Value) -> Result<T> {
    let request: T = serde_path_to_error::deserialize(value).map_err(|e| {
        let at = e.path().to_string();
        let at = if at == "." { String::new() } else { at };
        // The rule without the offending value (it may be an openid or a credential).
        let rule = crate::error::data_rule(&e.into_inner().to_string());
        // serde reports a missing field at its parent: name the field itself.
        match rule
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            Some(field) => Error::validation(validate::path(&at, field), "is required"),
            None => Error::validation(if at.is_empty() { "body".into() } else { at }, rule),
        }
    })?;
    request.validate()?;
    Ok(request)
}

impl Outgoing {
    /// The request a generated operation prepared: its method, path and query, and body with
    /// `Accept: application/json` (and `Content-Type: application/json` for a JSON body).
    pub fn from_prepared(request: &PreparedRequest) -> Result<Outgoing> {
        let op = request.operation;
        let method = Method::from_bytes(op.method.as_bytes()).map_err(|_| Error::Config {
            detail: format!(
                "operation {} has an invalid method `{}`",
                op.name, op.method
            ),
        })?;
        let mut outgoing =
            Outgoing::from_parts(method, request.path_and_query.clone(), &request.body);
        outgoing.idempotent = op.idempotent;
        Ok(outgoing)
    }

    /// `Accept: application/json`; a JSON body goes out as `application/json`, a media upload
    /// as multipart `meta` (JSON) + `file` (its type from the file name). Idempotent as the
    /// method says ([`idempotent_method`]); [`Outgoing::from_prepared`] takes the spec's word.
    pub fn from_parts(method: Method, path_and_query: String, body: &RequestBody) -> Outgoing {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        let body = match body {
            RequestBody::Empty => Body::Empty,
            RequestBody::Json(bytes) => {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                Body::Bytes(Bytes::copy_from_slice(bytes))
            }
            RequestBody::MediaUpload {
                meta,
                filename,
                file,
            } => Body::Multipart(vec![
                Part {
                    name: "meta".into(),
                    filename: None,
                    content_type: "application/json".into(),
                    data: Bytes::copy_from_slice(meta),
                },
                Part {
                    name: "file".into(),
                    filename: Some(filename.clone()),
                    content_type: image_mime(filename).into(),
                    data: Bytes::copy_from_slice(file),
                },
            ]),
        };
        Outgoing {
            idempotent: idempotent_method(&method),
            method,
            path_and_query,
            headers,
            body,
        }
    }
}

/// The Content-Type of an uploaded image, by its file name.
fn image_mime(filename: &str) -> &'static str {
    let lower = filename.to_ascii_lowercase();
    if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".bmp") {
        "image/bmp"
    } else if lower.ends_with(".jpg") || lower.ends_with(".jpeg") {
        "image/jpeg"
    } else {
        "application/octet-stream"
    }
}
