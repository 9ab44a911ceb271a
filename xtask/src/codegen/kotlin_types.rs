//! The Kotlin types of the surface: `<Family>Types.kt` (a `@Serializable` data class per object
//! schema, an open sealed class per enum, the notification of `parseNotification`) and
//! `Config.kt` (the client configurations of `core/src/bridge/config.rs`), with the Kotlin
//! writing helpers the other Kotlin generators share (KDoc, names, literals).

use std::collections::BTreeSet;

use anyhow::{bail, Context, Result};
use heck::ToLowerCamelCase;
use serde_json::Value;

use super::bridge::{ConfigStruct, CONFIG_FILE};
use super::js::jsdoc;
use super::model::{Api, Kind, Property, Schema};
use super::surface::{is_binary, raw_property, schema_text};
use super::text::text_lines;

/// Kotlin's hard keywords: a name that is one is written in backticks.
const KEYWORDS: &[&str] = &[
    "as",
    "break",
    "class",
    "continue",
    "do",
    "else",
    "false",
    "for",
    "fun",
    "if",
    "in",
    "interface",
    "is",
    "null",
    "object",
    "package",
    "return",
    "super",
    "this",
    "throw",
    "true",
    "try",
    "typealias",
    "typeof",
    "val",
    "var",
    "when",
    "while",
];

/// The Kotlin type of each Rust configuration type (`core/src/bridge/config.rs`): (Rust type,
/// Kotlin type, secret). A type missing here fails the generation naming the field.
const CONFIG_TYPES: &[(&str, &str, bool)] = &[
    ("String", "String", false),
    ("SecretString", "String", true),
    ("Option<String>", "String?", false),
    ("Option<SecretString>", "String?", true),
    ("Option<Vec<String>>", "List<String>?", false),
    ("Option<f64>", "Double?", false),
    ("Option<u32>", "Int?", false),
    ("Option<bool>", "Boolean?", false),
];

/// The package every generated file declares.
pub const PACKAGE: &str = "dev.weixinkit";

/// A KDoc block (the JSDoc layout; `/*` would open a nested comment in Kotlin, so it is split).
pub fn kdoc(indent: &str, lines: &[String]) -> String {
    let lines: Vec<String> = lines.iter().map(|l| l.replace("/*", "/ *")).collect();
    jsdoc(indent, &lines)
}

/// `out_request_no` → `outRequestNo`, in backticks when it is a keyword; an error when it is not
/// an ASCII identifier.
pub fn ident(wire: &str) -> Result<String> {
    let name = wire.to_lower_camel_case();
    let mut chars = name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        bail!("`{wire}` does not make a Kotlin name (`{name}`)");
    }
    Ok(if KEYWORDS.contains(&name.as_str()) {
        format!("`{name}`")
    } else {
        name
    })
}

/// A Kotlin string literal.
pub fn kt_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `package dev.weixinkit` and the imports every generated file may use.
pub fn preamble(imports: &[&str]) -> String {
    let mut s = format!(
        "\n@file:Suppress(\"unused\", \"RedundantVisibilityModifier\")\n\npackage {PACKAGE}\n\n"
    );
    for i in imports {
        s.push_str(&format!("import {i}\n"));
    }
    s
}

/// The Kotlin type of a spec type (not null).
pub fn kotlin_type(kind: &Kind) -> String {
    match kind {
        Kind::String => "String".into(),
        Kind::Integer => "Long".into(),
        Kind::Number => "Double".into(),
        Kind::Boolean => "Boolean".into(),
        Kind::Any => "JsonObject".into(),
        Kind::Ref(name) => name.clone(),
        Kind::Array(inner) => format!("List<{}>", kotlin_type(inner)),
    }
}

/// The serializer of a Kotlin type written by this generator (`List<X>`, `String`, a class).
pub fn serializer(ty: &str) -> String {
    if let Some(inner) = ty.strip_prefix("List<").and_then(|t| t.strip_suffix('>')) {
        return format!("ListSerializer({})", serializer(inner));
    }
    format!("{ty}.serializer()")
}

