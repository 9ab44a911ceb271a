//! The operation model: what every language's templates are generated from. Loading checks the
//! spec's conventions (spec/README.md) and fails with the JSON location of anything it cannot use.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use heck::{ToSnakeCase, ToUpperCamelCase};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Family {
    Pay,
    MiniProgram,
    /// The Open Platform third-party platform (第三方平台): operations of the mini-program
    /// document whose tag says `x-weixin-client: "component"`. Mini-program errcode model.
    Component,
}

impl Family {
    /// The Rust module (and binding namespace) the family's code goes to.
    pub fn module(self) -> &'static str {
        match self {
            Family::Pay => "pay",
            Family::MiniProgram => "mp",
            Family::Component => "component",
        }
    }

    /// Errors are `{errcode, errmsg}` answers (the mini-program model), not HTTP status + code.
    pub fn errcode_model(self) -> bool {
        matches!(self, Family::MiniProgram | Family::Component)
    }

    /// The family a tag's `x-weixin-client` names.
    fn from_client(client: &str) -> Result<Family> {
        match client {
            "component" => Ok(Family::Component),
            other => bail!("x-weixin-client must be \"component\", found {other:?}"),
        }
    }
}

/// One API family's part of a spec file (a file holds one family, plus the families its tags'
/// `x-weixin-client` split off).
#[derive(Debug, Serialize)]
pub struct Api {
    pub family: Family,
    /// Path relative to the repository root, as named in generated headers.
    pub spec_file: String,
    pub sha256: String,
    pub title: String,
    pub main_host: String,
    pub backup_host: Option<String>,
    pub operations: Vec<Operation>,
    /// `x-weixin-local-operations`: what the client computes itself (no request of its own).
    pub local_operations: Vec<LocalOperation>,
    pub schemas: BTreeMap<String, Schema>,
    pub webhooks: Vec<Webhook>,
    /// The rows shared by several operations' error tables (see [`common_errors`]): emitted once
    /// in the generated code, which the operations that carry all of them reference.
    pub common_errors: Vec<ErrorRow>,
    /// The raw `components.schemas`, for typify.
    #[serde(skip)]
    pub raw_schemas: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Auth {
    WechatPay2,
    AccessToken,
    /// `component_access_token` query parameter (the third-party platform's own token).
    ComponentAccessToken,
    None,
}

#[derive(Debug, Serialize)]
pub struct Operation {
    /// The official name, e.g. `ModifyStockInfo`, `setUserNotifyExt`.
    pub name: String,
    /// `modify_stock_info`
    pub snake: String,
    pub tag: String,
    pub summary: String,
    pub description: String,
    pub method: String,
    pub path: String,
    pub auth: Auth,
    /// `x-weixin-idempotent`: sending the request twice has the effect of sending it once, so
    /// the client may resend it after a failure that came after the server may have received it.
    pub idempotent: bool,
    pub path_params: Vec<Param>,
    pub query_params: Vec<Param>,
    pub body: Body,
    pub response: Response,
    pub success_status: u16,
    /// The operation's whole error table, as the spec lists it (docs and stubs show all of it).
    pub errors: Vec<ErrorRow>,
    /// The table contains every row of [`Api::common_errors`] (in their order): the generated
    /// spec references them instead of repeating them.
    pub uses_common_errors: bool,
}

/// An operation the spec describes that the client performs without a request of its own
/// (`cardExt`: a signed `wx.addCard` element, from the cached card ticket). Bindings call it by
/// name like any operation; the client implements it by hand.
#[derive(Debug, Serialize)]
pub struct LocalOperation {
    pub name: String,
    pub snake: String,
    pub tag: String,
    pub summary: String,
    pub description: String,
    pub params: Vec<Param>,
    pub result_schema: String,
}

/// One keyword argument of an operation as the bindings expose it: path, query and top-level
/// body fields side by side, under their wire names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Argument {
    pub name: String,
    pub required: bool,
    pub kind: Kind,
    pub description: String,
    /// Raw bytes (the media upload's `file`).
    pub bytes: bool,
}

