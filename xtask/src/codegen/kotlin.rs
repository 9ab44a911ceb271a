//! The Kotlin surface of one spec, in `bindings-kotlin/generated/dev/weixinkit/` (package
//! `dev.weixinkit`), compiled against the hand-written runtime's `internal interface Caller`
//! (`json`, `scope`, `suspend fun call(name, args, bytes)`):
//!
//! - `<Family>Operations.kt`: one class per tag with a `suspend fun` per operation and local
//!   operation (path and query parameters as named parameters, then `body: <Request>`; media
//!   uploads as `filename` and `file: ByteArray`), each with a `…Async` `CompletableFuture` twin
//!   for Java; and the family base class (`PayOperations`) holding one instance per tag plus the
//!   family's client-level actions (the core's `ACTIONS`, typed by [`ACTION_TYPES`]).
//! - `<Family>Types.kt`, `Config.kt` ([`super::kotlin_types`]) and `Errors.kt`
//!   ([`super::kotlin_errors`]).

use std::collections::BTreeSet;

use anyhow::{bail, Context, Result};

use super::bridge::{Action, ACTIONS_FILE};
use super::kotlin_types::{ident, kdoc, kotlin_type, kt_str, preamble, serializer};
use super::model::{Api, Body, Family, Kind, Response, Schema};
use super::surface::{error_class, family_class, group_class, method_text, tagged, Source};
use super::text::call_layout;

/// Where the Kotlin files go, relative to the repository root.
pub const DIR: &str = "bindings-kotlin/generated";
/// The package's folder under [`DIR`].
pub const PACKAGE_DIR: &str = "dev/weixinkit";

/// The Kotlin types of every action's parameters and result: `ACTIONS` only says JSON or bytes,
/// so each action is typed here, and one missing from this table fails the generation.
/// `(action, [(JSON parameter, Kotlin type)], result)`; bytes parameters are `ByteArray`.
const ACTION_TYPES: &[ActionTypes] = &[
    (
        "request",
        &[
            ("method", "String"),
            ("path", "String"),
            ("body", "JsonElement"),
            ("idempotent", "Boolean"),
        ],
        "JsonElement",
    ),
    (
        "parseNotification",
        &[("headers", "Map<String, String>")],
        "Notification",
    ),
    ("platformCertificateSerials", &[], "List<String>"),
    ("refreshCertificates", &[], "List<String>"),
    ("accessToken", &[], "String"),
    ("refreshAccessToken", &[], "String"),
    (
        "parsePush",
        &[("query", "Map<String, String>")],
        "JsonObject",
    ),
    ("componentAccessToken", &[], "String"),
    (
        "authorize",
        &[("authorization_code", "String")],
        "JsonObject",
    ),
    (
        "authorizerAccessToken",
        &[("authorizer_appid", "String")],
        "String",
    ),
    (
        "forgetAuthorizer",
        &[("authorizer_appid", "String")],
        "JsonElement",
    ),
];

type ActionTypes = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

/// The file name prefix of a family's files: `Pay`, `MiniProgram`.
pub fn prefix(family: Family) -> &'static str {
    match family {
        Family::Pay => "Pay",
        Family::MiniProgram => "MiniProgram",
        Family::Component => "Component",
    }
}

/// One Kotlin parameter: its declaration and how it goes to the core.
struct Param {
    /// `stockId`.
    name: String,
    /// With `?` when optional (then it defaults to null).
    ty: String,
    doc: String,
    pass: Pass,
}

enum Pass {
    /// A wire-named argument, as this JSON expression.
    Json { wire: String, expr: String },
    /// The request body: its encoded fields go beside the other arguments.
    Body { schema: String },
    /// Raw bytes under this wire name.
    Bytes { wire: String },
}

/// The JSON expression of parameter `name` of spec type `kind` (null when it is).
fn json_expr(api: &Api, kind: &Kind, name: &str, optional: bool) -> String {
    match kind {
        Kind::Ref(r) if matches!(api.schemas.get(r), Some(Schema::Enum { .. })) => {
            let q = if optional { "?" } else { "" };
            format!("JsonPrimitive({name}{q}.value)")
        }
        Kind::String | Kind::Integer | Kind::Number | Kind::Boolean => {
            format!("JsonPrimitive({name})")
        }
        _ => format!("{name}?.let {{ caller.json.encodeToJsonElement(it) }}"),
    }
}

