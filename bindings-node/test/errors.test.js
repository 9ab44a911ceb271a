'use strict'
// Every error class raised from a real condition (the sandbox's answers, faults, a closed port,
// bad configuration, failing callbacks), each an instance of its class, of WeixinKitError and
// of Error, with its name and fields and nothing secret in it; and the exported classes against
// the core's table (addon.errorKinds()).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const h = require('./helpers.js')

const { weixin } = h
const {
  WeixinKitError, ApiError, MiniProgramError, SignatureError, ValidationError, TransportError,
  TimeoutError, ConfigError, UnexpectedResponseError, CallbackError,
} = weixin
const { addon } = require('../lib/native.js')
const errorsModule = require('../generated/errors.js')

const ctx = h.useSandbox()
const secrets = () => h.secretsOf(ctx.sb.credentials)
const MODIFY_PATH = '/v3/marketing/busifavor/stocks/{stock_id}'

test('the exported classes are exactly the core table, each carrying its fields', () => {
  const kinds = addon.errorKinds()
  assert.ok(kinds.length >= 10)
  const exported = Object.entries(weixin).filter(([, v]) => typeof v === 'function' && (v === Error || v.prototype instanceof Error))
  assert.deepEqual(exported.map(([k]) => k).sort(), kinds.map((k) => k.class_name).sort())
  for (const { class_name: name, fields } of kinds) {
    const Class = weixin[name]
    assert.equal(typeof Class, 'function', name)
    assert.ok(Class === WeixinKitError || Class.prototype instanceof WeixinKitError, name)
    // the native layer's description → the class, with every field of the table
    const values = Object.fromEntries(fields.map((f) => [f, `v-${f}`]))
    const e = errorsModule.errorFromDescription({ kind: name, text: `text of ${name}`, ...values })
    assert.ok(e instanceof Class, name)
    assert.equal(e.name, name)
    assert.equal(e.message, `text of ${name}`)
    for (const f of fields) assert.equal(e[f], `v-${f}`, `${name}.${f}`)
  }
})

test('ApiError: the 404 of an unknown stock, with status/code/msg/solution/request_id', async () => {
  const { sb } = ctx
  const e = await h.rejects(sb.payClient().busifavor.modifyStockInfo({ stock_id: '404404404', out_request_no: h.uid(), comment: 'c' }), ApiError, secrets())
  const row = h.documentedPay(MODIFY_PATH, 'patch', 404, 'RESOURCE_NOT_EXISTS', '批次不存在')
  assert.deepEqual([e.status, e.code, e.msg, e.solution], [404, 'RESOURCE_NOT_EXISTS', row.description, row.solution])
  assert.equal(e.request_id, (await sb.requests())[0].request_id)
})

test('ApiError: the 403 of another creator’s stock', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb, { creator_mchid: h.OTHER_MCHID })
  const e = await h.rejects(sb.payClient().busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' }), ApiError, secrets())
  const row = h.documentedPay(MODIFY_PATH, 'patch', 403, 'RULE_LIMIT', '修改流程中仅允许创建方进行操作')
  assert.deepEqual([e.status, e.code, e.msg, e.solution], [403, 'RULE_LIMIT', row.description, row.solution])
  assert.equal(e.request_id, (await sb.requests()).at(-1).request_id)
})

test('MiniProgramError: an errcode fault, with errcode/errmsg/solution', async () => {
  const { sb } = ctx
  const counters = await h.mpDelta(sb)
  const { openid, code } = await h.newNotifyCode(sb)
  await sb.mpAddErrcodeFault('/wxa/set_user_notifyext', 85436, { count: 1 })
  const e = await h.rejects(
    sb.mpClient().serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: {} }),
    MiniProgramError,
    secrets()
  )
  const row = h.documentedMp('/wxa/set_user_notifyext', 85436)
  assert.deepEqual([e.errcode, e.errmsg, e.solution, e.retryable], [85436, row.errmsg, row.solution, false])
  assert.ok(e.message.includes('85436'))
  const d = await counters()
  assert.equal(d.calls.setUserNotifyExt, 1)
  assert.equal(d.faults_injected, 1)
  assert.equal((await sb.mpNotifyExt(openid, code)).count, 0)
})

test('SignatureError: a response whose signature the sandbox tampered with', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  await sb.injectFault('ModifyStockInfo', 'tamper_signature')
  await h.rejects(sb.payClient().busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' }), SignatureError, secrets())
  const [entry] = await sb.requests()
  assert.equal(entry.status, 204) // the request was fine: only the answer's signature was spoiled
  assert.deepEqual(entry.faults, ['tamper_signature'])
})

test('ValidationError: a missing required field, names the field and the rule; nothing sent', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  const e = await h.rejects(sb.payClient().busifavor.modifyStockInfo({ stock_id: stockId, comment: 'c' }), ValidationError, secrets())
  assert.equal(e.field, 'out_request_no')
  assert.match(e.rule, /required/)
  assert.ok(e.message.includes('out_request_no'))
  for (const [args, field, words] of [
    [{ comment: '一'.repeat(21) }, 'comment', '20'],
    [{ goods_name: '一'.repeat(16) }, 'goods_name', '15'],
    [{ custom_entrance: { code_display_mode: 'STRIPES' } }, 'custom_entrance.code_display_mode', 'one of'],
  ]) {
    const v = await h.rejects(sb.payClient().busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), ...args }), ValidationError)
    assert.equal(v.field, field)
    assert.ok(v.rule.includes(words), v.rule)
  }
  assert.deepEqual(await sb.requests(), [])
})