impl Argument {
    fn from_param(p: &Param) -> Argument {
        Argument {
            name: p.name.clone(),
            required: p.required,
            kind: match &p.ty {
                ParamType::String => Kind::String,
                ParamType::Integer => Kind::Integer,
                ParamType::Boolean => Kind::Boolean,
                ParamType::Enum(e) => Kind::Ref(e.clone()),
            },
            description: p.description.clone(),
            bytes: false,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Param {
    pub name: String,
    pub required: bool,
    pub ty: ParamType,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ParamType {
    String,
    Integer,
    Boolean,
    Enum(String),
}

#[derive(Debug, Serialize)]
pub enum Body {
    None,
    Json {
        schema: String,
    },
    /// WeChat's multipart media upload: the form has parts `meta` (a `$ref` to a schema with
    /// `filename` and `sha256`) and `file`.
    MediaUpload {
        form_schema: String,
        meta_schema: String,
    },
}

#[derive(Debug, Serialize)]
pub enum Response {
    Empty,
    Json { schema: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ErrorKey {
    Pay { status: u16, code: String },
    MiniProgram { errcode: i64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorRow {
    pub key: ErrorKey,
    pub description: String,
    pub solution: String,
    pub retryable: bool,
    /// Wait this long before sending the same request again (never at once).
    pub retry_after_secs: Option<u64>,
    /// Documented guidance from outside the error table, appended to the solution.
    pub advice: Option<String>,
    /// Marked `"common": true` in the spec: a general errcode the documents repeat in every
    /// table (the mini-program spec marks them).
    pub common: bool,
}

#[derive(Debug, Serialize)]
pub struct Webhook {
    pub name: String,
    /// Its one tag, when it has one (it selects the family like an operation's).
    pub tag: Option<String>,
    pub envelope_schema: String,
    pub resource_schema: String,
}

/// A named schema, as far as validation and enums need it.
#[derive(Debug, Serialize)]
pub enum Schema {
    Object { properties: Vec<Property> },
    Enum { values: Vec<EnumValue> },
    Other,
}

#[derive(Debug, Serialize)]
pub struct EnumValue {
    pub wire: String,
    /// A Rust-friendly variant name (`NOT_SHOW` → `NotShow`).
    pub variant: String,
    pub description: String,
}

#[derive(Debug, Serialize)]
pub struct Property {
    pub name: String,
    pub required: bool,
    pub kind: Kind,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub secret: bool,
    /// `x-weixin-json-encoded`: a string holding a JSON object; bindings also accept the object.
    pub json_encoded: bool,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Kind {
    String,
    Integer,
    Number,
    Boolean,
    Ref(String),
    Array(Box<Kind>),
    /// A free-form object (`detail` in error bodies).
    Any,
}

const FORBIDDEN_KEYWORDS: &[&str] = &[
    "anyOf", "oneOf", "allOf", "not", "pattern", "if", "then", "else",
];

impl Api {
    /// The document's own family (its `x-weixin-api`), without what its tags'
    /// `x-weixin-client` give to other families.
    #[cfg(test)]
    pub fn load(root: &Path, rel: &str) -> Result<Api> {
        Ok(Self::load_all(root, rel)?.remove(0))
    }

    /// Every family the document holds: its own first, then those its tags' `x-weixin-client`
    /// split off (the mini-program document's `component` tag → [`Family::Component`]).
    pub fn load_all(root: &Path, rel: &str) -> Result<Vec<Api>> {
        let bytes = std::fs::read(root.join(rel)).with_context(|| format!("reading {rel}"))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let doc: Value =
            serde_json::from_slice(&bytes).with_context(|| format!("{rel} is not valid JSON"))?;
        Self::from_doc(rel, sha256, &doc).with_context(|| format!("in {rel}"))
    }

    fn from_doc(rel: &str, sha256: String, doc: &Value) -> Result<Vec<Api>> {
        let family = match doc.get("x-weixin-api").and_then(Value::as_str) {
            Some("pay") => Family::Pay,
            Some("mini-program") => Family::MiniProgram,
            other => bail!("x-weixin-api must be \"pay\" or \"mini-program\", found {other:?}"),
        };
        let clients = tag_clients(doc, family)?;
        let family_of = |tag: Option<&str>| -> Family {
            tag.and_then(|t| clients.get(t)).copied().unwrap_or(family)
        };
        let all_raw = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| anyhow!("components.schemas is missing"))?;
        let mut all_schemas = BTreeMap::new();
        for (name, schema) in &all_raw {
            check_schema_conventions(schema, &format!("/components/schemas/{name}"))?;
            all_schemas.insert(
                name.clone(),
                Schema::from_json(schema).with_context(|| format!("schema {name}"))?,
            );
        }
        let (main_host, backup_host) = servers(doc)?;
        let mut operations: Vec<Operation> = Vec::new();
        for (path, item) in doc
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            for (method, op) in item.as_object().into_iter().flatten() {
                if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                    continue;
                }
                let fam = family_of(op.pointer("/tags/0").and_then(Value::as_str));
                let o = Operation::from_json(fam, path, method, op)
                    .with_context(|| format!("operation {} {path}", method.to_uppercase()))?;
                operations.push(o);
            }
        }
        for op in &mut operations {
            if let Body::MediaUpload {
                form_schema,
                meta_schema,
            } = &mut op.body
            {
                *meta_schema =
                    media_meta(&all_schemas, form_schema).with_context(|| op.name.clone())?;
            }
        }
        let webhooks = doc
            .get("webhooks")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, item)| {
                Webhook::from_json(name, item).with_context(|| format!("webhook {name}"))
            })
            .collect::<Result<Vec<_>>>()?;
        let local_operations = doc
            .get("x-weixin-local-operations")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(name, op)| {
                LocalOperation::from_json(name, op)
                    .with_context(|| format!("x-weixin-local-operations/{name}"))
            })
            .collect::<Result<Vec<_>>>()?;

        // Split by family: the document's own first, then the others in order.
        let mut families = vec![family];
        for f in clients.values() {
            if !families.contains(f) {
                families.push(*f);
            }
        }
        let mut parts: BTreeMap<Family, Part> =
            families.iter().map(|f| (*f, Part::default())).collect();
        for op in operations {
            let part = parts
                .get_mut(&family_of(Some(&op.tag)))
                .expect("every family has a part");
            part.operations.push(op);
        }
        for w in webhooks {
            let part = parts
                .get_mut(&family_of(w.tag.as_deref()))
                .expect("every family has a part");
            part.webhooks.push(w);
        }
        for o in local_operations {
            let part = parts
                .get_mut(&family_of(Some(&o.tag)))
                .expect("every family has a part");
            part.local_operations.push(o);
        }
        // Schemas: a split-off family gets what its operations and webhooks reach; the
        // document's own family keeps every other schema (those no operation names included).
        let reach: BTreeMap<Family, BTreeSet<String>> = parts
            .iter()
            .map(|(f, p)| (*f, reachable(&all_raw, p.roots())))
            .collect();
        let others_only: BTreeSet<String> = reach
            .iter()
            .filter(|(f, _)| **f != family)
            .flat_map(|(_, names)| names.iter().cloned())
            .filter(|n| !reach[&family].contains(n))
            .collect();
        let mut apis = Vec::new();
        for fam in families {
            let part = parts.remove(&fam).expect("every family has a part");
            let keep = |name: &String| {
                if fam == family {
                    !others_only.contains(name)
                } else {
                    reach[&fam].contains(name)
                }
            };
            let raw_schemas: Map<String, Value> = all_raw
                .iter()
                .filter(|(n, _)| keep(n))
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect();
            let schemas = raw_schemas
                .iter()
                .map(|(n, v)| Ok((n.clone(), Schema::from_json(v)?)))
                .collect::<Result<BTreeMap<_, _>>>()?;
            let mut operations = part.operations;
            let common_errors = common_errors(&operations);
            for op in &mut operations {
                op.uses_common_errors = carries_common_errors(&op.errors, &common_errors);
            }
            let api = Api {
                common_errors,
                family: fam,
                local_operations: part.local_operations,
                spec_file: rel.to_owned(),
                sha256: sha256.clone(),
                title: match fam {
                    f if f == family => str_at(doc, "/info/title").unwrap_or_default(),
                    _ => clients
                        .iter()
                        .filter(|(_, f)| **f == fam)
                        .map(|(tag, _)| tag_title(doc, tag))
                        .collect::<Vec<_>>()
                        .join(", "),
                },
                main_host: main_host.clone(),
                backup_host: backup_host.clone(),
                operations,
                schemas,
                webhooks: part.webhooks,
                raw_schemas,
            };
            api.check_references()
                .with_context(|| format!("family {}", fam.module()))?;
            api.check_names()
                .with_context(|| format!("family {}", fam.module()))?;
            apis.push(api);
        }
        Ok(apis)
    }

    /// The keyword arguments of an operation, in order: path, query, then body fields.
    pub fn arguments(&self, op: &Operation) -> Vec<Argument> {
        let mut out: Vec<Argument> = op
            .path_params
            .iter()
            .chain(&op.query_params)
            .map(Argument::from_param)
            .collect();
        match &op.body {
            Body::None => {}
            Body::Json { schema } => {
                if let Some(Schema::Object { properties }) = self.schemas.get(schema) {
                    out.extend(properties.iter().map(|p| Argument {
                        name: p.name.clone(),
                        required: p.required,
                        kind: p.kind.clone(),
                        description: p.description.clone(),
                        bytes: false,
                    }));
                }
            }
            Body::MediaUpload { .. } => {
                out.push(Argument {
                    name: "filename".into(),
                    required: true,
                    kind: Kind::String,
                    description: "The file name sent in `meta` (its suffix names the format)."
                        .into(),
                    bytes: false,
                });
                out.push(Argument {
                    name: "file".into(),
                    required: true,
                    kind: Kind::String,
                    description: "The file's bytes; `meta.sha256` is computed from them.".into(),
                    bytes: true,
                });
            }
        }
        out
    }

    /// The keyword arguments of a local operation.
    pub fn local_arguments(&self, op: &LocalOperation) -> Vec<Argument> {
        op.params.iter().map(Argument::from_param).collect()
    }

    /// Operation names are unique, and so are method names within a tag and the keyword
    /// arguments of each operation (path, query and body fields share one namespace in the
    /// bindings).
    fn check_names(&self) -> Result<()> {
        let mut names = BTreeSet::new();
        let mut methods = BTreeSet::new();
        let all = self
            .operations
            .iter()
            .map(|o| (&o.name, &o.tag, &o.snake))
            .chain(
                self.local_operations
                    .iter()
                    .map(|o| (&o.name, &o.tag, &o.snake)),
            );
        for (name, tag, snake) in all {
            if !names.insert(name.clone()) {
                bail!("operation name {name} is used twice");
            }
            if !methods.insert((tag.clone(), snake.clone())) {
                bail!("{name}: tag {tag} already has a method {snake}");
            }
        }
        for op in &self.operations {
            let mut seen = BTreeSet::new();
            for a in self.arguments(op) {
                if !seen.insert(a.name.clone()) {
                    bail!(
                        "{}: argument `{}` appears twice among the path, query and body fields (bindings pass them side by side)",
                        op.name,
                        a.name
                    );
                }
            }
        }
        Ok(())
    }

    /// Every schema an operation or webhook names must exist.
    fn check_references(&self) -> Result<()> {
        let mut named: Vec<(&str, &str)> = Vec::new();
        for op in &self.operations {
            match &op.body {
                Body::Json { schema } => named.push((&op.name, schema)),
                Body::MediaUpload {
                    form_schema,
                    meta_schema,
                } => {
                    named.push((&op.name, form_schema));
                    named.push((&op.name, meta_schema));
                }
                Body::None => {}
            }
            if let Response::Json { schema } = &op.response {
                named.push((&op.name, schema));
            }
            for p in op.path_params.iter().chain(&op.query_params) {
                if let ParamType::Enum(e) = &p.ty {
                    named.push((&op.name, e));
                }
            }
        }
        for o in &self.local_operations {
            named.push((&o.name, &o.result_schema));
            for p in &o.params {
                if let ParamType::Enum(e) = &p.ty {
                    named.push((&o.name, e));
                }
            }
        }
        for w in &self.webhooks {
            named.push((&w.name, &w.envelope_schema));
            named.push((&w.name, &w.resource_schema));
        }
        for (owner, schema) in named {
            if !self.schemas.contains_key(schema) {
                bail!(
                    "{owner} refers to schema {schema}, which components.schemas does not define"
                );
            }
        }
        Ok(())
    }
}

/// One family's share of a document, while splitting it.
#[derive(Default)]
struct Part {
    operations: Vec<Operation>,
    webhooks: Vec<Webhook>,
    local_operations: Vec<LocalOperation>,
}

impl Part {
    /// The schemas the part names directly.
    fn roots(&self) -> Vec<String> {
        let mut out = Vec::new();
        for op in &self.operations {
            match &op.body {
                Body::Json { schema } => out.push(schema.clone()),
                Body::MediaUpload {
                    form_schema,
                    meta_schema,
                } => out.extend([form_schema.clone(), meta_schema.clone()]),
                Body::None => {}
            }
            if let Response::Json { schema } = &op.response {
                out.push(schema.clone());
            }
            for p in op.path_params.iter().chain(&op.query_params) {
                if let ParamType::Enum(e) = &p.ty {
                    out.push(e.clone());
                }
            }
        }
        for o in &self.local_operations {
            out.push(o.result_schema.clone());
            out.extend(o.params.iter().filter_map(|p| match &p.ty {
                ParamType::Enum(e) => Some(e.clone()),
                _ => None,
            }));
        }
        for w in &self.webhooks {
            out.extend([w.envelope_schema.clone(), w.resource_schema.clone()]);
        }
        out
    }
}

/// `roots` and every schema they reach through `$ref`s.
fn reachable(raw: &Map<String, Value>, roots: Vec<String>) -> BTreeSet<String> {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(name) = ref_name(v) {
                    out.push(name);
                }
                o.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut seen = BTreeSet::new();
    let mut todo = roots;
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            if let Some(schema) = raw.get(&name) {
                refs(schema, &mut todo);
            }
        }
    }
    seen
}

/// Tags whose `x-weixin-client` gives their operations to another family than the document's.
fn tag_clients(doc: &Value, family: Family) -> Result<BTreeMap<String, Family>> {
    let mut out = BTreeMap::new();
    for tag in doc
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(client) = tag.get("x-weixin-client") else {
            continue;
        };
        let name = tag
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("a tag with x-weixin-client has no name"))?;
        let client = client
            .as_str()
            .ok_or_else(|| anyhow!("tag {name}: x-weixin-client must be a string"))?;
        let f = Family::from_client(client).with_context(|| format!("tag {name}"))?;
        if !family.errcode_model() {
            bail!("tag {name}: x-weixin-client {client:?} needs the errcode model (a mini-program document)");
        }
        out.insert(name.to_owned(), f);
    }
    Ok(out)
}