fn params(api: &Api, source: Source) -> Result<Vec<Param>> {
    let mut out = Vec::new();
    let all = source.arguments(api);
    let (plain, body) = match source {
        Source::Remote(op) => match &op.body {
            Body::Json { schema } => (
                all[..op.path_params.len() + op.query_params.len()].to_vec(),
                Some(schema),
            ),
            _ => (all, None),
        },
        Source::Local(_) => (all, None),
    };
    for a in plain {
        let name = ident(&a.name).with_context(|| source.name().to_owned())?;
        let base = if a.bytes {
            "ByteArray".to_owned()
        } else {
            kotlin_type(&a.kind)
        };
        out.push(Param {
            ty: if a.required { base } else { format!("{base}?") },
            doc: a.description.clone(),
            pass: if a.bytes {
                Pass::Bytes {
                    wire: a.name.clone(),
                }
            } else {
                Pass::Json {
                    expr: json_expr(api, &a.kind, &name, !a.required),
                    wire: a.name.clone(),
                }
            },
            name,
        });
    }
    if let Some(schema) = body {
        let required = match api.schemas.get(schema) {
            Some(Schema::Object { properties }) => properties.iter().any(|p| p.required),
            _ => true,
        };
        if out.iter().any(|p| p.name == "body") {
            bail!(
                "{}: a parameter is called `body`, the request body's name",
                source.name()
            );
        }
        out.push(Param {
            name: "body".into(),
            ty: if required {
                schema.clone()
            } else {
                format!("{schema}?")
            },
            doc: format!("The request body (`{schema}`)."),
            pass: Pass::Body {
                schema: schema.clone(),
            },
        });
    }
    out.sort_by_key(|p| p.ty.ends_with('?'));
    Ok(out)
}

/// `name: Type` or `name: Type? = null`.
fn declaration(p: &Param) -> String {
    let default = if p.ty.ends_with('?') { " = null" } else { "" };
    format!("{}: {}{default}", p.name, p.ty)
}

/// `fun name(params): returns` opening, one parameter a line when they do not fit on one.
fn signature(indent: &str, head: &str, params: &[String], tail: &str) -> String {
    call_layout(indent, "    ", head, params, tail, 100)
}

/// The body of a method: the wire-named arguments, the call, the decoded answer.
fn call_body(name: &str, params: &[Param], returns: Option<&str>) -> String {
    let mut pairs = Vec::new();
    let mut body = "null".to_owned();
    let mut bytes = Vec::new();
    for p in params {
        match &p.pass {
            Pass::Json { wire, expr } => pairs.push(format!("{} to {expr}", kt_str(wire))),
            Pass::Body { schema } => {
                body = if p.ty.ends_with('?') {
                    format!(
                        "body?.let {{ caller.json.encodeToJsonElement({}, it) }}",
                        serializer(schema)
                    )
                } else {
                    format!(
                        "caller.json.encodeToJsonElement({}, body)",
                        serializer(schema)
                    )
                }
            }
            Pass::Bytes { wire } => bytes.push(format!("{} to {}", kt_str(wire), p.name)),
        }
    }
    let mut args = vec![body];
    args.extend(pairs);
    let mut s = signature("        ", "val args = wireArgs", &args, "");
    let bytes = if bytes.is_empty() {
        String::new()
    } else {
        format!(", mapOf({})", bytes.join(", "))
    };
    let call = format!("caller.call({}, args{bytes})", kt_str(name));
    match returns {
        None => s.push_str(&format!("        {call}\n")),
        Some("JsonElement") => s.push_str(&format!("        return {call}\n")),
        Some(ty) => s.push_str(&format!(
            "        val answer = {call}\n        return caller.json.decodeFromJsonElement({}, answer)\n",
            serializer(ty)
        )),
    }
    s
}

