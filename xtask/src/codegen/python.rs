//! The Python surface of one spec, in `bindings-python/python/weixin_kit/_generated/`:
//!
//! - `<family>.py`: the runtime glue. One class per tag whose methods take keyword-only
//!   arguments under their wire names and hand them to the client's `_call(name, args)`
//!   (`None` = absent; the native side drops it), the family mixin the clients inherit, and
//!   `OPERATIONS` (official name → group attribute, method name). No logic beyond the dict.
//! - `<family>.pyi`: the typed truth. A `TypedDict` per object schema (wire names as keys),
//!   `Literal` aliases for enums, and the sync and async groups with typed signatures and the
//!   spec's documentation.
//!
//! Plain strings, laid out as black would (lines up to 99 columns, exploded one item per line
//! when they do not fit): CI has no Python formatter, and the output is committed.

use std::collections::BTreeSet;

use anyhow::{bail, Context, Result};
use heck::ToSnakeCase;

use super::model::{Api, Argument, Family, Kind, Property, Response, Schema};
use super::surface::{
    error_class, family_class, group_class, method_text, schema_text, tagged, Source,
};
use super::text::{hanging, text_lines, width, wrap_block};

/// Where the Python files go, relative to the repository root.
pub const DIR: &str = "bindings-python/python/weixin_kit/_generated";

/// Line width of the generated code and docstrings (the package's own style).
const WIDTH: usize = 99;

/// Names the stubs import from `typing`: no schema or group may take them.
const TYPING_NAMES: &[&str] = &["Any", "Awaitable", "Callable", "Literal", "TypedDict"];

const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// `_generated/__init__.py`.
pub fn package_init(apis: &[&Api]) -> String {
    let mut doc = vec![
        "Code generated from ``spec/`` by ``cargo xtask codegen``: per-operation glue and typed \
         stubs, one module per API family."
            .to_owned(),
        String::new(),
    ];
    for api in apis {
        doc.push(format!(
            "- ``{}``: ``{}`` ({})",
            api.family.module(),
            api.spec_file,
            api.title
        ));
    }
    docstring("", &doc)
}

/// `<family>.py`: the runtime glue.
pub fn runtime(api: &Api) -> Result<String> {
    let groups = groups(api)?;
    let module = api.family.module();
    let mut out = docstring(
        "",
        &[
            format!(
                "Per-operation glue for ``{}`` ({}).",
                api.spec_file, api.title
            ),
            String::new(),
            format!(
                "One class per tag; each method hands its keyword arguments, under their wire \
                 names, to the client's ``_call(name, args)`` (``None`` means absent). Types and \
                 documentation: ``{module}.pyi``."
            ),
        ],
    );
    for g in &groups {
        out.push_str("\n\n");
        out.push_str(&format!("class {}:\n", g.class));
        out.push_str(&docstring(
            "    ",
            &[format!(
                "Operations tagged ``{}`` (``{}``).",
                g.tag, api.spec_file
            )],
        ));
        out.push_str("\n    __slots__ = (\"_call\",)\n\n");
        out.push_str("    def __init__(self, call):\n        self._call = call\n");
        for m in &g.methods {
            out.push('\n');
            let mut params = vec![Py::atom("self")];
            if !m.args.is_empty() {
                params.push(Py::atom("*"));
            }
            params.extend(m.args.iter().map(|a| {
                Py::atom(if a.required {
                    a.ident.clone()
                } else {
                    format!("{}=None", a.ident)
                })
            }));
            out.push_str(&render(
                "    ",
                "",
                &Py::seq(format!("def {}(", m.method), params, "):"),
                "",
            ));
            let location = match m.source {
                Source::Remote(op) => format!("``{} {}`` ({})", op.method, op.path, op.name),
                Source::Local(op) => format!("Computed by the client, no request ({}).", op.name),
            };
            out.push_str(&docstring(
                "        ",
                &[m.summary().to_owned(), String::new(), location],
            ));
            let dict = Py::seq(
                "{",
                m.args
                    .iter()
                    .map(|a| Py::atom(format!("{}: {}", py_str(&a.wire), a.ident)))
                    .collect(),
                "}",
            );
            out.push_str(&render(
                "        ",
                "return ",
                &Py::seq("self._call(", vec![Py::atom(py_str(m.name)), dict], ")"),
                "",
            ));
        }
    }
    let (mixin, client, async_client) = mixin(api.family);
    out.push_str("\n\n");
    out.push_str(&format!("class {mixin}:\n"));
    out.push_str(&docstring(
        "    ",
        &[format!(
            "The operation groups of ``{}``; mixed into ``{client}`` and ``{async_client}``.",
            api.spec_file
        )],
    ));
    out.push_str("\n    __slots__ = ()\n");
    for g in &groups {
        out.push_str(&format!(
            "\n    @property\n    def {}(self) -> \"{}\":\n",
            g.attr, g.class
        ));
        out.push_str(&docstring(
            "        ",
            &[format!("Operations tagged ``{}``.", g.tag)],
        ));
        out.push_str(&format!("        return {}(self._call)\n", g.class));
    }
    out.push_str(
        "\n\n# The async clients' ``_call`` returns awaitables, so the same glue serves them; the \
         stubs\n# give the async groups their own (awaitable) signatures.\n",
    );
    for g in &groups {
        out.push_str(&format!("Async{0} = {0}\n", g.class));
    }
    out.push_str(&format!("Async{mixin} = {mixin}\n"));
    out.push_str("\n# Official operation name -> (group attribute, method name).\n");
    out.push_str(&operations_table(&groups));
    Ok(out)
}

