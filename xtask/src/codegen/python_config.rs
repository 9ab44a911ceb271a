//! `bindings-python/python/weixin_kit/_generated/config.py`: the clients' constructors, read
//! from the core's configuration structures (`core/src/bridge/config.rs`, via [`bridge`]) as
//! Node's `config.d.ts` and Kotlin's `Config.kt` are, so that Python takes exactly the keys the
//! core accepts — keyword-only, typed, with the core's documentation. Each structure becomes a
//! class whose `__init__` hands the keys (and the family's callbacks, the one thing the core's
//! configuration does not list: [`FAMILIES`]) to `self._configure(family, config, **callbacks)`,
//! written by hand in `weixin_kit._clients`.
//!
//! [`bridge`]: super::bridge

use anyhow::{bail, Result};

use super::bridge::{ConfigStruct, CONFIG_FILE};
use super::python::{doc_room, docstring};
use super::text::{hanging, text_lines};

/// Rust type of a configuration field → its Python annotation. A field of another type fails
/// the generation, naming it.
const TYPES: &[(&str, &str)] = &[
    ("String", "str"),
    ("SecretString", "str"),
    ("Option<String>", "Optional[str]"),
    ("Option<SecretString>", "Optional[str]"),
    ("Option<Vec<String>>", "Optional[Sequence[str]]"),
    ("Option<f64>", "Optional[float]"),
    ("Option<u32>", "Optional[int]"),
    ("Option<bool>", "Optional[bool]"),
];

/// Keys whose value is PEM text: Python also takes the file's bytes, which the client decodes.
const PEM_KEYS: &[&str] = &[
    "private_key",
    "wechatpay_public_key",
    "platform_certificates",
];

/// A host-language callback a family's constructor takes besides the configuration keys
/// (`bridge::Callbacks`: functions, not configuration).
struct Callback {
    name: &'static str,
    annotation: &'static str,
    doc: &'static str,
}

/// Each configuration structure: the bridge family it configures, and its callbacks.
const FAMILIES: &[(&str, &str, &[Callback])] = &[
    (
        "PayConfig",
        "pay",
        &[Callback {
            name: "signer",
            annotation: "Optional[Signer]",
            doc: "Instead of `private_key`, for a key kept in a KMS/HSM: a function (plain or \
                  `async`) taking the signing string and returning the base64 RSA-SHA256 \
                  signature. Called once per attempt; if it raises or takes longer than \
                  `callback_timeout`, nothing is sent (`CallbackError` / `TimeoutError`).",
        }],
    ),
    (
        "MiniProgramConfig",
        "mp",
        &[
            Callback {
                name: "token_provider",
                annotation: "Optional[TokenProvider]",
                doc: "Instead of `secret`: a function (plain or `async`) returning the access \
                      token to use — your central token service's (for a third-party platform's \
                      authorizers use `ComponentClient.authorizer(appid)`). Called for every \
                      request (cache on your side); on 40001/42001/40014 it is called once more \
                      and the request retried once if it returns another token.",
            },
            Callback {
                name: "card_token_provider",
                annotation: "Optional[TokenProvider]",
                doc: "Instead of `card_secret`: a function (plain or `async`) returning the card \
                      account's access token, like `token_provider`.",
            },
        ],
    ),
    ("ComponentConfig", "component", &[]),
];

