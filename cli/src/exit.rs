//! Exit codes: one per error kind of the bridge (`weixin_kit::bridge::ERROR_KINDS`), so a script
//! can tell a configuration mistake from WeChat refusing the request from a network failure.

use serde_json::{json, Value};
use weixin_kit::bridge::{ErrorKind, ERROR_KINDS};

/// Success.
pub const OK: i32 = 0;
/// The command line itself is wrong (unknown flag, missing argument): clap's usage error.
pub const USAGE: i32 = 2;

/// The exit code of an error of `kind`.
pub fn code(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::Base => 1,
        ErrorKind::Config => 3,
        ErrorKind::Validation => 4,
        ErrorKind::Signature => 5,
        ErrorKind::Api => 6,
        ErrorKind::MiniProgram => 7,
        ErrorKind::Transport => 8,
        ErrorKind::Timeout => 9,
        ErrorKind::UnexpectedResponse => 10,
        ErrorKind::Callback => 11,
        ErrorKind::Replay => 12,
        ErrorKind::NotAuthorized => 13,
    }
}

/// The table `weixin-kit exit-codes` prints.
pub fn table() -> Value {
    let mut rows = vec![
        json!({"code": OK, "meaning": "success"}),
        json!({"code": USAGE, "meaning": "usage error: the command line is wrong"}),
    ];
    for info in ERROR_KINDS {
        rows.push(json!({
            "code": code(info.kind),
            "kind": info.class_name,
            "meaning": info.summary,
        }));
    }
    rows.sort_by_key(|r| r["code"].as_i64());
    Value::Array(rows)
}
