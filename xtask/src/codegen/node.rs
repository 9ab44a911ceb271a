//! The Node surface of one spec, in `bindings-node/generated/`:
//!
//! - `<family>.js` (CommonJS): one class per tag whose methods take one object of wire-named
//!   arguments and hand it to the client's `call(name, args)`, and the family class
//!   (`PayOperations`) holding one instance per tag plus the client-level actions of that family
//!   (the core's `ACTIONS`, positional parameters). No argument checking: the core validates.
//! - `<family>.d.ts`: the typed truth. An interface per object schema (wire names), open literal
//!   unions for enums, an `<Operation>Args` interface per operation, and the classes with the
//!   spec's documentation.

use std::collections::BTreeSet;

use anyhow::{bail, Context, Result};
use heck::{ToLowerCamelCase, ToUpperCamelCase};
use serde_json::Value;

use super::bridge::Action;
use super::js::{checked_name, exports, js_str, jsdoc, key, WIDTH};
use super::model::{Api, Family, Kind, Property, Response, Schema};
use super::surface::{
    error_class, family_class, group_class, is_binary, method_text, raw_property, schema_text,
    tagged, Source,
};
use super::text::{call_layout, text_lines, width};

/// Where the Node files go, relative to the repository root.
pub const DIR: &str = "bindings-node/generated";

/// The TypeScript types of every action's parameters and result: `ACTIONS` only says JSON or
/// bytes, so each action is typed here, and one missing from this table fails the generation.
/// `(action, [(JSON parameter, type)], result)`; bytes parameters are [`BYTES`].
const ACTION_TYPES: &[ActionTypes] = &[
    (
        "request",
        &[
            ("method", "string"),
            ("path", "string"),
            ("body", "unknown"),
            ("idempotent", "boolean"),
        ],
        "Promise<unknown>",
    ),
    ("parseNotification", &[("headers", HEADERS)], NOTIFICATION),
    ("platformCertificateSerials", &[], "Promise<string[]>"),
    ("refreshCertificates", &[], "Promise<string[]>"),
    ("accessToken", &[], "Promise<string>"),
    ("refreshAccessToken", &[], "Promise<string>"),
    (
        "parsePush",
        &[("query", "string | Record<string, string | undefined>")],
        "Promise<Record<string, unknown>>",
    ),
    ("componentAccessToken", &[], "Promise<string>"),
    (
        "authorize",
        &[("authorization_code", "string")],
        "Promise<{ authorizer_appid: string; func_info: number[]; expires_in: number }>",
    ),
    (
        "authorizerAccessToken",
        &[("authorizer_appid", "string")],
        "Promise<string>",
    ),
    (
        "forgetAuthorizer",
        &[("authorizer_appid", "string")],
        "Promise<null>",
    ),
];

type ActionTypes = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

/// Request headers as received; the shape of Node's `IncomingHttpHeaders`.
const HEADERS: &str = "Record<string, string | string[] | undefined>";
/// A bytes parameter: the raw bytes, or the text exactly as received.
const BYTES: &str = "Buffer | Uint8Array | string";
/// Stands for `Promise<Notification<…>>` typed with the spec's webhook resources.
const NOTIFICATION: &str = "<notification>";

struct Group<'a> {
    tag: &'a str,
    /// The family class's property: `busifavor`, `serviceCard`.
    attr: String,
    class: String,
    methods: Vec<Method<'a>>,
}

struct Method<'a> {
    /// `modifyStockInfo`.
    method: String,
    source: Source<'a>,
    /// `ModifyStockInfoArgs`.
    args_type: String,
    /// Required first, then optional (as the Python keyword arguments).
    args: Vec<TsArg>,
}

struct TsArg {
    wire: String,
    required: bool,
    ty: String,
    doc: String,
}