/// A property's Kotlin type (not null), or `None` for binary data (not JSON: passed as bytes).
fn property_type(api: &Api, schema: &str, p: &Property) -> Option<String> {
    let raw = raw_property(api, schema, p);
    if raw.is_some_and(|r| is_binary(p, r)) {
        return None;
    }
    if p.json_encoded {
        return Some("JsonElement".into());
    }
    let int32 = raw.and_then(|r| r.get("format")).and_then(Value::as_str) == Some("int32");
    if p.kind == Kind::Integer && int32 {
        return Some("Int".into());
    }
    Some(kotlin_type(&p.kind))
}

/// One property of a generated data class.
pub struct Field {
    pub wire: String,
    pub prop: String,
    /// With `?` when it may be null (then it defaults to null).
    pub ty: String,
    pub doc: Vec<String>,
    /// Left out of `toString()`.
    pub secret: bool,
}

/// `@Serializable data class name(…)`; with a secret field, a `toString()` that redacts it.
pub fn data_class(name: &str, doc: &[String], fields: &[Field]) -> Result<String> {
    let mut seen = BTreeSet::new();
    for f in fields {
        if !seen.insert(&f.prop) {
            bail!("`{name}`: two properties are called `{}` in Kotlin", f.prop);
        }
    }
    let mut s = kdoc("", doc);
    if fields.is_empty() {
        s.push_str(&format!(
            "@Serializable\nclass {name} {{\n    override fun equals(other: Any?): Boolean = other is {name}\n\n    override fun hashCode(): Int = 0\n\n    override fun toString(): String = \"{name}()\"\n}}\n"
        ));
        return Ok(s);
    }
    s.push_str(&format!("@Serializable\ndata class {name}(\n"));
    for f in fields {
        s.push_str(&kdoc("    ", &f.doc));
        let default = if f.ty.ends_with('?') { " = null" } else { "" };
        s.push_str(&format!(
            "    @SerialName({}) val {}: {}{default},\n",
            kt_str(&f.wire),
            f.prop,
            f.ty
        ));
    }
    if fields.iter().any(|f| f.secret) {
        s.push_str(") {\n");
        s.push_str("    /** Secret values are shown as `***`. */\n");
        let parts: Vec<String> = fields
            .iter()
            .map(|f| {
                let plain = f.prop.trim_matches('`');
                if f.secret && !f.ty.ends_with('?') {
                    format!("{plain}=***")
                } else if f.secret {
                    format!("{plain}=${{if ({} == null) \"null\" else \"***\"}}", f.prop)
                } else {
                    format!("{plain}=${{{}}}", f.prop)
                }
            })
            .collect();
        s.push_str(&format!(
            "    override fun toString(): String =\n        \"{name}(\" +\n"
        ));
        for (i, part) in parts.iter().enumerate() {
            let sep = if i + 1 < parts.len() { ", " } else { "" };
            s.push_str(&format!("            \"{part}{sep}\" +\n"));
        }
        s.push_str("            \")\"\n");
    } else {
        s.push_str(") {\n");
    }
    s.push_str(&java_builder(name, fields));
    s.push_str("}\n");
    Ok(s)
}

