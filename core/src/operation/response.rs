//! Decoding what comes back: the success body typed, or the documented error of the operation's
//! family ([`crate::pay::errors`], [`crate::mp::errors`]).

use serde::de::DeserializeOwned;

use super::{ApiFamily, OperationSpec, RawResponse};
use crate::error::{json_error, Error, Result};
use crate::mp::errors::check_errcode;
use crate::pay::errors::pay_error;

/// Decodes a successful JSON response into `T`, or the documented error.
pub fn decode_json<T: DeserializeOwned>(
    op: &'static OperationSpec,
    response: &RawResponse,
) -> Result<T> {
    check_status(op, response)?;
    if op.family == ApiFamily::MiniProgram {
        check_errcode(op, response)?;
    }
    let mut de = serde_json::Deserializer::from_slice(&response.body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| Error::UnexpectedResponse {
        status: response.status,
        detail: format!(
            "{} response does not match the spec: {}",
            op.name,
            json_error(&e.path().to_string(), e.inner())
        ),
    })
}

/// Checks a response that carries no body (WeChat Pay's 204).
pub fn decode_empty(op: &'static OperationSpec, response: &RawResponse) -> Result<()> {
    check_status(op, response)?;
    if op.family == ApiFamily::MiniProgram {
        check_errcode(op, response)?;
    }
    Ok(())
}

fn check_status(op: &'static OperationSpec, response: &RawResponse) -> Result<()> {
    if (200..300).contains(&response.status) {
        return Ok(());
    }
    match op.family {
        ApiFamily::Pay => Err(pay_error(op, response)),
        ApiFamily::MiniProgram => Err(Error::UnexpectedResponse {
            status: response.status,
            detail: format!("{} answered HTTP {}", op.name, response.status),
        }),
    }
}