/// `<family>.pyi`: the typed stubs.
pub fn stubs(api: &Api) -> Result<String> {
    let groups = groups(api)?;
    check_top_level_names(api, &groups)?;
    let (mixin, client, async_client) = mixin(api.family);
    let mut out = docstring(
        "",
        &[
            format!("Types of ``{}`` ({}).", api.spec_file, api.title),
            String::new(),
            format!(
                "A ``TypedDict`` per object schema (wire names as keys), a ``Literal`` alias per \
                 enum, and the operation groups of ``{client}`` and ``{async_client}``, typed and \
                 documented."
            ),
        ],
    );
    out.push_str("\nfrom typing import Any, Awaitable, Callable, Literal, TypedDict\n");

    for (name, schema) in &api.schemas {
        out.push_str("\n\n");
        let doc = schema_doc(api, name);
        match schema {
            Schema::Enum { values } => {
                let literal = Py::seq(
                    "Literal[",
                    values.iter().map(|v| Py::atom(py_str(&v.wire))).collect(),
                    "]",
                );
                out.push_str(&render("", &format!("{name} = "), &literal, ""));
                let mut lines = doc;
                lines.push(String::new());
                lines.push(
                    "An open enum: a value not listed here may arrive in a response (as a plain \
                     string)."
                        .to_owned(),
                );
                let described: Vec<String> = values
                    .iter()
                    .filter(|v| !v.description.is_empty())
                    .map(|v| format!("- ``{}``: {}", v.wire, v.description))
                    .collect();
                if !described.is_empty() {
                    lines.push(String::new());
                    lines.extend(described);
                }
                out.push_str(&docstring("", &lines));
            }
            Schema::Object { properties } => {
                out.push_str(&typed_dict(name, properties, &doc));
            }
            Schema::Other => {
                out.push_str(&format!("{name} = dict[str, Any]\n"));
                out.push_str(&docstring("", &doc));
            }
        }
    }

    for asynchronous in [false, true] {
        for g in &groups {
            out.push_str("\n\n");
            out.push_str(&stub_group(api, g, asynchronous));
        }
    }

    for asynchronous in [false, true] {
        let prefix = if asynchronous { "Async" } else { "" };
        out.push_str(&format!("\n\nclass {prefix}{mixin}:\n"));
        out.push_str(&docstring(
            "    ",
            &[format!(
                "The operation groups of ``{}``; mixed into ``{}``.",
                api.spec_file,
                if asynchronous { async_client } else { client }
            )],
        ));
        for g in &groups {
            out.push_str(&format!(
                "\n    @property\n    def {}(self) -> {prefix}{}:\n",
                g.attr, g.class
            ));
            out.push_str(&docstring(
                "        ",
                &[format!("Operations tagged ``{}``.", g.tag)],
            ));
        }
    }

    out.push_str("\n\n# Official operation name -> (group attribute, method name).\n");
    out.push_str("OPERATIONS: dict[str, tuple[str, str]]\n");
    Ok(out)
}