test('ValidationError: arguments that are not an object', async () => {
  const { sb } = ctx
  const pay = sb.payClient()
  for (const bad of ['stock', 42, [1, 2], Buffer.from('x'), true]) {
    const e = await h.rejects(() => pay.busifavor.modifyStockInfo(bad), ValidationError)
    assert.equal(e.field, 'args')
    assert.ok(e.rule.length > 0)
  }
  assert.deepEqual(await sb.requests(), [])
})

test('TransportError: connection_reset with max_attempts 1, and a port nothing listens on', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  await sb.injectFault('ModifyStockInfo', 'connection_reset')
  const e = await h.rejects(
    sb.payClient({ max_attempts: 1 }).busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' }),
    TransportError,
    secrets()
  )
  assert.equal(e.retryable, true)
  const log = await sb.requests()
  assert.equal(log.length, 1)
  assert.deepEqual(log[0].faults, ['connection_reset'])
  assert.equal(log[0].status, null)

  const port = await h.freePort()
  await h.rejects(
    sb.payClient({ base_url: `http://127.0.0.1:${port}`, backup_base_url: undefined, max_attempts: 1 }).busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' }),
    TransportError,
    secrets()
  )
  assert.deepEqual((await sb.stock(stockId)).applied_out_request_nos, [])
})

test('TimeoutError: latency beyond a small timeout', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  await sb.injectFault('ModifyStockInfo', 'latency', { ms: 3000, count: 1 })
  const e = await h.rejects(
    sb.payClient({ timeout: 0.15, max_attempts: 1 }).busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' }),
    TimeoutError,
    secrets()
  )
  // The client gave up at its timeout, not at the answer: the server logs a request when it
  // answers (3 s later), so the log is still empty — then wait for it, so that it does not land
  // in the next test's log.
  assert.deepEqual(await h.logFor(sb, 'ModifyStockInfo'), [])
  const deadline = Date.now() + 15000
  while ((await h.logFor(sb, 'ModifyStockInfo')).length < 1 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.equal(e.retryable, true)
  assert.notEqual(TimeoutError, globalThis.TimeoutError) // ours, not a global
})

test('ConfigError: a missing key, an unknown key and a bad value are each named', async () => {
  const { sb } = ctx
  const cases = [
    [{ mchid: undefined }, 'mchid'],
    [{ no_such_key: 1 }, 'no_such_key'],
    [{ timeout: -1 }, 'timeout'],
    [{ max_attempts: 0 }, 'max_attempts'],
    [{ apiv3_key: 'too short' }, 'APIv3 key'],
    [{ wechatpay_public_key: undefined }, 'wechatpay_public_key'],
  ]
  for (const [overrides, named] of cases) {
    const e = await h.rejects(() => sb.payClient(overrides), ConfigError, secrets())
    assert.ok(e.message.includes(named), `${e.message} names ${named}`)
  }
  // a private key that is not one: the message names the formats, never the key
  const bad = '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n'
  const e = await h.rejects(() => sb.payClient({ private_key: bad }), ConfigError, secrets())
  assert.ok(e.message.includes('PKCS#8'), e.message)
  await h.rejects(() => sb.mpClient({ secret: undefined }), ConfigError, secrets())
  await h.rejects(() => new weixin.PayClient('mchid=1'), ConfigError)
  await h.rejects(() => sb.payClient({ signer: 'not a function' }), ConfigError)
})

test('UnexpectedResponseError: a 405 without a WeChat error body, and a mini-program 500', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  const e = await h.rejects(sb.payClient().request('GET', `/v3/marketing/busifavor/stocks/${stockId}`), UnexpectedResponseError, secrets())
  assert.equal(e.status, 405)
  assert.equal((await sb.requests()).at(-1).status, 405)

  const mp = sb.mpClient({ max_attempts: 1 })
  const { openid, code } = await h.newNotifyCode(sb)
  await mp.accessToken()
  await sb.injectFault('setUserNotifyExt', 'system_error')
  const e2 = await h.rejects(mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: {} }), UnexpectedResponseError, secrets())
  assert.equal(e2.status, 500)
  assert.equal((await h.logFor(sb, 'setUserNotifyExt')).at(-1).status, 500)
})

test('CallbackError: a signer that throws, one that returns a non-string; nothing is sent', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  const args = { stock_id: stockId, out_request_no: h.uid(), comment: 'c' }
  const thrower = sb.payClient({ private_key: undefined, signer: () => { throw new RangeError('the KMS is down') } })
  const e = await h.rejects(thrower.busifavor.modifyStockInfo(args), CallbackError, secrets())
  assert.equal(e.callback, 'signer')
  assert.ok(e.message.includes('the KMS is down'), e.message)
  assert.ok(e.message.includes('RangeError'), e.message)

  for (const [value, words] of [[42, 'a number'], [null, 'nothing'], [{ sig: 'x' }, 'an object'], ['', 'empty']]) {
    const client = sb.payClient({ private_key: undefined, signer: async () => value })
    const e2 = await h.rejects(client.busifavor.modifyStockInfo(args), CallbackError, secrets())
    assert.equal(e2.callback, 'signer')
    assert.ok(e2.message.includes(words), e2.message)
  }
  const e3 = await h.rejects(sb.mpClient({ secret: undefined, token_provider: async () => { throw new Error('no token today') } }).accessToken(), CallbackError, secrets())
  assert.equal(e3.callback, 'token_provider')
  assert.ok(e3.message.includes('no token today'))
  assert.deepEqual(await sb.requests(), [])
})

test('WeixinKitError: a binding failure (a native argument it cannot convert)', async () => {
  const { sb } = ctx
  const pay = sb.payClient()
  // a headers value the core cannot take: a ValidationError, still a WeixinKitError
  const e = await h.rejects(pay.parseNotification({ 'wechatpay-nonce': 5 }, '{}'), ValidationError)
  assert.equal(e.field, 'headers')
  assert.ok(new WeixinKitError('x') instanceof Error)
})
