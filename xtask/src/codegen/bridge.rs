//! The core's binding tables the generated bindings follow — the client-level actions
//! (`ACTIONS` in `core/src/bridge/client.rs`), the error kinds (`ERROR_KINDS` in
//! `core/src/bridge/errors.rs`) and the client configurations (`PayConfig`, `MiniProgramConfig`,
//! `ComponentConfig` and their `CommonConfig` in `core/src/bridge/config.rs`) — read from the Rust source with `syn`. xtask does not depend on
//! the core crate: the core contains generated code, and a broken generation must not stop the
//! generator from compiling.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use quote::ToTokens;
use syn::{Attribute, Expr, Item, Lit};

use super::model::Family;

/// Where the actions are declared, relative to the repository root.
pub const ACTIONS_FILE: &str = "core/src/bridge/client.rs";
/// Where the error kinds are declared, relative to the repository root.
pub const ERRORS_FILE: &str = "core/src/bridge/errors.rs";

/// Where the client configurations are declared, relative to the repository root.
pub const CONFIG_FILE: &str = "core/src/bridge/config.rs";

/// The configuration structures every binding generates, in this order; each also takes the keys
/// of [`COMMON_CONFIG`] (a `#[serde(skip)]` field there, read apart by the core).
pub const CONFIGS: &[&str] = &["PayConfig", "MiniProgramConfig", "ComponentConfig"];
/// The keys every client has.
pub const COMMON_CONFIG: &str = "CommonConfig";

/// A client configuration: its keys as the Rust structure declares them.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigStruct {
    pub name: String,
    pub doc: String,
    pub fields: Vec<ConfigField>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigField {
    /// The key (the Rust field name).
    pub name: String,
    /// The Rust type as written, without spaces (`Option<Vec<String>>`).
    pub ty: String,
    pub doc: String,
}

/// One row of `ACTIONS`.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    pub family: Family,
    /// The name passed to `call` (`parseNotification`).
    pub name: String,
    /// snake_case (`parse_notification`).
    pub method: String,
    pub arguments: Vec<ActionArgument>,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActionArgument {
    pub name: String,
    pub required: bool,
    /// `bytes(name)` rather than `json(name, required)`.
    pub bytes: bool,
}

/// One row of `ERROR_KINDS`.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorKind {
    pub class_name: String,
    pub fields: Vec<String>,
    pub retryable_by_default: bool,
    pub summary: String,
}

/// `ACTIONS` of `root/core/src/bridge/client.rs`.
pub fn load_actions(root: &Path) -> Result<Vec<Action>> {
    let source = read(root, ACTIONS_FILE)?;
    actions(&source).with_context(|| format!("reading ACTIONS in {ACTIONS_FILE}"))
}

/// `ERROR_KINDS` of `root/core/src/bridge/errors.rs`, the base class first.
pub fn load_error_kinds(root: &Path) -> Result<Vec<ErrorKind>> {
    let source = read(root, ERRORS_FILE)?;
    error_kinds(&source).with_context(|| format!("reading ERROR_KINDS in {ERRORS_FILE}"))
}

/// [`CONFIGS`] of `root/core/src/bridge/config.rs`, each followed by the keys of
/// [`COMMON_CONFIG`].
pub fn load_configs(root: &Path) -> Result<Vec<ConfigStruct>> {
    let source = read(root, CONFIG_FILE)?;
    configs(&source).with_context(|| format!("reading the configurations in {CONFIG_FILE}"))
}

pub fn configs(source: &str) -> Result<Vec<ConfigStruct>> {
    let file = syn::parse_file(source).context("not valid Rust")?;
    let find = |name: &str| -> Result<ConfigStruct> {
        let s = file
            .items
            .iter()
            .find_map(|item| match item {
                Item::Struct(s) if s.ident == name => Some(s),
                _ => None,
            })
            .ok_or_else(|| anyhow!("no `struct {name}`"))?;
        let mut fields = Vec::new();
        for f in &s.fields {
            let Some(ident) = &f.ident else {
                bail!("`{name}` is not a struct with named fields");
            };
            if f.attrs.iter().any(serde_skip) {
                continue;
            }
            fields.push(ConfigField {
                name: ident.to_string(),
                ty: f.ty.to_token_stream().to_string().replace(' ', ""),
                doc: doc_text(&f.attrs),
            });
        }
        Ok(ConfigStruct {
            name: name.to_owned(),
            doc: doc_text(&s.attrs),
            fields,
        })
    };
    let common = find(COMMON_CONFIG)?;
    CONFIGS
        .iter()
        .map(|name| {
            let mut config = find(name)?;
            config.fields.extend(common.fields.iter().cloned());
            Ok(config)
        })
        .collect()
}