/// A tag's description, for the title of the family it starts.
fn tag_title(doc: &Value, tag: &str) -> String {
    doc.get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|t| t.get("name").and_then(Value::as_str) == Some(tag))
        .and_then(|t| t.get("description").and_then(Value::as_str))
        .unwrap_or(tag)
        .to_owned()
}

/// The `meta` part of a media upload form, which must carry `filename` and `sha256`.
fn media_meta(schemas: &BTreeMap<String, Schema>, form: &str) -> Result<String> {
    let prop = |schema: &str, name: &str| match schemas.get(schema) {
        Some(Schema::Object { properties }) => properties
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.kind.clone()),
        _ => None,
    };
    let Some(Kind::Ref(meta)) = prop(form, "meta") else {
        bail!("media upload form {form} needs a `meta` property that is a $ref");
    };
    if prop(form, "file") != Some(Kind::String) {
        bail!("media upload form {form} needs a `file` string property");
    }
    for needed in ["filename", "sha256"] {
        if prop(&meta, needed) != Some(Kind::String) {
            bail!("media upload meta {meta} needs a `{needed}` string property");
        }
    }
    Ok(meta)
}

fn servers(doc: &Value) -> Result<(String, Option<String>)> {
    let mut main = None;
    let mut backup = None;
    for s in doc
        .get("servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let url = s
            .get("url")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("a server has no url"))?;
        match s.get("x-weixin-role").and_then(Value::as_str) {
            Some("main") => main = Some(url.trim_end_matches('/').to_owned()),
            Some("backup") => backup = Some(url.trim_end_matches('/').to_owned()),
            other => bail!("server {url}: x-weixin-role must be main or backup, found {other:?}"),
        }
    }
    Ok((
        main.ok_or_else(|| anyhow!("no server has x-weixin-role: main"))?,
        backup,
    ))
}

