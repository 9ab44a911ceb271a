'use strict'
// Every WeChat Pay operation of spec/wechatpay.json through PayClient against the sandbox,
// checked through what the sandbox received and keeps (request log with its signature verdict,
// stocks, media, notify URL, counters) and the spec's documented values.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const h = require('./helpers.js')

const { ApiError, ValidationError } = h.weixin
const ctx = h.useSandbox()
const WECHATPAY = h.spec('wechatpay.json')
const MODIFY_PATH = '/v3/marketing/busifavor/stocks/{stock_id}'
const DOC_MODIFY_EXAMPLE = WECHATPAY.paths[MODIFY_PATH].patch.requestBody.content['application/json'].examples.document.value

test('every operation of wechatpay.json is a method of its tag group, sending that operation', async () => {
  const { sb } = ctx
  const pay = sb.payClient()
  const ops = h.specOperations('wechatpay.json')
  assert.ok(ops.length >= 3)
  for (const op of ops) {
    const group = pay[h.camel(op.tag)]
    assert.equal(typeof group, 'object', op.tag)
    assert.equal(typeof group[h.methodName(op.operationId)], 'function', op.operationId)
  }
  // each one reaches the sandbox as the operation of the spec (method, route, operationId)
  const stockId = await h.newStock(sb)
  await pay.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' })
  await pay.busifavor.setCouponNotify({ notify_url: 'https://example.com/' + h.uid() })
  await pay.media.marketingImageUpload({ filename: h.uid('i') + '.png', file: h.PNG_1X1 })
  const log = await sb.requests()
  assert.deepEqual(
    log.map((r) => r.operation).sort(),
    ops.map((o) => o.operationId).sort()
  )
  for (const entry of log) {
    const op = ops.find((o) => o.operationId === entry.operation)
    assert.equal(entry.method, op.method)
    assert.match(entry.path, new RegExp('^' + op.path.replace(/\{[^}]+\}/g, '[^/]+') + '$'))
    assert.equal(entry.signature, 'ok')
  }
})

test('modifyStockInfo applies the documented example and answers 204 → undefined', async () => {
  const { sb } = ctx
  const pay = sb.payClient()
  const stockId = await h.newStock(sb, { stock_name: DOC_MODIFY_EXAMPLE.stock_name })
  const args = { ...structuredClone(DOC_MODIFY_EXAMPLE), out_request_no: h.uid('doc') }

  assert.equal(await pay.busifavor.modifyStockInfo({ stock_id: stockId, ...args }), undefined)

  const [entry, ...rest] = await sb.requests()
  assert.equal(rest.length, 0)
  assert.equal(entry.method, 'PATCH')
  assert.equal(entry.path, `/v3/marketing/busifavor/stocks/${stockId}`)
  assert.equal(entry.operation, 'ModifyStockInfo')
  assert.equal(entry.signature, 'ok')
  assert.equal(entry.status, 204)
  assert.deepEqual(JSON.parse(entry.body), args) // stock_id went into the path
  const stock = await sb.stock(stockId)
  for (const [field, value] of Object.entries(args)) {
    if (field !== 'out_request_no') assert.deepEqual(stock[field], value, field)
  }
  assert.deepEqual(stock.applied_out_request_nos, [args.out_request_no])
})

test('modifyStockInfo sends only what was given (undefined and null are absent)', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  const no = h.uid()
  await sb.payClient().busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: no, comment: '活动使用', goods_name: null, subsidy: undefined })
  const [entry] = await h.logFor(sb, 'ModifyStockInfo')
  assert.deepEqual(JSON.parse(entry.body), { out_request_no: no, comment: '活动使用' })
  const stock = await sb.stock(stockId)
  assert.equal(stock.comment, '活动使用')
  assert.ok(!('goods_name' in stock))
})

test('the same out_request_no and body is applied once', async () => {
  const { sb } = ctx
  const pay = sb.payClient()
  const stockId = await h.newStock(sb)
  const no = h.uid()
  for (let i = 0; i < 2; i++) {
    assert.equal(await pay.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: no, comment: 'a' }), undefined)
  }
  assert.equal((await sb.counters()).requests.ModifyStockInfo, 2)
  assert.deepEqual((await sb.stock(stockId)).applied_out_request_nos, [no])
})

test('setCouponNotify registers the URL', async () => {
  const { sb } = ctx
  const url = 'https://example.com/wx/coupon-' + h.uid()
  const answer = await sb.payClient().busifavor.setCouponNotify({ notify_url: url })
  assert.deepEqual(Object.keys(answer).sort(), ['mchid', 'notify_url', 'update_time'])
  assert.equal(answer.notify_url, url)
  assert.equal(answer.mchid, sb.credentials.mchid)
  assert.ok(!Number.isNaN(Date.parse(answer.update_time)))
  assert.equal(await sb.notifyUrl(), url)
  const [entry] = await h.logFor(sb, 'SetCouponNotify')
  assert.deepEqual([entry.method, entry.path, entry.signature, entry.status], ['POST', '/v3/marketing/busifavor/callbacks', 'ok', 200])
  assert.deepEqual(JSON.parse(entry.body), { notify_url: url })
})

