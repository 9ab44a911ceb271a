//! The third family: a tag with `x-weixin-client: "component"` gives its operations, webhooks
//! and the schemas only they reach to the third-party platform's family (`component`), with
//! `Auth::ComponentAccessToken`; the mini-program family keeps the rest, unchanged.
//!
//! Expected values are read from `spec/miniprogram.json` here, independently of the model.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::model::{Api, Auth, Family};
use super::{generate, kotlin, node, python, GeneratedFile, SPECS};
use crate::project_root;

const MP_SPEC: &str = "spec/miniprogram.json";

fn doc() -> Value {
    serde_json::from_str(&std::fs::read_to_string(project_root().join(MP_SPEC)).unwrap()).unwrap()
}

/// The tags whose `x-weixin-client` is `component`.
fn component_tags(doc: &Value) -> BTreeSet<String> {
    doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["x-weixin-client"] == "component")
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// operationId → (tag, security scheme names) of every operation in the document.
fn spec_operations(doc: &Value) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let schemes = op["security"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|s| s.as_object().unwrap().keys().cloned())
                .collect();
            out.push((
                op["operationId"].as_str().unwrap().to_owned(),
                op["tags"][0].as_str().unwrap().to_owned(),
                schemes,
            ));
        }
    }
    out
}

fn names(api: &Api) -> BTreeSet<String> {
    api.operations.iter().map(|o| o.name.clone()).collect()
}

#[test]
fn the_component_tag_is_a_family_of_its_own() {
    let doc = doc();
    let tags = component_tags(&doc);
    assert_eq!(tags, BTreeSet::from(["component".to_owned()]));
    let ops = spec_operations(&doc);
    let (component_ops, mp_ops): (Vec<_>, Vec<_>) =
        ops.iter().partition(|(_, tag, _)| tags.contains(tag));
    assert_eq!(component_ops.len(), 3, "{component_ops:?}");

    let apis = Api::load_all(&project_root(), MP_SPEC).unwrap();
    let families: Vec<Family> = apis.iter().map(|a| a.family).collect();
    assert_eq!(families, [Family::MiniProgram, Family::Component]);
    let (mp, component) = (&apis[0], &apis[1]);
    assert_eq!(
        names(component),
        component_ops.iter().map(|(n, _, _)| n.clone()).collect()
    );
    assert_eq!(
        names(mp),
        mp_ops.iter().map(|(n, _, _)| n.clone()).collect()
    );
    // `Api::load` (the document's own family) is the mini-program part.
    assert_eq!(
        names(&Api::load(&project_root(), MP_SPEC).unwrap()),
        names(mp)
    );

    // Auth follows each operation's security scheme.
    for (name, _, schemes) in &component_ops {
        let op = component
            .operations
            .iter()
            .find(|o| &o.name == name)
            .unwrap();
        let expected = match schemes.as_slice() {
            [] => Auth::None,
            [s] if s == "ComponentAccessToken" => Auth::ComponentAccessToken,
            other => panic!("{name}: unexpected security {other:?}"),
        };
        assert_eq!(op.auth, expected, "{name}");
    }
    assert!(component
        .operations
        .iter()
        .any(|o| o.auth == Auth::ComponentAccessToken));
    assert!(mp
        .operations
        .iter()
        .all(|o| o.auth != Auth::ComponentAccessToken));

    // The push goes with its tag; the mini-program family has no webhooks.
    let webhook_names: Vec<&str> = component.webhooks.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(
        webhook_names,
        doc["webhooks"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert!(mp.webhooks.is_empty());

    // Schemas: the component family has what its operations and webhooks reach, the
    // mini-program family keeps everything else.
    let all: BTreeSet<&str> = doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mp_schemas: BTreeSet<&str> = mp.schemas.keys().map(String::as_str).collect();
    let component_schemas: BTreeSet<&str> = component.schemas.keys().map(String::as_str).collect();
    assert!(mp_schemas.is_disjoint(&component_schemas));
    assert_eq!(
        mp_schemas
            .union(&component_schemas)
            .copied()
            .collect::<BTreeSet<_>>(),
        all
    );
    for name in [
        "GetComponentAccessTokenRequest",
        "QueryAuthResponse",
        "AuthorizationInfo",
        "FuncscopeCategory",
        "ComponentPushEnvelope",
        "ComponentPushEvent",
        "ComponentInfoType",
    ] {
        assert!(component_schemas.contains(name), "{name}");
    }
    // Named by no operation, but the document's own: it stays with the mini-program family.
    assert!(mp_schemas.contains("MpErrcodeResult"));
    assert_eq!(component.raw_schemas.len(), component.schemas.len());
}

fn file(files: &[GeneratedFile], path: impl AsRef<Path>) -> &GeneratedFile {
    let path = path.as_ref();
    files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{} is not generated", path.display()))
}

#[test]
fn the_component_family_is_generated_in_every_language() {
    let files = generate(&project_root(), SPECS).unwrap();
    let gen = PathBuf::from("core/src/generated");
    assert!(file(&files, gen.join("mod.rs"))
        .contents
        .contains("pub mod component;\n"));
    let ops = &file(&files, gen.join("component/operations.rs")).contents;
    for expected in [
        "auth: Auth::ComponentAccessToken",
        "auth: Auth::None",
        // errcode answers: the mini-program error model
        "family: ApiFamily::MiniProgram",
        "fn component(&self) -> ComponentOperations<'_, Self>",
        "pub static JSON_OPERATIONS",
        "pub async fn query_auth(",
        "pub async fn get_component_access_token(",
        "pub async fn get_authorizer_access_token(",
    ] {
        assert!(
            ops.contains(expected),
            "component/operations.rs lacks {expected}"
        );
    }
    assert!(!ops.contains("family: ApiFamily::Pay"));
    let mp_ops = &file(&files, gen.join("mp/operations.rs")).contents;
    for absent in [
        "api_component_token",
        "queryAuth",
        "ComponentAccessToken",
        "fn component(",
    ] {
        assert!(
            !mp_ops.contains(absent),
            "mp/operations.rs contains {absent}"
        );
    }

    // SECRET_FIELDS: every x-weixin-secret property of the schemas the family reaches.
    let doc = doc();
    let component = &Api::load_all(&project_root(), MP_SPEC).unwrap()[1];
    let mut secrets = BTreeSet::new();
    for name in component.schemas.keys() {
        for (prop, p) in doc["components"]["schemas"][name]["properties"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if p["x-weixin-secret"] == true {
                secrets.insert(prop.clone());
            }
        }
    }
    for s in [
        "component_appsecret",
        "component_verify_ticket",
        "component_access_token",
        "authorizer_access_token",
        "authorizer_refresh_token",
    ] {
        assert!(secrets.contains(s), "the spec does not mark {s} secret");
    }
    let module = &file(&files, gen.join("component/mod.rs")).contents;
    let listed: BTreeSet<String> = module
        .split("pub const SECRET_FIELDS: &[&str] = &[")
        .nth(1)
        .and_then(|rest| rest.split("];").next())
        .expect("component/mod.rs has SECRET_FIELDS")
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(listed, secrets);
    // Credentials are SecretString in the types (redacted Debug).
    let types = &file(&files, gen.join("component/types.rs")).contents;
    assert!(types.contains("pub component_appsecret: crate::SecretString,"));
    assert!(types.contains("pub authorizer_refresh_token: crate::SecretString,"));

    // The binding surfaces, under the family's module and prefix.
    for path in [
        PathBuf::from(python::DIR).join("component.py"),
        PathBuf::from(python::DIR).join("component.pyi"),
        PathBuf::from(node::DIR).join("component.js"),
        PathBuf::from(node::DIR).join("component.d.ts"),
        PathBuf::from(kotlin::DIR)
            .join(kotlin::PACKAGE_DIR)
            .join("ComponentTypes.kt"),
        PathBuf::from(kotlin::DIR)
            .join(kotlin::PACKAGE_DIR)
            .join("ComponentOperations.kt"),
    ] {
        let f = file(&files, &path);
        assert!(
            f.contents.contains("queryAuth") || f.contents.contains("QueryAuth"),
            "{} does not mention queryAuth",
            path.display()
        );
    }
    assert!(
        file(&files, PathBuf::from(python::DIR).join("component.py"))
            .contents
            .contains("class ThirdPartyPlatformOperations")
    );
    for mp_surface in [
        PathBuf::from(python::DIR).join("mp.py"),
        PathBuf::from(node::DIR).join("mp.js"),
        PathBuf::from(kotlin::DIR)
            .join(kotlin::PACKAGE_DIR)
            .join("MiniProgramOperations.kt"),
    ] {
        assert!(
            !file(&files, &mp_surface).contents.contains("queryAuth"),
            "{} still has the component operations",
            mp_surface.display()
        );
    }
}

/// `spec/miniprogram.json` with `edit` applied, loaded from a temporary folder.
fn load_edited(edit: impl FnOnce(&mut Value)) -> anyhow::Result<Vec<Api>> {
    let mut doc = doc();
    edit(&mut doc);
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("spec")).unwrap();
    std::fs::write(
        tmp.path().join(MP_SPEC),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
    Api::load_all(tmp.path(), MP_SPEC)
}

fn tag_mut<'a>(doc: &'a mut Value, name: &str) -> &'a mut Value {
    doc["tags"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["name"] == name)
        .unwrap()
}