/// The operation groups, as the Python generator groups them.
fn groups(api: &Api) -> Result<Vec<Group<'_>>> {
    let mut out = Vec::new();
    for (tag, sources) in tagged(api) {
        let attr = tag.to_lower_camel_case();
        checked_name(&attr, "tag property").with_context(|| format!("tag {tag}"))?;
        let mut methods = Vec::new();
        let mut seen = BTreeSet::new();
        for source in sources {
            let method = source.name().to_lower_camel_case();
            checked_name(&method, "method").with_context(|| source.name().to_owned())?;
            if !seen.insert(method.clone()) {
                bail!("{}: tag {tag} already has a method {method}", source.name());
            }
            let encoded = source.json_encoded(api);
            let mut args: Vec<TsArg> = source
                .arguments(api)
                .into_iter()
                .map(|a| TsArg {
                    ty: if a.bytes {
                        "Buffer | Uint8Array".to_owned()
                    } else if encoded.contains(&a.name) {
                        "string | Record<string, unknown>".to_owned()
                    } else {
                        ts_type(&a.kind)
                    },
                    doc: if a.description.is_empty() {
                        referenced_doc(api, &a.kind)
                    } else {
                        a.description
                    },
                    required: a.required,
                    wire: a.name,
                })
                .collect();
            args.sort_by_key(|a| !a.required);
            methods.push(Method {
                args_type: format!("{}Args", source.name().to_upper_camel_case()),
                method,
                source,
                args,
            });
        }
        out.push(Group {
            tag,
            attr,
            class: group_class(tag),
            methods,
        });
    }
    Ok(out)
}

/// The actions of `family`, each with its positional parameters (name, TS type, required) and
/// result type.
struct TypedAction<'a> {
    action: &'a Action,
    method: String,
    params: Vec<(String, String, bool)>,
    returns: String,
}

fn typed_actions<'a>(api: &Api, actions: &'a [Action]) -> Result<Vec<TypedAction<'a>>> {
    let mut out = Vec::new();
    for action in actions.iter().filter(|a| a.family == api.family) {
        let Some((_, types, returns)) = ACTION_TYPES.iter().find(|(n, _, _)| *n == action.name)
        else {
            bail!(
                "action `{}` ({}) has no TypeScript types: add it to ACTION_TYPES in \
                 xtask/src/codegen/node.rs",
                action.name,
                super::bridge::ACTIONS_FILE
            );
        };
        let mut params = Vec::new();
        for a in &action.arguments {
            checked_name(&a.name, "parameter").with_context(|| action.name.clone())?;
            let ty = if a.bytes {
                BYTES
            } else {
                types
                    .iter()
                    .find(|(n, _)| *n == a.name)
                    .map(|(_, t)| *t)
                    .with_context(|| {
                        format!(
                            "action `{}`: parameter `{}` has no TypeScript type in ACTION_TYPES",
                            action.name, a.name
                        )
                    })?
            };
            if a.required && params.iter().any(|(_, _, required)| !required) {
                bail!(
                    "action `{}`: required parameter `{}` follows an optional one",
                    action.name,
                    a.name
                );
            }
            params.push((a.name.clone(), ty.to_owned(), a.required));
        }
        let method = action.method.to_lower_camel_case();
        checked_name(&method, "action method")?;
        out.push(TypedAction {
            action,
            method,
            params,
            returns: if *returns == NOTIFICATION {
                format!("Promise<Notification<{}>>", webhook_resources(api))
            } else {
                (*returns).to_owned()
            },
        });
    }
    Ok(out)
}

/// The decrypted `resource` of the spec's notifications: the webhooks' resource schemas.
fn webhook_resources(api: &Api) -> String {
    let schemas: BTreeSet<&str> = api
        .webhooks
        .iter()
        .map(|w| w.resource_schema.as_str())
        .collect();
    if schemas.is_empty() {
        "unknown".to_owned()
    } else {
        schemas.into_iter().collect::<Vec<_>>().join(" | ")
    }
}