test('setCouponNotify with another merchant is the documented 403 NOAUTH', async () => {
  const { sb } = ctx
  const e = await h.rejects(
    sb.payClient().busifavor.setCouponNotify({ notify_url: 'https://example.com/x', mchid: h.OTHER_MCHID }),
    ApiError,
    h.secretsOf(sb.credentials)
  )
  const row = h.documentedPay('/v3/marketing/busifavor/callbacks', 'post', 403, 'NOAUTH', '无权限')
  assert.deepEqual([e.status, e.code, e.solution, e.retryable], [403, 'NOAUTH', row.solution, false])
  assert.equal(e.request_id, (await sb.requests()).at(-1).request_id)
  assert.notEqual(await sb.notifyUrl(), 'https://example.com/x')
})

for (const [label, wrap] of [
  ['Buffer', (b) => Buffer.from(b)],
  ['Uint8Array', (b) => new Uint8Array(b)],
  ['Uint8Array view at an offset', (b) => {
    const whole = new Uint8Array(b.length + 8)
    whole.set(Buffer.from('junk'))
    whole.set(b, 4)
    whole.set(Buffer.from('tail'), b.length + 4)
    return whole.subarray(4, 4 + b.length)
  }],
]) {
  test(`marketingImageUpload with a ${label}`, async () => {
    const { sb } = ctx
    const name = h.uid('img') + '.png'
    const answer = await sb.payClient().media.marketingImageUpload({ filename: name, file: wrap(h.PNG_1X1) })
    assert.deepEqual(Object.keys(answer), ['media_url'])
    const media = (await sb.media()).filter((m) => m.filename === name)
    assert.equal(media.length, 1)
    assert.equal(answer.media_url, media[0].media_url)
    assert.equal(media[0].sha256, h.sha256(h.PNG_1X1))
    assert.equal(media[0].size, h.PNG_1X1.length)
    const [entry] = await h.logFor(sb, 'MarketingImageUpload')
    assert.equal(entry.signature, 'ok')
    assert.equal(entry.status, 200)
    // multipart: meta (the signed JSON) then the file
    const boundary = entry.body.split('\r\n', 1)[0]
    const parts = entry.body.split(boundary).slice(1, -1).map((chunk) => {
      const [head, content] = chunk.replace(/^\r\n/, '').replace(/\r\n$/, '').split('\r\n\r\n')
      return [/Content-Disposition: (.*)/i.exec(head)[1], content]
    })
    assert.deepEqual(parts.map((p) => p[0]), ['form-data; name="meta"', `form-data; name="file"; filename="${name}"`])
    assert.deepEqual(JSON.parse(parts[0][1]), { filename: name, sha256: h.sha256(h.PNG_1X1) })
  })
}

test('marketingImageUpload of a .gif is the documented 400 PARAM_ERROR', async () => {
  const { sb } = ctx
  const e = await h.rejects(sb.payClient().media.marketingImageUpload({ filename: 'anim.gif', file: Buffer.from('GIF89a') }), ApiError)
  const row = h.documentedPay('/v3/marketing/favor/media/image-upload', 'post', 400, 'PARAM_ERROR', '参数错误')
  assert.deepEqual([e.status, e.code, e.msg, e.solution], [400, 'PARAM_ERROR', '参数错误', row.solution])
  assert.equal(e.detail.field, '/meta/filename')
  assert.ok((await sb.media()).every((m) => m.filename !== 'anim.gif'))
})

test("request('GET', …) escape hatch: signed, verified, decoded", async () => {
  const { sb } = ctx
  const answer = await sb.payClient().request('GET', '/v3/certificates')
  const log = await sb.requests()
  assert.equal(log.length, 1)
  assert.deepEqual([log[0].method, log[0].path, log[0].signature, log[0].status, log[0].body], ['GET', '/v3/certificates', 'ok', 200, ''])
  assert.deepEqual(answer.data.map((c) => c.serial_no), [sb.credentials.platform_serial_no])
})

test("request('PATCH', …) changes the stock and answers undefined (204)", async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  const body = { out_request_no: h.uid(), goods_name: 'xxx商品使用' }
  assert.equal(await sb.payClient().request('PATCH', `/v3/marketing/busifavor/stocks/${stockId}`, body), undefined)
  assert.deepEqual(JSON.parse((await sb.requests()).at(-1).body), body)
  assert.equal((await sb.stock(stockId)).goods_name, 'xxx商品使用')
})

