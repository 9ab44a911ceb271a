'use strict'
// Retries, failover, timeouts and resets as the sandbox's request log saw them; and that the
// event loop never blocks while one client serves many concurrent calls.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const h = require('./helpers.js')

const { ApiError, TransportError, TimeoutError, MiniProgramError } = h.weixin
const ctx = h.useSandbox()

const modify = (client, stockId, extra = {}) => client.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'r', ...extra })

test('a system_error once, then success: 2 requests, the same body, applied once', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  await sb.injectFault('ModifyStockInfo', 'system_error', { count: 1 })
  const no = h.uid()
  assert.equal(await modify(sb.payClient(), stockId, { out_request_no: no }), undefined)
  const log = await h.logFor(sb, 'ModifyStockInfo')
  assert.deepEqual(log.map((r) => r.status), [500, 204])
  assert.deepEqual(log.map((r) => r.faults), [['system_error'], []])
  assert.equal(new Set(log.map((r) => r.body)).size, 1)
  assert.ok(log.every((r) => r.signature === 'ok'))
  assert.deepEqual((await sb.stock(stockId)).applied_out_request_nos, [no])
})

test('a persistent system_error is an ApiError after max_attempts (1 and 3)', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  await sb.injectFault('ModifyStockInfo', 'system_error')
  for (const attempts of [1, 3]) {
    await sb.resetLog()
    const e = await h.rejects(modify(sb.payClient({ max_attempts: attempts }), stockId), ApiError)
    const row = h.documentedPay('/v3/marketing/busifavor/stocks/{stock_id}', 'patch', 500, 'SYSTEM_ERROR', '系统异常,请稍后重试')
    assert.deepEqual([e.status, e.code, e.retryable, e.solution], [500, 'SYSTEM_ERROR', true, row.solution])
    assert.equal((await sb.requests()).length, attempts)
  }
})

test('a 429 once is retried', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  await sb.injectFault('ModifyStockInfo', 'frequency_limited', { count: 1 })
  await modify(sb.payClient(), stockId)
  assert.deepEqual((await sb.requests()).map((r) => r.status), [429, 204])
})

test('setMainDown(): served by the backup listener', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  await sb.setMainDown()
  assert.equal(await modify(sb.payClient(), stockId), undefined)
  const log = await sb.requests()
  assert.equal(log.at(-1).listener, 'backup')
  assert.equal(log.at(-1).status, 204)
  assert.deepEqual(log[0].faults, ['main_down'])
  await sb.setMainDown(false)
  await sb.resetLog()
  await modify(sb.payClient(), stockId)
  assert.deepEqual((await sb.requests()).map((r) => r.listener), ['main'])
})

test('connection_reset once is retried on the backup', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  await sb.injectFault('ModifyStockInfo', 'connection_reset', { count: 1 })
  await modify(sb.payClient(), stockId)
  assert.deepEqual((await sb.requests()).map((r) => [r.listener, r.status]), [['main', null], ['backup', 204]])
})

test('connection_reset without a backup is retried up to max_attempts, then a TransportError; max_attempts 1 → no retry', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  await sb.injectFault('ModifyStockInfo', 'connection_reset')
  await h.rejects(modify(sb.payClient({ backup_base_url: undefined }), stockId), TransportError)
  let log = await sb.requests()
  assert.equal(log.length, 3)
  assert.deepEqual(new Set(log.map((r) => r.listener)), new Set(['main']))
  await sb.resetLog()
  await h.rejects(modify(sb.payClient({ max_attempts: 1 }), stockId), TransportError)
  log = await sb.requests()
  assert.equal(log.length, 1)
  assert.deepEqual((await sb.stock(stockId)).applied_out_request_nos, [])
})

test('latency beyond the timeout is a TimeoutError; within it, success', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  await sb.injectFault('ModifyStockInfo', 'latency', { ms: 3000, count: 2 })
  await h.rejects(modify(sb.payClient({ timeout: 0.1, max_attempts: 2 }), stockId), TimeoutError)
  // Gave up at the timeout, before the server answered either attempt (it logs a request when
  // it answers, 3 s after receiving it) — read from the log, not the clock.
  assert.deepEqual(await h.logFor(sb, 'ModifyStockInfo'), [])
  assert.deepEqual(await sb.faults(), []) // both attempts were sent
  // Let both late answers land now, not in the next test's request log.
  const deadline = Date.now() + 15000
  while ((await h.logFor(sb, 'ModifyStockInfo')).length < 2 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.equal((await h.logFor(sb, 'ModifyStockInfo')).length, 2)
  await sb.injectFault('ModifyStockInfo', 'latency', { ms: 50, count: 1 })
  assert.equal(await modify(sb.payClient({ timeout: 2 }), stockId), undefined)
})