/// `<family>.js`.
pub fn runtime(api: &Api, actions: &[Action]) -> Result<String> {
    let groups = groups(api)?;
    let actions = typed_actions(api, actions)?;
    let family = family_class(api.family);
    let mut out = jsdoc(
        "",
        &[
            format!(
                "Per-operation glue for `{}` ({}).",
                api.spec_file, api.title
            ),
            String::new(),
            format!(
                "One class per tag; each method hands its one argument, an object of wire-named \
                 fields, to the client's `call(name, args)`. Types and documentation: \
                 `{}.d.ts`.",
                api.family.module()
            ),
        ],
    );
    out.push_str("\n'use strict';\n");
    for g in &groups {
        out.push('\n');
        out.push_str(&jsdoc(
            "",
            &[format!(
                "Operations tagged `{}` (`{}`).",
                g.tag, api.spec_file
            )],
        ));
        out.push_str(&format!("class {} {{\n", g.class));
        out.push_str(&constructor("  "));
        for m in &g.methods {
            out.push('\n');
            out.push_str(&jsdoc("  ", &[m.source.summary().to_owned()]));
            let param = if m.args.iter().any(|a| a.required) {
                "args"
            } else {
                "args = {}"
            };
            out.push_str(&format!(
                "  {}({param}) {{\n    return this._call({}, args);\n  }}\n",
                m.method,
                js_str(m.source.name())
            ));
        }
        out.push_str("}\n");
    }
    out.push('\n');
    out.push_str(&jsdoc(
        "",
        &[format!(
            "The operation groups and client-level actions of `{}`.",
            api.spec_file
        )],
    ));
    out.push_str(&format!("class {family} {{\n"));
    out.push_str("  constructor(call) {\n");
    out.push_str("    Object.defineProperty(this, '_call', { value: call });\n");
    for g in &groups {
        let (attr, class) = (js_str(&g.attr), &g.class);
        let line = format!(
            "    Object.defineProperty(this, {attr}, {{ value: new {class}(call), enumerable: true }});\n"
        );
        out.push_str(&if width(&line) <= WIDTH + 1 {
            line
        } else {
            format!(
                "    Object.defineProperty(this, {attr}, {{\n      value: new {class}(call),\n      enumerable: true,\n    }});\n"
            )
        });
    }
    out.push_str("  }\n");
    for a in &actions {
        out.push('\n');
        out.push_str(&jsdoc("  ", std::slice::from_ref(&a.action.summary)));
        let names: Vec<&str> = a.params.iter().map(|(n, _, _)| n.as_str()).collect();
        let object = if names.is_empty() {
            "{}".to_owned()
        } else {
            format!("{{ {} }}", names.join(", "))
        };
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        out.push_str(&signature("  ", &a.method, &names, " {"));
        out.push_str(&format!(
            "    return this._call({}, {object});\n  }}\n",
            js_str(&a.action.name)
        ));
    }
    out.push_str("}\n\n");
    let mut names = vec![family.to_owned()];
    names.extend(groups.iter().map(|g| g.class.clone()));
    out.push_str(&exports(&names));
    Ok(out)
}

fn constructor(indent: &str) -> String {
    format!(
        "{indent}constructor(call) {{\n{indent}  Object.defineProperty(this, '_call', {{ value: call }});\n{indent}}}\n"
    )
}