/// A doc comment as docstring text: code quoted with two backticks (the core's comments are
/// Markdown: one), and each paragraph's lines joined into one line, to be wrapped again.
fn rst(text: &str) -> String {
    text.replace('`', "``")
        .split("\n\n")
        .map(|p| text_lines(p).join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The module's docstring, the callback types and the base declaring `_configure`.
const PREAMBLE: &str = r#""""The clients' constructors, generated from the core's configuration structures
(``core/src/bridge/config.rs``): each class's ``__init__`` takes exactly the keys the core
accepts, keyword-only and typed, and the family's callbacks, and hands them to
``self._configure`` (``weixin_kit._clients``). ``None`` means absent.
"""

from typing import Any, Awaitable, Callable, Dict, Optional, Sequence, Union

#: PEM text, or the bytes of a PEM file.
Pem = Union[str, bytes]
#: ``token_provider()``: an access token (``str``), plain or async.
TokenProvider = Callable[[], Union[str, Awaitable[str]]]
#: ``signer(signing_string)``: the base64 RSA-SHA256 signature (``str``), plain or async.
Signer = Callable[[str], Union[str, Awaitable[str]]]


class _Configurable:
    __slots__ = ()

    def _configure(self, family: str, config: Dict[str, Any], **callbacks: Any) -> None:
        """Builds the client (``weixin_kit._clients``)."""
        raise NotImplementedError
"#;

/// `config.py` after its stamp.
pub fn module(configs: &[ConfigStruct]) -> Result<String> {
    let mut out = String::from(PREAMBLE);
    if configs.len() != FAMILIES.len() {
        bail!(
            "{} configuration structures but {} rows in FAMILIES \
             (xtask/src/codegen/python_config.rs)",
            configs.len(),
            FAMILIES.len()
        );
    }
    for c in configs {
        let Some((_, family, callbacks)) = FAMILIES.iter().find(|(name, ..)| *name == c.name)
        else {
            bail!(
                "`{}` ({CONFIG_FILE}) has no row in FAMILIES in xtask/src/codegen/python_config.rs",
                c.name
            );
        };
        out.push_str(&class(c, family, callbacks)?);
    }
    Ok(out)
}

fn class(c: &ConfigStruct, family: &str, callbacks: &[Callback]) -> Result<String> {
    let mut params = Vec::new(); // (name, annotation, required, doc)
    for f in &c.fields {
        if !f
            .name
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
        {
            bail!(
                "configuration key `{}.{}` is not a Python identifier",
                c.name,
                f.name
            );
        }
        let Some((_, ty)) = TYPES.iter().find(|(rust, _)| *rust == f.ty) else {
            bail!(
                "config field `{}.{}` has the type `{}`, which has no Python type: add it to \
                 TYPES in xtask/src/codegen/python_config.rs ({CONFIG_FILE})",
                c.name,
                f.name,
                f.ty
            );
        };
        let ty = if PEM_KEYS.contains(&f.name.as_str()) {
            ty.replace("str", "Pem")
        } else {
            (*ty).to_owned()
        };
        let required = !f.ty.starts_with("Option<");
        params.push((f.name.clone(), ty, required, rst(&f.doc)));
    }
    for cb in callbacks {
        params.push((
            cb.name.to_owned(),
            cb.annotation.to_owned(),
            false,
            rst(cb.doc),
        ));
    }
    // Required keys first (keyword-only: the order is the documentation's).
    params.sort_by_key(|(_, _, required, _)| !required);

    let mut s = format!("\n\nclass {}(_Configurable):\n", c.name);
    let mut class_doc = text_lines(&rst(&c.doc));
    class_doc.push(String::new());
    class_doc.push(format!(
        "The constructor of the ``{family}`` clients: the keys of ``{}`` in ``{CONFIG_FILE}``; \
         a missing or invalid one is a ``ConfigError`` (or ``ValidationError``) naming it.",
        c.name
    ));
    s.push_str(&docstring("    ", &class_doc));
    s.push_str("\n    __slots__ = ()\n\n    def __init__(\n        self,\n        *,\n");
    for (name, ty, required, _) in &params {
        let default = if *required { "" } else { " = None" };
        s.push_str(&format!("        {name}: {ty}{default},\n"));
    }
    s.push_str("    ) -> None:\n");
    let mut doc = vec![
        text_lines(&rst(&c.doc)).join(" "),
        String::new(),
        "Args:".to_owned(),
    ];
    let room = doc_room("        ");
    for (name, _, _, text) in &params {
        doc.extend(hanging(&format!("    {name}: "), 8, text, room));
    }
    s.push_str(&docstring("        ", &doc));
    s.push_str(&format!(
        "        self._configure(\n            \"{family}\",\n            {{\n"
    ));
    for f in &c.fields {
        s.push_str(&format!("                \"{0}\": {0},\n", f.name));
    }
    s.push_str("            },\n");
    for cb in callbacks {
        s.push_str(&format!("            {0}={0},\n", cb.name));
    }
    s.push_str("        )\n");
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::bridge::configs;

    const SOURCE: &str = r#"
        pub struct PayConfig {
            /// The merchant id.
            pub mchid: String,
            /// The key, `apiclient_key.pem`.
            pub private_key: Option<SecretString>,
            pub platform_certificates: Option<Vec<String>>,
            #[serde(skip)]
            pub common: CommonConfig,
        }
        pub struct MiniProgramConfig { pub appid: String }
        pub struct ComponentConfig { pub component_appid: String }
        pub struct CommonConfig { pub timeout: Option<f64> }
    "#;

    #[test]
    fn keys_types_callbacks_and_pem_values() {
        let out = module(&configs(SOURCE).unwrap()).unwrap();
        assert!(out.contains("class PayConfig(_Configurable):"), "{out}");
        assert!(out.contains("        mchid: str,\n"), "{out}");
        assert!(
            out.contains("        private_key: Optional[Pem] = None,\n"),
            "{out}"
        );
        assert!(
            out.contains("        platform_certificates: Optional[Sequence[Pem]] = None,\n"),
            "{out}"
        );
        assert!(
            out.contains("        timeout: Optional[float] = None,\n"),
            "{out}"
        );
        assert!(
            out.contains("        signer: Optional[Signer] = None,\n"),
            "{out}"
        );
        assert!(
            out.contains("            mchid: The merchant id.\n"),
            "{out}"
        );
        assert!(out.contains("``apiclient_key.pem``"), "{out}");
        assert!(
            out.contains("                \"timeout\": timeout,\n"),
            "{out}"
        );
        assert!(out.contains("            signer=signer,\n"), "{out}");
        assert!(!out.contains("common"), "{out}");
        assert!(
            out.contains("class ComponentConfig(_Configurable):"),
            "{out}"
        );
        assert!(out.contains("            \"component\",\n"), "{out}");
    }

    #[test]
    fn an_unmapped_type_fails_naming_the_field() {
        let source = SOURCE.replace("pub mchid: String", "pub pool_size: Option<u8>");
        let err = module(&configs(&source).unwrap()).unwrap_err().to_string();
        assert!(
            err.contains("`PayConfig.pool_size`") && err.contains("`Option<u8>`"),
            "{err}"
        );
    }
}
