//! The Rust surface of one spec: types (typify, plus our open enums and `Validate` impls) and the
//! operations (static operation specs, request preparation, typed methods grouped by tag).

use anyhow::{anyhow, Context, Result};
use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::{Map, Value};
use typify::{TypeSpace, TypeSpaceSettings};

use super::model::{
    Api, Auth, Body, ErrorKey, ErrorRow, Family, Kind, LocalOperation, Operation, Param, ParamType,
    Property, Response, Schema,
};

/// `pay/mod.rs`: the family module.
pub fn family_mod(api: &Api) -> Result<String> {
    let main = &api.main_host;
    let backup = match &api.backup_host {
        Some(b) => quote!(Some(#b)),
        None => quote!(None),
    };
    let title = format!("{} — generated from `{}`.", api.title, api.spec_file);
    let sha = &api.sha256;
    // Wire names of the properties marked `x-weixin-secret`, sorted and once each.
    let secrets: std::collections::BTreeSet<&str> = api
        .schemas
        .values()
        .filter_map(|schema| match schema {
            Schema::Object { properties } => Some(properties),
            _ => None,
        })
        .flatten()
        .filter(|p| p.secret)
        .map(|p| p.name.as_str())
        .collect();
    let secrets = secrets.into_iter();
    let tokens = quote! {
        #![doc = #title]
        pub mod operations;
        pub mod types;
        pub use operations::*;
        pub use types::*;

        /// The documented main host.
        pub const MAIN_HOST: &str = #main;
        /// The documented backup host (异地接入点), used on failover.
        pub const BACKUP_HOST: Option<&str> = #backup;
        /// sha256 of the spec file this module was generated from.
        pub const SPEC_SHA256: &str = #sha;
        /// Wire names of the fields the spec marks `x-weixin-secret` (credentials): what a tool
        /// printing an answer or a request redacts.
        pub const SECRET_FIELDS: &[&str] = &[#(#secrets),*];
    };
    format(tokens)
}

/// `types.rs`: every component schema.
pub fn types(api: &Api) -> Result<String> {
    let mut settings = TypeSpaceSettings::default();
    settings.with_derive("PartialEq".to_owned());
    settings.with_replacement("SecretString", "crate::SecretString", std::iter::empty());
    let mut enums = Vec::new();
    let mut defs: Vec<(String, schemars::schema::Schema)> = Vec::new();
    for (name, raw) in &api.raw_schemas {
        match &api.schemas[name] {
            Schema::Enum { values } => {
                // typify needs the definition to resolve $refs, then uses our open enum instead.
                settings.with_replacement(name, name, std::iter::empty());
                enums.push(open_enum(name, raw, values));
                defs.push((
                    name.clone(),
                    serde_json::from_value(serde_json::json!({"type": "string"}))?,
                ));
            }
            schema => {
                if let Schema::Object { properties } = schema {
                    if needs_default(api, properties) {
                        settings.with_patch(
                            name,
                            typify::TypeSpacePatch::default().with_derive("Default"),
                        );
                    }
                }
                let prepared = for_typify(raw);
                let schema =
                    serde_json::from_value(prepared).with_context(|| format!("schema {name}"))?;
                defs.push((name.clone(), schema));
            }
        }
    }
    // typify resolves $ref by last segment; SecretString is replaced, so only its name matters.
    defs.push((
        "SecretString".into(),
        serde_json::from_value(serde_json::json!({"type": "string"}))?,
    ));
    let mut space = TypeSpace::new(&settings);
    space
        .add_ref_types(defs)
        .map_err(|e| anyhow!("typify: {e}"))?;
    let typify_out = space.to_stream();
    let validates = api.schemas.iter().filter_map(|(name, s)| match s {
        Schema::Object { properties } => Some(validate_impl(api, name, properties)),
        _ => None,
    });
    format(quote! {
        #![allow(clippy::all, clippy::pedantic, unused_imports)]
        #typify_out
        #(#enums)*
        #(#validates)*
    })
}

/// Structs whose required fields are all plain values get `Default`, so callers can write
/// `Request { out_request_no: …, ..Default::default() }` (validation still rejects empty ones).
/// typify already derives it when every field is optional. A required secret (a `SecretString`,
/// which has no empty default) keeps it from having one.
fn needs_default(api: &Api, properties: &[Property]) -> bool {
    let required: Vec<&Property> = properties.iter().filter(|p| p.required).collect();
    !required.is_empty()
        && required.iter().all(|p| !p.secret)
        && required.iter().all(|p| match &p.kind {
            Kind::String
            | Kind::Integer
            | Kind::Number
            | Kind::Boolean
            | Kind::Array(_)
            | Kind::Any => true,
            Kind::Ref(r) => matches!(api.schemas.get(r), Some(Schema::Object { properties }) if
                properties.iter().all(|p| !p.required) || needs_default(api, properties)),
        })
}

/// The schema as typify should see it: constraints removed (our `Validate` checks them with field
/// paths; typify would make constrained newtypes), secrets swapped for `SecretString`, and the
/// English summary above the Chinese description in doc comments.
fn for_typify(raw: &Value) -> Value {
    let Value::Object(obj) = raw else {
        return raw.clone();
    };
    let mut out = Map::new();
    for (k, v) in obj {
        match k.as_str() {
            "minLength" | "maxLength" | "minimum" | "maximum" | "description" | "examples" => {}
            k if k.starts_with("x-") => {}
            "properties" => {
                let props = v
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(name, p)| {
                                let prepared =
                                    if p.get("x-weixin-secret") == Some(&Value::Bool(true)) {
                                        let mut secret = Map::new();
                                        secret.insert(
                                            "$ref".into(),
                                            "#/components/schemas/SecretString".into(),
                                        );
                                        if let Some(d) = doc_text(p) {
                                            secret.insert("description".into(), d.into());
                                        }
                                        Value::Object(secret)
                                    } else {
                                        for_typify(p)
                                    };
                                (name.clone(), prepared)
                            })
                            .collect::<Map<_, _>>()
                    })
                    .unwrap_or_default();
                out.insert(k.clone(), Value::Object(props));
            }
            "items" => {
                out.insert(k.clone(), for_typify(v));
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    if let Some(d) = doc_text(raw) {
        out.insert("description".into(), d.into());
    }
    Value::Object(out)
}

fn doc_text(v: &Value) -> Option<String> {
    let en = v
        .get("x-description-en")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let zh = v
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match (en.is_empty(), zh.is_empty()) {
        (true, true) => None,
        (false, true) => Some(en.to_owned()),
        (true, false) => Some(zh.to_owned()),
        (false, false) => Some(format!("{en}\n\n{zh}")),
    }
}

fn open_enum(name: &str, raw: &Value, values: &[super::model::EnumValue]) -> TokenStream {
    let ident = format_ident!("{}", name);
    let doc = doc_text(raw).unwrap_or_else(|| format!("`{name}`"));
    let variants: Vec<_> = values
        .iter()
        .map(|v| format_ident!("{}", v.variant))
        .collect();
    let wires = values.iter().map(|v| &v.wire);
    let docs = values.iter().map(|v| {
        if v.description.is_empty() {
            format!("`{}`", v.wire)
        } else {
            format!("`{}`: {}", v.wire, v.description)
        }
    });
    quote! {
        #[doc = #doc]
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum #ident {
            #(#[doc = #docs] #variants,)*
            /// A value this version of the SDK does not know (kept so that responses still decode).
            Unknown(::std::string::String),
        }
        crate::open_enum_impls!(#ident { #(#variants = #wires),* });
    }
}

/// The field name typify gives a property.
fn field_ident(name: &str) -> proc_macro2::Ident {
    let snake = name.to_snake_case();
    if syn::parse_str::<syn::Ident>(&snake).is_ok() {
        format_ident!("{}", snake)
    } else {
        format_ident!("{}_", snake)
    }
}

fn validate_impl(api: &Api, name: &str, properties: &[Property]) -> TokenStream {
    let ident = format_ident!("{}", name);
    let checks: Vec<TokenStream> = properties
        .iter()
        .filter_map(|p| property_check(api, p))
        .collect();
    let prefix = if checks.is_empty() {
        quote!(_prefix)
    } else {
        quote!(prefix)
    };
    quote! {
        impl crate::validate::Validate for #ident {
            fn validate_at(&self, #prefix: &str) -> crate::Result<()> {
                #(#checks)*
                Ok(())
            }
        }
    }
}

fn opt_u64(v: Option<u64>) -> TokenStream {
    match v {
        Some(n) => quote!(Some(#n)),
        None => quote!(None),
    }
}

fn opt_i64(v: Option<i64>) -> TokenStream {
    match v {
        Some(n) => quote!(Some(#n)),
        None => quote!(None),
    }
}

fn property_check(api: &Api, p: &Property) -> Option<TokenStream> {
    let field = field_ident(&p.name);
    let wire = &p.name;
    let check_on = |value: TokenStream| -> Option<TokenStream> {
        match &p.kind {
            Kind::String => {
                let s = if p.secret {
                    quote!(#value.expose())
                } else {
                    quote!(#value.as_str())
                };
                let mut out = TokenStream::new();
                if p.required {
                    out.extend(quote!(crate::validate::not_empty(prefix, #wire, #s)?;));
                }
                if p.min_length.is_some() || p.max_length.is_some() {
                    let (min, max) = (opt_u64(p.min_length), opt_u64(p.max_length));
                    out.extend(quote!(crate::validate::chars(prefix, #wire, #s, #min, #max)?;));
                }
                (!out.is_empty()).then_some(out)
            }
            Kind::Integer if p.minimum.is_some() || p.maximum.is_some() => {
                let (min, max) = (opt_i64(p.minimum), opt_i64(p.maximum));
                Some(
                    quote!(crate::validate::range(prefix, #wire, i64::from(*#value), #min, #max)?;),
                )
            }
            _ => None,
        }
    };
    let nested = match &p.kind {
        Kind::Ref(target) => Some(target),
        Kind::Array(inner) => match inner.as_ref() {
            Kind::Ref(target) => Some(target),
            _ => None,
        },
        _ => None,
    };
    if nested.is_some_and(|target| validates(api, target)) {
        return Some(
            quote!(crate::validate::Validate::validate_at(&self.#field, &crate::validate::path(prefix, #wire))?;),
        );
    }
    match &p.kind {
        Kind::String | Kind::Integer if p.required => check_on(quote!((&self.#field))),
        Kind::String | Kind::Integer => check_on(quote!(value))
            .map(|check| quote!(if let Some(value) = &self.#field { #check })),
        _ => None,
    }
}

fn validates(api: &Api, target: &str) -> bool {
    matches!(
        api.schemas.get(target),
        Some(Schema::Object { .. } | Schema::Enum { .. })
    )
}

/// `operations.rs`: specs, preparation and typed methods.
pub fn operations(api: &Api) -> Result<String> {
    let specs = api.operations.iter().map(|op| op_spec(api, op));
    let common_rows = api.common_errors.iter().map(error_doc);
    let common_len = api.common_errors.len();
    let consts = api
        .operations
        .iter()
        .map(|op| format_ident!("{}", op.const_name()));
    let prepares = api.operations.iter().map(prepare_fn);
    let json_prepares = api.operations.iter().map(|op| json_prepare_fn(api, op));
    let json_rows = api.operations.iter().map(json_row);
    let local_names = api.local_operations.iter().map(|op| &op.name);
    let local_args = api.local_operations.iter().map(local_args_struct);
    let mut tags: Vec<&str> = api.operations.iter().map(|op| op.tag.as_str()).collect();
    tags.dedup();
    tags.sort_unstable();
    tags.dedup();
    let groups = tags.iter().map(|tag| tag_group(api, tag));
    let accessors = tags.iter().map(|tag| {
        let method = format_ident!("{}", tag.to_snake_case());
        let group = group_ident(tag);
        let doc = format!("Operations tagged `{tag}`.");
        quote!(#[doc = #doc] fn #method(&self) -> #group<'_, Self> { #group { client: self } })
    });
    let family_doc = format!(
        "The {} operations of `{}`, for any client that can execute them. Bring it into scope \
         (`use weixin_kit::{}::Operations as _;`) to call `client.{}().…`.",
        api.title,
        api.spec_file,
        api.family.module(),
        tags.first().map(|t| t.to_snake_case()).unwrap_or_default()
    );
    format(quote! {
        #![allow(clippy::all, unused_imports)]
        use super::types::*;
        use crate::operation::{
            ApiFamily, Auth, ErrorDoc, ErrorKey, Execute, OperationSpec, PathBuilder, PreparedRequest, RequestBody,
        };

        /// The error rows several operations' tables share (the general errcodes / the APIv3
        /// rules' common errors), emitted once: the operations that carry all of them reference
        /// this table (`OperationSpec::common_errors`) instead of repeating it.
        pub static COMMON_ERRORS: [ErrorDoc; #common_len] = [#(#common_rows),*];

        /// What the spec says about each operation.
        pub mod specs {
            use super::*;
            #(#specs)*
        }

        /// Every operation of this spec.
        pub static OPERATIONS: &[&OperationSpec] = &[#(&specs::#consts),*];

        #(#prepares)*

        /// Every operation, called by name with wire-named JSON arguments (what the language
        /// bindings use; see [`crate::dispatch`]).
        pub static JSON_OPERATIONS: &[crate::dispatch::JsonOperation] = &[#(#json_rows),*];

        /// The spec's `x-weixin-local-operations`: performed by the client itself, by hand-written
        /// code (each client's `call` handles them; a test checks it knows every name).
        pub static LOCAL_OPERATIONS: &[&str] = &[#(#local_names),*];

        #(#local_args)*

        #(#json_prepares)*
        #(#groups)*

        #[doc = #family_doc]
        pub trait Operations: Execute + Sized {
            #(#accessors)*
        }
    })
}

fn group_ident(tag: &str) -> proc_macro2::Ident {
    format_ident!("{}Operations", tag.to_upper_camel_case())
}

fn op_spec(api: &Api, op: &Operation) -> TokenStream {
    let ident = format_ident!("{}", op.const_name());
    let (name, tag, method, path, status, idempotent) = (
        &op.name,
        &op.tag,
        &op.method,
        &op.path,
        op.success_status,
        op.idempotent,
    );
    let family = match api.family {
        Family::Pay => quote!(ApiFamily::Pay),
        // The third-party platform's answers follow the mini-program errcode model.
        Family::MiniProgram | Family::Component => quote!(ApiFamily::MiniProgram),
    };
    let auth = match op.auth {
        Auth::WechatPay2 => quote!(Auth::WechatPay2),
        Auth::AccessToken => quote!(Auth::AccessToken),
        Auth::ComponentAccessToken => quote!(Auth::ComponentAccessToken),
        Auth::None => quote!(Auth::None),
    };
    let errors = op.own_errors(&api.common_errors).into_iter().map(error_doc);
    let common = if op.uses_common_errors {
        quote!(&COMMON_ERRORS)
    } else {
        quote!(&[])
    };
    let doc = format!("`{} {}`", op.method, op.path);
    quote! {
        #[doc = #doc]
        pub static #ident: OperationSpec = OperationSpec {
            name: #name,
            tag: #tag,
            family: #family,
            method: #method,
            path: #path,
            auth: #auth,
            idempotent: #idempotent,
            success_status: #status,
            common_errors: #common,
            errors: &[#(#errors),*],
        };
    }
}

/// One `ErrorDoc { … }` literal.
fn error_doc(e: &ErrorRow) -> TokenStream {
    let key = match &e.key {
        ErrorKey::Pay { status, code } => {
            quote!(ErrorKey::Pay { status: #status, code: #code })
        }
        ErrorKey::MiniProgram { errcode } => {
            quote!(ErrorKey::MiniProgram { errcode: #errcode })
        }
    };
    let (description, solution, retryable) = (&e.description, &e.solution, e.retryable);
    let retry_after_secs = match e.retry_after_secs {
        Some(n) => quote!(Some(#n)),
        None => quote!(None),
    };
    let advice = match &e.advice {
        Some(a) => quote!(Some(#a)),
        None => quote!(None),
    };
    quote!(ErrorDoc {
        key: #key,
        description: #description,
        solution: #solution,
        retryable: #retryable,
        retry_after_secs: #retry_after_secs,
        advice: #advice,
    })
}

/// The Rust type of a parameter in method signatures.
fn param_type(p: &Param) -> TokenStream {
    let base = match &p.ty {
        ParamType::String => quote!(&str),
        ParamType::Integer => quote!(i64),
        ParamType::Boolean => quote!(bool),
        ParamType::Enum(e) => {
            let e = format_ident!("{}", e);
            quote!(#e)
        }
    };
    if p.required {
        base
    } else {
        quote!(Option<#base>)
    }
}

/// The operation's parameters as `(ident, type)`, in signature order: path, query, body.
fn signature(op: &Operation) -> Vec<(proc_macro2::Ident, TokenStream)> {
    let mut out: Vec<_> = op
        .path_params
        .iter()
        .chain(&op.query_params)
        .map(|p| (field_ident(&p.name), param_type(p)))
        .collect();
    match &op.body {
        Body::None => {}
        Body::Json { schema } => {
            let ty = format_ident!("{}", schema);
            out.push((format_ident!("body"), quote!(&#ty)));
        }
        Body::MediaUpload { .. } => {
            out.push((format_ident!("filename"), quote!(&str)));
            out.push((format_ident!("file"), quote!(Vec<u8>)));
        }
    }
    out
}

fn query_value(p: &Param, v: TokenStream) -> TokenStream {
    match p.ty {
        ParamType::String => quote!(#v),
        ParamType::Integer | ParamType::Boolean => quote!(&#v.to_string()),
        ParamType::Enum(_) => quote!(crate::validate::OpenEnum::as_str(&#v)),
    }
}

fn prepare_fn(op: &Operation) -> TokenStream {
    let fn_name = format_ident!("prepare_{}", op.snake);
    let spec = format_ident!("{}", op.const_name());
    let sig = signature(op).into_iter().map(|(i, t)| quote!(#i: #t));
    let path = &op.path;
    let path_params = op.path_params.iter().map(|p| {
        let (wire, ident) = (&p.name, field_ident(&p.name));
        let value = query_value(p, quote!(#ident));
        quote!((#wire, #value))
    });
    let enum_checks = op
        .query_params
        .iter()
        .filter(|p| matches!(p.ty, ParamType::Enum(_)))
        .map(|p| {
            let (wire, ident) = (&p.name, field_ident(&p.name));
            if p.required {
                quote!(crate::validate::known(#wire, &#ident)?;)
            } else {
                quote!(if let Some(v) = &#ident { crate::validate::known(#wire, v)?; })
            }
        });
    let queries = op.query_params.iter().map(|p| {
        let (wire, ident) = (&p.name, field_ident(&p.name));
        if p.required {
            let v = query_value(p, quote!(#ident));
            let check = matches!(p.ty, ParamType::String)
                .then(|| quote!(crate::validate::not_empty("", #wire, #ident)?;));
            quote!(#check builder = builder.query(#wire, #v);)
        } else {
            let v = query_value(p, quote!(value));
            quote!(if let Some(value) = #ident { builder = builder.query(#wire, #v); })
        }
    });
    let mutability = if op.query_params.is_empty() {
        quote!()
    } else {
        quote!(mut)
    };
    let body = match &op.body {
        Body::None => quote!(RequestBody::Empty),
        Body::Json { .. } => quote!(crate::operation::json_body(body)?),
        Body::MediaUpload { meta_schema, .. } => {
            let meta = format_ident!("{}", meta_schema);
            quote!({
                let meta = #meta { filename: filename.to_owned(), sha256: crate::operation::sha256_hex(&file) };
                crate::validate::Validate::validate_at(&meta, "meta")?;
                RequestBody::MediaUpload {
                    meta: serde_json::to_vec(&meta)
                        .map_err(|e| crate::Error::validation("meta", format!("cannot be serialized: {e}")))?,
                    filename: filename.to_owned(),
                    file,
                }
            })
        }
    };
    let doc = format!(
        "Validates and prepares `{}` (`{} {}`) without sending it: the path, query and body bytes \
         that will be signed and sent.",
        op.name, op.method, op.path
    );
    quote! {
        #[doc = #doc]
        pub fn #fn_name(#(#sig),*) -> crate::Result<PreparedRequest> {
            #(#enum_checks)*
            let #mutability builder = PathBuilder::new(#path, &[#(#path_params),*])?;
            #(#queries)*
            Ok(PreparedRequest { operation: &specs::#spec, path_and_query: builder.finish(), body: #body })
        }
    }
}

/// A parameter's Rust type when owned (read from JSON): `String`, `i64`, `bool` or the enum.
fn owned_type(ty: &ParamType) -> TokenStream {
    match ty {
        ParamType::String => quote!(String),
        ParamType::Integer => quote!(i64),
        ParamType::Boolean => quote!(bool),
        ParamType::Enum(e) => {
            let e = format_ident!("{}", e);
            quote!(#e)
        }
    }
}

/// `CardExtArgs`: a local operation's parameters, read from wire-named JSON with the same rules
/// as an operation's, so the hand-written implementation only destructures it (exhaustively: a
/// parameter added to the spec then fails to compile until it is used).
fn local_args_struct(op: &LocalOperation) -> TokenStream {
    let ident = format_ident!("{}Args", op.name.to_upper_camel_case());
    let name = &op.name;
    let wires = op.params.iter().map(|p| &p.name);
    let fields = op.params.iter().map(|p| {
        let field = field_ident(&p.name);
        let base = owned_type(&p.ty);
        let ty = if p.required {
            base
        } else {
            quote!(Option<#base>)
        };
        let doc = &p.description;
        quote!(#[doc = #doc] pub #field: #ty)
    });
    let reads = op.params.iter().map(|p| {
        let field = field_ident(&p.name);
        let wire = &p.name;
        if p.required {
            quote!(#field: args.required(#wire)?)
        } else {
            quote!(#field: args.optional(#wire)?)
        }
    });
    let doc = format!(
        "The parameters of the local operation `{name}` (`x-weixin-local-operations`): {}",
        op.summary
    );
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq)]
        pub struct #ident {
            #(#fields),*
        }

        impl #ident {
            /// Reads the wire-named arguments; unknown ones are rejected, naming them.
            pub fn from_json(mut args: crate::dispatch::JsonArgs) -> crate::Result<Self> {
                args.expect_only(#name, &[#(#wires),*], &[])?;
                Ok(Self { #(#reads),* })
            }
        }
    }
}

/// `ModifyStockInfo`'s row of `JSON_OPERATIONS`.
fn json_row(op: &Operation) -> TokenStream {
    let spec = format_ident!("{}", op.const_name());
    let method = &op.snake;
    let prepare = format_ident!("prepare_{}_json", op.snake);
    let decode = match &op.response {
        Response::Empty => quote!(|r| crate::dispatch::decode_nothing(&specs::#spec, r)),
        Response::Json { schema } => {
            let ty = format_ident!("{}", schema);
            quote!(|r| crate::dispatch::decode_checked::<#ty>(&specs::#spec, r))
        }
    };
    quote! {
        crate::dispatch::JsonOperation {
            spec: &specs::#spec,
            method: #method,
            prepare: #prepare,
            decode: #decode,
        }
    }
}

/// `prepare_<op>_json`: the operation's keyword arguments (path, query, body fields) read from
/// JSON into the typed request, then the same `prepare_<op>` the Rust methods use.
fn json_prepare_fn(api: &Api, op: &Operation) -> TokenStream {
    let fn_name = format_ident!("prepare_{}_json", op.snake);
    let prepare = format_ident!("prepare_{}", op.snake);
    let name = &op.name;
    let arguments = api.arguments(op);
    let values = arguments.iter().filter(|a| !a.bytes).map(|a| &a.name);
    let bytes = arguments.iter().filter(|a| a.bytes).map(|a| &a.name);
    let mut reads = Vec::new();
    let mut call_args = Vec::new();
    for p in op.path_params.iter().chain(&op.query_params) {
        let ident = field_ident(&p.name);
        let wire = &p.name;
        let owned = owned_type(&p.ty);
        let borrowed = match p.ty {
            ParamType::String => quote!(&#ident),
            _ => quote!(#ident),
        };
        if p.required {
            reads.push(quote!(let #ident: #owned = args.required(#wire)?;));
            call_args.push(borrowed);
        } else {
            reads.push(quote!(let #ident: Option<#owned> = args.optional(#wire)?;));
            call_args.push(match p.ty {
                ParamType::String => quote!(#ident.as_deref()),
                _ => quote!(#ident),
            });
        }
    }
    match &op.body {
        Body::None => {}
        Body::Json { schema } => {
            let ty = format_ident!("{}", schema);
            let encoded: Vec<&String> = match api.schemas.get(schema) {
                Some(Schema::Object { properties }) => properties
                    .iter()
                    .filter(|p| p.json_encoded)
                    .map(|p| &p.name)
                    .collect(),
                _ => Vec::new(),
            };
            reads.push(quote!(let body: #ty = args.body(&[#(#encoded),*])?;));
            call_args.push(quote!(&body));
        }
        Body::MediaUpload { .. } => {
            reads.push(quote! {
                let filename: String = args.required("filename")?;
                let file = args.required_bytes("file")?;
            });
            call_args.push(quote!(&filename));
            call_args.push(quote!(file));
        }
    }
    let doc = format!(
        "`{name}` from wire-named JSON arguments (path, query and body fields side by side)."
    );
    quote! {
        #[doc = #doc]
        fn #fn_name(mut args: crate::dispatch::JsonArgs) -> crate::Result<PreparedRequest> {
            args.expect_only(#name, &[#(#values),*], &[#(#bytes),*])?;
            #(#reads)*
            #prepare(#(#call_args),*)
        }
    }
}

fn tag_group(api: &Api, tag: &str) -> TokenStream {
    let group = group_ident(tag);
    let methods = api.operations.iter().filter(|op| op.tag == tag).map(|op| {
        let method = format_ident!("{}", op.snake);
        let prepare = format_ident!("prepare_{}", op.snake);
        let spec = format_ident!("{}", op.const_name());
        let sig: Vec<_> = signature(op);
        let params = sig.iter().map(|(i, t)| quote!(#i: #t));
        let args = sig.iter().map(|(i, _)| quote!(#i));
        let (ret, decode) = match &op.response {
            Response::Empty => (
                quote!(()),
                quote!(crate::operation::decode_empty(&specs::#spec, &response)),
            ),
            Response::Json { schema } => {
                let ty = format_ident!("{}", schema);
                (
                    quote!(#ty),
                    quote!(crate::operation::decode_json(&specs::#spec, &response)),
                )
            }
        };
        let doc = method_doc(op);
        quote! {
            #[doc = #doc]
            pub async fn #method(&self, #(#params),*) -> crate::Result<#ret> {
                let request = #prepare(#(#args),*)?;
                let response = self.client.execute(request).await?;
                #decode
            }
        }
    });
    let doc = format!("Operations tagged `{tag}` in `{}`.", api.spec_file);
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, Copy)]
        pub struct #group<'a, E> {
            client: &'a E,
        }

        impl<'a, E: Execute> #group<'a, E> {
            pub fn new(client: &'a E) -> Self {
                Self { client }
            }
            #(#methods)*
        }
    }
}

fn method_doc(op: &Operation) -> String {
    let mut doc = format!(
        "{}\n\n`{} {}` ({})",
        op.summary, op.method, op.path, op.name
    );
    if !op.description.is_empty() {
        doc.push_str("\n\n");
        doc.push_str(&op.description);
    }
    if !op.errors.is_empty() {
        doc.push_str("\n\n# Documented errors\n");
        for e in &op.errors {
            let key = match &e.key {
                ErrorKey::Pay { status, code } => format!("{status} {code}"),
                ErrorKey::MiniProgram { errcode } => errcode.to_string(),
            };
            doc.push_str(&format!("\n- `{key}` {}: {}", e.description, e.solution));
        }
    }
    doc
}

fn format(tokens: TokenStream) -> Result<String> {
    let file: syn::File = syn::parse2(tokens).context("generated Rust does not parse")?;
    Ok(prettyplease::unparse(&file))
}
