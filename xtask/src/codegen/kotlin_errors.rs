//! `Errors.kt`: the exception classes of the core's `ERROR_KINDS` (read by [`super::bridge`]),
//! with the kind names and fields of Python and Node (fields in camelCase), and
//! `errorFromDescription`, which builds one from the core's `{ kind, text, …fields }`.

use anyhow::{bail, Result};
use heck::ToLowerCamelCase;

use super::bridge::{ErrorKind, ERRORS_FILE};
use super::kotlin_types::{kdoc, kt_str, preamble};

/// The Kotlin type of every error field (all may be absent except `retryable`) and how it is
/// read from the description: `(field, type, reader)`. A field missing here fails the
/// generation naming it.
const FIELD_TYPES: &[(&str, &str, &str)] = &[
    ("detail", "JsonElement?", "detail"),
    ("status", "Int?", "number(\"status\")?.toInt()"),
    ("code", "String?", "text(\"code\")"),
    ("msg", "String?", "text(\"msg\")"),
    ("request_id", "String?", "text(\"request_id\")"),
    ("solution", "String?", "text(\"solution\")"),
    ("advice", "String?", "text(\"advice\")"),
    // read with the kind's default: `flag("retryable", default)`
    ("retryable", "Boolean", "flag"),
    ("retry_after", "Double?", "number(\"retry_after\")"),
    ("field", "String?", "text(\"field\")"),
    ("rule", "String?", "text(\"rule\")"),
    ("errcode", "Long?", "number(\"errcode\")?.toLong()"),
    ("errmsg", "String?", "text(\"errmsg\")"),
    ("callback", "String?", "text(\"callback\")"),
    ("notification_id", "String?", "text(\"notification_id\")"),
    ("authorizer_appid", "String?", "text(\"authorizer_appid\")"),
    (
        "sign_diagnosis",
        "JsonElement?",
        "description[\"sign_diagnosis\"]?.takeIf { it !is JsonNull }",
    ),
    (
        "may_have_been_applied",
        "Boolean?",
        "primitive(\"may_have_been_applied\")?.booleanOrNull",
    ),
];

/// The fields the base class itself declares (each kind passes them on).
const BASE_FIELDS: &[&str] = &["detail", "retryable"];

fn field_type(kind: &str, field: &str) -> Result<(&'static str, &'static str)> {
    match FIELD_TYPES.iter().find(|(f, _, _)| *f == field) {
        Some((_, ty, read)) => Ok((ty, read)),
        None => bail!(
            "error kind `{kind}`: the field `{field}` ({ERRORS_FILE}) has no Kotlin type: add it \
             to FIELD_TYPES in xtask/src/codegen/kotlin_errors.rs"
        ),
    }
}

/// `Errors.kt` after its stamp; `kinds[0]` is the base class.
pub fn errors(kinds: &[ErrorKind]) -> Result<String> {
    let base = &kinds[0];
    for f in &base.fields {
        if !BASE_FIELDS.contains(&f.as_str()) {
            bail!("the base error kind `{}` has the field `{f}`, which its Kotlin class does not declare", base.class_name);
        }
    }
    let mut out = preamble(&[
        "kotlinx.serialization.json.JsonElement",
        "kotlinx.serialization.json.JsonNull",
        "kotlinx.serialization.json.JsonObject",
        "kotlinx.serialization.json.JsonPrimitive",
        "kotlinx.serialization.json.booleanOrNull",
        "kotlinx.serialization.json.doubleOrNull",
    ]);
    let b = &base.class_name;
    out.push('\n');
    out.push_str(&kdoc(
        "",
        &[
            base.summary.clone(),
            String::new(),
            "Every error weixin-kit throws is one: a class per kind of error the Rust core \
             reports. Fields a kind does not carry are `null`."
                .into(),
            String::new(),
            "@property detail What the error carries beyond its text, as received.".into(),
            "@property retryable Whether sending the same request again may succeed.".into(),
        ],
    ));
    out.push_str(&format!(
        "open class {b}(\n    message: String,\n    val detail: JsonElement? = null,\n    val retryable: Boolean = {},\n) : Exception(message)\n",
        base.retryable_by_default
    ));
    for kind in &kinds[1..] {
        let name = &kind.class_name;
        let mut params = vec!["message: String".to_owned()];
        let mut doc = vec![kind.summary.clone()];
        for f in &kind.fields {
            let (ty, _) = field_type(name, f)?;
            let prop = f.to_lower_camel_case();
            let default = if f == "retryable" {
                kind.retryable_by_default.to_string()
            } else {
                "null".into()
            };
            if BASE_FIELDS.contains(&f.as_str()) {
                params.push(format!("{prop}: {ty} = {default}"));
            } else {
                params.push(format!("val {prop}: {ty} = {default}"));
            }
        }
        let mut supers = vec!["message".to_owned()];
        supers.push(if kind.fields.iter().any(|f| f == "detail") {
            "detail".to_owned()
        } else {
            "null".to_owned()
        });
        supers.push(if kind.fields.iter().any(|f| f == "retryable") {
            "retryable".to_owned()
        } else {
            kind.retryable_by_default.to_string()
        });
        out.push('\n');
        if kind.fields.len() > 1 {
            doc.push(String::new());
            doc.push(format!(
                "Fields (wire names in the core's description): {}.",
                kind.fields
                    .iter()
                    .map(|f| format!("`{}` (`{f}`)", f.to_lower_camel_case()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        out.push_str(&kdoc("", &doc));
        out.push_str(&format!("class {name}(\n"));
        for p in &params {
            out.push_str(&format!("    {p},\n"));
        }
        out.push_str(&format!(") : {b}({})\n", supers.join(", ")));
    }
    out.push('\n');
    out.push_str(&kdoc(
        "",
        &[
            "The error the core describes as `{ kind, text, …fields }` (snake_case keys): an \
             instance of the class named by `kind` (the base class for a kind this package does \
             not know)."
                .into(),
        ],
    ));
    out.push_str(&format!(
        "internal fun errorFromDescription(description: JsonObject): {b} {{\n"
    ));
    out.push_str(
        "    fun primitive(key: String): JsonPrimitive? = description[key] as? JsonPrimitive\n\
         \x20   fun text(key: String): String? = primitive(key)?.takeIf { it.isString }?.content\n\
         \x20   fun number(key: String): Double? = primitive(key)?.takeIf { !it.isString }?.doubleOrNull\n\
         \x20   fun flag(key: String, default: Boolean): Boolean = primitive(key)?.booleanOrNull ?: default\n\
         \x20   val message = text(\"text\") ?: \"\"\n\
         \x20   val detail = description[\"detail\"]?.takeIf { it !is JsonNull }\n\
         \x20   return when (text(\"kind\")) {\n",
    );
    for kind in &kinds[1..] {
        let mut args = vec!["message".to_owned()];
        for f in &kind.fields {
            let (_, read) = field_type(&kind.class_name, f)?;
            let read = if f == "retryable" {
                format!("flag(\"retryable\", {})", kind.retryable_by_default)
            } else {
                read.to_owned()
            };
            args.push(format!("{} = {read}", f.to_lower_camel_case()));
        }
        out.push_str(&format!(
            "        {} -> {}(\n",
            kt_str(&kind.class_name),
            kind.class_name
        ));
        for a in &args {
            out.push_str(&format!("            {a},\n"));
        }
        out.push_str("        )\n");
    }
    out.push_str(&format!(
        "        else -> {b}(message, detail, flag(\"retryable\", {}))\n    }}\n}}\n",
        base.retryable_by_default
    ));
    Ok(out)
}
