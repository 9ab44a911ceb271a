'use strict'
// Every operation of spec/miniprogram.json (and cardExt, accessToken, refreshAccessToken)
// through MiniProgramClient against the sandbox, checked through what the sandbox received
// (request log, mpNotifyExt, mpCounters, wxAddCard's own signature check).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const h = require('./helpers.js')

const { MiniProgramError, ValidationError, ConfigError } = h.weixin
const ctx = h.useSandbox()
const MINIPROGRAM = h.spec('miniprogram.json')
const DOC_EXT_EXAMPLE = MINIPROGRAM.components.schemas.SetUserNotifyExtRequest.examples[0]

test('every operation of miniprogram.json is a method of its tag group, sending that operation', async () => {
  const { sb } = ctx
  const mp = sb.mpClient()
  const ops = h.specOperations('miniprogram.json')
  assert.ok(ops.length >= 7)
  for (const op of ops) {
    const group = mp[h.camel(op.tag)]
    assert.equal(typeof group, 'object', op.tag)
    assert.equal(typeof group[h.methodName(op.operationId)], 'function', op.operationId)
  }
  const c = sb.credentials
  const creds = { grant_type: 'client_credential', appid: c.appid, secret: c.secret }
  const { openid, code } = await h.newNotifyCode(sb)
  await mp.auth.getAccessToken(creds)
  await mp.auth.getStableAccessToken(creds)
  await mp.serviceCard.setUserNotify({ openid, notify_type: 1003, notify_code: code, content_json: { cur_status: 1 } })
  await mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: {} })
  await mp.serviceCard.getUserNotify({ openid, notify_type: 1003, notify_code: code })
  await mp.card.getTicket({ type: 'wx_card' })
  await mp.card.decryptCardCode({ encrypt_code: await sb.mpEncryptCardCode(h.CARD_ID, '123456789012') })
  const seen = new Set((await sb.requests()).map((r) => r.operation))
  for (const op of ops) assert.ok(seen.has(op.operationId), op.operationId)
  for (const entry of await sb.requests()) {
    const op = ops.find((o) => o.operationId === entry.operation)
    if (op) {
      assert.equal(entry.method, op.method, op.operationId)
      assert.equal(entry.path.split('?')[0], op.path, op.operationId)
    }
  }
})

test('auth.getAccessToken: a GET of /cgi-bin/token the sandbox issued a token for', async () => {
  const { sb } = ctx
  const counters = await h.mpDelta(sb)
  const c = sb.credentials
  const answer = await sb.mpClient().auth.getAccessToken({ grant_type: 'client_credential', appid: c.appid, secret: c.secret })
  assert.equal(answer.expires_in, 7200)
  assert.equal((await counters()).tokens_issued, 1)
  const [entry] = await h.logFor(sb, 'getAccessToken')
  const query = new URL(entry.path, sb.baseUrl).searchParams
  assert.equal(entry.method, 'GET')
  assert.equal(query.get('grant_type'), 'client_credential')
  assert.equal(query.get('appid'), c.appid)
  assert.equal((await h.rawTicket(sb, answer.access_token, 'jsapi')).errcode, 0)
})

test('auth.getStableAccessToken and its force_refresh', async () => {
  const { sb } = ctx
  const mp = sb.mpClient()
  const counters = await h.mpDelta(sb)
  const c = sb.credentials
  const creds = { grant_type: 'client_credential', appid: c.appid, secret: c.secret }
  const first = await mp.auth.getStableAccessToken(creds)
  const body = JSON.parse((await h.logFor(sb, 'getStableAccessToken'))[0].body)
  assert.equal(body.force_refresh ?? false, false)
  delete body.force_refresh
  assert.deepEqual(body, creds)
  const forced = await mp.auth.getStableAccessToken({ ...creds, force_refresh: true })
  assert.deepEqual(JSON.parse((await h.logFor(sb, 'getStableAccessToken')).at(-1).body), { ...creds, force_refresh: true })
  assert.notEqual(forced.access_token, first.access_token)
  assert.equal((await counters()).stable_tokens_forced, 1)
  assert.equal((await h.rawTicket(sb, first.access_token, 'jsapi')).errcode, 40001)
  assert.equal((await h.rawTicket(sb, forced.access_token, 'jsapi')).errcode, 0)
})