/// `#[serde(skip)]`.
fn serde_skip(attr: &Attribute) -> bool {
    attr.path().is_ident("serde") && {
        let mut skip = false;
        let _ = attr.parse_nested_meta(|meta| {
            skip |= meta.path.is_ident("skip");
            Ok(())
        });
        skip
    }
}

/// The `///` comments, one line each (the space after `///` removed).
fn doc_text(attrs: &[Attribute]) -> String {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => string(&nv.value).ok(),
            _ => None,
        })
        .map(|l| l.strip_prefix(' ').unwrap_or(&l).trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn read(root: &Path, rel: &str) -> Result<String> {
    std::fs::read_to_string(root.join(rel)).with_context(|| format!("reading {rel}"))
}

pub fn actions(source: &str) -> Result<Vec<Action>> {
    struct_rows(source, "ACTIONS", "Action")?
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let name = string(field(&row, "name")?)?;
            let action = || -> Result<Action> {
                let family = match last_segment(field(&row, "family")?)?.as_str() {
                    "Pay" => Family::Pay,
                    "MiniProgram" => Family::MiniProgram,
                    "Component" => Family::Component,
                    other => {
                        bail!("family `Family::{other}` is not Pay, MiniProgram or Component")
                    }
                };
                let arguments = array(field(&row, "arguments")?)?
                    .iter()
                    .map(argument)
                    .collect::<Result<_>>()?;
                Ok(Action {
                    family,
                    name: name.clone(),
                    method: string(field(&row, "method")?)?,
                    arguments,
                    summary: string(field(&row, "summary")?)?,
                })
            };
            action().with_context(|| format!("action {name:?} (row {i})"))
        })
        .collect()
}

pub fn error_kinds(source: &str) -> Result<Vec<ErrorKind>> {
    let kinds = struct_rows(source, "ERROR_KINDS", "KindInfo")?
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let kind = || -> Result<ErrorKind> {
                Ok(ErrorKind {
                    class_name: string(field(&row, "class_name")?)?,
                    fields: array(field(&row, "fields")?)?
                        .iter()
                        .map(string)
                        .collect::<Result<_>>()?,
                    retryable_by_default: boolean(field(&row, "retryable_by_default")?)?,
                    summary: string(field(&row, "summary")?)?,
                })
            };
            kind().with_context(|| format!("row {i}"))
        })
        .collect::<Result<Vec<_>>>()?;
    if kinds.is_empty() {
        bail!("ERROR_KINDS is empty (its first row is the base class)");
    }
    Ok(kinds)
}

/// The fields of each `Struct { … }` literal in `static NAME: &[Struct] = &[…]`.
fn struct_rows(source: &str, name: &str, ty: &str) -> Result<Vec<BTreeMap<String, Expr>>> {
    let file = syn::parse_file(source).context("not valid Rust")?;
    let expr = file
        .items
        .iter()
        .find_map(|item| match item {
            Item::Static(s) if s.ident == name => Some(&s.expr),
            _ => None,
        })
        .ok_or_else(|| anyhow!("no `static {name}`"))?;
    array(expr)?
        .iter()
        .enumerate()
        .map(|(i, row)| match row {
            Expr::Struct(s) if s.path.is_ident(ty) => Ok(s
                .fields
                .iter()
                .filter_map(|f| match &f.member {
                    syn::Member::Named(ident) => Some((ident.to_string(), f.expr.clone())),
                    syn::Member::Unnamed(_) => None,
                })
                .collect()),
            _ => bail!("element {i} of {name} is not a `{ty} {{ … }}` literal"),
        })
        .collect()
}

fn field<'a>(row: &'a BTreeMap<String, Expr>, name: &str) -> Result<&'a Expr> {
    row.get(name)
        .ok_or_else(|| anyhow!("the field `{name}` is missing"))
}

