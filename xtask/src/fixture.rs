//! The spec-to-binding promise, end to end: an operation added to a copy of the spec
//! (`xtask/fixtures/query-stock.json`) and run through the codegen becomes a method of the real
//! `weixin_kit` Python package (built by maturin, installed with pip) and of the real
//! `weixin-kit` Node package (built by its install script), called against the sandbox.
//!
//! `cargo xtask python-fixture` / `cargo xtask node-fixture` run them on their own.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::codegen::{self, SPECS};
use crate::util::{files_under, pip_install, run_captured, write_if_changed};

/// The fixture operation, merged into the pay spec.
pub const FIXTURE: &str = "xtask/fixtures/query-stock.json";

/// Writes `dir/spec/`: the pay spec with the fixture's paths and schemas merged in, and the
/// mini-program spec as it is (files are rewritten only when their contents change).
pub fn spec_with_fixture(root: &Path, dir: &Path) -> Result<()> {
    let read = |rel: &str| -> Result<Value> {
        let bytes = std::fs::read(root.join(rel)).with_context(|| format!("reading {rel}"))?;
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {rel}"))
    };
    let mut spec = read("spec/wechatpay.json")?;
    let fixture = read(FIXTURE)?;
    for section in ["/paths", "/components/schemas"] {
        let target = spec
            .pointer_mut(section)
            .and_then(Value::as_object_mut)
            .with_context(|| format!("spec/wechatpay.json has no {section} object"))?;
        let added = fixture
            .pointer(section)
            .and_then(Value::as_object)
            .with_context(|| format!("{FIXTURE} has no {section} object"))?;
        for (k, v) in added {
            target.insert(k.clone(), v.clone());
        }
    }
    write_if_changed(
        &dir.join("spec/wechatpay.json"),
        &serde_json::to_vec_pretty(&spec)?,
    )?;
    write_if_changed(
        &dir.join("spec/miniprogram.json"),
        &std::fs::read(root.join("spec/miniprogram.json"))?,
    )
}

