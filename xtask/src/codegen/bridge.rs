//! The core's binding tables the generated bindings follow — the client-level actions
//! (`ACTIONS` in `core/src/bridge/client.rs`) and the error kinds (`ERROR_KINDS` in
//! `core/src/bridge/errors.rs`) — read from the Rust source with `syn`. xtask does not depend on
//! the core crate: the core contains generated code, and a broken generation must not stop the
//! generator from compiling.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use syn::{Expr, Item, Lit};

use super::model::Family;

/// Where the actions are declared, relative to the repository root.
pub const ACTIONS_FILE: &str = "core/src/bridge/client.rs";
/// Where the error kinds are declared, relative to the repository root.
pub const ERRORS_FILE: &str = "core/src/bridge/errors.rs";

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
                    other => bail!("family `Family::{other}` is not Pay or MiniProgram"),
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