/// A `suspend fun` and its `…Async` twin.
fn method(
    doc: &[String],
    method: &str,
    name: &str,
    params: &[Param],
    returns: Option<&str>,
) -> String {
    let decls: Vec<String> = params.iter().map(declaration).collect();
    let ret = returns.unwrap_or("Unit");
    let tail = if returns.is_some() {
        format!(": {ret} {{")
    } else {
        " {".to_owned()
    };
    let mut s = kdoc("    ", doc);
    s.push_str(&signature(
        "    ",
        &format!("suspend fun {method}"),
        &decls,
        &tail,
    ));
    s.push_str(&call_body(name, params, returns));
    s.push_str("    }\n\n");
    s.push_str(&kdoc(
        "    ",
        &[format!(
            "[{method}] for Java: the same call as a `CompletableFuture`."
        )],
    ));
    if params.iter().any(|p| p.ty.ends_with('?')) {
        s.push_str("    @JvmOverloads\n");
    }
    let names: Vec<String> = params.iter().map(|p| p.name.clone()).collect();
    s.push_str(&signature(
        "    ",
        &format!("fun {method}Async"),
        &decls,
        &format!(
            ": CompletableFuture<{ret}> =\n        caller.scope.future {{ {method}({}) }}",
            names.join(", ")
        ),
    ));
    s
}

/// A method's KDoc: the shared method text, parameters, the documented errors.
fn method_doc(family: Family, source: Source, params: &[Param]) -> Vec<String> {
    let text = method_text(source, |c| format!("`{c}`"));
    let mut lines = text.head;
    if !text.errors.is_empty() {
        lines.push(String::new());
        lines.push(format!(
            "Documented errors (thrown as `{}`):",
            error_class(family)
        ));
        lines.extend(text.errors.iter().map(|e| format!("- {e}")));
    }
    let documented: Vec<&Param> = params.iter().filter(|p| !p.doc.trim().is_empty()).collect();
    if !documented.is_empty() {
        lines.push(String::new());
    }
    for p in documented {
        let doc: Vec<&str> = p.doc.lines().map(str::trim).collect();
        lines.push(format!(
            "@param {} {}",
            p.name.trim_matches('`'),
            doc.join(" ")
        ));
    }
    lines
}

/// `<Family>Operations.kt` after its stamp.
pub fn operations(api: &Api, actions: &[Action]) -> Result<String> {
    let mut out = preamble(&[
        "java.util.concurrent.CompletableFuture",
        "kotlinx.coroutines.future.future",
        "kotlinx.serialization.builtins.ListSerializer",
        "kotlinx.serialization.builtins.serializer",
        "kotlinx.serialization.json.JsonElement",
        "kotlinx.serialization.json.JsonNull",
        "kotlinx.serialization.json.JsonObject",
        "kotlinx.serialization.json.JsonPrimitive",
        "kotlinx.serialization.json.encodeToJsonElement",
    ]);
    let family = family_class(api.family);
    let mut members = Vec::new();
    for (tag, sources) in tagged(api) {
        let class = group_class(tag);
        out.push('\n');
        out.push_str(&kdoc(
            "",
            &[format!("Operations tagged `{tag}` (`{}`).", api.spec_file)],
        ));
        out.push_str(&format!(
            "class {class} internal constructor(private val caller: Caller) {{\n"
        ));
        let mut seen = BTreeSet::new();
        let mut body = Vec::new();
        for source in sources {
            let name = ident(source.name())?;
            if !seen.insert(name.clone()) {
                bail!("{}: tag {tag} already has a method {name}", source.name());
            }
            let params = params(api, source)?;
            let returns = match source {
                Source::Remote(op) => match &op.response {
                    Response::Empty => None,
                    Response::Json { schema } => Some(schema.as_str()),
                },
                Source::Local(op) => Some(op.result_schema.as_str()),
            };
            body.push(method(
                &method_doc(api.family, source, &params),
                &name,
                source.name(),
                &params,
                returns,
            ));
        }
        out.push_str(&body.join("\n"));
        out.push_str("}\n");
        members.push((ident(tag)?, class, tag));
    }
    out.push('\n');
    out.push_str(&kdoc(
        "",
        &[format!(
            "The operation groups and client-level actions of `{}`.",
            api.spec_file
        )],
    ));
    out.push_str(&format!(
        "abstract class {family} internal constructor(private val caller: Caller) {{\n"
    ));
    let mut names = BTreeSet::new();
    for (attr, class, tag) in &members {
        names.insert(attr.clone());
        out.push_str(&kdoc("    ", &[format!("Operations tagged `{tag}`.")]));
        out.push_str(&format!("    val {attr}: {class} = {class}(caller)\n\n"));
    }
    let mut body = Vec::new();
    for action in actions.iter().filter(|a| a.family == api.family) {
        let (params, returns) = action_params(action)?;
        let name = ident(&action.method)?;
        if !names.insert(name.clone()) {
            bail!("`{name}` is both a tag property and an action of {family}");
        }
        body.push(method(
            std::slice::from_ref(&action.summary),
            &name,
            &action.name,
            &params,
            Some(returns),
        ));
    }
    out.push_str(&body.join("\n"));
    out.push_str("}\n\n");
    out.push_str(WIRE_ARGS);
    Ok(out)
}

