//! `bindings-node/generated/config.d.ts`: the clients' settings as TypeScript interfaces, read
//! from the core's configuration structures (`core/src/bridge/config.rs`, via [`bridge`]), so
//! that Node declares exactly the keys the core accepts, with the core's documentation. The
//! callbacks (functions, not configuration) are added by the hand-written `index.d.ts`.

use anyhow::{bail, Result};

use super::bridge::{ConfigStruct, CONFIG_FILE};
use super::js::{checked_name, jsdoc};
use super::text::text_lines;

/// Rust type of a configuration field → its TypeScript type. A field of another type fails the
/// generation, naming it.
const TYPES: &[(&str, &str)] = &[
    ("String", "string"),
    ("Option<String>", "string"),
    ("SecretString", "string"),
    ("Option<SecretString>", "string"),
    ("Option<Vec<String>>", "string[]"),
    ("Option<f64>", "number"),
    ("Option<u32>", "number"),
    ("Option<bool>", "boolean"),
];

/// Keys whose value is PEM text: Node also takes the file's bytes (`fs.readFileSync`), which
/// the package turns into text.
const PEM_KEYS: &[&str] = &[
    "private_key",
    "wechatpay_public_key",
    "platform_certificates",
];

/// `config.d.ts` after its stamp.
pub fn declarations(configs: &[ConfigStruct]) -> Result<String> {
    let mut out = String::from(
        "/// <reference types=\"node\" />\n\n\
         /** Text or the bytes of a PEM file, as `fs.readFileSync` returns them. */\n\
         export type Pem = string | Buffer | Uint8Array;\n",
    );
    for c in configs {
        out.push('\n');
        let mut doc = text_lines(&c.doc);
        doc.push(String::new());
        doc.push(format!(
            "The core's keys (`{CONFIG_FILE}`, `{}`): a missing, unknown or invalid one is a \
             `ConfigError` naming it.",
            c.name
        ));
        out.push_str(&jsdoc("", &doc));
        out.push_str(&format!("export interface {} {{\n", c.name));
        for f in &c.fields {
            checked_name(&f.name, "configuration key")?;
            let Some((_, ty)) = TYPES.iter().find(|(rust, _)| *rust == f.ty) else {
                bail!(
                    "config field `{}.{}` has the type `{}`, which has no TypeScript type: add it \
                     to TYPES in xtask/src/codegen/node_config.rs ({CONFIG_FILE})",
                    c.name,
                    f.name,
                    f.ty
                );
            };
            let ty = match (PEM_KEYS.contains(&f.name.as_str()), *ty) {
                (true, "string[]") => "Pem[]",
                (true, _) => "Pem",
                (false, ty) => ty,
            };
            let optional = if f.ty.starts_with("Option<") { "?" } else { "" };
            out.push_str(&jsdoc("  ", &text_lines(&f.doc)));
            out.push_str(&format!("  {}{optional}: {ty};\n", f.name));
        }
        out.push_str("}\n");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::bridge::configs;

    #[test]
    fn keys_types_and_pem_values() {
        let source = r#"
            pub struct PayConfig {
                /// The merchant id.
                pub mchid: String,
                pub private_key: Option<SecretString>,
                pub platform_certificates: Option<Vec<String>>,
                #[serde(skip)]
                pub common: CommonConfig,
            }
            pub struct MiniProgramConfig { pub appid: String }
            pub struct ComponentConfig { pub component_appid: String }
            pub struct CommonConfig { pub timeout: Option<f64> }
        "#;
        let out = declarations(&configs(source).unwrap()).unwrap();
        assert!(out.contains("export interface PayConfig {"), "{out}");
        assert!(
            out.contains("  /** The merchant id. */\n  mchid: string;\n"),
            "{out}"
        );
        assert!(out.contains("  private_key?: Pem;\n"), "{out}");
        assert!(out.contains("  platform_certificates?: Pem[];\n"), "{out}");
        assert!(out.contains("  timeout?: number;\n"), "{out}");
        assert!(!out.contains("common"), "{out}");
    }

    #[test]
    fn an_unmapped_type_fails_naming_the_field() {
        let source = r#"
            pub struct PayConfig { pub pool_size: Option<u8> }
            pub struct MiniProgramConfig { pub appid: String }
            pub struct ComponentConfig { pub component_appid: String }
            pub struct CommonConfig { }
        "#;
        let err = declarations(&configs(source).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`PayConfig.pool_size`") && err.contains("`Option<u8>`"),
            "{err}"
        );
    }
}