fn str_at(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// `#/components/schemas/Name` → `Name`.
fn ref_name(v: &Value) -> Option<String> {
    v.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .map(str::to_owned)
}

fn check_schema_conventions(schema: &Value, at: &str) -> Result<()> {
    let Some(obj) = schema.as_object() else {
        return Ok(());
    };
    for key in FORBIDDEN_KEYWORDS {
        if obj.contains_key(*key) {
            bail!("{at}: `{key}` is not allowed (spec/README.md: typify handles it badly or we cannot validate it)");
        }
    }
    if let Some(format) = obj.get("format").and_then(Value::as_str) {
        if !["int32", "int64"].contains(&format) {
            bail!("{at}: format `{format}` is not allowed (only int32/int64)");
        }
    }
    if obj.get("additionalProperties") == Some(&Value::Bool(false)) {
        bail!("{at}: additionalProperties: false would make clients break on new server fields");
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let here = format!("{at}/properties/{name}");
            if prop.get("properties").is_some() {
                bail!("{here}: nested objects must be a $ref to a named schema");
            }
            if prop.get("enum").is_some() && prop.get("type") == Some(&Value::from("string")) {
                bail!("{here}: string enums must be a $ref to a named schema (so they stay open)");
            }
            check_schema_conventions(prop, &here)?;
        }
    }
    if let Some(items) = obj.get("items") {
        check_schema_conventions(items, &format!("{at}/items"))?;
    }
    Ok(())
}