const WIRE_ARGS: &str = "\
/** The wire-named arguments: the body's fields and the parameters side by side, nulls left out. */
private fun wireArgs(body: JsonElement?, vararg params: Pair<String, JsonElement?>): JsonObject {
    val args = LinkedHashMap<String, JsonElement>()
    if (body is JsonObject) {
        for ((key, value) in body) if (value !is JsonNull) args[key] = value
    }
    for ((key, value) in params) if (value != null && value !is JsonNull) args[key] = value
    return JsonObject(args)
}
";

/// An action's parameters and result type, from [`ACTION_TYPES`].
fn action_params(action: &Action) -> Result<(Vec<Param>, &'static str)> {
    let Some((_, types, returns)) = ACTION_TYPES.iter().find(|(n, _, _)| *n == action.name) else {
        bail!(
            "action `{}` ({ACTIONS_FILE}) has no Kotlin types: add it to ACTION_TYPES in \
             xtask/src/codegen/kotlin.rs",
            action.name
        );
    };
    let mut params = Vec::new();
    for a in &action.arguments {
        let name = ident(&a.name)?;
        let (ty, pass) = if a.bytes {
            (
                "ByteArray",
                Pass::Bytes {
                    wire: a.name.clone(),
                },
            )
        } else {
            let ty = types
                .iter()
                .find(|(n, _)| *n == a.name)
                .map(|(_, t)| *t)
                .with_context(|| {
                    format!(
                        "action `{}`: parameter `{}` has no Kotlin type in ACTION_TYPES",
                        action.name, a.name
                    )
                })?;
            let expr = match ty {
                "Map<String, String>" => {
                    format!("JsonObject({name}.mapValues {{ JsonPrimitive(it.value) }})")
                }
                "JsonElement" => name.clone(),
                _ => format!("JsonPrimitive({name})"),
            };
            (
                ty,
                Pass::Json {
                    wire: a.name.clone(),
                    expr,
                },
            )
        };
        params.push(Param {
            ty: if a.required {
                ty.to_owned()
            } else {
                format!("{ty}?")
            },
            doc: String::new(),
            pass,
            name,
        });
    }
    Ok((params, returns))
}

/// The decrypted `resource` of the spec's notifications: its one webhook resource schema, else
/// any JSON object.
pub fn notification_resource(api: &Api) -> String {
    let schemas: BTreeSet<&str> = api
        .webhooks
        .iter()
        .map(|w| w.resource_schema.as_str())
        .collect();
    match schemas.into_iter().collect::<Vec<_>>().as_slice() {
        [one] => (*one).to_owned(),
        _ => "JsonObject".to_owned(),
    }
}

/// Whether the family's actions answer a `Notification`.
pub fn parses_notifications(api: &Api, actions: &[Action]) -> bool {
    actions.iter().any(|a| {
        a.family == api.family
            && ACTION_TYPES
                .iter()
                .any(|(n, _, r)| *n == a.name && *r == "Notification")
    })
}