test('accessToken() is the token the sandbox issued, cached; refreshAccessToken() replaces it', async () => {
  const { sb } = ctx
  const mp = sb.mpClient()
  const counters = await h.mpDelta(sb)
  const token = await mp.accessToken()
  assert.equal(token, await h.rawToken(sb))
  assert.equal(await mp.accessToken(), token)
  assert.equal((await counters()).calls.getStableAccessToken, 2) // ours once + rawToken once
  const refreshed = await mp.refreshAccessToken()
  assert.notEqual(refreshed, token)
  assert.equal((await counters()).stable_tokens_forced, 1)
  assert.equal(await mp.accessToken(), refreshed)
  assert.equal(refreshed, await h.rawToken(sb))
})

test("serviceCard.setUserNotifyExt with objects sends doc 01's nested JSON-string form", async () => {
  const { sb } = ctx
  const { openid, code } = await h.newNotifyCode(sb)
  const docExt = JSON.parse(DOC_EXT_EXAMPLE.ext_json)
  const structured = Object.fromEntries(Object.entries(docExt).map(([k, v]) => [k, JSON.parse(v)]))
  const answer = await sb.mpClient().serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: structured })
  assert.equal(answer.errcode, 0)
  const received = await sb.mpNotifyExt(openid, code)
  assert.equal(received.count, 1)
  assert.equal(received.notify_type, 1003)
  const sent = JSON.parse(received.ext_json)
  assert.deepEqual(Object.keys(sent).sort(), Object.keys(docExt).sort())
  for (const [key, value] of Object.entries(sent)) {
    assert.equal(typeof value, 'string', key)
    assert.deepEqual(JSON.parse(value), JSON.parse(docExt[key]), key)
  }
  const [entry] = await h.logFor(sb, 'setUserNotifyExt')
  const body = JSON.parse(entry.body)
  assert.equal(typeof body.ext_json, 'string')
  assert.deepEqual({ openid: body.openid, notify_type: body.notify_type, notify_code: body.notify_code }, { openid, notify_type: 1003, notify_code: code })
})

test('serviceCard.setUserNotifyExt with a string sends it verbatim', async () => {
  const { sb } = ctx
  const { openid, code } = await h.newNotifyCode(sb)
  await sb.mpClient().serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: DOC_EXT_EXAMPLE.ext_json })
  assert.equal((await sb.mpNotifyExt(openid, code)).ext_json, DOC_EXT_EXAMPLE.ext_json)
})

test('serviceCard.setUserNotify and getUserNotify', async () => {
  const { sb } = ctx
  const mp = sb.mpClient()
  const { openid, code } = await h.newNotifyCode(sb, 1003, { requires_check_json: true })
  const content = { cur_status: 1, wording: '已发货' }
  const check = { pay_amount: 2001, pay_time: 1683546394 }
  assert.equal((await mp.serviceCard.setUserNotify({ openid, notify_type: 1003, notify_code: code, content_json: content, check_json: check })).errcode, 0)
  const stored = await sb.mpNotifyExt(openid, code)
  assert.deepEqual(JSON.parse(stored.content_json), content)
  const body = JSON.parse((await h.logFor(sb, 'setUserNotify'))[0].body)
  assert.equal(typeof body.content_json, 'string')
  assert.deepEqual(JSON.parse(body.check_json), check)

  const info = await mp.serviceCard.getUserNotify({ openid, notify_code: code, notify_type: 1003 })
  assert.equal(info.errcode, 0)
  assert.equal(info.notify_info.notify_type, 1003)
  assert.equal(info.notify_info.content_json, stored.content_json)
  assert.deepEqual(JSON.parse((await h.logFor(sb, 'getUserNotify'))[0].body), { openid, notify_code: code, notify_type: 1003 })
})