test('mini-program: system busy (-1) is retried; 45009 daily quota never is', async () => {
  const { sb } = ctx
  const mp = sb.mpClient()
  const counters = await h.mpDelta(sb)
  const { openid, code } = await h.newNotifyCode(sb)
  await sb.mpAddErrcodeFault('/wxa/set_user_notifyext', -1, { count: 2 })
  await mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: { a: 1 } })
  assert.equal((await counters()).calls.setUserNotifyExt, 3)
  assert.equal((await sb.mpNotifyExt(openid, code)).count, 1)
  await sb.injectFault('setUserNotifyExt', 'daily_quota')
  const e = await h.rejects(mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: {} }), MiniProgramError)
  assert.equal(e.errcode, 45009)
  const quota = (await h.logFor(sb, 'setUserNotifyExt')).filter((r) => r.faults.includes('daily_quota'))
  assert.equal(quota.length, 1) // sent once, not retried
})

test('16 concurrent modifyStockInfo on one client run without blocking the event loop', async () => {
  // Correctness only: how fast (calls per second, client CPU per call) is `cargo xtask bench`'s
  // job, never a timed assertion here (these machines are shared and noisy).
  const { sb } = ctx
  const pay = sb.payClient()
  const stockId = await h.newStock(sb)
  await sb.injectFault('ModifyStockInfo', 'latency', { ms: 150 })
  const numbers = Array.from({ length: 16 }, () => h.uid())
  let ticks = 0
  const timer = setInterval(() => { ticks++ }, 1)
  let results
  try {
    results = await Promise.all(numbers.map((no) => pay.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: no, goods_name: 'x' })))
  } finally {
    clearInterval(timer)
  }
  assert.deepEqual(results, Array(16).fill(undefined))
  // The calls waited at least 150 ms on the server: a native call that blocked the event loop
  // for their whole duration would leave the timer no turn at all.
  assert.ok(ticks > 0, 'the event loop never ran while 16 calls were in flight')
  assert.deepEqual([...(await sb.stock(stockId)).applied_out_request_nos].sort(), [...numbers].sort())
  // Each call reached the server, signed and answered (a retry of one under load — the call is
  // idempotent — may add an entry, never a different request).
  const log = await h.logFor(sb, 'ModifyStockInfo')
  assert.deepEqual([...new Set(log.map((r) => JSON.parse(r.body).out_request_no))].sort(), [...numbers].sort())
  assert.ok(log.every((r) => r.signature === 'ok' && r.status === 204))
})

// A server that reads each request and closes the connection without answering: the request
// reached it (it may have been applied), the client gets no response.
async function dropper () {
  const net = require('node:net')
  const state = { requests: 0 }
  const server = net.createServer((socket) => {
    let data = ''
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1')
      const end = data.indexOf('\r\n\r\n')
      if (end < 0) return
      const length = Number((/content-length:\s*(\d+)/i.exec(data.slice(0, end)) || [0, 0])[1])
      if (data.length >= end + 4 + length) {
        state.requests += 1
        socket.destroy()
      }
    })
    socket.on('error', () => {})
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${server.address().port}`
  state.close = () => new Promise((resolve) => server.close(resolve))
  return state
}

test('a POST that may have been applied is not sent again; idempotent: true sends it again', async () => {
  const { sb } = ctx
  const d = await dropper()
  try {
    const pay = sb.payClient({ base_url: d.url, backup_base_url: undefined })
    const body = { notify_url: 'https://example.com/n' }
    const e = await h.rejects(pay.request('POST', '/v3/marketing/busifavor/callbacks', body), TransportError)
    assert.equal(d.requests, 1)
    assert.equal(e.may_have_been_applied, true)
    assert.equal(e.retryable, false)
    assert.match(e.message, /may have been applied/)
    const again = await h.rejects(pay.request('POST', '/v3/marketing/busifavor/callbacks', body, true), TransportError)
    assert.equal(d.requests, 1 + 3)
    assert.equal(again.may_have_been_applied, false)
    assert.equal(again.retryable, true)
  } finally {
    await d.close()
  }
})