/// The Java caller's way to build a data class (Kotlin's default arguments are invisible to
/// Java): `new Name.Builder(required…).optional(…).build()`, and `toBuilder()` to change a value.
fn java_builder(name: &str, fields: &[Field]) -> String {
    let required: Vec<&Field> = fields.iter().filter(|f| !f.ty.ends_with('?')).collect();
    let mut s = String::new();
    if fields.iter().any(|f| f.secret) {
        s.push('\n');
    }
    s.push_str("    /**\n");
    s.push_str(&format!(
        "     * Builds a [{name}] from Java, where default arguments are not visible:\n"
    ));
    s.push_str("     * the required properties in the constructor, every property by setter\n");
    s.push_str(&format!(
        "     * (`new {name}.Builder(…).aProperty(…).build()`).\n"
    ));
    s.push_str("     */\n");
    if required.is_empty() {
        s.push_str("    class Builder {\n");
    } else {
        s.push_str("    class Builder(\n");
        for f in &required {
            s.push_str(&format!("        private var {}: {},\n", f.prop, f.ty));
        }
        s.push_str("    ) {\n");
    }
    for f in fields.iter().filter(|f| f.ty.ends_with('?')) {
        s.push_str(&format!(
            "        private var {}: {} = null\n",
            f.prop, f.ty
        ));
    }
    if required.len() < fields.len() {
        s.push('\n');
    }
    for f in fields {
        s.push_str(&format!(
            "        fun {p}(value: {t}): Builder = apply {{ this.{p} = value }}\n\n",
            p = f.prop,
            t = f.ty
        ));
    }
    s.push_str(&format!("        fun build(): {name} = {name}(\n"));
    for f in fields {
        s.push_str(&format!("            {p} = {p},\n", p = f.prop));
    }
    s.push_str("        )\n    }\n\n");
    let required_args: Vec<&str> = required.iter().map(|f| f.prop.as_str()).collect();
    let mut chain = format!("Builder({})", required_args.join(", "));
    for f in fields.iter().filter(|f| f.ty.ends_with('?')) {
        chain.push_str(&format!("\n        .{p}({p})", p = f.prop));
    }
    s.push_str(
        "    /** A [Builder] holding this value's properties (to change some from Java). */\n",
    );
    s.push_str(&format!("    fun toBuilder(): Builder = {chain}\n"));
    s
}

/// An open enum: an object per known value, `Unknown` carrying any other, equal by value.
fn open_enum(name: &str, doc: &[String], values: &[super::model::EnumValue]) -> Result<String> {
    let mut s = kdoc("", doc);
    s.push_str(&format!(
        "@Serializable(with = {name}.Serializer::class)\nsealed class {name}(val value: String) {{\n"
    ));
    let mut variants = Vec::new();
    for v in values {
        let variant = &v.variant;
        if ["Unknown", "Serializer", "Companion"].contains(&variant.as_str()) {
            bail!("enum `{name}`: the value `{}` would be called `{variant}`, a name the open enum uses", v.wire);
        }
        s.push_str(&kdoc("    ", &text_lines(&v.description)));
        s.push_str(&format!(
            "    object {variant} : {name}({})\n\n",
            kt_str(&v.wire)
        ));
        variants.push(variant.as_str());
    }
    s.push_str(&format!(
        "    /** A value this version does not know (the enum stays open). */\n    class Unknown(value: String) : {name}(value)\n\n"
    ));
    s.push_str("    /** Equal when the values are: `Unknown(\"X\")` equals the known `X`. */\n");
    s.push_str(&format!(
        "    final override fun equals(other: Any?): Boolean =\n        other is {name} && other.value == value\n\n"
    ));
    s.push_str("    final override fun hashCode(): Int = value.hashCode()\n\n");
    s.push_str("    final override fun toString(): String = value\n\n");
    s.push_str("    companion object {\n");
    s.push_str("        /** The values the spec documents. */\n");
    s.push_str(&format!(
        "        val known: List<{name}> by lazy {{ listOf({}) }}\n\n",
        variants.join(", ")
    ));
    s.push_str("        /** The known value `value` names, else `Unknown(value)`. */\n");
    s.push_str(&format!(
        "        @JvmStatic\n        fun of(value: String): {name} =\n            known.firstOrNull {{ it.value == value }} ?: Unknown(value)\n    }}\n\n"
    ));
    s.push_str(&format!(
        "    internal object Serializer : KSerializer<{name}> {{\n        override val descriptor: SerialDescriptor =\n            PrimitiveSerialDescriptor({}, PrimitiveKind.STRING)\n\n        override fun serialize(encoder: Encoder, value: {name}) =\n            encoder.encodeString(value.value)\n\n        override fun deserialize(decoder: Decoder): {name} =\n            of(decoder.decodeString())\n    }}\n}}\n",
        kt_str(&format!("{PACKAGE}.{name}"))
    ));
    Ok(s)
}