test("card.getTicket: the card owner's wx_card ticket", async () => {
  const { sb } = ctx
  const counters = await h.mpDelta(sb)
  const answer = await sb.mpClient().card.getTicket({ type: 'wx_card' })
  assert.equal(answer.errcode, 0)
  assert.equal(answer.expires_in, 7200)
  assert.deepEqual((await counters()).tickets_issued_by_type, { wx_card: 1 })
  assert.ok(new URL((await h.logFor(sb, 'getTicket'))[0].path, sb.baseUrl).search.startsWith('?type=wx_card'))
  assert.equal((await h.rawTicket(sb, await h.rawToken(sb, 'card'))).ticket, answer.ticket)
})

test('card.decryptCardCode of mpEncryptCardCode; an altered code is errcode 40056', async () => {
  const { sb } = ctx
  const mp = sb.mpClient()
  const plain = String(Date.now()).slice(-12)
  const encrypted = await sb.mpEncryptCardCode(h.CARD_ID, plain)
  assert.equal((await mp.card.decryptCardCode({ encrypt_code: encrypted })).code, plain)
  assert.deepEqual(JSON.parse((await h.logFor(sb, 'decryptCardCode'))[0].body), { encrypt_code: encrypted })
  const altered = (encrypted[0] !== 'A' ? 'A' : 'B') + encrypted.slice(1)
  const e = await h.rejects(mp.card.decryptCardCode({ encrypt_code: altered }), MiniProgramError)
  assert.equal(e.errcode, 40056)
})

for (const [openid, code] of [
  [undefined, undefined],
  ['oFS7Fjl0WsZ9AMZqrI80nbIq8xrA', undefined],
  [undefined, '110201201245'],
  ['oFS7Fjl0WsZ9AMZqrI80nbIq8xrA', 'AB12cd34'],
]) {
  test(`card.cardExt (openid ${openid}, code ${code}): the documented SHA1, accepted by wx.addCard`, async () => {
    const { sb } = ctx
    const counters = await h.mpDelta(sb)
    const item = await sb.mpClient().card.cardExt({ card_id: h.CARD_ID, openid, code })
    assert.deepEqual(Object.keys(item).sort(), ['cardExt', 'cardId'])
    assert.equal(item.cardId, h.CARD_ID)
    const ext = JSON.parse(item.cardExt)
    assert.equal(ext.openid, openid)
    assert.equal(ext.code, code)
    assert.match(ext.timestamp, /^\d+$/)
    assert.deepEqual((await counters()).tickets_issued_by_type, { wx_card: 1 })
    const ticket = (await h.rawTicket(sb, await h.rawToken(sb, 'card'))).ticket
    const values = [ticket, ext.timestamp, h.CARD_ID, ext.nonce_str, ...[code, openid].filter((v) => v !== undefined)]
    assert.equal(ext.signature, h.sha1(values.sort().join('')))
    // the front end's wx.addCard (the sandbox) checks the signature against the owner's ticket
    const added = await sb.wxAddCard([item], openid)
    assert.equal(added.cardList.length, 1)
    assert.equal(added.cardList[0].isSuccess, true, JSON.stringify(added))
    assert.equal((await counters()).card_adds.accepted, 1)
  })
}

test('wx.addCard refuses a cardExt whose signature was altered', async () => {
  const { sb } = ctx
  const counters = await h.mpDelta(sb)
  const item = await sb.mpClient().card.cardExt({ card_id: h.CARD_ID })
  const ext = JSON.parse(item.cardExt)
  ext.signature = ext.signature.replace(/^./, (c) => (c === 'a' ? 'b' : 'a'))
  const added = await sb.wxAddCard([{ cardId: item.cardId, cardExt: JSON.stringify(ext) }])
  assert.equal(added.cardList[0].isSuccess, false)
  assert.equal((await counters()).card_adds.rejected, 1)
})

