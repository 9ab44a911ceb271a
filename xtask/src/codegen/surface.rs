//! What every binding's typed surface is made of, whatever the language: the family classes,
//! the operation groups (one per spec tag, remote and local operations side by side) and the
//! text that documents schemas.

use std::collections::BTreeSet;

use heck::ToUpperCamelCase;
use serde_json::Value;

use super::model::{
    Api, Argument, Body, ErrorKey, Family, Kind, LocalOperation, Operation, Property, Schema,
};
use super::text::text_lines;

/// The class holding a family's operation groups (Python's mixin, Node's family class).
pub fn family_class(family: Family) -> &'static str {
    match family {
        Family::Pay => "PayOperations",
        Family::MiniProgram => "MiniProgramOperations",
        // Not `ComponentOperations`: that is the `component` tag's group.
        Family::Component => "ThirdPartyPlatformOperations",
    }
}

/// The error class a family's documented errors arrive as (`ApiError`, `MiniProgramError`).
pub fn error_class(family: Family) -> &'static str {
    match family {
        Family::Pay => "ApiError",
        // The third-party platform's errcode answers arrive as mini-program errors.
        Family::MiniProgram | Family::Component => "MiniProgramError",
    }
}

/// What a method's documentation says, markup left to the language (`code` quotes a piece of
/// code): `head` is the summary, where the request goes and the document's description; `errors`
/// one entry per documented error (`` `400 PARAM_ERROR` description: solution ``).
pub struct MethodText {
    pub head: Vec<String>,
    pub errors: Vec<String>,
}

pub fn method_text(source: Source, code: fn(&str) -> String) -> MethodText {
    let mut head = vec![source.summary().to_owned(), String::new()];
    let (description, errors) = match source {
        Source::Remote(op) => {
            let place = code(&format!("{} {}", op.method, op.path));
            head.push(format!("{place} ({})", op.name));
            (op.description.as_str(), op.errors.as_slice())
        }
        Source::Local(op) => {
            head.push(format!(
                "Computed by the client, no request of its own ({}).",
                op.name
            ));
            (op.description.as_str(), &[][..])
        }
    };
    if !description.trim().is_empty() {
        head.push(String::new());
        head.extend(text_lines(description));
    }
    let errors = errors
        .iter()
        .map(|e| {
            let key = match &e.key {
                ErrorKey::Pay { status, code } => format!("{status} {code}"),
                ErrorKey::MiniProgram { errcode } => errcode.to_string(),
            };
            format!("{} {}: {}", code(&key), e.description, e.solution)
        })
        .collect();
    MethodText { head, errors }
}

/// Where a method of a group comes from: an operation of the spec, or a local operation
/// (`x-weixin-local-operations`, computed by the client).
#[derive(Clone, Copy)]
pub enum Source<'a> {
    Remote(&'a Operation),
    Local(&'a LocalOperation),
}

impl<'a> Source<'a> {
    /// The official name, passed to the client's `call`.
    pub fn name(self) -> &'a str {
        match self {
            Source::Remote(op) => &op.name,
            Source::Local(op) => &op.name,
        }
    }

    /// `modify_stock_info`.
    pub fn snake(self) -> &'a str {
        match self {
            Source::Remote(op) => &op.snake,
            Source::Local(op) => &op.snake,
        }
    }

    pub fn summary(self) -> &'a str {
        match self {
            Source::Remote(op) => &op.summary,
            Source::Local(op) => &op.summary,
        }
    }

    /// Its arguments under their wire names, in the spec's order (path, query, body).
    pub fn arguments(self, api: &Api) -> Vec<Argument> {
        match self {
            Source::Remote(op) => api.arguments(op),
            Source::Local(op) => api.local_arguments(op),
        }
    }

    /// The arguments that also take the object they encode (see [`json_encoded_fields`]).
    pub fn json_encoded(self, api: &Api) -> BTreeSet<String> {
        match self {
            Source::Remote(op) => json_encoded_fields(api, op),
            Source::Local(_) => BTreeSet::new(),
        }
    }
}

/// The class of a tag's operation group: `BusifavorOperations`, `ServiceCardOperations`.
pub fn group_class(tag: &str) -> String {
    format!("{}Operations", tag.to_upper_camel_case())
}

/// The operation groups, sorted by tag: each tag's operations in spec order, then its local
/// operations.
pub fn tagged(api: &Api) -> Vec<(&str, Vec<Source<'_>>)> {
    let tags: BTreeSet<&str> = api
        .operations
        .iter()
        .map(|o| o.tag.as_str())
        .chain(api.local_operations.iter().map(|o| o.tag.as_str()))
        .collect();
    tags.into_iter()
        .map(|tag| {
            let remote = api
                .operations
                .iter()
                .filter(|o| o.tag == tag)
                .map(Source::Remote);
            let local = api
                .local_operations
                .iter()
                .filter(|o| o.tag == tag)
                .map(Source::Local);
            (tag, remote.chain(local).collect())
        })
        .collect()
}

/// The top-level body fields of `op` marked `x-weixin-json-encoded`: the native side also
/// accepts the object and encodes it.
pub fn json_encoded_fields(api: &Api, op: &Operation) -> BTreeSet<String> {
    match &op.body {
        Body::Json { schema } => match api.schemas.get(schema) {
            Some(Schema::Object { properties }) => properties
                .iter()
                .filter(|p| p.json_encoded)
                .map(|p| p.name.clone())
                .collect(),
            _ => BTreeSet::new(),
        },
        _ => BTreeSet::new(),
    }
}

/// A schema's documentation: the English summary, the document's text, else its title (empty
/// when it has none of them).
pub fn schema_text(api: &Api, name: &str) -> Vec<String> {
    let raw = api.raw_schemas.get(name);
    let text = |key: &str| {
        raw.and_then(|r| r.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let mut lines = Vec::new();
    for part in [text("x-description-en"), text("description")] {
        if part.is_empty() {
            continue;
        }
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.extend(part.lines().map(str::to_owned));
    }
    if lines.is_empty() {
        let title = text("title");
        if !title.is_empty() {
            lines.push(title);
        }
    }
    lines
}

/// A property of a schema as the spec writes it, for what the model does not carry (formats,
/// media types, integer enums).
pub fn raw_property<'a>(api: &'a Api, schema: &str, p: &Property) -> Option<&'a Value> {
    api.raw_schemas
        .get(schema)
        .and_then(|s| s.pointer(&format!("/properties/{}", p.name.replace('~', "~0"))))
}

/// Raw bytes rather than text: a string with `format: binary` or an octet-stream
/// `contentMediaType` (the media upload's `file`).
pub fn is_binary(p: &Property, raw: &Value) -> bool {
    p.kind == Kind::String
        && (raw.get("format").and_then(Value::as_str) == Some("binary")
            || raw.get("contentMediaType").and_then(Value::as_str)
                == Some("application/octet-stream"))
}