/// A crate manifest without what only tests and benches use (`[dev-dependencies]`, `[[bench]]`,
/// `[[test]]`, `[[example]]`), so a copy resolves and builds no more than its library.
pub fn trim_manifest(manifest: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in manifest.lines() {
        let header = line.trim();
        if header.starts_with('[') {
            skipping = header.ends_with("dev-dependencies]")
                || ["[[bench]]", "[[test]]", "[[example]]"].contains(&header);
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The folders copied, each without what only its tests, benches and examples use, and the
/// workspace members (crates) in each.
const CRATES: &[(&str, &[&str], &[&str])] = &[
    ("core", &["tests", "benches", "examples"], &["core"]),
    ("sandbox", &["tests", "benches"], &["sandbox"]),
    // The command line: the Python binding links it (`python -m weixin_kit`).
    ("cli", &["tests"], &["cli"]),
    (
        "bindings-python",
        &["tests", "bench", "benches"],
        &["bindings-python"],
    ),
    (
        "bindings-node",
        &["test", "bench", "node_modules", "native"],
        &["bindings-node"],
    ),
    // The Maven build with its test module, whose suite the fixture replaces by one test.
    (
        "bindings-kotlin",
        &["bench", "consumer", "src/test"],
        &["bindings-kotlin/native", "bindings-kotlin/sandbox-native"],
    ),
];

/// Never copied from anywhere: build output and caches (a stale `_native.abi3.so` in the
/// source tree would otherwise be packed into the wheel next to the fresh one).
fn is_junk(name: &str) -> bool {
    matches!(
        name,
        "target" | "__pycache__" | ".pytest_cache" | ".mypy_cache" | "node_modules"
    ) || name.ends_with(".so")
        || name.ends_with(".node")
        || name.ends_with(".pyd")
        || name.ends_with(".egg-info")
}

const CHECK_FIXTURE_IN_PYTHON: &str = r#"
import asyncio, importlib.util, inspect, pathlib, sys

import weixin_kit
from weixin_kit import ApiError
from weixin_kit._generated import pay as generated
from weixin_kit.testing import Sandbox

venv, shipped = pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2])
installed = pathlib.Path(weixin_kit.__file__).resolve()
assert venv in installed.parents, f"weixin_kit was imported from {installed}, not from {venv}"

# The method exists only because of the spec edit: the shipped package lacks exactly it.
assert "QueryStockFixture" in generated.OPERATIONS, (
    "QueryStockFixture is not in weixin_kit._generated.pay.OPERATIONS"
)
assert generated.OPERATIONS["QueryStockFixture"] == ("busifavor", "query_stock_fixture")
spec = importlib.util.spec_from_file_location("shipped_pay", shipped)
shipped_pay = importlib.util.module_from_spec(spec)
spec.loader.exec_module(shipped_pay)
added = set(generated.OPERATIONS) - set(shipped_pay.OPERATIONS)
assert added == {"QueryStockFixture"}, added
assert not hasattr(shipped_pay.BusifavorOperations, "query_stock_fixture")
print("installed", installed.parent, "- operations added by the fixture spec:", sorted(added))

SOLUTION = "请检查批次ID后重试"  # the fixture operation's error table, for 404 RESOURCE_NOT_EXISTS


def check_error(e, label):
    got = (e.status, e.code, e.solution, e.retryable)
    assert got == (404, "RESOURCE_NOT_EXISTS", SOLUTION, False), (label, got)


def check_signature(method, label):
    params = list(inspect.signature(method).parameters.values())
    assert [p.name for p in params] == ["stock_id", "belong_merchant", "limit"], (label, params)
    assert all(p.kind is p.KEYWORD_ONLY for p in params), (label, params)
    assert [p.default for p in params] == [inspect.Parameter.empty] * 2 + [None], (label, params)


with Sandbox() as sb:
    mchid = sb.credentials["mchid"]
    path = f"/v3/marketing/busifavor/stocks/S1/fixture-query?belong_merchant={mchid}&limit=5"

    def check_logged(e, label):
        last = sb.requests()[-1]
        seen = {k: last[k] for k in ("method", "path", "operation", "signature", "status")}
        want = {"method": "GET", "path": path, "operation": "QueryStockFixture",
                "signature": "ok", "status": 404}
        assert seen == want, (label, seen)
        assert e.request_id == last["request_id"], (label, e.request_id, last["request_id"])

    pay = sb.pay_client()
    check_signature(pay.busifavor.query_stock_fixture, "PayClient")
    try:
        result = pay.busifavor.query_stock_fixture(stock_id="S1", belong_merchant=mchid, limit=5)
    except ApiError as e:
        check_error(e, "PayClient")
        check_logged(e, "PayClient")
        print(f"PayClient: GET {path} -> {e.status} {e.code}, solution {e.solution!r}, "
              "signature verified by the sandbox")
    else:
        raise AssertionError(f"expected ApiError 404, got {result!r}")

    # The same request through the escape hatch carries no solution: it came from the
    # fixture operation's spec data above.
    try:
        pay.request("GET", path)
    except ApiError as e:
        assert (e.status, e.code, e.solution) == (404, "RESOURCE_NOT_EXISTS", None), e.solution
    else:
        raise AssertionError("expected ApiError 404 from pay.request")

    apay = sb.async_pay_client()
    check_signature(apay.busifavor.query_stock_fixture, "AsyncPayClient")

    async def call_async():
        try:
            result = await apay.busifavor.query_stock_fixture(
                stock_id="S1", belong_merchant=mchid, limit=5
            )
        except ApiError as e:
            return e
        raise AssertionError(f"expected ApiError 404, got {result!r}")

    e = asyncio.run(call_async())
    check_error(e, "AsyncPayClient")
    check_logged(e, "AsyncPayClient")
    print(f"AsyncPayClient: the same call awaited -> {e.status} {e.code}, solution {e.solution!r}")

    sent = [r for r in sb.requests() if r["operation"] == "QueryStockFixture"]
    assert len(sent) == 3, [r["path"] for r in sent]  # method, request(), async: no retries
print("ok")
"#;

/// The venv the fixture's package is installed into (never the development one: the fixture
/// package must not replace the real one there).
const VENV: &str = "target/py-fixture";

/// Where the fixture copies build: `target/codegen-fixture` (shared by the Rust, Python and Node
/// fixture tests, never the main target dir: the copy has the same crate names).
const FIXTURE_TARGET: &str = "target/codegen-fixture";

/// Copies core, sandbox and both bindings to `target/codegen-fixture/workspace` with the fixture
/// merged into the spec and regenerates the copy; returns (its target dir, the copy). Files are
/// only rewritten where they differ, so a rerun rebuilds nothing when nothing changed.
fn workspace(root: &Path) -> Result<(PathBuf, PathBuf)> {
    let target = root.join(FIXTURE_TARGET);
    let ws = target.join("workspace");

    spec_with_fixture(root, &ws)?;
    let mut members = Vec::new();
    for (name, left_out, crates) in CRATES {
        mirror(root, &ws, name, left_out)?;
        for member in *crates {
            let manifest = std::fs::read_to_string(root.join(member).join("Cargo.toml"))?;
            write_if_changed(
                &ws.join(member).join("Cargo.toml"),
                trim_manifest(&manifest).as_bytes(),
            )?;
            members.push(format!("{member:?}"));
        }
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml"))?;
    let members_line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("members"))
        .context("the workspace manifest has no members line")?;
    let manifest = manifest.replace(members_line, &format!("members = [{}]", members.join(", ")));
    write_if_changed(&ws.join("Cargo.toml"), manifest.as_bytes())?;
    // Cargo prunes the copy's lock (no xtask here); the versions stay the workspace's.
    std::fs::copy(root.join("Cargo.lock"), ws.join("Cargo.lock"))?;

    let files = codegen::generate(&ws, SPECS)?;
    codegen::apply(&ws, &files, false)?;
    eprintln!(
        "copied {} to {} and regenerated them from the spec + {FIXTURE}",
        CRATES
            .iter()
            .map(|(c, ..)| *c)
            .collect::<Vec<_>>()
            .join(", "),
        ws.display()
    );
    Ok((target, ws))
}

/// Prepares the fixture workspace ([`workspace`]), `pip install`s its Python binding into
/// `target/py-fixture` (made with `python` when missing) and calls the fixture operation from
/// Python against the sandbox.
pub fn python_fixture_test(root: &Path, python: &Path) -> Result<()> {
    let started = Instant::now();
    let (target, ws) = workspace(root)?;

    let venv = root.join(VENV);
    let venv_python = venv.join("bin/python");
    if !venv_python.exists() {
        let what = format!("{} -m venv {}", python.display(), venv.display());
        run_captured(Command::new(python).args(["-m", "venv"]).arg(&venv), &what)?;
    }
    let build = Instant::now();
    let what = format!("pip install {}", ws.join("bindings-python").display());
    eprintln!(
        "debug build in {} (output shown if it fails)",
        target.display()
    );
    run_captured(
        pip_install(&venv_python, &ws.join("bindings-python"))
            .current_dir(&ws)
            .env("MATURIN_PEP517_ARGS", "--profile dev")
            .env("CARGO_TARGET_DIR", &target)
            // Every crate is in the workspace's lock and already downloaded.
            .env("CARGO_NET_OFFLINE", "true"),
        &what,
    )?;
    eprintln!("built and installed in {:.1?}", build.elapsed());

    // A file, so that a failure's traceback points at a line of it.
    let script = ws.join("check_fixture.py");
    write_if_changed(&script, CHECK_FIXTURE_IN_PYTHON.as_bytes())?;
    let output = run_captured(
        Command::new(&venv_python)
            // Not a folder with a `weixin_kit` package in it: the installed one is imported.
            .current_dir(&ws)
            .env_remove("PYTHONPATH")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .arg(&script)
            .arg(&venv)
            // The shipped glue, for contrast.
            .arg(root.join(codegen::python::DIR).join("pay.py")),
        &format!("{} {}", venv_python.display(), script.display()),
    )
    .context("the fixture operation is not callable from Python as generated")?;
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!(
        "fixture operation callable from Python: ok ({:.1?} in all)",
        started.elapsed()
    );
    Ok(())
}

/// Makes `root/name` in `ws` a copy of the one in `root`, without junk and the `left_out`
/// folders; its manifest and generated folders are written by the caller and codegen. Files are
/// written only when their contents differ, so unchanged sources keep their modification times
/// and cargo does not rebuild them; files the source no longer has are removed.
fn mirror(root: &Path, ws: &Path, name: &str, left_out: &[&str]) -> Result<()> {
    let (from, to) = (root.join(name), ws.join(name));
    let written_elsewhere = |rel: &Path| {
        rel.file_name() == Some(std::ffi::OsStr::new("Cargo.toml"))
            || codegen::GENERATED_DIRS
                .iter()
                .any(|g| Path::new(name).join(rel).starts_with(g))
    };
    let copied = |rel: &Path| {
        !written_elsewhere(rel)
            && !left_out.iter().any(|l| rel.starts_with(l))
            && !rel
                .components()
                .any(|c| is_junk(&c.as_os_str().to_string_lossy()))
    };
    let wanted: BTreeSet<PathBuf> = files_under(&from)?
        .into_iter()
        .filter(|rel| copied(rel))
        .collect();
    for rel in &wanted {
        write_if_changed(&to.join(rel), &std::fs::read(from.join(rel))?)?;
    }
    for rel in files_under(&to)? {
        if !wanted.contains(&rel) && !written_elsewhere(&rel) {
            std::fs::remove_file(to.join(&rel))?;
        }
    }
    Ok(())
}

/// Prepares the fixture workspace ([`workspace`]), builds its Node package's addon with the
/// package's own install script, and calls the fixture operation from Node against the sandbox.
pub fn node_fixture_test(root: &Path) -> Result<()> {
    let started = Instant::now();
    let (target, ws) = workspace(root)?;
    let package = ws.join("bindings-node");
    let build = Instant::now();
    eprintln!(
        "debug build in {} (output shown if it fails)",
        target.display()
    );
    run_captured(
        Command::new("node")
            .current_dir(&package)
            .arg("scripts/build.js")
            .env("WEIXIN_KIT_NODE_PROFILE", "dev")
            .env("CARGO_TARGET_DIR", &target)
            // Every crate is in the workspace's lock and already downloaded.
            .env("CARGO_NET_OFFLINE", "true"),
        &format!("node {}/scripts/build.js", package.display()),
    )?;
    eprintln!("built in {:.1?}", build.elapsed());

    let script = ws.join("check_fixture.js");
    write_if_changed(&script, CHECK_FIXTURE_IN_NODE.as_bytes())?;
    let output = run_captured(
        Command::new("node")
            .current_dir(&ws)
            .arg(&script)
            .arg(&package)
            // The shipped glue, for contrast.
            .arg(root.join("bindings-node")),
        &format!("node {}", script.display()),
    )
    .context("the fixture operation is not callable from Node as generated")?;
    eprint!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!(
        "fixture operation callable from Node: ok ({:.1?} in all)",
        started.elapsed()
    );
    Ok(())
}

const CHECK_FIXTURE_IN_NODE: &str = r#"'use strict'
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const [pkg, shipped] = process.argv.slice(2).map((p) => path.resolve(p))
const { ApiError, WeixinKitError } = require(pkg)
const { Sandbox } = require(path.join(pkg, 'testing.js'))
const generated = require(path.join(pkg, 'generated/pay.js'))
const shippedPay = require(path.join(shipped, 'generated/pay.js'))

// The method exists only because of the spec edit: the shipped package lacks exactly it.
const methods = (m) => Object.getOwnPropertyNames(m.BusifavorOperations.prototype)
const added = methods(generated).filter((name) => !methods(shippedPay).includes(name))
assert.deepEqual(added, ['queryStockFixture'])
const declarations = fs.readFileSync(path.join(pkg, 'generated/pay.d.ts'), 'utf8')
assert.match(declarations, /export interface QueryStockFixtureArgs \{/)
assert.match(declarations, /queryStockFixture\(args: QueryStockFixtureArgs\): Promise<StockFixture>;/)
assert.doesNotMatch(fs.readFileSync(path.join(shipped, 'generated/pay.d.ts'), 'utf8'), /QueryStockFixture/)
console.log('package', pkg, '- methods added by the fixture spec:', added)

const SOLUTION = '请检查批次ID后重试' // the fixture operation's error table, for 404 RESOURCE_NOT_EXISTS

;(async () => {
  const sb = await Sandbox.start()
  try {
    const mchid = sb.credentials.mchid
    const query = `/v3/marketing/busifavor/stocks/S1/fixture-query?belong_merchant=${mchid}&limit=5`
    const pay = sb.payClient()
    const e = await pay.busifavor.queryStockFixture({ stock_id: 'S1', belong_merchant: mchid, limit: 5 }).then(
      (result) => assert.fail(`expected ApiError 404, got ${JSON.stringify(result)}`),
      (error) => error,
    )
    assert.ok(e instanceof ApiError && e instanceof WeixinKitError, String(e))
    assert.deepEqual([e.status, e.code, e.solution, e.retryable], [404, 'RESOURCE_NOT_EXISTS', SOLUTION, false])
    const last = (await sb.requests()).at(-1)
    assert.deepEqual(
      { method: last.method, path: last.path, operation: last.operation, signature: last.signature, status: last.status },
      { method: 'GET', path: query, operation: 'QueryStockFixture', signature: 'ok', status: 404 },
    )
    assert.equal(e.request_id, last.request_id)
    console.log(`PayClient: GET ${query} -> ${e.status} ${e.code}, solution ${JSON.stringify(e.solution)}, signature verified by the sandbox`)

    // The same request through the escape hatch carries no solution: it came from the fixture
    // operation's spec data above.
    const raw = await pay.request('GET', query).then(
      () => assert.fail('expected ApiError 404 from pay.request'),
      (error) => error,
    )
    assert.deepEqual([raw.status, raw.code, raw.solution], [404, 'RESOURCE_NOT_EXISTS', null])
    const sent = (await sb.requests()).filter((r) => r.operation === 'QueryStockFixture')
    assert.equal(sent.length, 2, JSON.stringify(sent.map((r) => r.path)))
  } finally {
    await sb.stop()
  }
  console.log('ok')
})().catch((e) => {
  console.error(e)
  process.exit(1)
})
"#;

/// Prepares the fixture workspace ([`workspace`]), runs its Kotlin binding's Maven build (cargo,
/// uniffi-bindgen, the generated Kotlin compiled) with one JUnit test in place of the suite: the
/// fixture operation called from Kotlin against the sandbox. Nothing is installed: the copy's
/// artifacts stay in its own `target/` folders, so the real ones in `~/.m2` are untouched.
pub fn kotlin_fixture_test(root: &Path) -> Result<()> {
    let started = Instant::now();
    let (target, ws) = workspace(root)?;
    let shipped = std::fs::read_to_string(
        root.join(codegen::kotlin::DIR)
            .join(codegen::kotlin::PACKAGE_DIR)
            .join("PayOperations.kt"),
    )?;
    anyhow::ensure!(
        !shipped.contains("queryStockFixture"),
        "the shipped Kotlin already has queryStockFixture: the fixture proves nothing"
    );
    let test = ws.join("bindings-kotlin/src/test/kotlin/dev/weixinkit/FixtureCheckTest.kt");
    write_if_changed(&test, CHECK_FIXTURE_IN_KOTLIN.as_bytes())?;
    std::fs::create_dir_all(ws.join("bindings-kotlin/src/test/java"))?;
    let report = ws.join(
        "bindings-kotlin/tests/target/surefire-reports/TEST-dev.weixinkit.FixtureCheckTest.xml",
    );
    let _ = std::fs::remove_file(&report);
    eprintln!(
        "Maven build of {} (cargo into {}; output shown if it fails)",
        ws.join("bindings-kotlin").display(),
        target.display()
    );
    run_captured(
        Command::new("mvn")
            .current_dir(&ws)
            .args([
                "-B",
                "-q",
                "-f",
                "bindings-kotlin/pom.xml",
                "-Dcargo.profile=dev",
            ])
            .arg("package")
            // `cargo xtask` runs under cargo, which puts target/debug on the library path:
            // JNA would load the main workspace's library from there instead of the jar's.
            .env_remove("LD_LIBRARY_PATH")
            .env("CARGO_TARGET_DIR", &target)
            // Every crate is in the workspace's lock and already downloaded.
            .env("CARGO_NET_OFFLINE", "true"),
        &format!("mvn -f {}/bindings-kotlin/pom.xml package", ws.display()),
    )
    .context("the fixture operation is not callable from Kotlin as generated")?;
    // A test that did not run would pass too: its report must say it ran and passed.
    let xml = std::fs::read_to_string(&report).with_context(|| {
        format!(
            "no report {}: the fixture test did not run",
            report.display()
        )
    })?;
    anyhow::ensure!(
        xml.contains(r#"tests="1""#)
            && xml.contains(r#"failures="0""#)
            && xml.contains(r#"errors="0""#),
        "the fixture test did not pass: {}",
        report.display()
    );
    eprintln!(
        "fixture operation callable from Kotlin: ok ({:.1?} in all)",
        started.elapsed()
    );
    Ok(())
}

const CHECK_FIXTURE_IN_KOTLIN: &str = r#"package dev.weixinkit

import dev.weixinkit.testing.Sandbox
import kotlinx.coroutines.runBlocking
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.Test

/** Written by `cargo xtask kotlin-fixture` into a copy of the workspace. */
class FixtureCheckTest {
    @Test
    fun `the operation added to the fixture spec is a typed suspend method`() = runBlocking {
        Sandbox.start().use { sb ->
            sb.payClient().use { pay ->
                val mchid = sb.credentials.mchid
                val e = try {
                    val r: StockFixture = pay.busifavor.queryStockFixture(stockId = "S1", belongMerchant = mchid, limit = 5L)
                    fail("expected ApiError 404, got $r")
                } catch (e: ApiError) {
                    e
                }
                // The fixture operation's documented error row.
                assertEquals(listOf(404, "RESOURCE_NOT_EXISTS", "请检查批次ID后重试", false), listOf(e.status, e.code, e.solution, e.retryable))
                val last = sb.requests().last().jsonObject
                val seen = listOf("method", "path", "operation", "signature").map { last[it]!!.jsonPrimitive.content }
                val path = "/v3/marketing/busifavor/stocks/S1/fixture-query?belong_merchant=$mchid&limit=5"
                assertEquals(listOf("GET", path, "QueryStockFixture", "ok"), seen)
                assertEquals(last["request_id"]!!.jsonPrimitive.content, e.requestId)
                println("Kotlin: GET $path -> ${e.status} ${e.code}, solution ${e.solution}, signature verified by the sandbox")
            }
        }
    }
}
"#;