/// The family mixin's class name and the sync and async clients it is mixed into.
fn mixin(family: Family) -> (&'static str, &'static str, &'static str) {
    match family {
        Family::Pay => (family_class(family), "PayClient", "AsyncPayClient"),
        Family::MiniProgram => (
            family_class(family),
            "MiniProgramClient",
            "AsyncMiniProgramClient",
        ),
        Family::Component => (
            family_class(family),
            "ComponentClient",
            "AsyncComponentClient",
        ),
    }
}

struct Group<'a> {
    tag: &'a str,
    /// The mixin's property: `busifavor`, `service_card`.
    attr: String,
    /// `BusifavorOperations`.
    class: String,
    methods: Vec<Method<'a>>,
}

struct Method<'a> {
    /// The official name, passed to `_call`.
    name: &'a str,
    /// `modify_stock_info`.
    method: &'a str,
    source: Source<'a>,
    /// Required first, then optional, each in the spec's order (path, query, body).
    args: Vec<PyArg>,
}

impl Method<'_> {
    fn summary(&self) -> &str {
        self.source.summary()
    }
}

struct PyArg {
    wire: String,
    /// The Python parameter: the wire name, or `from_` where the wire name is a keyword.
    ident: String,
    required: bool,
    /// The stub's type, without `| None`.
    ty: String,
    description: String,
    /// What the docs say when the argument has no description: its schema's summary.
    doc_fallback: String,
}

/// The operation groups, sorted by tag: each tag's operations in spec order, then its local
/// operations.
fn groups(api: &Api) -> Result<Vec<Group<'_>>> {
    let mut out = Vec::new();
    for (tag, sources) in tagged(api) {
        let attr = tag.to_snake_case();
        if !is_identifier(&attr) || is_keyword(&attr) {
            bail!("tag `{tag}` does not make a Python attribute name (`{attr}`)");
        }
        let mut methods = Vec::new();
        for source in sources {
            let (name, method) = (source.name(), source.snake());
            if !is_identifier(method) || is_keyword(method) || method.starts_with('_') {
                bail!("{name}: `{method}` is not a usable Python method name");
            }
            let encoded = source.json_encoded(api);
            methods.push(Method {
                name,
                method,
                source,
                args: py_args(api, name, source.arguments(api), &encoded)?,
            });
        }
        out.push(Group {
            tag,
            class: group_class(tag),
            attr,
            methods,
        });
    }
    Ok(out)
}

fn py_args(
    api: &Api,
    owner: &str,
    arguments: Vec<Argument>,
    json_encoded: &BTreeSet<String>,
) -> Result<Vec<PyArg>> {
    let mut idents = BTreeSet::new();
    let mut out = Vec::new();
    for a in arguments {
        let ident = param_name(&a.name).with_context(|| owner.to_owned())?;
        if !idents.insert(ident.clone()) {
            bail!("{owner}: two arguments become the Python parameter `{ident}`");
        }
        let ty = if a.bytes {
            "bytes".to_owned()
        } else if json_encoded.contains(&a.name) {
            "str | dict[str, Any]".to_owned()
        } else {
            py_type(&a.kind)
        };
        let doc_fallback = match &a.kind {
            Kind::Ref(schema) => referenced_doc(api, schema),
            Kind::Array(inner) => match inner.as_ref() {
                Kind::Ref(schema) => format!("A list of {}", referenced_doc(api, schema)),
                _ => String::new(),
            },
            _ => String::new(),
        };
        out.push(PyArg {
            ident,
            required: a.required,
            ty,
            description: a.description,
            doc_fallback,
            wire: a.name,
        });
    }
    // Keyword-only, so the order is cosmetic: required first, as callers read them.
    out.sort_by_key(|a| !a.required);
    Ok(out)
}

/// "``Schema``: its first paragraph", for arguments that are a schema with no description of
/// their own.
fn referenced_doc(api: &Api, schema: &str) -> String {
    let doc = schema_doc(api, schema);
    let first: Vec<&str> = doc
        .iter()
        .take_while(|l| !l.is_empty())
        .map(String::as_str)
        .collect();
    format!("``{schema}``: {}", first.join(" "))
}

