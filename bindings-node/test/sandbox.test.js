'use strict'
// The Sandbox helper itself: lifecycle, credentials, configured clients, stocks, media, faults,
// signing mode, counters and log, and the mini-program controls, each with an observable effect.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const h = require('./helpers.js')

const ctx = h.useSandbox()
const CREDENTIAL_KEYS = ['mchid', 'serial_no', 'merchant_private_key', 'wechatpay_public_key_id', 'wechatpay_public_key', 'apiv3_key', 'appid', 'secret', 'platform_serial_no', 'platform_certificate', 'card_appid', 'card_secret']

test('start/stop: both listeners serve until stop(), which is idempotent; two sandboxes are independent', async () => {
  const a = await h.Sandbox.start()
  const b = await h.Sandbox.start()
  try {
    assert.notEqual(a.baseUrl, a.backupBaseUrl)
    for (const url of [a.baseUrl, a.backupBaseUrl]) assert.equal((await fetch(url + '/sandbox/counters')).status, 200)
    assert.notEqual(a.credentials.mchid + a.credentials.serial_no, b.credentials.mchid + b.credentials.serial_no + 'x')
    assert.notEqual(a.credentials.apiv3_key, b.credentials.apiv3_key)
    await a.createStock('111111111111')
    assert.equal(await b.stock('111111111111'), null)
    assert.equal(a.stopped, false)
  } finally {
    await a.stop()
    await a.stop()
    await b[Symbol.asyncDispose || Symbol.for('Symbol.asyncDispose')]()
  }
  assert.equal(a.stopped, true)
  assert.equal(b.stopped, true)
  await assert.rejects(fetch(a.baseUrl + '/sandbox/counters'))
  await assert.rejects(fetch(b.backupBaseUrl + '/sandbox/counters'))
})

test('credentials are exactly the documented keys, as the control API serves them over HTTP', async () => {
  const { sb } = ctx
  assert.deepEqual(Object.keys(sb.credentials).sort(), [...CREDENTIAL_KEYS].sort())
  assert.ok(Object.isFrozen(sb.credentials))
  const overHttp = await (await fetch(sb.baseUrl + '/sandbox/client/credentials')).json()
  assert.deepEqual({ ...sb.credentials }, overHttp)
  assert.match(sb.credentials.platform_certificate, /^-----BEGIN CERTIFICATE-----/)
  assert.match(sb.credentials.wechatpay_public_key_id, /^PUB_KEY_ID_/)
})

test('payClient() and mpClient() are configured for this sandbox; overrides apply', async () => {
  const { sb } = ctx
  const pay = sb.payClient()
  assert.equal(pay.info.mchid, sb.credentials.mchid)
  assert.equal(pay.info.base_url, sb.baseUrl)
  const mp = sb.mpClient({ token_endpoint: 'token' })
  assert.equal(mp.info.appid, sb.credentials.appid)
  assert.equal(mp.info.card_appid, sb.credentials.card_appid)
  assert.equal(mp.info.token_store, 'memory')
  assert.equal(sb.payClient({ base_url: 'http://127.0.0.1:9' }).info.base_url, 'http://127.0.0.1:9')
  assert.ok(!require('node:util').inspect(mp).includes(sb.credentials.secret))
})

test('createStock/stock/stocks', async () => {
  const { sb } = ctx
  const id = h.newStockId()
  const created = await sb.createStock(id, { comment: 'c0', goods_name: 'g0', creator_mchid: h.OTHER_MCHID, ignored: null })
  assert.equal(created.stock_id, id)
  const stock = await sb.stock(id)
  assert.deepEqual([stock.stock_name, stock.comment, stock.goods_name, stock.creator_mchid], ['沙箱测试券', 'c0', 'g0', h.OTHER_MCHID])
  assert.deepEqual(stock.applied_out_request_nos, [])
  const generated = await sb.createStock(undefined, { stock_name: 'named' })
  assert.ok(generated.stock_id)
  assert.equal((await sb.stock(generated.stock_id)).stock_name, 'named')
  const ids = (await sb.stocks()).map((s) => s.stock_id)
  assert.ok(ids.includes(id) && ids.includes(generated.stock_id))
  assert.equal(await sb.stock('no-such-stock'), null)
})

