'use strict'
// COUPON.SEND notifications sent by the sandbox to an http.createServer receiver in this
// process and parsed with pay.parseNotification(req.headers, rawBody), in public-key and in
// certificate mode; tampered and stale ones are SignatureErrors.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const h = require('./helpers.js')

const { SignatureError, ConfigError, ReplayError } = h.weixin
const ctx = h.useSandbox()
let receiver
before(async () => {
  receiver = await h.startReceiver()
})
after(() => receiver.close())

function checkEvent(event, report) {
  const envelope = report.envelope
  assert.equal(event.id, envelope.id)
  assert.equal(event.id, report.id)
  for (const key of ['create_time', 'event_type', 'resource_type', 'summary']) assert.equal(event[key], envelope[key], key)
  assert.equal(event.event_type, 'COUPON.SEND')
  assert.deepEqual(event.resource, report.payload) // decrypted = what the sandbox encrypted
}

test('public-key mode: the raw Buffer body and Node’s req.headers', async () => {
  const { sb } = ctx
  const pay = sb.payClient()
  const code = h.uid('c')
  const { report, headers, body } = await h.deliver(sb, receiver, pay, { coupon_code: code, openid: 'oX1-' + code })
  assert.ok(Buffer.isBuffer(body))
  assert.equal(headers['wechatpay-serial'], sb.credentials.wechatpay_public_key_id)
  const event = await pay.parseNotification(headers, body)
  checkEvent(event, report)
  assert.equal(event.resource.coupon_code, code)
  assert.equal(event.resource.openid, 'oX1-' + code)
  const n = await sb.notifications()
  assert.equal(n.at(-1).id, report.id)
  assert.equal(n.at(-1).delivered, true)
})

test('public-key mode: a string body, title-case headers, a Uint8Array body', async () => {
  const { sb } = ctx
  const pay = sb.payClient()
  const { report, headers, body } = await h.deliver(sb, receiver, pay)
  const titleCase = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase()), v]))
  checkEvent(await pay.parseNotification(titleCase, body.toString('utf8')), report)
  checkEvent(await pay.parseNotification(headers, new Uint8Array(body)), report)
})

test('replay_guard: the same notification parsed again is a ReplayError naming its id only', async () => {
  const { sb } = ctx
  const pay = sb.payClient({ replay_guard: 'memory' })
  const code = h.uid('replay')
  const { report, headers, body } = await h.deliver(sb, receiver, pay, { coupon_code: code, openid: 'oR-' + code })
  checkEvent(await pay.parseNotification(headers, body), report)
  const e = await h.rejects(pay.parseNotification(headers, body), ReplayError, [code, 'oR-' + code])
  assert.equal(e.notification_id, report.id)
})

test('the minimal variant (no summary, empty associated_data) parses too', async () => {
  const { sb } = ctx
  const pay = sb.payClient()
  const { report, headers, body } = await h.deliver(sb, receiver, pay, { variant: 'minimal' })
  const event = await pay.parseNotification(headers, body)
  assert.deepEqual(event.resource, report.payload)
  assert.equal(JSON.parse(body).resource.associated_data, '')
})

for (const [label, overrides] of [
  ['downloaded platform certificates (download_certificates)', () => ({ wechatpay_public_key_id: undefined, wechatpay_public_key: undefined })],
  ['configured platform_certificates', (sb) => ({ wechatpay_public_key_id: undefined, wechatpay_public_key: undefined, platform_certificates: [sb.credentials.platform_certificate], download_certificates: false })],
]) {
  test(`certificate mode with ${label}`, async () => {
    const { sb } = ctx
    const client = sb.payClient(overrides(sb))
    await sb.setSigningMode('certificate')
    const code = 'cert-' + h.uid()
    const { report, headers, body } = await h.deliver(sb, receiver, client, { coupon_code: code })
    assert.equal(headers['wechatpay-serial'], sb.credentials.platform_serial_no)
    checkEvent(await client.parseNotification(headers, body), report)
    assert.deepEqual(await client.platformCertificateSerials(), [sb.credentials.platform_serial_no])
    const downloads = await h.logFor(sb, 'Certificates')
    if (overrides(sb).platform_certificates) {
      assert.deepEqual(downloads, [])
    } else {
      assert.ok(downloads.length >= 1)
      assert.ok(downloads.every((r) => r.method === 'GET' && r.signature === 'ok'))
      assert.deepEqual(await client.refreshCertificates(), [sb.credentials.platform_serial_no])
      assert.equal((await h.logFor(sb, 'Certificates')).length, downloads.length + 1)
    }
    // a public-key-only client cannot verify a certificate-signed notification
    await h.rejects(sb.payClient({ download_certificates: false }).parseNotification(headers, body), SignatureError)
  })
}

for (const fault of ['tamper_signature', 'stale_timestamp']) {
  test(`a notification the sandbox spoiled (${fault}) is a SignatureError`, async () => {
    const { sb } = ctx
    const pay = sb.payClient()
    const { headers, body } = await h.deliver(sb, receiver, pay, { [fault]: true })
    await h.rejects(pay.parseNotification(headers, body), SignatureError, h.secretsOf(sb.credentials))
  })
}

test('tampering in the receiver is a SignatureError: body, signature, nonce, missing header, unknown serial, another APIv3 key', async () => {
  const { sb } = ctx
  const pay = sb.payClient()
  const { headers, body } = await h.deliver(sb, receiver, pay)
  const envelope = JSON.parse(body)
  envelope.summary = 'changed'
  const sig = headers['wechatpay-signature']
  const spoiled = [
    [headers, Buffer.from(JSON.stringify(envelope))],
    [{ ...headers, 'wechatpay-signature': (sig[0] !== 'A' ? 'A' : 'B') + sig.slice(1) }, body],
    [{ ...headers, 'wechatpay-nonce': [...headers['wechatpay-nonce']].reverse().join('') }, body],
    [{ ...headers, 'wechatpay-signature': undefined }, body],
    [{ ...headers, 'wechatpay-serial': 'PUB_KEY_ID_0000000000000000000000000000000000' }, body],
  ]
  for (const [hd, b] of spoiled) await h.rejects(pay.parseNotification(hd, b), SignatureError, h.secretsOf(sb.credentials))
  await h.rejects(sb.payClient({ apiv3_key: '0'.repeat(32) }).parseNotification(headers, body), SignatureError)
  // without an APIv3 key nothing can be decrypted
  await h.rejects(sb.payClient({ apiv3_key: undefined }).parseNotification(headers, body), ConfigError)
})

test('a receiver answering 500 gets the notification again (the sandbox retries)', async () => {
  const { sb } = ctx
  const pay = sb.payClient()
  await pay.busifavor.setCouponNotify({ notify_url: receiver.url('/wx/retry/' + h.uid()) })
  receiver.status = 500
  try {
    const report = await sb.sendCouponNotification(await h.newStock(sb), { max_attempts: 2, interval_ms: 10 })
    assert.equal(report.delivered, false)
    assert.deepEqual(report.attempts.map((a) => a.status), [500, 500])
  } finally {
    receiver.status = 200
  }
  assert.equal((await sb.counters()).notifications.attempts >= 2, true)
})