/// `&[a, b]` or `[a, b]`.
fn array(expr: &Expr) -> Result<Vec<Expr>> {
    match expr {
        Expr::Reference(r) => array(&r.expr),
        Expr::Array(a) => Ok(a.elems.iter().cloned().collect()),
        _ => bail!("expected an array literal `&[…]`"),
    }
}

fn string(expr: &Expr) -> Result<String> {
    match expr {
        Expr::Lit(l) => match &l.lit {
            Lit::Str(s) => Ok(s.value()),
            _ => bail!("expected a string literal"),
        },
        _ => bail!("expected a string literal"),
    }
}

fn boolean(expr: &Expr) -> Result<bool> {
    match expr {
        Expr::Lit(l) => match &l.lit {
            Lit::Bool(b) => Ok(b.value),
            _ => bail!("expected true or false"),
        },
        _ => bail!("expected true or false"),
    }
}

/// `Family::Pay` → `Pay`.
fn last_segment(expr: &Expr) -> Result<String> {
    match expr {
        Expr::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .ok_or_else(|| anyhow!("empty path")),
        _ => bail!("expected a path like `Family::Pay`"),
    }
}

/// `json("body", false)` or `bytes("body")`.
fn argument(expr: &Expr) -> Result<ActionArgument> {
    let Expr::Call(call) = expr else {
        bail!("an argument must be `json(name, required)` or `bytes(name)`");
    };
    let function = last_segment(&call.func)?;
    let args: Vec<&Expr> = call.args.iter().collect();
    match (function.as_str(), args.as_slice()) {
        ("json", [name, required]) => Ok(ActionArgument {
            name: string(name)?,
            required: boolean(required)?,
            bytes: false,
        }),
        ("bytes", [name]) => Ok(ActionArgument {
            name: string(name)?,
            required: true,
            bytes: true,
        }),
        _ => bail!(
            "an argument must be `json(name, required)` or `bytes(name)`, found `{function}(…)` with {} arguments",
            args.len()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_core_tables_are_understood() {
        let root = crate::project_root();
        let actions = load_actions(&root).unwrap();
        let parse = actions
            .iter()
            .find(|a| a.name == "parseNotification")
            .unwrap();
        assert_eq!(parse.family, Family::Pay);
        assert_eq!(parse.method, "parse_notification");
        let args: Vec<(&str, bool, bool)> = parse
            .arguments
            .iter()
            .map(|a| (a.name.as_str(), a.required, a.bytes))
            .collect();
        assert_eq!(args, [("headers", true, false), ("body", true, true)]);
        assert!(!parse.summary.contains('\\'), "{}", parse.summary);

        let kinds = load_error_kinds(&root).unwrap();
        assert_eq!(kinds[0].class_name, "WeixinKitError");
        let api = kinds.iter().find(|k| k.class_name == "ApiError").unwrap();
        assert!(api.fields.contains(&"request_id".to_owned()));
    }

    #[test]
    fn the_configurations_take_the_common_keys_and_skip_the_skipped() {
        let configs = load_configs(&crate::project_root()).unwrap();
        let names: Vec<&str> = configs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, CONFIGS);
        let pay = &configs[0];
        let key = pay.fields.iter().find(|f| f.name == "private_key").unwrap();
        assert_eq!(key.ty, "Option<SecretString>");
        assert!(
            key.doc.starts_with("The merchant private key PEM"),
            "{}",
            key.doc
        );
        assert!(pay.fields.iter().all(|f| f.name != "common"));
        assert!(pay.fields.iter().any(|f| f.name == "callback_timeout"));
        assert!(pay.doc.contains("PayClient"), "{}", pay.doc);
    }

    #[test]
    fn a_shape_not_understood_is_an_error_naming_it() {
        let src = r#"pub static ACTIONS: &[Action] = &[Action { family: Family::Pay, name: "x",
            method: "x", arguments: &[text("a")], summary: "" }];"#;
        let err = format!("{:#}", actions(src).unwrap_err());
        assert!(
            err.contains("action \"x\"") && err.contains("text(…)"),
            "{err}"
        );
        let err = format!("{:#}", actions("const A: u8 = 1;").unwrap_err());
        assert!(err.contains("no `static ACTIONS`"), "{err}");
    }
}