#[test]
fn x_weixin_client_and_the_component_token_are_checked() {
    assert_eq!(
        load_edited(|_| {}).unwrap().len(),
        2,
        "the unedited copy loads"
    );

    let unknown = load_edited(|d| tag_mut(d, "component")["x-weixin-client"] = "open".into());
    let text = format!("{:#}", unknown.unwrap_err());
    assert!(
        text.contains("tag component") && text.contains("x-weixin-client must be \"component\""),
        "{text}"
    );

    // The token is injected by the client: listing it as a parameter is refused.
    let listed = load_edited(|d| {
        d["paths"]["/cgi-bin/component/api_query_auth"]["post"]["parameters"] = serde_json::json!([{"name": "component_access_token", "in": "query", "required": true,
                                "schema": {"type": "string"}}]);
    });
    let text = format!("{:#}", listed.unwrap_err());
    assert!(
        text.contains("queryAuth: component_access_token is injected by the client"),
        "{text}"
    );

    // Without the tag's x-weixin-client, the operations fall back to the mini-program family.
    let merged = load_edited(|d| {
        tag_mut(d, "component")
            .as_object_mut()
            .unwrap()
            .remove("x-weixin-client");
    })
    .unwrap();
    assert_eq!(merged.len(), 1);
    assert!(names(&merged[0]).contains("queryAuth"));
}

#[test]
fn x_weixin_client_needs_the_errcode_model() {
    let root = project_root();
    let mut pay: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("spec/wechatpay.json")).unwrap())
            .unwrap();
    pay["tags"][0]["x-weixin-client"] = "component".into();
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("spec")).unwrap();
    std::fs::write(
        tmp.path().join("spec/wechatpay.json"),
        serde_json::to_string(&pay).unwrap(),
    )
    .unwrap();
    let text = format!(
        "{:#}",
        Api::load_all(tmp.path(), "spec/wechatpay.json").unwrap_err()
    );
    assert!(text.contains("needs the errcode model"), "{text}");
}
