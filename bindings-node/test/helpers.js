'use strict'
// The one helper module of the node:test suite: the sandbox's lifecycle per test file, the spec
// and the vectors (expected values come from them or from the sandbox's own observation, never
// from our output), a local HTTP receiver for notifications, a Redis launcher, child processes
// and the common identities. Test files import what they need from here and redefine nothing.

const assert = require('node:assert/strict')
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { before, after, beforeEach } = require('node:test')

const PKG = path.resolve(__dirname, '..')
const ROOT = path.resolve(PKG, '..')
const SPEC_DIR = path.join(ROOT, 'spec')
const VECTORS_DIR = path.join(SPEC_DIR, 'vectors')

const weixin = require(PKG)
const { Sandbox } = require(path.join(PKG, 'testing.js'))

// -- the spec and the vectors -------------------------------------------------------------------

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'))
const spec = (name) => readJson(path.join(SPEC_DIR, name))
const vectors = (name) => readJson(path.join(VECTORS_DIR, name))

/** Every operation of a spec file: `{ operationId, method, path, tag }`. */
function specOperations(name) {
  // Only the document's own operations: a tag with x-weixin-client (the third-party platform's
  // `component`) gives its operations to another client (spec/README.md).
  const doc = spec(name)
  const otherClient = new Set((doc.tags || []).filter((t) => t['x-weixin-client']).map((t) => t.name))
  const out = []
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (op && op.operationId && !otherClient.has((op.tags || [])[0])) out.push({ operationId: op.operationId, method: method.toUpperCase(), path: p, tag: (op.tags || [])[0] })
    }
  }
  return out
}

/** The tag group a spec tag becomes on a client (`service_card` → `serviceCard`). */
const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase())
/** The method an operationId becomes (`ModifyStockInfo` → `modifyStockInfo`). */
const methodName = (operationId) => operationId[0].toLowerCase() + operationId.slice(1)

/** The wechatpay.json error-table row (status, code, description) of an operation. */
function documentedPay(opPath, method, status, code, description) {
  const table = spec('wechatpay.json').paths[opPath][method]['x-weixin-errors']
  const rows = table.filter((r) => r.status === status && r.code === code && r.description === description)
  assert.equal(rows.length, 1, `one documented row for ${status} ${code} ${description}`)
  return rows[0]
}

/** The miniprogram.json errcode row of a path. */
function documentedMp(opPath, errcode) {
  const item = spec('miniprogram.json').paths[opPath]
  const op = Object.values(item).find((o) => o && o.operationId)
  const rows = op['x-weixin-errors'].filter((r) => r.errcode === errcode)
  assert.equal(rows.length, 1, `one documented row for ${opPath} ${errcode}`)
  return rows[0]
}

// -- common identities --------------------------------------------------------------------------

/** A valid 1x1 PNG (the sandbox accepts .png/.jpg/.bmp up to 2 MiB). */
const PNG_1X1 = Buffer.from(
  '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
    '1f15c4890000000d49444154789c63600000000200015e2b3a0c0000000049454e44ae426082',
  'hex'
)
/** A card id from the card documents' examples. */
const CARD_ID = 'pFS7Fjg8kV1IdDz01r4SQwMkuCKc'
/** Another merchant than the sandbox's. */
const OTHER_MCHID = '1900000002'

/** A fresh id: prefix + 20 hex characters. */
const uid = (prefix = 't') => prefix + crypto.randomBytes(10).toString('hex')
/** A fresh 12-digit stock id (like 101156451224). */
const newStockId = () => String(100000000000 + crypto.randomInt(0, 2 ** 47) % 899999999999)

const sha256 = (data) => crypto.createHash('sha256').update(data).digest('hex')
const sha1 = (data) => crypto.createHash('sha1').update(data).digest('hex')

// -- the sandbox, one per test file -------------------------------------------------------------

/**
 * Starts one sandbox for the calling test file (`before`), stops it (`after`), and gives every
 * test a clean slate (`beforeEach`): no faults, public-key signing, main listener up, empty
 * request log, no valid mini-program token or ticket. Returns `ctx` whose `sb` is the sandbox
 * once `before` has run.
 */