/// `<family>.d.ts`.
pub fn declarations(api: &Api, actions: &[Action]) -> Result<String> {
    let groups = groups(api)?;
    let actions = typed_actions(api, actions)?;
    check_top_level_names(api, &groups, &actions)?;
    let family = family_class(api.family);
    let mut body = String::new();
    for (name, schema) in &api.schemas {
        body.push('\n');
        let mut doc = schema_doc(api, name);
        match schema {
            Schema::Enum { values } => {
                doc.push(String::new());
                doc.push(
                    "An open enum: a value not listed here may arrive in a response.".to_owned(),
                );
                let described: Vec<String> = values
                    .iter()
                    .filter(|v| !v.description.is_empty())
                    .map(|v| format!("- `{}`: {}", v.wire, v.description))
                    .collect();
                if !described.is_empty() {
                    doc.push(String::new());
                    doc.extend(described);
                }
                body.push_str(&jsdoc("", &doc));
                let wires: Vec<String> = values.iter().map(|v| js_str(&v.wire)).collect();
                body.push_str(&union_alias(name, &wires, "string"));
            }
            Schema::Object { properties } => {
                body.push_str(&jsdoc("", &doc));
                body.push_str(&format!("export interface {name} {{\n"));
                for p in properties {
                    body.push_str(&jsdoc("  ", &text_lines(&p.description)));
                    body.push_str(&format!(
                        "  {}{}: {};\n",
                        key(&p.name),
                        if p.required { "" } else { "?" },
                        property_type(api, name, p)
                    ));
                }
                body.push_str("}\n");
            }
            Schema::Other => {
                body.push_str(&jsdoc("", &doc));
                body.push_str(&format!("export type {name} = Record<string, unknown>;\n"));
            }
        }
    }
    if actions.iter().any(|a| a.returns.contains("Notification<")) {
        body.push('\n');
        body.push_str(NOTIFICATION_INTERFACE);
    }
    for g in &groups {
        for m in &g.methods {
            body.push('\n');
            body.push_str(&jsdoc(
                "",
                &[format!("The arguments of `{}`.", m.source.name())],
            ));
            body.push_str(&format!("export interface {} {{\n", m.args_type));
            for a in &m.args {
                body.push_str(&jsdoc("  ", &text_lines(&a.doc)));
                let optional = if a.required { "" } else { "?" };
                body.push_str(&format!("  {}{optional}: {};\n", key(&a.wire), a.ty));
            }
            body.push_str("}\n");
        }
    }
    for g in &groups {
        body.push('\n');
        body.push_str(&jsdoc(
            "",
            &[format!(
                "Operations tagged `{}` (`{}`).",
                g.tag, api.spec_file
            )],
        ));
        body.push_str(&format!(
            "export declare class {} {{\n  private constructor();\n",
            g.class
        ));
        for m in &g.methods {
            body.push('\n');
            body.push_str(&jsdoc("  ", &method_doc(api.family, m)));
            let param = if m.args.iter().any(|a| a.required) {
                format!("args: {}", m.args_type)
            } else {
                format!("args?: {}", m.args_type)
            };
            let returns = match m.source {
                Source::Remote(op) => match &op.response {
                    Response::Empty => "void".to_owned(),
                    Response::Json { schema } => schema.clone(),
                },
                Source::Local(op) => op.result_schema.clone(),
            };
            body.push_str(&signature(
                "  ",
                &m.method,
                &[param],
                &format!(": Promise<{returns}>;"),
            ));
        }
        body.push_str("}\n");
    }
    body.push('\n');
    body.push_str(&jsdoc(
        "",
        &[format!(
            "The operation groups and client-level actions of `{}`.",
            api.spec_file
        )],
    ));
    body.push_str(&format!("export declare class {family} {{\n"));
    body.push_str(&jsdoc(
        "  ",
        &[
            "`call(name, args)`: the native client's call by name (operations by their official \
           name, actions by theirs), answering a promise."
                .to_owned(),
        ],
    ));
    body.push_str(
        "  constructor(call: (name: string, args: Record<string, unknown>) => Promise<unknown>);\n",
    );
    for g in &groups {
        body.push_str(&jsdoc("  ", &[format!("Operations tagged `{}`.", g.tag)]));
        body.push_str(&format!("  readonly {}: {};\n", g.attr, g.class));
    }
    for a in &actions {
        body.push('\n');
        body.push_str(&jsdoc("  ", std::slice::from_ref(&a.action.summary)));
        let params: Vec<String> = a
            .params
            .iter()
            .map(|(n, t, required)| format!("{n}{}: {t}", if *required { "" } else { "?" }))
            .collect();
        body.push_str(&signature(
            "  ",
            &a.method,
            &params,
            &format!(": {};", a.returns),
        ));
    }
    body.push_str("}\n");

    let mut out = String::new();
    if body.contains("Buffer") {
        out.push_str("/// <reference types=\"node\" />\n");
    }
    out.push_str(&jsdoc(
        "",
        &[
            format!("Types of `{}` ({}).", api.spec_file, api.title),
            String::new(),
            format!(
                "An interface per object schema (wire names as keys), an open union per enum, \
                 an `…Args` interface per operation, and the operation groups of `{family}`, \
                 typed and documented."
            ),
        ],
    ));
    out.push_str(&body);
    Ok(out)
}

const NOTIFICATION_INTERFACE: &str = "\
/**
 * A verified notification with its `resource` decrypted: what `parseNotification` answers.
 * De-duplicate by `id` (WeChat may deliver the same notification again).
 */
export interface Notification<R = unknown> {
  /** Unique notification ID. */
  id: string;
  /** RFC 3339. */
  create_time: string;
  /** e.g. `COUPON.SEND`. */
  event_type: string;
  /** `encrypt-resource`. */
  resource_type: string;
  /** Empty when the envelope has none. */
  summary: string;
  /** The decrypted resource as received (every field, including any the spec does not know). */
  resource: R;
}
";

/// `'A' | 'B' | (string & {})`: the known values, and any other (the enum stays open).
fn open_union(literals: &[String], base: &str) -> String {
    let mut parts = literals.to_vec();
    parts.push(format!("({base} & {{}})"));
    parts.join(" | ")
}

/// `export type Name = <open union>;`, one member a line when it does not fit on one.
fn union_alias(name: &str, literals: &[String], base: &str) -> String {
    let line = format!("export type {name} = {};\n", open_union(literals, base));
    if width(&line) <= WIDTH + 1 {
        return line;
    }
    let mut s = format!("export type {name} =\n");
    for l in literals {
        s.push_str(&format!("  | {l}\n"));
    }
    s.push_str(&format!("  | ({base} & {{}});\n"));
    s
}