test('cardExt reuses the cached ticket and a new nonce_str every time', async () => {
  const { sb } = ctx
  const mp = sb.mpClient()
  const counters = await h.mpDelta(sb)
  const nonces = new Set()
  for (let i = 0; i < 3; i++) nonces.add(JSON.parse((await mp.card.cardExt({ card_id: h.CARD_ID })).cardExt).nonce_str)
  assert.equal((await counters()).calls.getTicket, 1)
  assert.equal(nonces.size, 3)
})

test('an expired token is refreshed once and the call retried', async () => {
  const { sb } = ctx
  const mp = sb.mpClient()
  const counters = await h.mpDelta(sb)
  const { openid, code } = await h.newNotifyCode(sb)
  await mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: { n: 1 } })
  await sb.mpExpireTokens()
  await mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: { n: 2 } })
  const d = await counters()
  assert.equal(d.stable_tokens_issued, 2)
  assert.equal(d.calls.setUserNotifyExt, 3) // ok, 42001, ok
  assert.deepEqual((await sb.mpNotifyExt(openid, code)).ext_history.map((r) => JSON.parse(r.ext_json)), [{ n: 1 }, { n: 2 }])
})

test('a notify_code not yet valid is 85437 until the sandbox clock moves on', async () => {
  const { sb } = ctx
  const mp = sb.mpClient()
  const { openid, code } = await h.newNotifyCode(sb, 1003, { valid_after_secs: 60 })
  const e = await h.rejects(mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: {} }), MiniProgramError)
  assert.equal(e.errcode, 85437)
  await sb.mpAdvanceClock(61)
  assert.equal((await mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: { a: 1 } })).errcode, 0)
})

test('invalid input is a ValidationError and nothing is sent', async () => {
  const { sb } = ctx
  const mp = sb.mpClient()
  const counters = await h.mpDelta(sb)
  const { openid, code } = await h.newNotifyCode(sb)
  for (const [args, field] of [
    [{ notify_type: '1003' }, 'notify_type'],
    [{ ext_json: [1, 2] }, 'ext_json'],
    [{ openid: undefined }, 'openid'],
  ]) {
    const e = await h.rejects(mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: {}, ...args }), ValidationError)
    assert.equal(e.field, field)
  }
  const e = await h.rejects(mp.card.getTicket({ type: 'wx_cards' }), ValidationError)
  assert.equal(e.field, 'type')
  assert.deepEqual((await counters()).calls || {}, {})
})

test('mini-program configuration errors', async () => {
  const { sb } = ctx
  for (const overrides of [{ secret: undefined }, { token_store: 'mongodb://127.0.0.1/0' }, { token_endpoint: 'cookie' }]) {
    await h.rejects(() => sb.mpClient(overrides), ConfigError, h.secretsOf(sb.credentials))
  }
})

test("token_endpoint 'token' uses /cgi-bin/token", async () => {
  const { sb } = ctx
  const counters = await h.mpDelta(sb)
  const { openid, code } = await h.newNotifyCode(sb)
  await sb.mpClient({ token_endpoint: 'token' }).serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: {} })
  const d = await counters()
  assert.equal(d.tokens_issued, 1)
  assert.equal(d.stable_tokens_issued ?? 0, 0)
})

test('one token fetch for many concurrent callers of one client', async () => {
  const { sb } = ctx
  const mp = sb.mpClient()
  const counters = await h.mpDelta(sb)
  const tokens = await Promise.all(Array.from({ length: 8 }, () => mp.accessToken()))
  assert.equal(new Set(tokens).size, 1)
  assert.equal((await counters()).calls.getStableAccessToken, 1)
})
