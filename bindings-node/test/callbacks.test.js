'use strict'
// JS callbacks: an async token provider whose token is what the sandbox received, a signer on
// node:crypto that the sandbox verifies (a wrong key → 401 SIGN_ERROR), and a callback that
// never answers → TimeoutError after callback_timeout, nothing sent.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const nodeCrypto = require('node:crypto')
const h = require('./helpers.js')

const { ApiError, TimeoutError, ConfigError } = h.weixin
const ctx = h.useSandbox()

const tokenOf = (entry, base) => new URL(entry.path, base).searchParams.get('access_token')

test('an async token provider: its token is the one the sandbox received', async () => {
  const { sb } = ctx
  const token = await h.rawToken(sb) // issued by the sandbox, fetched outside our client
  const counters = await h.mpDelta(sb)
  let calls = 0
  const mp = sb.mpClient({
    secret: undefined,
    token_provider: async (...args) => {
      calls++
      assert.deepEqual(args, [])
      await h.sleep(5)
      return token
    },
  })
  const { openid, code } = await h.newNotifyCode(sb)
  assert.equal((await mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: { p: 1 } })).errcode, 0)
  const [entry] = await h.logFor(sb, 'setUserNotifyExt')
  assert.equal(tokenOf(entry, sb.baseUrl), token)
  assert.ok(calls >= 1)
  assert.equal(await mp.accessToken(), token)
  const d = await counters()
  assert.equal(d.calls.getStableAccessToken ?? 0, 0) // the client fetched no token itself
  assert.equal(d.tokens_issued ?? 0, 0)
  assert.equal((await sb.mpNotifyExt(openid, code)).count, 1)
})

test('a plain (sync) token provider returning a token the sandbox refuses: a MiniProgramError 40001', async () => {
  const { sb } = ctx
  const mp = sb.mpClient({ secret: undefined, token_provider: () => 'not-a-token-' + h.uid() })
  const { openid, code } = await h.newNotifyCode(sb)
  const e = await h.rejects(mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: {} }), h.weixin.MiniProgramError)
  assert.equal(e.errcode, 40001)
  assert.equal((await sb.mpNotifyExt(openid, code)).count, 0)
})

test('a card token provider supplies the card account’s token for card operations', async () => {
  const { sb } = ctx
  const cardToken = await h.rawToken(sb, 'card')
  const mp = sb.mpClient({ card_secret: undefined, card_token_provider: async () => cardToken })
  const answer = await mp.card.getTicket({ type: 'wx_card' })
  const [entry] = await h.logFor(sb, 'getTicket')
  assert.equal(tokenOf(entry, sb.baseUrl), cardToken)
  assert.equal(answer.ticket, (await h.rawTicket(sb, cardToken)).ticket)
})

test('a signer with node:crypto and the merchant key: the sandbox verifies every request', async () => {
  const { sb } = ctx
  const messages = []
  const pay = sb.payClient({
    private_key: undefined,
    signer: async (message) => {
      messages.push(message)
      return nodeCrypto.sign('sha256', Buffer.from(message), sb.credentials.merchant_private_key).toString('base64')
    },
  })
  const stockId = await h.newStock(sb)
  const no = h.uid()
  assert.equal(await pay.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: no, comment: 's' }), undefined)
  const [entry] = await sb.requests()
  assert.equal(entry.signature, 'ok')
  assert.equal(entry.status, 204)
  assert.equal(messages.length, 1)
  // the signing string is METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n of what the sandbox received
  const lines = messages[0].split('\n')
  assert.deepEqual([lines[0], lines[1], lines[4], lines[5]], ['PATCH', entry.path, entry.body, ''])
  assert.deepEqual((await sb.stock(stockId)).applied_out_request_nos, [no])
})

test('a signer with the wrong key: ApiError 401 SIGN_ERROR from the sandbox', async () => {
  const { sb } = ctx
  const { privateKey } = nodeCrypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  const pay = sb.payClient({ private_key: undefined, signer: (m) => nodeCrypto.sign('sha256', Buffer.from(m), privateKey).toString('base64') })
  const stockId = await h.newStock(sb)
  const e = await h.rejects(pay.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' }), ApiError, h.secretsOf(sb.credentials))
  assert.deepEqual([e.status, e.code], [401, 'SIGN_ERROR'])
  const [entry] = await sb.requests()
  assert.notEqual(entry.signature, 'ok')
  assert.equal(entry.status, 401)
  assert.deepEqual((await sb.stock(stockId)).applied_out_request_nos, [])
})

test('a signer that never answers: TimeoutError after callback_timeout, nothing sent', async () => {
  const { sb } = ctx
  const pay = sb.payClient({ private_key: undefined, callback_timeout: 0.2, signer: () => new Promise(() => {}) })
  const stockId = await h.newStock(sb)
  const started = Date.now()
  const e = await h.rejects(pay.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' }), TimeoutError)
  const elapsed = Date.now() - started
  assert.ok(elapsed >= 150 && elapsed < 3000, `${elapsed} ms`)
  assert.match(e.message, /callback_timeout/)
  assert.deepEqual(await sb.requests(), [])
})

test('a token provider that never answers: TimeoutError after callback_timeout', async () => {
  const { sb } = ctx
  const mp = sb.mpClient({ secret: undefined, callback_timeout: 0.2, token_provider: () => new Promise(() => {}) })
  await h.rejects(mp.accessToken(), TimeoutError)
})

test('callbacks in the wrong family, or with their key, are ConfigErrors', async () => {
  const { sb } = ctx
  await h.rejects(() => sb.payClient({ signer: () => 'x' }), ConfigError) // private_key and signer
  await h.rejects(() => sb.mpClient({ token_provider: () => 'x' }), ConfigError) // secret and provider
  await h.rejects(() => sb.payClient({ token_provider: () => 'x' }), ConfigError)
  await h.rejects(() => sb.mpClient({ signer: () => 'x' }), ConfigError)
})