test('injectFault/faults/clearFaults: the rule, its remaining count, and its effect', async () => {
  const { sb } = ctx
  const id = await sb.injectFault('ModifyStockInfo', 'system_error', { count: 2 })
  const byPrefix = await sb.injectFault(undefined, 'latency', { path_prefix: '/v3/marketing/favor/', ms: 1 })
  const faults = await sb.faults()
  assert.ok(faults.some((f) => f.id === id && f.remaining === 2 && f.kind === 'system_error'))
  assert.ok(faults.some((f) => f.id === byPrefix && f.path_prefix === '/v3/marketing/favor/'))
  const stockId = await h.newStock(sb)
  await h.rejects(sb.payClient({ max_attempts: 1 }).busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' }), h.weixin.ApiError)
  assert.ok((await sb.faults()).some((f) => f.id === id && f.remaining === 1))
  await sb.clearFaults()
  assert.deepEqual(await sb.faults(), [])
  await sb.payClient().busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' })
  assert.equal((await sb.requests()).at(-1).status, 204)
})

test('setSigningMode: certificate-signed answers fail a public-key-only client, pass again after public_key', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  const pay = sb.payClient({ download_certificates: false })
  await sb.setSigningMode('certificate')
  await h.rejects(pay.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' }), h.weixin.SignatureError)
  await sb.setSigningMode('public_key')
  assert.equal(await pay.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' }), undefined)
})

test('requests/counters/resetLog: cleared log and counters, stocks kept', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  await sb.payClient().busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' })
  assert.deepEqual((await sb.counters()).requests, { ModifyStockInfo: 1 })
  assert.equal((await sb.requests()).length, 1)
  await sb.resetLog()
  assert.deepEqual(await sb.requests(), [])
  assert.deepEqual((await sb.counters()).requests, {})
  assert.notEqual(await sb.stock(stockId), null)
})

test('media/notifyUrl/sendCouponNotification/notifications', async () => {
  const { sb } = ctx
  const receiver = await h.startReceiver()
  try {
    const pay = sb.payClient()
    await pay.media.marketingImageUpload({ filename: 'sb.png', file: h.PNG_1X1 })
    assert.ok((await sb.media()).some((m) => m.filename === 'sb.png' && m.sha256 === h.sha256(h.PNG_1X1)))
    const url = receiver.url('/n/' + h.uid())
    await pay.busifavor.setCouponNotify({ notify_url: url })
    assert.equal(await sb.notifyUrl(), url)
    const report = await sb.sendCouponNotification(await h.newStock(sb), { coupon_code: 'cc1', attach_info: { act_code: 'a' } })
    assert.equal(report.delivered, true)
    assert.equal(report.payload.coupon_code, 'cc1')
    assert.equal(receiver.received.length, 1)
    assert.equal(JSON.parse(receiver.received[0].body).id, report.id)
    assert.ok((await sb.notifications()).some((n) => n.id === report.id))
    assert.equal((await sb.counters()).notifications.delivered >= 1, true)
  } finally {
    await receiver.close()
  }
})

test('mini-program controls: users, notify codes, errcode faults, expiry, clock, cards, counters', async () => {
  const { sb } = ctx
  const mp = sb.mpClient()
  const counters = await h.mpDelta(sb)
  await sb.mpAddUser('o-user-' + h.uid())
  const { openid, code } = await h.newNotifyCode(sb, 1003, { valid_after_secs: 30 })
  await h.rejects(mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: {} }), h.weixin.MiniProgramError)
  await sb.mpAdvanceClock(31)
  await mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: { x: 1 } })
  assert.deepEqual(JSON.parse((await sb.mpNotifyExt(openid, code)).ext_json), { x: 1 })
  assert.equal(await sb.mpNotifyExt(openid, 'unknown'), null)

  await sb.mpAddErrcodeFault('*', 40003, { errmsg: 'invalid openid' })
  const e = await h.rejects(mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: {} }), h.weixin.MiniProgramError)
  assert.deepEqual([e.errcode, e.errmsg], [40003, 'invalid openid'])
  await sb.mpClearErrcodeFaults()
  await mp.serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: {} })

  const before = await mp.accessToken()
  await sb.mpExpireTokens()
  assert.equal((await h.rawTicket(sb, before, 'jsapi')).errcode, 42001)

  const cardId = 'pCard' + h.uid()
  await sb.mpCreateCard(cardId, sb.credentials.appid) // owned by the mini-program, not the card account
  const item = await mp.card.cardExt({ card_id: cardId })
  const added = await sb.wxAddCard([item])
  assert.equal(added.cardList[0].isSuccess, false) // signed with the card account's ticket: not the owner's
  const ticket = (await mp.card.getTicket({ type: 'wx_card' })).ticket
  await sb.mpExpireTickets()
  assert.notEqual((await mp.card.getTicket({ type: 'wx_card' })).ticket, ticket)
  const encrypted = await sb.mpEncryptCardCode(h.CARD_ID, '998877665544')
  assert.equal((await mp.card.decryptCardCode({ encrypt_code: encrypted })).code, '998877665544')

  const d = await counters()
  assert.ok(d.faults_injected >= 1)
  assert.equal(d.card_codes_issued, 1)
  assert.equal(d.card_adds.rejected, 1)
  assert.equal(d.tickets_issued_by_type.wx_card, 2)
})