function useSandbox({ reset = true } = {}) {
  const ctx = { sb: undefined }
  before(async () => {
    ctx.sb = await Sandbox.start()
  })
  after(async () => {
    if (ctx.sb) await ctx.sb.stop()
  })
  if (reset) beforeEach(() => resetSandbox(ctx.sb))
  return ctx
}

async function resetSandbox(sb) {
  await sb.clearFaults()
  await sb.mpClearErrcodeFaults()
  await sb.setMainDown(false)
  await sb.setSigningMode('public_key')
  // force_refresh is honoured 30 s apart (as WeChat does): each test starts past that.
  await sb.mpAdvanceClock(31)
  await sb.mpExpireTokens()
  await sb.mpExpireTickets()
  await sb.resetLog()
}

/** The sandbox's request-log entries of one operation, oldest first. */
async function logFor(sb, operation) {
  return (await sb.requests()).filter((r) => r.operation === operation)
}

/** A function giving `mpCounters()` minus their values now (zero entries left out). */
async function mpDelta(sb) {
  const before = await sb.mpCounters()
  const delta = (now, was) => {
    if (now && typeof now === 'object') {
      const out = {}
      for (const [k, v] of Object.entries(now)) {
        const d = delta(v, (was || {})[k] ?? (v && typeof v === 'object' ? {} : 0))
        if (d !== 0 && !(d && typeof d === 'object' && Object.keys(d).length === 0)) out[k] = d
      }
      return out
    }
    return now - was
  }
  return async () => delta(await sb.mpCounters(), before)
}

/** A fresh stock in the sandbox; resolves to its id. */
async function newStock(sb, fields = {}) {
  const id = newStockId()
  await sb.createStock(id, fields)
  return id
}

/** A fresh user and notify_code registered in the sandbox. */
async function newNotifyCode(sb, notifyType = 1003, fields = {}) {
  const openid = uid('o')
  const code = uid('42')
  await sb.mpAddNotifyCode(openid, notifyType, code, fields)
  return { openid, code }
}

/** The current stable token of the mini-program (or of the card account), fetched over HTTP. */
async function rawToken(sb, account = 'mini_program') {
  const c = sb.credentials
  const [appid, secret] = account === 'card' ? [c.card_appid, c.card_secret] : [c.appid, c.secret]
  const res = await fetch(`${sb.baseUrl}/cgi-bin/stable_token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credential', appid, secret }),
  })
  return (await res.json()).access_token
}

/** A ticket fetched over HTTP with `token`. */
async function rawTicket(sb, token, type = 'wx_card') {
  const query = new URLSearchParams({ type, access_token: token })
  return (await fetch(`${sb.baseUrl}/cgi-bin/ticket/getticket?${query}`)).json()
}

// -- errors -------------------------------------------------------------------------------------

/**
 * Awaits `promise` (or calls `fn`), asserts it fails with `Class` (and WeixinKitError, Error,
 * `.name`), and that nothing secret of `secrets` is in its message or fields; returns the error.
 */
async function rejects(promiseOrFn, Class, secrets = []) {
  let error
  try {
    await (typeof promiseOrFn === 'function' ? promiseOrFn() : promiseOrFn)
  } catch (e) {
    error = e
  }
  assert.ok(error, `expected a ${Class.name}, nothing was thrown`)
  assert.ok(error instanceof Class, `expected a ${Class.name}, got ${error && error.name}: ${error && error.message}`)
  assert.ok(error instanceof weixin.WeixinKitError)
  assert.ok(error instanceof Error)
  assert.equal(error.name, Class.name)
  assertNoSecrets(error, secrets)
  return error
}

/** The secrets of a sandbox's credentials (private key, APIv3 key, AppSecrets). */
function secretsOf(credentials) {
  return [credentials.merchant_private_key, credentials.apiv3_key, credentials.secret, credentials.card_secret].filter(Boolean)
}

function assertNoSecrets(error, secrets) {
  const shown = `${error.message}\n${error.stack}\n${JSON.stringify({ ...error })}`
  for (const secret of secrets) {
    const body = secret.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '')
    // the whole secret, and for a PEM any 40 characters of its base64
    assert.ok(!shown.includes(secret), 'the error shows a secret')
    for (let i = 0; i + 40 <= body.length; i += 40) {
      assert.ok(!shown.includes(body.slice(i, i + 40)), 'the error shows part of a private key')
    }
  }
}

// -- a local receiver of notifications ----------------------------------------------------------

/** An HTTP server on 127.0.0.1 recording every request (path, headers, raw body). */
async function startReceiver() {
  const receiver = {
    received: [],
    status: 200,
    url: (p = '/wx/coupon') => `http://127.0.0.1:${server.address().port}${p}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
  const server = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      receiver.received.push({ path: req.url, method: req.method, headers: req.headers, body: Buffer.concat(chunks) })
      const answer = JSON.stringify({ code: 'SUCCESS', message: '成功' })
      res.writeHead(receiver.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) })
      res.end(answer)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return receiver
}