impl Schema {
    fn from_json(v: &Value) -> Result<Schema> {
        if let Some(values) = v.get("enum").and_then(Value::as_array) {
            if v.get("type").and_then(Value::as_str) != Some("string") {
                bail!("only string enums are supported");
            }
            let descriptions = v.get("x-enum-descriptions").and_then(Value::as_object);
            let values = values
                .iter()
                .map(|w| {
                    let wire = w
                        .as_str()
                        .ok_or_else(|| anyhow!("enum value {w} is not a string"))?
                        .to_owned();
                    let description = descriptions
                        .and_then(|d| d.get(&wire))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned();
                    Ok(EnumValue {
                        variant: variant_name(&wire),
                        wire,
                        description,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok(Schema::Enum { values });
        }
        let Some(props) = v.get("properties").and_then(Value::as_object) else {
            return Ok(Schema::Other);
        };
        let required: Vec<&str> = v
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for r in &required {
            if !props.contains_key(*r) {
                bail!("required property `{r}` is not among the properties");
            }
        }
        let properties = props
            .iter()
            .map(|(name, p)| {
                Ok(Property {
                    name: name.clone(),
                    required: required.contains(&name.as_str()),
                    kind: kind(p).with_context(|| format!("property {name}"))?,
                    min_length: p.get("minLength").and_then(Value::as_u64),
                    max_length: p.get("maxLength").and_then(Value::as_u64),
                    minimum: p.get("minimum").and_then(Value::as_i64),
                    maximum: p.get("maximum").and_then(Value::as_i64),
                    secret: p.get("x-weixin-secret") == Some(&Value::Bool(true)),
                    json_encoded: p.get("x-weixin-json-encoded") == Some(&Value::Bool(true)),
                    description: description(p),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Schema::Object { properties })
    }
}

fn kind(p: &Value) -> Result<Kind> {
    if let Some(r) = ref_name(p) {
        return Ok(Kind::Ref(r));
    }
    Ok(match p.get("type").and_then(Value::as_str) {
        Some("string") => Kind::String,
        Some("integer") => Kind::Integer,
        Some("number") => Kind::Number,
        Some("boolean") => Kind::Boolean,
        Some("array") => Kind::Array(Box::new(kind(
            p.get("items")
                .ok_or_else(|| anyhow!("array without items"))?,
        )?)),
        Some("object") | None => Kind::Any,
        Some(other) => bail!("type `{other}` is not supported"),
    })
}

/// `NOT_SHOW` → `NotShow`, `COUPON.SEND` → `CouponSend`, `wx_card` → `WxCard`.
pub fn variant_name(wire: &str) -> String {
    let name = wire
        .replace(['.', '-', ' '], "_")
        .to_lowercase()
        .to_upper_camel_case();
    match name.as_str() {
        "" => "Empty".into(),
        "Unknown" => "UnknownValue".into(),
        n if n.starts_with(|c: char| c.is_ascii_digit()) => format!("V{n}"),
        _ => name,
    }
}

impl Operation {
    fn from_json(family: Family, path: &str, method: &str, op: &Value) -> Result<Operation> {
        let name = op
            .get("operationId")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("operationId is missing"))?
            .to_owned();
        let tags = op
            .get("tags")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let [tag] = tags else {
            bail!("{name}: needs exactly one tag, found {}", tags.len())
        };
        let tag = tag
            .as_str()
            .ok_or_else(|| anyhow!("{name}: tag is not a string"))?
            .to_owned();
        let auth = auth(op).with_context(|| name.clone())?;
        let idempotent = match op.get("x-weixin-idempotent") {
            Some(Value::Bool(b)) => *b,
            other => bail!(
                "{name}: x-weixin-idempotent must be true or false (whether sending the request \
                 twice has the effect of sending it once), found {other:?}"
            ),
        };

        let mut path_params = Vec::new();
        let mut query_params = Vec::new();
        for p in op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let param = Param::from_json(&name, p)?;
            let pname = param.name.clone();
            match p.get("in").and_then(Value::as_str) {
                Some("path") => path_params.push(param),
                Some("query") if pname == "access_token" => {
                    bail!("{name}: access_token is injected by the client; use security: AccessToken instead")
                }
                Some("query") if pname == "component_access_token" => {
                    bail!("{name}: component_access_token is injected by the client; use security: ComponentAccessToken instead")
                }
                Some("query") => query_params.push(param),
                Some("header") => {} // documented headers (Authorization, Wechatpay-*) are the client's job
                other => bail!("{name}: parameter {pname} in {other:?} is not supported"),
            }
        }
        for seg in path.split('/').filter(|s| s.starts_with('{')) {
            let pname = seg.trim_matches(['{', '}']);
            if !path_params.iter().any(|p| p.name == pname) {
                bail!("{name}: path parameter {pname} is not declared");
            }
        }

        let body = match op
            .pointer("/requestBody/content")
            .and_then(Value::as_object)
        {
            None => Body::None,
            Some(content) => {
                if let Some(json) = content.get("application/json") {
                    Body::Json {
                        schema: json
                            .get("schema")
                            .and_then(ref_name)
                            .ok_or_else(|| anyhow!("{name}: JSON body must be a $ref"))?,
                    }
                } else if let Some(mp) = content.get("multipart/form-data") {
                    if op.get("x-weixin-request-kind").and_then(Value::as_str)
                        != Some("media-upload")
                    {
                        bail!("{name}: multipart bodies are supported only with x-weixin-request-kind: media-upload");
                    }
                    let form = mp
                        .get("schema")
                        .and_then(ref_name)
                        .ok_or_else(|| anyhow!("{name}: the multipart body must be a $ref"))?;
                    Body::MediaUpload {
                        form_schema: form,
                        meta_schema: String::new(),
                    }
                } else {
                    bail!(
                        "{name}: unsupported request content types {:?}",
                        content.keys().collect::<Vec<_>>()
                    );
                }
            }
        };

        let responses = op
            .get("responses")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("{name}: no responses"))?;
        let success: Vec<(&String, &Value)> = responses
            .iter()
            .filter(|(code, _)| code.starts_with('2'))
            .collect();
        let [(status, resp)] = success.as_slice() else {
            bail!(
                "{name}: needs exactly one 2xx response, found {}",
                success.len()
            )
        };
        let success_status: u16 = status
            .parse()
            .with_context(|| format!("{name}: status {status}"))?;
        let response = match resp.pointer("/content/application~1json/schema") {
            None => Response::Empty,
            Some(s) => Response::Json {
                schema: ref_name(s)
                    .ok_or_else(|| anyhow!("{name}: response schema must be a $ref"))?,
            },
        };
        if family.errcode_model() && matches!(response, Response::Empty) {
            bail!("{name}: mini-program operations answer errcode/errmsg JSON");
        }

        let errors = op
            .get("x-weixin-errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, e)| {
                ErrorRow::from_json(family, e)
                    .with_context(|| format!("{name}: x-weixin-errors[{i}]"))
            })
            .collect::<Result<Vec<_>>>()?;

        Ok(Operation {
            snake: name.to_snake_case(),
            tag,
            summary: op
                .get("summary")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            description: op
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            method: method.to_uppercase(),
            path: path.to_owned(),
            auth,
            idempotent,
            path_params,
            query_params,
            body,
            response,
            success_status,
            errors,
            uses_common_errors: false,
            name,
        })
    }

    /// Rust identifier of the operation's spec constant: `MODIFY_STOCK_INFO`.
    pub fn const_name(&self) -> String {
        self.snake.to_uppercase()
    }
}

impl Param {
    fn from_json(owner: &str, p: &Value) -> Result<Param> {
        let pname = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("{owner}: parameter without name"))?;
        let schema = p
            .get("schema")
            .ok_or_else(|| anyhow!("{owner}: parameter {pname} has no schema"))?;
        let ty = match (ref_name(schema), schema.get("type").and_then(Value::as_str)) {
            (Some(r), _) => ParamType::Enum(r),
            (None, Some("string")) => ParamType::String,
            (None, Some("integer")) => ParamType::Integer,
            (None, Some("boolean")) => ParamType::Boolean,
            (None, t) => bail!("{owner}: parameter {pname} has unsupported type {t:?}"),
        };
        if schema.get("enum").is_some() {
            bail!("{owner}: parameter {pname}: enums must be a $ref to a named schema");
        }
        Ok(Param {
            name: pname.to_owned(),
            required: p.get("required") == Some(&Value::Bool(true)),
            ty,
            description: description(p),
        })
    }
}

impl LocalOperation {
    fn from_json(name: &str, op: &Value) -> Result<LocalOperation> {
        let tag = op
            .get("tag")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("tag is missing"))?
            .to_owned();
        let params = op
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|p| Param::from_json(name, p))
            .collect::<Result<Vec<_>>>()?;
        let result_schema = op
            .get("result")
            .and_then(ref_name)
            .ok_or_else(|| anyhow!("result must be a $ref to a named schema"))?;
        Ok(LocalOperation {
            name: name.to_owned(),
            snake: name.to_snake_case(),
            tag,
            summary: str_at(op, "/summary").unwrap_or_default(),
            description: str_at(op, "/description").unwrap_or_default(),
            params,
            result_schema,
        })
    }
}