/// The Python parameter for a wire name: itself when legal (`type` is), `name_` for a keyword
/// (and for `self`); the `_call` dict keeps the wire name.
fn param_name(wire: &str) -> Result<String> {
    if !is_identifier(wire) {
        bail!("argument `{wire}` is not a Python identifier");
    }
    Ok(if is_keyword(wire) || wire == "self" {
        format!("{wire}_")
    } else {
        wire.to_owned()
    })
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_keyword(s: &str) -> bool {
    KEYWORDS.contains(&s)
}

/// The stub type of a schema kind.
fn py_type(kind: &Kind) -> String {
    match kind {
        Kind::String => "str".into(),
        Kind::Integer => "int".into(),
        Kind::Number => "float".into(),
        Kind::Boolean => "bool".into(),
        Kind::Any => "dict[str, Any]".into(),
        Kind::Array(inner) => format!("list[{}]", py_type(inner)),
        Kind::Ref(name) => name.clone(),
    }
}

/// Every name the stub defines at the top level is a usable identifier and defined once.
fn check_top_level_names(api: &Api, groups: &[Group]) -> Result<()> {
    let (mixin, _, _) = mixin(api.family);
    let mut names: BTreeSet<String> = TYPING_NAMES.iter().map(|s| s.to_string()).collect();
    let mut define = |name: String, what: &str| -> Result<()> {
        if !is_identifier(&name) || is_keyword(&name) {
            bail!("{what} `{name}` is not a Python identifier");
        }
        if !names.insert(name.clone()) {
            bail!("{what} `{name}` clashes with another name in the Python stubs");
        }
        Ok(())
    };
    for name in api.schemas.keys() {
        define(name.clone(), "schema")?;
        define(format!("_{name}Required"), "schema")?;
        define(format!("_{name}Optional"), "schema")?;
    }
    for g in groups {
        define(g.class.clone(), "operation group")?;
        define(format!("Async{}", g.class), "operation group")?;
    }
    define(mixin.to_owned(), "mixin")?;
    define(format!("Async{mixin}"), "mixin")?;
    define("OPERATIONS".to_owned(), "table")?;
    Ok(())
}

/// A schema's documentation: the English summary, the document's text, else its title.
fn schema_doc(api: &Api, name: &str) -> Vec<String> {
    let mut lines = schema_text(api, name);
    if lines.is_empty() {
        lines.push(format!("``{name}`` ({}).", api.spec_file));
    }
    lines
}

/// A `TypedDict` for an object schema: required keys plain, the others in a `total=False`
/// class. (`Required`/`NotRequired` are in `typing` only from Python 3.11, and the package
/// supports 3.9; this split means the same on every version.) Keys that are not identifiers
/// (keywords) use the functional syntax.
fn typed_dict(name: &str, properties: &[Property], doc: &[String]) -> String {
    let required: Vec<&Property> = properties.iter().filter(|p| p.required).collect();
    let optional: Vec<&Property> = properties.iter().filter(|p| !p.required).collect();
    let field = |p: &Property| {
        let mut s = format!("    {}: {}\n", p.name, py_type(&p.kind));
        if !p.description.is_empty() {
            s.push_str(&docstring("    ", &text_lines(&p.description)));
        }
        s
    };
    let class = |head: String, doc: &[String], fields: &[&Property]| {
        let mut s = format!("class {head}:\n");
        s.push_str(&docstring("    ", doc));
        for p in fields {
            s.push('\n');
            s.push_str(&field(p));
        }
        s
    };
    let plain = properties
        .iter()
        .all(|p| is_identifier(&p.name) && !is_keyword(&p.name));
    if plain {
        return match (required.is_empty(), optional.is_empty()) {
            (_, true) => class(format!("{name}(TypedDict)"), doc, &required),
            (true, false) => class(format!("{name}(TypedDict, total=False)"), doc, &optional),
            (false, false) => {
                let base = format!("_{name}Required");
                let mut s = class(
                    format!("{base}(TypedDict)"),
                    &[format!("The required keys of ``{name}``.")],
                    &required,
                );
                s.push_str("\n\n");
                s.push_str(&class(
                    format!("{name}({base}, total=False)"),
                    doc,
                    &optional,
                ));
                s
            }
        };
    }
    let functional = |part: &str, fields: &[&Property], total: bool| {
        let dict = Py::seq(
            "{",
            fields
                .iter()
                .map(|p| Py::atom(format!("{}: {}", py_str(&p.name), py_type(&p.kind))))
                .collect(),
            "}",
        );
        let mut args = vec![Py::atom(py_str(part)), dict];
        if !total {
            args.push(Py::atom("total=False"));
        }
        render(
            "",
            &format!("{part} = "),
            &Py::seq("TypedDict(", args, ")"),
            "",
        )
    };
    let mut s = String::new();
    let mut bases = Vec::new();
    if !required.is_empty() {
        let part = format!("_{name}Required");
        s.push_str(&functional(&part, &required, true));
        bases.push(part);
    }
    if !optional.is_empty() {
        let part = format!("_{name}Optional");
        s.push_str(&functional(&part, &optional, false));
        bases.push(part);
    }
    s.push_str("\n\n");
    s.push_str(&format!("class {name}({}):\n", bases.join(", ")));
    let mut lines = doc.to_vec();
    let mut described = properties
        .iter()
        .filter(|p| !p.description.is_empty())
        .peekable();
    if described.peek().is_some() {
        lines.push(String::new());
        lines.push("Keys:".to_owned());
        for p in described {
            lines.extend(hanging(
                &format!("    {}: ", p.name),
                8,
                &p.description,
                doc_room("    "),
            ));
        }
    }
    s.push_str(&docstring("    ", &lines));
    s
}

/// One operation group of the stubs, sync or async.
fn stub_group(api: &Api, g: &Group, asynchronous: bool) -> String {
    let prefix = if asynchronous { "Async" } else { "" };
    let mut s = format!("class {prefix}{}:\n", g.class);
    s.push_str(&docstring(
        "    ",
        &[format!(
            "Operations tagged ``{}`` (``{}``){}.",
            g.tag,
            api.spec_file,
            if asynchronous { ", awaitable" } else { "" }
        )],
    ));
    let call = if asynchronous {
        "Callable[[str, dict[str, Any]], Awaitable[Any]]"
    } else {
        "Callable[[str, dict[str, Any]], Any]"
    };
    s.push_str(&format!(
        "\n    def __init__(self, call: {call}) -> None: ...\n"
    ));
    for m in &g.methods {
        let mut params = vec![Py::atom("self")];
        if !m.args.is_empty() {
            params.push(Py::atom("*"));
        }
        params.extend(m.args.iter().map(|a| {
            Py::atom(if a.required {
                format!("{}: {}", a.ident, a.ty)
            } else {
                format!("{}: {} | None = None", a.ident, a.ty)
            })
        }));
        let returns = match m.source {
            Source::Remote(op) => match &op.response {
                Response::Empty => "None".to_owned(),
                Response::Json { schema } => schema.clone(),
            },
            Source::Local(op) => op.result_schema.clone(),
        };
        let def = if asynchronous { "async def" } else { "def" };
        s.push('\n');
        s.push_str(&render(
            "    ",
            "",
            &Py::seq(
                format!("{def} {}(", m.method),
                params,
                format!(") -> {returns}:"),
            ),
            "",
        ));
        s.push_str(&docstring("        ", &method_doc(api.family, m)));
    }
    s
}

/// A stub method's docstring: summary, where it goes, the document's description, the
/// arguments and the documented errors.
fn method_doc(family: Family, m: &Method) -> Vec<String> {
    let text = method_text(m.source, |c| format!("``{c}``"));
    let mut lines = text.head;
    if !m.args.is_empty() {
        lines.push(String::new());
        lines.push("Args:".to_owned());
        for a in &m.args {
            let text = if a.description.is_empty() {
                a.doc_fallback.clone()
            } else {
                a.description.clone()
            };
            let label = if a.ident == a.wire {
                format!("    {}: ", a.ident)
            } else {
                format!("    {} (wire name ``{}``): ", a.ident, a.wire)
            };
            lines.extend(hanging(&label, 8, &text, doc_room("        ")));
        }
    }
    if !text.errors.is_empty() {
        lines.push(String::new());
        lines.push(format!(
            "Documented errors (raised as ``weixin_kit.{}``):",
            error_class(family)
        ));
        for e in &text.errors {
            lines.extend(hanging("    - ", 6, e, doc_room("        ")));
        }
    }
    lines
}

/// `OPERATIONS: dict[str, tuple[str, str]] = {…}` over every group's methods.
fn operations_table(groups: &[Group]) -> String {
    let items = groups
        .iter()
        .flat_map(|g| {
            g.methods.iter().map(move |m| {
                Py::atom(format!(
                    "{}: ({}, {})",
                    py_str(m.name),
                    py_str(&g.attr),
                    py_str(m.method)
                ))
            })
        })
        .collect();
    render(
        "",
        "OPERATIONS: dict[str, tuple[str, str]] = ",
        &Py::seq("{", items, "}"),
        "",
    )
}

// --- layout -------------------------------------------------------------------------------------

/// An expression to lay out: an atom, or a bracketed sequence that is exploded one item per
/// line (with a trailing comma) when it does not fit on one line.
enum Py {
    Atom(String),
    Seq {
        open: String,
        items: Vec<Py>,
        close: String,
    },
}

impl Py {
    fn atom(s: impl Into<String>) -> Py {
        Py::Atom(s.into())
    }

    fn seq(open: impl Into<String>, items: Vec<Py>, close: impl Into<String>) -> Py {
        Py::Seq {
            open: open.into(),
            items,
            close: close.into(),
        }
    }

    fn flat(&self) -> String {
        match self {
            Py::Atom(s) => s.clone(),
            Py::Seq { open, items, close } => format!(
                "{open}{}{close}",
                items.iter().map(Py::flat).collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// `indent` + `prefix` + the expression + `suffix`, on one line if it fits, else exploded.
fn render(indent: &str, prefix: &str, node: &Py, suffix: &str) -> String {
    let line = format!("{indent}{prefix}{}{suffix}", node.flat());
    match node {
        Py::Seq { open, items, close } if width(&line) > WIDTH && !items.is_empty() => {
            let inner = format!("{indent}    ");
            let mut s = format!("{indent}{prefix}{open}\n");
            for item in items {
                s.push_str(&render(&inner, "", item, ","));
            }
            s.push_str(&format!("{indent}{close}{suffix}\n"));
            s
        }
        _ => line + "\n",
    }
}

/// Columns a docstring line at `indent` may use (the opening quotes counted everywhere).
pub(super) fn doc_room(indent: &str) -> usize {
    WIDTH.saturating_sub(width(indent) + 3).max(40)
}

/// A docstring at `indent`: one line if it fits, else the lines (blank ones are paragraph
/// breaks) with the closing quotes on their own line. A line too long is wrapped, keeping its
/// own indentation (and a list item's, two columns more, on its continuation lines).
pub(super) fn docstring(indent: &str, lines: &[String]) -> String {
    let room = doc_room(indent);
    let mut wrapped = wrap_block(lines, room, |line| {
        line.replace('\\', "\\\\").replace("\"\"\"", "\\\"\\\"\\\"")
    });
    if wrapped.is_empty() {
        wrapped.push(String::new());
    }
    if let [only] = wrapped.as_slice() {
        if width(indent) + width(only) + 6 <= WIDTH && !only.ends_with('"') {
            return format!("{indent}\"\"\"{only}\"\"\"\n");
        }
    }
    let mut s = format!("{indent}\"\"\"{}\n", wrapped[0]);
    for l in &wrapped[1..] {
        if l.is_empty() {
            s.push('\n');
        } else {
            s.push_str(&format!("{indent}{l}\n"));
        }
    }
    s.push_str(&format!("{indent}\"\"\"\n"));
    s
}

/// A Python string literal.
fn py_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_names() {
        assert_eq!(param_name("stock_id").unwrap(), "stock_id");
        assert_eq!(param_name("type").unwrap(), "type"); // a soft keyword: legal
        assert_eq!(param_name("from").unwrap(), "from_");
        assert_eq!(param_name("self").unwrap(), "self_");
        assert!(param_name("x-y").is_err());
    }

    #[test]
    fn layout_fits_or_explodes() {
        let short = Py::seq("f(", vec![Py::atom("a"), Py::atom("b")], ")");
        assert_eq!(render("", "x = ", &short, ""), "x = f(a, b)\n");
        let long = Py::seq(
            "f(",
            (0..20).map(|i| Py::atom(format!("argument_{i}"))).collect(),
            ")",
        );
        let text = render("    ", "", &long, "");
        assert!(text.starts_with("    f(\n        argument_0,\n"), "{text}");
        assert!(text.ends_with("        argument_19,\n    )\n"), "{text}");
    }

    #[test]
    fn docstrings_escape_quotes_and_backslashes() {
        let d = docstring("", &[r#"a \ b """ c"#.to_owned()]);
        assert_eq!(d, "\"\"\"a \\\\ b \\\"\\\"\\\" c\"\"\"\n");
        let ends_in_quote = docstring("", &["say \"hi\"".to_owned()]);
        assert_eq!(ends_in_quote, "\"\"\"say \"hi\"\n\"\"\"\n");
    }
}
