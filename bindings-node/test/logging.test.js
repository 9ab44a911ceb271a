'use strict'
// setLogger (issue 16 part 4): the records a call produces, with their fields and levels, as a
// JS function receives them, against the sandbox; and that no secret, URL, body or openid is in
// them.

const { test, afterEach } = require('node:test')
const assert = require('node:assert/strict')
const h = require('./helpers.js')

const { setLogger, SignatureError } = h.weixin
const ctx = h.useSandbox()

afterEach(() => setLogger(null))

const modify = (client, stockId, no) =>
  client.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: no, comment: 'logged-comment-body' })

/** Records arrive on the JS thread after the call's promise may have settled: let them in. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50))

function assertNoSecrets(sb, records, ...extra) {
  const c = sb.credentials
  const text = JSON.stringify(records)
  const keyLine = c.merchant_private_key.split('\n')[5]
  for (const secret of [keyLine, c.apiv3_key, c.secret, 'access_token=', '/v3/', 'logged-comment-body', ...extra]) {
    assert.ok(secret && !text.includes(secret), secret)
  }
}

test('an answer is a record with the call, attempt and Request-ID', async () => {
  const { sb } = ctx
  const records = []
  assert.equal(setLogger((r) => records.push(r), { level: 'debug' }), true)
  const stockId = await h.newStock(sb)
  const no = h.uid()
  await modify(sb.payClient(), stockId, no)
  await settle()
  const answered = records.filter((r) => r.message === 'answered')
  assert.equal(answered.length, 1, JSON.stringify(records))
  const requestId = (await h.logFor(sb, 'ModifyStockInfo'))[0].request_id
  assert.ok(requestId)
  assert.deepEqual(answered[0], {
    level: 'info',
    target: 'weixin_kit',
    message: 'answered',
    fields: {
      operation: 'ModifyStockInfo', family: 'pay', attempt: 1, host: 'main',
      status: 204, request_id: requestId, latency_ms: answered[0].fields.latency_ms,
    },
  })
  const verified = records.filter((r) => r.message === 'response verified')
  assert.deepEqual(verified.map((r) => [r.level, r.fields.verification]), [['debug', 'ok']])
  assertNoSecrets(sb, records, stockId, no)
})

test('a retry, a failed verification, and the level', async () => {
  const { sb } = ctx
  const records = []
  setLogger((r) => records.push(r), { level: 'info' })
  const stockId = await h.newStock(sb)
  await sb.injectFault('ModifyStockInfo', 'system_error', { count: 1 })
  await modify(sb.payClient(), stockId, h.uid())
  await settle()
  assert.deepEqual(
    records.filter((r) => r.message === 'retrying').map((r) => [r.fields.retry_reason, r.fields.next_host]),
    [['server error', 'backup']]
  )
  assert.ok(records.every((r) => r.level !== 'debug'), 'nothing below info')

  records.length = 0
  setLogger((r) => records.push(r), { level: 'warn' })
  await sb.injectFault('ModifyStockInfo', 'tamper_signature', { count: 1 })
  await h.rejects(modify(sb.payClient(), stockId, h.uid()), SignatureError)
  await settle()
  assert.deepEqual(
    records.map((r) => [r.level, r.message, r.fields.error_kind]),
    [['warn', 'response verification failed', 'SignatureError']]
  )
  assertNoSecrets(sb, records, stockId)
})

test('a throwing logger does not break calls; setLogger(null) stops records', async () => {
  const { sb } = ctx
  let seen = 0
  setLogger(() => {
    seen += 1
    throw new Error('the logger broke')
  })
  const stockId = await h.newStock(sb)
  await modify(sb.payClient(), stockId, h.uid())
  await settle()
  assert.ok(seen > 0)
  setLogger(null)
  const before = seen
  await modify(sb.payClient(), stockId, h.uid())
  await settle()
  assert.equal(seen, before)
  assert.throws(() => setLogger(() => {}, { level: 'loud' }), TypeError)
})

test('a token refresh is logged without the token', async () => {
  const { sb } = ctx
  const records = []
  setLogger((r) => records.push(r))
  await sb.mpExpireTokens()
  const token = await sb.mpClient().accessToken()
  await settle()
  const refreshed = records.filter((r) => r.message === 'token refreshed')
  assert.equal(refreshed.length, 1, JSON.stringify(records))
  assert.ok(refreshed[0].fields.key.endsWith(':access_token'))
  assertNoSecrets(sb, records, token)
})