/// A field's description: the document's text, then the English gloss when the spec has one.
fn description(v: &Value) -> String {
    let zh = v
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match v.get("x-description-en").and_then(Value::as_str) {
        Some(en) if !zh.is_empty() => format!("{zh}\n\n{en}"),
        Some(en) => en.to_owned(),
        None => zh.to_owned(),
    }
}

fn auth(op: &Value) -> Result<Auth> {
    let security = op.get("security").and_then(Value::as_array).ok_or_else(|| {
        anyhow!("security must be set on every operation: [{{\"WechatPay2\": []}}], [{{\"AccessToken\": []}}], [{{\"ComponentAccessToken\": []}}] or []")
    })?;
    let schemes: Vec<&String> = security
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys())
        .collect();
    match schemes.as_slice() {
        [] => Ok(Auth::None),
        [s] if *s == "WechatPay2" => Ok(Auth::WechatPay2),
        [s] if *s == "AccessToken" => Ok(Auth::AccessToken),
        [s] if *s == "ComponentAccessToken" => Ok(Auth::ComponentAccessToken),
        other => bail!("unsupported security {other:?}"),
    }
}

/// The rows several operations repeat word for word: every row that appears, identical, in the
/// tables of at least two operations — and, when the spec marks rows `"common": true` (the
/// mini-program spec marks the five general errcodes), only marked ones, so that rows a few
/// related operations happen to share (service cards' 40003) stay with them. In order of first
/// appearance. Empty when no operation carries all of them.
pub fn common_errors(operations: &[Operation]) -> Vec<ErrorRow> {
    let marked = operations
        .iter()
        .flat_map(|op| &op.errors)
        .any(|e| e.common);
    let mut common: Vec<ErrorRow> = Vec::new();
    for row in operations.iter().flat_map(|op| &op.errors) {
        if (marked && !row.common) || common.contains(row) {
            continue;
        }
        let carriers = operations
            .iter()
            .filter(|op| op.errors.contains(row))
            .count();
        if carriers >= 2 {
            common.push(row.clone());
        }
    }
    if operations
        .iter()
        .any(|op| carries_common_errors(&op.errors, &common))
    {
        common
    } else {
        Vec::new()
    }
}