/// `  name(params): returns;` (or its opening `{`), one parameter a line when it does not fit.
fn signature(indent: &str, name: &str, params: &[String], tail: &str) -> String {
    call_layout(indent, "  ", name, params, tail, WIDTH)
}

fn ts_type(kind: &Kind) -> String {
    match kind {
        Kind::String => "string".into(),
        Kind::Integer | Kind::Number => "number".into(),
        Kind::Boolean => "boolean".into(),
        Kind::Any => "Record<string, unknown>".into(),
        Kind::Ref(name) => name.clone(),
        Kind::Array(inner) => {
            let inner = ts_type(inner);
            if inner.contains(' ') {
                format!("Array<{inner}>")
            } else {
                format!("{inner}[]")
            }
        }
    }
}

/// A schema property's type, from the raw schema where the model does not carry it: binary
/// strings (`format: binary`, an octet-stream `contentMediaType`) and integer enums.
fn property_type(api: &Api, schema: &str, p: &Property) -> String {
    let Some(raw) = raw_property(api, schema, p) else {
        return ts_type(&p.kind);
    };
    if is_binary(p, raw) {
        return "Buffer | Uint8Array".into();
    }
    if matches!(p.kind, Kind::Integer | Kind::Number) {
        if let Some(values) = raw.get("enum").and_then(Value::as_array) {
            let numbers: Vec<String> = values.iter().map(Value::to_string).collect();
            return open_union(&numbers, "number");
        }
    }
    ts_type(&p.kind)
}

fn schema_doc(api: &Api, name: &str) -> Vec<String> {
    let mut lines = schema_text(api, name);
    if lines.is_empty() {
        lines.push(format!("`{name}` ({}).", api.spec_file));
    }
    lines
}

/// "`Schema`: its first paragraph", for arguments without a description of their own.
fn referenced_doc(api: &Api, kind: &Kind) -> String {
    let (prefix, schema) = match kind {
        Kind::Ref(s) => ("", s),
        Kind::Array(inner) => match inner.as_ref() {
            Kind::Ref(s) => ("A list of ", s),
            _ => return String::new(),
        },
        _ => return String::new(),
    };
    let doc = schema_doc(api, schema);
    let first: Vec<&str> = doc
        .iter()
        .take_while(|l| !l.is_empty())
        .map(String::as_str)
        .collect();
    format!("{prefix}`{schema}`: {}", first.join(" "))
}

/// A method's JSDoc: summary, where it goes, the document's description and the documented
/// errors.
fn method_doc(family: Family, m: &Method) -> Vec<String> {
    let text = method_text(m.source, |c| format!("`{c}`"));
    let mut lines = text.head;
    if !text.errors.is_empty() {
        lines.push(String::new());
        lines.push(format!(
            "Documented errors (rejected with `{}`):",
            error_class(family)
        ));
        lines.extend(text.errors.iter().map(|e| format!("- {e}")));
    }
    lines
}

/// Every name the declarations define at the top level is an identifier and defined once.
fn check_top_level_names(api: &Api, groups: &[Group], actions: &[TypedAction]) -> Result<()> {
    let mut names = BTreeSet::new();
    let mut define = |name: &str, what: &str| -> Result<()> {
        if !super::js::is_identifier(name) {
            bail!("{what} `{name}` is not a TypeScript identifier");
        }
        if !names.insert(name.to_owned()) {
            bail!("{what} `{name}` clashes with another name in the Node declarations");
        }
        Ok(())
    };
    for name in api.schemas.keys() {
        define(name, "schema")?;
    }
    for g in groups {
        define(&g.class, "operation group")?;
        for m in &g.methods {
            define(&m.args_type, "arguments interface")?;
        }
    }
    define(family_class(api.family), "family class")?;
    if actions.iter().any(|a| a.returns.contains("Notification<")) {
        define("Notification", "notification interface")?;
    }
    let mut members = BTreeSet::new();
    for member in groups
        .iter()
        .map(|g| &g.attr)
        .chain(actions.iter().map(|a| &a.method))
    {
        if !members.insert(member) {
            bail!(
                "`{member}` is both a tag property and an action of {}",
                family_class(api.family)
            );
        }
    }
    Ok(())
}