test('request: a path that would not be sent as signed never leaves the process', async () => {
  const { sb } = ctx
  const pay = sb.payClient()
  for (const p of ['/v3/marketing/busifavor/stocks/with space', '/v3/x/../certificates', '/notv3/x']) {
    const e = await h.rejects(pay.request('GET', p), ValidationError)
    assert.equal(e.field, 'path')
  }
  assert.deepEqual(await sb.requests(), [])
})

test('the documented 404 for an unknown stock and 403 for another creator', async () => {
  const { sb } = ctx
  const pay = sb.payClient()
  const e404 = await h.rejects(pay.busifavor.modifyStockInfo({ stock_id: '404404404', out_request_no: h.uid(), comment: 'c' }), ApiError)
  const row404 = h.documentedPay(MODIFY_PATH, 'patch', 404, 'RESOURCE_NOT_EXISTS', '批次不存在')
  assert.deepEqual([e404.status, e404.code, e404.msg, e404.solution, e404.retryable], [404, 'RESOURCE_NOT_EXISTS', row404.description, row404.solution, false])
  const [entry] = await sb.requests()
  assert.equal(e404.request_id, entry.request_id)
  assert.ok(e404.message.includes(entry.request_id))

  const stockId = await h.newStock(sb, { creator_mchid: h.OTHER_MCHID })
  const e403 = await h.rejects(pay.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' }), ApiError)
  const row403 = h.documentedPay(MODIFY_PATH, 'patch', 403, 'RULE_LIMIT', '修改流程中仅允许创建方进行操作')
  assert.deepEqual([e403.status, e403.code, e403.msg, e403.solution], [403, 'RULE_LIMIT', row403.description, row403.solution])
  assert.ok(!('comment' in (await sb.stock(stockId))))
})

test('a 401 SIGN_ERROR carries the core\'s diagnosis: a wrong mchid is named', async () => {
  const { sb } = ctx
  const stockId = await h.newStock(sb)
  const pay = sb.payClient({ mchid: '1900000999' })
  const e = await h.rejects(pay.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' }), ApiError)
  assert.deepEqual([e.status, e.code], [401, 'SIGN_ERROR'])
  const d = e.sign_diagnosis
  assert.equal(d.cause, 'wrong_mchid')
  assert.equal(d.first_difference, null)
  assert.equal(d.theirs_len, e.detail.sign_information.sign_message_length)
  assert.equal(d.ours_len, d.theirs_len)
  assert.ok(e.message.includes('wrong mchid'), e.message)
})

for (const stockId of ['12/34', '批次', 'a b', 'x?y=1', '%2F']) {
  test(`stock_id ${JSON.stringify(stockId)} is one percent-encoded path segment`, async () => {
    const { sb } = ctx
    const e = await h.rejects(sb.payClient().busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'c' }), ApiError)
    assert.deepEqual([e.status, e.code], [404, 'RESOURCE_NOT_EXISTS'])
    const [entry] = await sb.requests()
    assert.equal(entry.path, '/v3/marketing/busifavor/stocks/' + encodeURIComponent(stockId).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase()))
    assert.equal(entry.signature, 'ok')
  })
}

test('PEM Buffers are accepted as keys', async () => {
  const { sb } = ctx
  const c = sb.credentials
  const client = new h.weixin.PayClient({
    mchid: c.mchid,
    serial_no: c.serial_no,
    private_key: Buffer.from(c.merchant_private_key),
    wechatpay_public_key_id: c.wechatpay_public_key_id,
    wechatpay_public_key: new Uint8Array(Buffer.from(c.wechatpay_public_key)),
    base_url: sb.baseUrl,
  })
  const stockId = await h.newStock(sb)
  await client.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: h.uid(), comment: 'b' })
  assert.equal((await sb.requests()).at(-1).signature, 'ok')
  assert.equal(client.info.mchid, c.mchid)
  assert.ok(!require('node:util').inspect(client).includes(c.merchant_private_key.slice(40, 80)))
})

test('http:// to a host that is not loopback needs danger_allow_insecure_http', async () => {
  const { sb } = ctx
  const remote = 'http://api.weixin.invalid' // .invalid never resolves
  for (const make of [(o) => sb.payClient(o), (o) => sb.mpClient(o)]) {
    const e = await h.rejects(() => make({ base_url: remote }), h.weixin.ConfigError)
    assert.match(e.message, /`base_url` \(http:\/\/api\.weixin\.invalid\) uses http:\/\/ on a host that is not loopback/)
    assert.match(e.message, /danger_allow_insecure_http/)
    const client = await make({ base_url: remote, danger_allow_insecure_http: true })
    assert.equal(client.info.base_url, remote)
  }
})