/// Whether `errors` can reference `common` without changing what a lookup finds: it contains
/// every common row, in the same order, and, unless they come first (where the runtime looks
/// first), none of its own rows shares a key with a common row (rows of one key are matched in
/// table order).
pub fn carries_common_errors(errors: &[ErrorRow], common: &[ErrorRow]) -> bool {
    if common.is_empty() {
        return false;
    }
    let in_table: Vec<&ErrorRow> = errors.iter().filter(|e| common.contains(e)).collect();
    if in_table.len() != common.len() || in_table.iter().zip(common).any(|(a, b)| *a != b) {
        return false;
    }
    let prefix = errors.len() >= common.len() && errors[..common.len()] == *common;
    prefix
        || errors
            .iter()
            .filter(|e| !common.contains(e))
            .all(|own| common.iter().all(|c| c.key != own.key))
}

impl Operation {
    /// The rows the generated spec lists itself: all of them, or those not in `common` when it
    /// references the common table.
    pub fn own_errors<'a>(&'a self, common: &[ErrorRow]) -> Vec<&'a ErrorRow> {
        self.errors
            .iter()
            .filter(|e| !(self.uses_common_errors && common.contains(e)))
            .collect()
    }
}

impl ErrorRow {
    fn from_json(family: Family, e: &Value) -> Result<ErrorRow> {
        let text = |k: &str| {
            e.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let key = match family {
            Family::Pay => ErrorKey::Pay {
                status: e
                    .get("status")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok())
                    .ok_or_else(|| anyhow!("status (HTTP status) is missing"))?,
                code: e
                    .get("code")
                    .and_then(Value::as_str)
                    .ok_or_else(|| anyhow!("code is missing"))?
                    .to_owned(),
            },
            Family::MiniProgram | Family::Component => ErrorKey::MiniProgram {
                errcode: e
                    .get("errcode")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| anyhow!("errcode is missing"))?,
            },
        };
        let description = match family {
            Family::Pay => text("description"),
            // The document's 错误描述 column is the errmsg; prefer a fuller description when given.
            Family::MiniProgram | Family::Component => Some(text("description"))
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| text("errmsg")),
        };
        Ok(ErrorRow {
            key,
            description,
            solution: text("solution"),
            retryable: e
                .get("retryable")
                .and_then(Value::as_bool)
                .ok_or_else(|| anyhow!("retryable (true/false) is missing"))?,
            retry_after_secs: match e.get("retry_after_secs") {
                None => None,
                Some(v) => Some(
                    v.as_u64()
                        .ok_or_else(|| anyhow!("retry_after_secs must be a whole number"))?,
                ),
            },
            advice: e.get("advice").and_then(Value::as_str).map(str::to_owned),
            common: match e.get("common") {
                None => false,
                Some(v) => v
                    .as_bool()
                    .ok_or_else(|| anyhow!("common must be true or false"))?,
            },
        })
    }
}

