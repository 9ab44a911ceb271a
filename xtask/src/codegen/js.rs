//! Writing JavaScript and TypeScript text: JSDoc blocks, string literals, identifiers and
//! property keys. Shared by the Node generators ([`super::node`], [`super::node_errors`]).

use anyhow::{bail, Result};

use super::text::{width, wrap_block};

/// Line width of the generated JS and declarations.
pub const WIDTH: usize = 100;

/// Words a JS parameter or binding may not be (strict mode), and names a generated class member
/// must not take.
const RESERVED: &[&str] = &[
    "arguments",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "constructor",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "eval",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "instanceof",
    "interface",
    "let",
    "new",
    "null",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "var",
    "void",
    "while",
    "with",
    "yield",
];

/// An ASCII JS identifier (`$` and `_` allowed).
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// `name` as a parameter, binding or generated member name, or an error saying why not.
pub fn checked_name(name: &str, what: &str) -> Result<()> {
    if !is_identifier(name) || RESERVED.contains(&name) || name.starts_with('_') {
        bail!("{what} `{name}` is not a usable JavaScript name");
    }
    Ok(())
}

/// A single-quoted JS string literal.
pub fn js_str(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A property key: the name itself when it is an identifier, else quoted.
pub fn key(name: &str) -> String {
    if is_identifier(name) {
        name.to_owned()
    } else {
        js_str(name)
    }
}

/// A JSDoc block at `indent` (nothing when `lines` is empty): one line when it fits, else one
/// ` * ` line per line, blank lines kept as paragraph breaks. Long lines are wrapped keeping
/// their indentation (a list item's continuation two columns further); `*/` in the text is
/// escaped.
pub fn jsdoc(indent: &str, lines: &[String]) -> String {
    let room = WIDTH.saturating_sub(width(indent) + 3).max(40);
    let wrapped = wrap_block(lines, room, |line| line.replace("*/", "*\\/"));
    match wrapped.as_slice() {
        [] => String::new(),
        [only] if width(indent) + width(only) + 7 <= WIDTH => format!("{indent}/** {only} */\n"),
        _ => {
            let mut s = format!("{indent}/**\n");
            for l in &wrapped {
                if l.is_empty() {
                    s.push_str(&format!("{indent} *\n"));
                } else {
                    s.push_str(&format!("{indent} * {l}\n"));
                }
            }
            s.push_str(&format!("{indent} */\n"));
            s
        }
    }
}

/// `module.exports = { A, B };` as a shorthand object literal (what Node's ESM named-export
/// detection understands), one name a line when they do not fit on one.
pub fn exports(names: &[String]) -> String {
    let line = format!("module.exports = {{ {} }};\n", names.join(", "));
    if width(&line) <= WIDTH + 1 {
        return line;
    }
    let mut s = "module.exports = {\n".to_owned();
    for n in names {
        s.push_str(&format!("  {n},\n"));
    }
    s.push_str("};\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsdoc_escapes_the_comment_end_and_wraps() {
        assert_eq!(jsdoc("", &["a */ b".into()]), "/** a *\\/ b */\n");
        assert_eq!(jsdoc("  ", &[]), "");
        let long = vec!["x ".repeat(80), String::new(), "- item ".repeat(20)];
        let doc = jsdoc("  ", &long);
        assert!(doc.starts_with("  /**\n   * x x"), "{doc}");
        assert!(doc.contains("\n   *\n   * - item"), "{doc}");
        assert!(doc.contains("\n   *   item"), "{doc}");
        assert!(doc.lines().all(|l| width(l) <= WIDTH), "{doc}");
    }

    #[test]
    fn names_and_literals() {
        assert_eq!(js_str("it's \\ \n"), "'it\\'s \\\\ \\n'");
        assert_eq!(key("cardId"), "cardId");
        assert_eq!(key("a-b"), "'a-b'");
        assert!(checked_name("body", "parameter").is_ok());
        assert!(checked_name("new", "parameter").is_err());
        assert!(checked_name("_call", "method").is_err());
    }
}
