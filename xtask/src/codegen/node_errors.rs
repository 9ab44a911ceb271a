//! `bindings-node/generated/errors.js` and `errors.d.ts`: one error class per row of the core's
//! `ERROR_KINDS` (the first row is the base class, which extends `Error`), `ERROR_CLASSES`
//! (kind → class) and `errorFromDescription`, which turns the core's error description
//! (`{kind, text, …fields}`) into an instance of its class.

use anyhow::{bail, Context, Result};

use super::bridge::{ErrorKind, ERRORS_FILE};
use super::js::{checked_name, exports, js_str, jsdoc};

/// Every field an error class may carry: its TypeScript type and documentation. A field of
/// `ERROR_KINDS` missing here fails the generation.
const FIELDS: &[(&str, &str, &str)] = &[
    ("status", "number | null", "The HTTP status."),
    (
        "code",
        "string | null",
        "WeChat Pay's error code (`PARAM_ERROR`, `RESOURCE_NOT_EXISTS` …).",
    ),
    ("msg", "string | null", "WeChat Pay's `message` text."),
    (
        "request_id",
        "string | null",
        "The `Request-ID` response header: quote it to WeChat Pay support.",
    ),
    (
        "solution",
        "string | null",
        "The documented solution (解决方案) for this error, when there is one.",
    ),
    (
        "advice",
        "string | null",
        "Further documented guidance, when there is some.",
    ),
    (
        "field",
        "string | null",
        "The wire name (path) of the offending argument, e.g. \
         `custom_entrance.mini_programs_info.entrance_words`.",
    ),
    (
        "rule",
        "string | null",
        "The rule it breaks, e.g. `is required`.",
    ),
    ("errmsg", "string | null", "WeChat's error text."),
    (
        "callback",
        "string | null",
        "Which callback failed (`token_provider`, `signer`).",
    ),
    (
        "notification_id",
        "string | null",
        "The `id` of the notification that was already received.",
    ),
    (
        "authorizer_appid",
        "string | null",
        "The merchant's appid the third-party platform is no longer authorized for.",
    ),
    (
        "errcode",
        "number | null",
        "WeChat's error code (40001 invalid token, 85437 notify_code not found …).",
    ),
    (
        "retryable",
        "boolean",
        "Whether the same request may be sent again (the client has already retried what it \
         could).",
    ),
    (
        "may_have_been_applied",
        "boolean | null",
        "The request may have reached the server and been applied (the connection failed after \
         it was sent): it was not sent again; check its outcome before resending.",
    ),
    (
        "retry_after",
        "number | null",
        "Seconds to wait before sending the same request again, when the documents name a \
         delay.",
    ),
    (
        "sign_diagnosis",
        "{ first_difference: string | null; ours_len: number; theirs_len: number | null; \
         ours_body_len: number; theirs_body_len: number | null; ours_truncated: string; \
         theirs_truncated: string | null; clock_skew_secs: number | null; cause: string; \
         explanation: string } | null",
        "For a 401 SIGN_ERROR: WeChat's signing string compared with the one signed — the \
         first differing part (method, url, timestamp, nonce, body), the byte lengths side by \
         side and the likely cause (body_changed, query_encoding, clock_skew, key_mismatch, \
         wrong_mchid …) in words.",
    ),
    (
        "detail",
        "unknown",
        "What went wrong beyond the text (a string for most kinds; WeChat Pay's `detail` \
         object for `ApiError`), or null.",
    ),
];

fn field_info(kind: &ErrorKind, name: &str) -> Result<(&'static str, &'static str)> {
    FIELDS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, ty, doc)| (*ty, *doc))
        .with_context(|| {
            format!(
                "{}: field `{name}` ({ERRORS_FILE}) has no TypeScript type: add it to FIELDS in \
                 xtask/src/codegen/node_errors.rs",
                kind.class_name
            )
        })
}

/// The base row and the others; every class name and field checked.
fn split(kinds: &[ErrorKind]) -> Result<(&ErrorKind, &[ErrorKind])> {
    let Some((base, rest)) = kinds.split_first() else {
        bail!("ERROR_KINDS is empty");
    };
    let mut names = std::collections::BTreeSet::new();
    for k in kinds {
        checked_name(&k.class_name, "error class")?;
        if !names.insert(&k.class_name) {
            bail!("error class {} is listed twice", k.class_name);
        }
        for f in &k.fields {
            field_info(k, f)?;
        }
    }
    if base.fields.iter().any(|f| f == "retryable") {
        bail!("the base class's `retryable` is the kinds' default, not a field");
    }
    Ok((base, rest))
}

/// The fields a subclass sets itself: its own, less the base's (set by the base constructor).
fn own_fields<'a>(base: &ErrorKind, kind: &'a ErrorKind) -> impl Iterator<Item = &'a String> {
    let base_fields = base.fields.clone();
    kind.fields.iter().filter(move |f| !base_fields.contains(f))
}