impl Webhook {
    fn from_json(name: &str, item: &Value) -> Result<Webhook> {
        let post = item
            .get("post")
            .ok_or_else(|| anyhow!("only POST webhooks are supported"))?;
        // WeChat Pay posts JSON; the third-party platform's push is an XML envelope.
        let envelope = ["application~1json", "application~1xml"]
            .iter()
            .find_map(|t| post.pointer(&format!("/requestBody/content/{t}/schema")))
            .and_then(ref_name)
            .ok_or_else(|| {
                anyhow!("the envelope must be an application/json or application/xml $ref")
            })?;
        Ok(Webhook {
            name: name.to_owned(),
            tag: post
                .pointer("/tags/0")
                .and_then(Value::as_str)
                .map(str::to_owned),
            envelope_schema: envelope,
            resource_schema: post
                .get("x-weixin-resource-schema")
                .and_then(Value::as_str)
                .ok_or_else(|| anyhow!("x-weixin-resource-schema is missing"))?
                .to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names() {
        assert_eq!(variant_name("NOT_SHOW"), "NotShow");
        assert_eq!(variant_name("COUPON.SEND"), "CouponSend");
        assert_eq!(variant_name("wx_card"), "WxCard");
        assert_eq!(variant_name("AEAD_AES_256_GCM"), "AeadAes256Gcm");
        assert_eq!(variant_name("UNKNOWN"), "UnknownValue");
    }

    #[test]
    fn inline_nested_objects_are_rejected_with_their_location() {
        let schema = serde_json::json!({"type": "object", "properties": {"a": {"type": "object", "properties": {}}}});
        let err = check_schema_conventions(&schema, "/components/schemas/X").unwrap_err();
        assert!(
            err.to_string()
                .contains("/components/schemas/X/properties/a"),
            "{err}"
        );
    }

    #[test]
    fn operations_must_say_whether_they_are_idempotent() {
        let op = |idempotent: Value| {
            let mut op = serde_json::json!({
                "operationId": "getThing",
                "tags": ["t"],
                "security": [],
                "responses": {"200": {"description": "ok", "content": {"application/json":
                    {"schema": {"$ref": "#/components/schemas/Thing"}}}}},
            });
            if !idempotent.is_null() {
                op["x-weixin-idempotent"] = idempotent;
            }
            Operation::from_json(Family::MiniProgram, "/thing", "get", &op)
        };
        for bad in [Value::Null, serde_json::json!("yes")] {
            let err = op(bad).unwrap_err().to_string();
            assert!(
                err.contains("getThing: x-weixin-idempotent must be true or false"),
                "{err}"
            );
        }
        assert!(!op(Value::Bool(false)).unwrap().idempotent);
        assert!(op(Value::Bool(true)).unwrap().idempotent);
    }

    #[test]
    fn any_of_is_rejected() {
        let schema = serde_json::json!({"anyOf": [{"type": "string"}]});
        assert!(check_schema_conventions(&schema, "/x")
            .unwrap_err()
            .to_string()
            .contains("anyOf"));
    }
}
