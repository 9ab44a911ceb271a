//! `cargo xtask codegen [--check]`: the spec → every language's typed surface.
//!
//! Generation is a pure function from spec files to (path, contents) pairs; writing and the drift
//! check are the two ways of applying it (as rust-analyzer's `ensure_file_contents`).

pub mod bridge;
mod js;
pub mod kotlin;
mod kotlin_errors;
mod kotlin_types;
pub mod model;
pub mod node;
mod node_config;
mod node_errors;
pub mod python;
mod python_config;
pub mod rust;
pub mod surface;
pub mod text;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use model::Api;

use crate::util::files_under;

/// The spec files, relative to the repository root.
pub const SPECS: &[&str] = &["spec/wechatpay.json", "spec/miniprogram.json"];

/// Folders that hold nothing but generated files: anything else in them is stale.
/// (Python's `__pycache__` folders are not ours: they are skipped.)
pub const GENERATED_DIRS: &[&str] = &["core/src/generated", python::DIR, node::DIR, kotlin::DIR];

#[derive(Debug)]
pub struct GeneratedFile {
    /// Relative to the repository root.
    pub path: PathBuf,
    pub contents: String,
}

/// Every generated file for `specs` (paths relative to `root`), and for the core's binding
/// tables in `root` (`core/src/bridge/`: the client-level actions and the error kinds).
pub fn generate(root: &Path, specs: &[&str]) -> Result<Vec<GeneratedFile>> {
    let mut apis = Vec::new();
    for s in specs {
        apis.extend(Api::load_all(root, s)?);
    }
    let mut seen = BTreeSet::new();
    for api in &apis {
        if !seen.insert(api.family) {
            bail!("two specs declare x-weixin-api {:?}", api.family);
        }
    }
    let mut files = Vec::new();
    let mut mods = Vec::new();
    for api in &apis {
        let dir = PathBuf::from("core/src/generated").join(api.family.module());
        let header = header(&[api], "//");
        let stamp = |body: String| format!("{header}\n{body}");
        files.push(GeneratedFile {
            path: dir.join("mod.rs"),
            contents: stamp(rust::family_mod(api)?),
        });
        files.push(GeneratedFile {
            path: dir.join("types.rs"),
            contents: stamp(
                rust::types(api).with_context(|| format!("types of {}", api.spec_file))?,
            ),
        });
        files.push(GeneratedFile {
            path: dir.join("operations.rs"),
            contents: stamp(
                rust::operations(api)
                    .with_context(|| format!("operations of {}", api.spec_file))?,
            ),
        });
        mods.push(api.family.module());
    }
    let refs: Vec<&Api> = apis.iter().collect();
    let mut root_mod = header(&refs, "//");
    root_mod.push_str(
        "\n//! Code generated from `spec/`: types, validation and operations per API family.\n\n",
    );
    for m in &mods {
        root_mod.push_str(&format!("pub mod {m};\n"));
    }
    files.push(GeneratedFile {
        path: PathBuf::from("core/src/generated/mod.rs"),
        contents: root_mod,
    });

    // Python: runtime glue and typed stubs per family, in the binding's package.
    let py_dir = PathBuf::from(python::DIR);
    files.push(GeneratedFile {
        path: py_dir.join("__init__.py"),
        contents: format!("{}{}", header(&refs, "#"), python::package_init(&refs)),
    });
    for api in &apis {
        let header = header(&[api], "#");
        let module = api.family.module();
        files.push(GeneratedFile {
            path: py_dir.join(format!("{module}.py")),
            contents: header.clone()
                + &python::runtime(api)
                    .with_context(|| format!("Python glue of {}", api.spec_file))?,
        });
        files.push(GeneratedFile {
            path: py_dir.join(format!("{module}.pyi")),
            contents: header
                + &python::stubs(api)
                    .with_context(|| format!("Python stubs of {}", api.spec_file))?,
        });
    }

    // Python: the clients' constructors, from the core's configuration structures.
    let configs = bridge::load_configs(root)?;
    files.push(GeneratedFile {
        path: py_dir.join("config.py"),
        contents: format!(
            "{}# configuration: {} ({})\n",
            header(&refs, "#"),
            bridge::CONFIG_FILE,
            bridge::CONFIGS.join(", ")
        ) + &python_config::module(&configs)?,
    });

    // Node: glue and declarations per family, and the error classes.
    let actions = bridge::load_actions(root)?;
    let node_dir = PathBuf::from(node::DIR);
    for api in &apis {
        let header = format!(
            "{}// actions: {} (ACTIONS)\n",
            header(&[api], "//"),
            bridge::ACTIONS_FILE
        );
        let module = api.family.module();
        files.push(GeneratedFile {
            path: node_dir.join(format!("{module}.js")),
            contents: header.clone()
                + &node::runtime(api, &actions)
                    .with_context(|| format!("Node glue of {}", api.spec_file))?,
        });
        files.push(GeneratedFile {
            path: node_dir.join(format!("{module}.d.ts")),
            contents: header
                + &node::declarations(api, &actions)
                    .with_context(|| format!("Node declarations of {}", api.spec_file))?,
        });
    }
    let kinds = bridge::load_error_kinds(root)?;
    let header = format!(
        "{}// error kinds: {} (ERROR_KINDS)\n",
        header(&refs, "//"),
        bridge::ERRORS_FILE
    );
    files.push(GeneratedFile {
        path: node_dir.join("errors.js"),
        contents: header.clone() + &node_errors::runtime(&kinds)?,
    });
    files.push(GeneratedFile {
        path: node_dir.join("errors.d.ts"),
        contents: header + &node_errors::declarations(&kinds)?,
    });

    files.push(GeneratedFile {
        path: node_dir.join("config.d.ts"),
        contents: format!(
            "{}// configuration: {} ({})\n",
            self::header(&refs, "//"),
            bridge::CONFIG_FILE,
            bridge::CONFIGS.join(", ")
        ) + &node_config::declarations(&configs)?,
    });

    // Kotlin: types and operations per family, the configurations and the error classes.
    let kt_dir = PathBuf::from(kotlin::DIR).join(kotlin::PACKAGE_DIR);
    for api in &apis {
        let prefix = kotlin::prefix(api.family);
        let notification =
            kotlin::parses_notifications(api, &actions).then(|| kotlin::notification_resource(api));
        files.push(GeneratedFile {
            path: kt_dir.join(format!("{prefix}Types.kt")),
            contents: self::header(&[api], "//")
                + &kotlin_types::types(api, notification.as_deref())
                    .with_context(|| format!("Kotlin types of {}", api.spec_file))?,
        });
        files.push(GeneratedFile {
            path: kt_dir.join(format!("{prefix}Operations.kt")),
            contents: format!(
                "{}// actions: {} (ACTIONS)\n",
                self::header(&[api], "//"),
                bridge::ACTIONS_FILE
            ) + &kotlin::operations(api, &actions)
                .with_context(|| format!("Kotlin operations of {}", api.spec_file))?,
        });
    }
    files.push(GeneratedFile {
        path: kt_dir.join("Config.kt"),
        contents: format!(
            "{}// configuration: {} ({})\n",
            self::header(&refs, "//"),
            bridge::CONFIG_FILE,
            bridge::CONFIGS.join(", ")
        ) + &kotlin_types::config(&configs)?,
    });
    files.push(GeneratedFile {
        path: kt_dir.join("Errors.kt"),
        contents: format!(
            "{}// error kinds: {} (ERROR_KINDS)\n",
            self::header(&refs, "//"),
            bridge::ERRORS_FILE
        ) + &kotlin_errors::errors(&kinds)?,
    });
    Ok(files)
}