/// `errors.js`.
pub fn runtime(kinds: &[ErrorKind]) -> Result<String> {
    let (base, _) = split(kinds)?;
    let mut out = jsdoc(
        "",
        &[
            "The errors weixin-kit rejects with: one class per kind of error the Rust core \
             reports, all extending `WeixinKitError` (which extends `Error`). Fields keep their \
             wire names; a field the error does not carry is `null`."
                .to_owned(),
        ],
    );
    out.push_str("\n'use strict';\n");
    for kind in kinds {
        let is_base = std::ptr::eq(kind, base);
        out.push('\n');
        out.push_str(&jsdoc("", std::slice::from_ref(&kind.summary)));
        let parent = if is_base { "Error" } else { &base.class_name };
        out.push_str(&format!("class {} extends {parent} {{\n", kind.class_name));
        out.push_str("  constructor(text, fields = {}) {\n");
        out.push_str(if is_base {
            "    super(text);\n"
        } else {
            "    super(text, fields);\n"
        });
        out.push_str(&format!("    this.name = {};\n", js_str(&kind.class_name)));
        let fields: Vec<&String> = if is_base {
            kind.fields.iter().collect()
        } else {
            own_fields(base, kind).collect()
        };
        for f in fields.into_iter().filter(|f| *f != "retryable") {
            out.push_str(&format!("    this.{f} = fields.{f} ?? null;\n"));
        }
        let default = kind.retryable_by_default;
        if kind.fields.iter().any(|f| f == "retryable") {
            out.push_str(&format!(
                "    this.retryable = fields.retryable ?? {default};\n"
            ));
        } else if is_base || default != base.retryable_by_default {
            out.push_str(&format!("    this.retryable = {default};\n"));
        }
        out.push_str("  }\n}\n");
    }
    out.push_str("\n/** Every error class by the kind the core names (its class name). */\n");
    out.push_str("const ERROR_CLASSES = Object.freeze({\n");
    for k in kinds {
        out.push_str(&format!("  {},\n", k.class_name));
    }
    out.push_str("});\n\n");
    out.push_str(&jsdoc(
        "",
        &[format!(
            "The error the core describes as `{{ kind, text, …fields }}`: an instance of the \
             class named by `kind` (`{}` for a kind this package does not know).",
            base.class_name
        )],
    ));
    out.push_str(&format!(
        "function errorFromDescription(d) {{\n  const Class = Object.prototype.hasOwnProperty.call(ERROR_CLASSES, d.kind)\n    ? ERROR_CLASSES[d.kind]\n    : {};\n  return new Class(d.text, d);\n}}\n\n",
        base.class_name
    ));
    let mut names: Vec<String> = kinds.iter().map(|k| k.class_name.clone()).collect();
    names.push("ERROR_CLASSES".into());
    names.push("errorFromDescription".into());
    out.push_str(&exports(&names));
    Ok(out)
}

/// `errors.d.ts`.
pub fn declarations(kinds: &[ErrorKind]) -> Result<String> {
    let (base, _) = split(kinds)?;
    let mut out = jsdoc(
        "",
        &["The error classes of weixin-kit, one per kind of error the Rust core reports.".into()],
    );
    for kind in kinds {
        let is_base = std::ptr::eq(kind, base);
        out.push('\n');
        out.push_str(&jsdoc("", std::slice::from_ref(&kind.summary)));
        let parent = if is_base { "Error" } else { &base.class_name };
        out.push_str(&format!(
            "export declare class {} extends {parent} {{\n",
            kind.class_name
        ));
        out.push_str(
            "  constructor(text: string, fields?: Record<string, unknown>);\n  readonly name: string;\n",
        );
        let mut fields: Vec<&String> = if is_base {
            kind.fields.iter().collect()
        } else {
            own_fields(base, kind).collect()
        };
        let retryable = "retryable".to_owned();
        if is_base {
            fields.push(&retryable);
        }
        for f in fields {
            let (ty, doc) = field_info(kind, f)?;
            out.push_str(&jsdoc("  ", &[doc.to_owned()]));
            out.push_str(&format!("  {f}: {ty};\n"));
        }
        out.push_str("}\n");
    }
    out.push_str("\n/** Every error class by the kind the core names (its class name). */\n");
    out.push_str("export declare const ERROR_CLASSES: {\n");
    for k in kinds {
        out.push_str(&format!("  readonly {0}: typeof {0};\n", k.class_name));
    }
    out.push_str("};\n\n");
    out.push_str(
        "/** An error as the core describes it: the kind (a class name), the text and the fields. */\n\
         export interface ErrorDescription {\n  kind: string;\n  text: string;\n  [field: string]: unknown;\n}\n\n",
    );
    out.push_str(&jsdoc(
        "",
        &[format!(
            "An instance of the class named by `d.kind` (`{}` for an unknown kind).",
            base.class_name
        )],
    ));
    out.push_str(&format!(
        "export declare function errorFromDescription(d: ErrorDescription): {};\n",
        base.class_name
    ));
    Ok(out)
}