/**
 * Registers `receiver` through `pay.busifavor.setCouponNotify`, makes the sandbox send a
 * COUPON.SEND notification and returns `{ report, headers, body }` as the receiver got them.
 */
async function deliver(sb, receiver, pay, fields = {}) {
  const url = receiver.url('/wx/coupon/' + uid())
  await pay.busifavor.setCouponNotify({ notify_url: url })
  const stockId = await newStock(sb)
  const count = receiver.received.length
  const report = await sb.sendCouponNotification(stockId, fields)
  assert.ok(report.delivered, JSON.stringify(report))
  assert.ok(receiver.received.length > count)
  const got = receiver.received[receiver.received.length - 1]
  assert.ok(url.endsWith(got.path))
  return { report, headers: got.headers, body: got.body, stockId }
}

// -- processes, ports, Redis --------------------------------------------------------------------

/** A free TCP port on 127.0.0.1 (nothing listens on it when this resolves). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** Runs `node <args>`; resolves to `{ code, signal, stdout, stderr }` (a timeout kills it). */
function runNode(args, { env = {}, cwd = PKG, timeoutMs = 30000, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin.end(input === undefined ? '' : input)
  })
}

/** A temporary directory, removed by `cleanup()`. */
function tempDir(prefix = 'weixin-kit-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  return { dir, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) }
}

/** Where `redis-server` is, or null. */
function redisServerPath() {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const candidate = path.join(dir, 'redis-server')
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return candidate
    } catch {}
  }
  return null
}

/** One Redis command over RESP; resolves to the raw reply text. */
function redisCommand(port, ...args) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let data = ''
    socket.setTimeout(5000, () => socket.destroy(new Error('redis timeout')))
    socket.on('connect', () => {
      socket.write(`*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''))
    })
    socket.on('data', (d) => {
      data += d
      if (data.endsWith('\r\n')) socket.end()
    })
    socket.on('close', () => resolve(data))
    socket.on('error', reject)
  })
}

/**
 * Starts a real `redis-server` on a free port in a temp dir, without persistence; resolves to
 * `{ port, url(db), stop() }`, or null when redis-server is not installed.
 */
async function startRedis() {
  const binary = redisServerPath()
  if (!binary) return null
  const port = await freePort()
  const { dir, cleanup } = tempDir('weixin-kit-redis-')
  const proc = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  })
  let exited = false
  proc.on('exit', () => (exited = true))
  const deadline = Date.now() + 10000
  for (;;) {
    try {
      if ((await redisCommand(port, 'PING')).startsWith('+PONG')) break
    } catch {}
    if (exited || Date.now() > deadline) {
      proc.kill('SIGKILL')
      cleanup()
      throw new Error('redis-server did not start')
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  return {
    port,
    url: (db = 0) => `redis://127.0.0.1:${port}/${db}`,
    stop: () =>
      new Promise((resolve) => {
        if (exited) return resolve(cleanup())
        proc.once('exit', () => resolve(cleanup()))
        proc.kill('SIGTERM')
      }),
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

module.exports = {
  PKG,
  ROOT,
  weixin,
  Sandbox,
  spec,
  vectors,
  specOperations,
  camel,
  methodName,
  documentedPay,
  documentedMp,
  PNG_1X1,
  CARD_ID,
  OTHER_MCHID,
  uid,
  newStockId,
  sha256,
  sha1,
  useSandbox,
  resetSandbox,
  logFor,
  mpDelta,
  newStock,
  newNotifyCode,
  rawToken,
  rawTicket,
  rejects,
  secretsOf,
  assertNoSecrets,
  startReceiver,
  deliver,
  freePort,
  runNode,
  tempDir,
  redisServerPath,
  redisCommand,
  startRedis,
  sleep,
}
