//! The runtime the generated operations stand on, one concern per module:
//!
//! - `spec`: the static description of each operation (from the spec), its documented error
//!   table, and the lookup of a table row for an error answer;
//! - `request`: the request an operation prepares ([`PreparedRequest`]: path, query and body,
//!   validated) and how it becomes an HTTP [`Outgoing`](crate::http::Outgoing);
//! - `response`: the decoding of what comes back ([`decode_json`] / [`decode_empty`]), which hands
//!   error answers to their family: [`crate::pay::errors`] (HTTP status + `{"code","message"}`) and
//!   [`crate::mp::errors`] (`{"errcode","errmsg"}`).
//!
//! Generated code builds a [`PreparedRequest`], hands it to an [`Execute`] implementation (the
//! pay or mini-program client: host, auth, retries, signature checks) and decodes the
//! [`RawResponse`] it gets back.

use std::future::Future;

use crate::error::Result;

mod request;
mod response;
mod spec;
#[cfg(test)]
mod tests;

pub use crate::http::RawResponse;
pub use crate::pay::errors::{pay_error, retryable_status};
pub use request::{
    json_body, request_from_json, sha256_hex, PathBuilder, PreparedRequest, RequestBody,
};
pub use response::{decode_empty, decode_json};
pub(crate) use spec::{documented, Documented};
pub use spec::{ApiFamily, Auth, ErrorDoc, ErrorKey, OperationSpec};

/// Sends prepared requests: implemented by the pay and mini-program clients.
pub trait Execute: Sync {
    fn execute(&self, request: PreparedRequest)
        -> impl Future<Output = Result<RawResponse>> + Send;
}
