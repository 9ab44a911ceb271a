'use strict'
// The package from ESM (import of index.js by absolute path, and by package name through a
// symlinked node_modules) and from CommonJS by name (require('weixin-kit')), in child processes.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const h = require('./helpers.js')

const NAMES = ['PayClient', 'MiniProgramClient', 'ComponentClient', 'WeixinKitError', 'ApiError', 'MiniProgramError', 'SignatureError', 'ValidationError', 'TransportError', 'TimeoutError', 'ConfigError', 'UnexpectedResponseError', 'CallbackError', 'ReplayError', 'NotAuthorizedError', 'buildAuthorization', 'verifySignature', 'decryptResource', 'signCardExt', 'setLogger']

test('ESM: import { PayClient, ApiError, … } from the absolute path of index.js', async () => {
  const url = require('node:url').pathToFileURL(path.join(h.PKG, 'index.js')).href
  const code = `import { ${NAMES.join(', ')} } from ${JSON.stringify(url)}
const kinds = { ${NAMES.join(', ')} }
console.log(JSON.stringify(Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, typeof v]))))
console.log(new ApiError('x') instanceof WeixinKitError)`
  const r = await h.runNode(['--input-type=module', '-e', code])
  assert.equal(r.code, 0, r.stderr)
  const [types, instance] = r.stdout.trim().split('\n')
  assert.deepEqual(JSON.parse(types), Object.fromEntries(NAMES.map((n) => [n, 'function'])))
  assert.equal(instance, 'true')
})

test("by package name: import 'weixin-kit' and 'weixin-kit/testing', require('weixin-kit')", async () => {
  const { dir, cleanup } = h.tempDir()
  try {
    fs.mkdirSync(path.join(dir, 'node_modules'))
    fs.symlinkSync(h.PKG, path.join(dir, 'node_modules', 'weixin-kit'), 'dir')
    const esm = `import { PayClient, ApiError } from 'weixin-kit'
import { Sandbox } from 'weixin-kit/testing'
const sb = await Sandbox.start()
const pay = sb.payClient()
try { await pay.busifavor.modifyStockInfo({ stock_id: '404404404', out_request_no: 'esm1', comment: 'c' }) }
catch (e) { console.log(pay instanceof PayClient, e instanceof ApiError, e.status) }
await sb.stop()`
    const r = await h.runNode(['--input-type=module', '-e', esm], { cwd: dir })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.trim(), 'true true 404')

    const cjs = `const wk = require('weixin-kit'); const t = require('weixin-kit/testing')
console.log(JSON.stringify([${NAMES.map((n) => `typeof wk.${n}`).join(', ')}, typeof t.Sandbox, require('weixin-kit/package.json').name]))`
    const c = await h.runNode(['-e', cjs], { cwd: dir })
    assert.equal(c.code, 0, c.stderr)
    assert.deepEqual(JSON.parse(c.stdout), [...NAMES.map(() => 'function'), 'function', 'weixin-kit'])
  } finally {
    cleanup()
  }
})

test('the package exports exactly the documented names', () => {
  assert.deepEqual(Object.keys(h.weixin).filter((k) => k !== 'ERROR_CLASSES' && k !== 'errorFromDescription').sort(), [...NAMES].sort())
})
