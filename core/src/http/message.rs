//! What goes out and what comes back: [`Outgoing`] (method, path and query, headers,
//! [`Body`]) and [`RawResponse`], with `Debug` output that never shows queries, bodies or header
//! values.

use bytes::Bytes;
use http::{HeaderMap, Method};

/// The body of an outgoing request. Cloning is cheap ([`Bytes`]); the same bytes go out on every
/// attempt.
#[derive(Clone)]
pub enum Body {
    Empty,
    /// Raw bytes; the Content-Type is one of the request headers.
    Bytes(Bytes),
    /// multipart/form-data, rebuilt from these parts for every attempt.
    Multipart(Vec<Part>),
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Multipart(parts) => write!(f, "Multipart({} parts)", parts.len()),
        }
    }
}

/// One part of a multipart body.
#[derive(Clone)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: String,
    pub data: Bytes,
}

/// A request as it leaves: method, path and query (appended to the host's base URL), headers
/// common to every attempt, the body, and whether it is idempotent.
///
/// `Debug` shows the path without its query (the mini-program `access_token` travels there),
/// the header names and the body's size.
#[derive(Clone)]
pub struct Outgoing {
    pub method: Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Body,
    /// Sending it twice has the effect of sending it once (the spec's `x-weixin-idempotent`,
    /// or the HTTP method's meaning for the escape hatch). Only an idempotent request is sent
    /// again after a failure that may have come after the server received it (a timeout
    /// after connecting, a connection closed before the answer); a request that certainly
    /// never left (connect error) is sent again either way.
    pub idempotent: bool,
}

/// What HTTP says about a method (RFC 9110 §9.2.2): GET, HEAD, OPTIONS, PUT and DELETE are
/// idempotent, POST and PATCH are not. The default for requests the spec does not describe.
pub fn idempotent_method(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE | Method::TRACE
    )
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(http::HeaderName::as_str).collect();
        f.debug_struct("Outgoing")
            .field("method", &self.method)
            .field("path_and_query", &RedactedPath(&self.path_and_query))
            .field("header_names", &names)
            .field("body", &self.body)
            .field("idempotent", &self.idempotent)
            .finish()
    }
}

/// What the server answered, status and body untouched.
///
/// `Debug` shows the status, the header names and the body's length only: token and ticket
/// responses carry credentials, others personal data.
#[derive(Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(http::HeaderName::as_str).collect();
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .field("header_names", &names)
            .field("body", &format_args!("{} bytes", self.body.len()))
            .finish()
    }
}

/// Shows a path and query as the path alone, plus `?<redacted>` when there is a query: queries
/// carry credentials (`secret=`, `access_token=`).
pub(crate) struct RedactedPath<'a>(pub &'a str);

impl std::fmt::Debug for RedactedPath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.split_once('?') {
            Some((path, _)) => write!(f, "\"{path}?<redacted>\""),
            None => write!(f, "{:?}", self.0),
        }
    }
}
