#!/usr/bin/env node
// `npm install <path>/bindings-node` runs this: builds the native addon with cargo from the Rust
// workspace this package sits in and puts it at native/weixin_kit.node, where lib/native.js
// loads it. A Rust toolchain is the only prerequisite (as for `pip install ./bindings-python`).
//
// Environment:
//   WEIXIN_KIT_NODE_PROFILE  cargo profile (default "release"; the test command uses "dev")
//   WEIXIN_KIT_NODE_FEATURES cargo features, e.g. "" to leave the sandbox out (default: default)
//   CARGO_TARGET_DIR          honoured by cargo as usual (one shared target directory)
'use strict'

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const pkg = path.resolve(__dirname, '..')
const workspace = path.resolve(pkg, '..')
const out = path.join(pkg, 'native', 'weixin_kit.node')

function fail(message) {
  console.error(`weixin-kit: ${message}`)
  process.exit(1)
}

if (!fs.existsSync(path.join(workspace, 'Cargo.toml')) || !fs.existsSync(path.join(workspace, 'core'))) {
  fail(
    `the native addon builds from the Rust workspace around ${pkg}, which is not there ` +
      '(was the package copied out of its repository, e.g. by --install-links?). ' +
      'Install it from a checkout: npm install <repository>/bindings-node'
  )
}

const cargo = process.env.CARGO || 'cargo'
const profile = process.env.WEIXIN_KIT_NODE_PROFILE || 'release'
const args = ['build', '-p', 'weixin-kit-node', '--profile', profile, '--message-format=json-render-diagnostics']
if (process.env.WEIXIN_KIT_NODE_FEATURES !== undefined) {
  args.push('--no-default-features')
  if (process.env.WEIXIN_KIT_NODE_FEATURES) args.push('--features', process.env.WEIXIN_KIT_NODE_FEATURES)
}
console.error(`weixin-kit: building the native addon (cargo ${args.slice(0, 5).join(' ')}) …`)
const started = Date.now()
// stderr (cargo's progress and diagnostics) goes straight to the terminal; stdout carries the
// JSON messages that name the built library.
const build = spawnSync(cargo, args, {
  cwd: workspace,
  stdio: ['ignore', 'pipe', 'inherit'],
  maxBuffer: 256 * 1024 * 1024,
  encoding: 'utf8',
})
if (build.error) {
  fail(`could not run cargo (${build.error.message}): install Rust from https://rustup.rs`)
}
if (build.status !== 0) fail(`cargo build failed (exit code ${build.status}); its errors are above`)

let library
for (const line of build.stdout.split('\n')) {
  if (!line.startsWith('{')) continue
  const message = JSON.parse(line)
  if (message.reason === 'compiler-artifact' && message.target && message.target.name === 'weixin_kit_node') {
    library = message.filenames.find((f) => /\.(so|dylib|dll)$/.test(f))
  }
}
if (!library) fail('cargo did not report the weixin_kit_node library')

fs.mkdirSync(path.dirname(out), { recursive: true })
// Copy to a temporary name and rename: a process that already loaded the old file keeps it.
const tmp = `${out}.${process.pid}.tmp`
fs.copyFileSync(library, tmp)
fs.renameSync(tmp, out)
console.error(`weixin-kit: native addon ready in ${((Date.now() - started) / 1000).toFixed(1)} s (${profile}): ${path.relative(pkg, out)}`)