/// `<Family>Types.kt` after its stamp; `notification` is the type of the notification's
/// `resource` when the family parses notifications.
pub fn types(api: &Api, notification: Option<&str>) -> Result<String> {
    let mut out = preamble(&[
        "kotlinx.serialization.KSerializer",
        "kotlinx.serialization.SerialName",
        "kotlinx.serialization.Serializable",
        "kotlinx.serialization.descriptors.PrimitiveKind",
        "kotlinx.serialization.descriptors.PrimitiveSerialDescriptor",
        "kotlinx.serialization.descriptors.SerialDescriptor",
        "kotlinx.serialization.encoding.Decoder",
        "kotlinx.serialization.encoding.Encoder",
        "kotlinx.serialization.json.JsonElement",
        "kotlinx.serialization.json.JsonObject",
    ]);
    for (name, schema) in &api.schemas {
        out.push('\n');
        let mut doc = schema_text(api, name);
        if doc.is_empty() {
            doc.push(format!("`{name}` ({}).", api.spec_file));
        }
        match schema {
            Schema::Enum { values } => {
                doc.push(String::new());
                doc.push("An open enum: a value not listed here arrives as `Unknown`.".into());
                out.push_str(&open_enum(name, &doc, values).with_context(|| name.clone())?);
            }
            Schema::Object { properties } => {
                let mut fields = Vec::new();
                for p in properties {
                    let Some(ty) = property_type(api, name, p) else {
                        continue;
                    };
                    let mut doc = text_lines(&p.description);
                    if p.json_encoded {
                        doc.push(String::new());
                        doc.push(
                            "JSON-encoded on the wire: an object (encoded for you) or a string \
                             sent as given."
                                .into(),
                        );
                    }
                    fields.push(Field {
                        prop: ident(&p.name).with_context(|| name.clone())?,
                        wire: p.name.clone(),
                        ty: if p.required { ty } else { format!("{ty}?") },
                        doc,
                        secret: p.secret,
                    });
                }
                out.push_str(&data_class(name, &doc, &fields)?);
            }
            Schema::Other => {
                out.push_str(&kdoc("", &doc));
                out.push_str(&format!("typealias {name} = JsonObject\n"));
            }
        }
    }
    if let Some(resource) = notification {
        out.push('\n');
        out.push_str(&notification_class(resource)?);
    }
    Ok(out)
}

/// The verified, decrypted notification `parseNotification` answers.
fn notification_class(resource: &str) -> Result<String> {
    let field = |wire: &str, ty: &str, doc: &str| Field {
        wire: wire.into(),
        prop: wire.to_lower_camel_case(),
        ty: ty.into(),
        doc: vec![doc.into()],
        secret: false,
    };
    data_class(
        "Notification",
        &[
            "A verified notification with its `resource` decrypted: what `parseNotification` \
             answers. De-duplicate by `id` (WeChat may deliver the same notification again)."
                .into(),
        ],
        &[
            field("id", "String", "Unique notification ID."),
            field("create_time", "String", "RFC 3339."),
            field("event_type", "String", "e.g. `COUPON.SEND`."),
            field("resource_type", "String", "`encrypt-resource`."),
            field("summary", "String", "Empty when the envelope has none."),
            field("resource", resource, "The decrypted resource."),
        ],
    )
}

/// `Config.kt` after its stamp: the client configurations.
pub fn config(configs: &[ConfigStruct]) -> Result<String> {
    let mut out = preamble(&[
        "kotlinx.serialization.SerialName",
        "kotlinx.serialization.Serializable",
    ]);
    for c in configs {
        let mut fields = Vec::new();
        for f in &c.fields {
            let Some((_, ty, secret)) = CONFIG_TYPES.iter().find(|(rust, _, _)| *rust == f.ty)
            else {
                bail!(
                    "config field `{}.{}` has the type `{}`, which has no Kotlin type: add it to \
                     CONFIG_TYPES in xtask/src/codegen/kotlin_types.rs ({CONFIG_FILE})",
                    c.name,
                    f.name,
                    f.ty
                );
            };
            fields.push(Field {
                wire: f.name.clone(),
                prop: ident(&f.name)?,
                ty: (*ty).to_owned(),
                doc: text_lines(&f.doc),
                secret: *secret,
            });
        }
        out.push('\n');
        let mut doc = text_lines(&c.doc);
        doc.push(String::new());
        doc.push(format!("Keys as in `{CONFIG_FILE}` (`{}`).", c.name));
        out.push_str(&data_class(&c.name, &doc, &fields)?);
    }
    Ok(out)
}