/// The stamp every generated file starts with, as `comment` lines (`//`, `#`): the command,
/// the spec files and their sha256.
fn header(apis: &[&Api], comment: &str) -> String {
    let mut h = format!(
        "{comment} @generated by `cargo xtask codegen`. Do not edit by hand: change the spec and rerun it.\n"
    );
    for api in apis {
        h.push_str(&format!(
            "{comment} source: {} sha256:{}\n",
            api.spec_file, api.sha256
        ));
    }
    h
}

/// `cargo xtask codegen`: writes the files (removing stale ones), or with `check` reports every
/// difference and fails.
pub fn run(root: &Path, check: bool) -> Result<()> {
    let files = generate(root, SPECS)?;
    let problems = apply(root, &files, check)?;
    if check && !problems.is_empty() {
        bail!(
            "generated code is out of date with spec/ (or was edited by hand):\n  {}\nrun `cargo xtask codegen` and commit the result",
            problems.join("\n  ")
        );
    }
    Ok(())
}

/// Brings `root` in line with `files`; with `check`, only lists what differs.
pub fn apply(root: &Path, files: &[GeneratedFile], check: bool) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let wanted: BTreeSet<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    for f in files {
        let path = root.join(&f.path);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(f.contents.as_str()) {
            continue;
        }
        if check {
            let what = if current.is_some() {
                "differs from what the spec generates"
            } else {
                "is missing"
            };
            problems.push(format!("{} {what}", f.path.display()));
        } else {
            std::fs::create_dir_all(path.parent().expect("generated files live in a folder"))?;
            std::fs::write(&path, &f.contents)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    for dir in GENERATED_DIRS {
        for file in files_under(&root.join(dir))? {
            // Python's bytecode cache, written whenever the package is imported
            if file.components().any(|c| c.as_os_str() == "__pycache__") {
                continue;
            }
            let rel = Path::new(dir).join(file);
            if wanted.contains(&rel) {
                continue;
            }
            let stale = root.join(&rel);
            if check {
                problems.push(format!(
                    "{} is not generated by any spec (stale)",
                    rel.display()
                ));
            } else {
                std::fs::remove_file(&stale)?;
            }
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod component_tests;
#[cfg(test)]
mod kotlin_tests;
#[cfg(test)]
mod tests;
