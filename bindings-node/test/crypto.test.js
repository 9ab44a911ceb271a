'use strict'
// buildAuthorization, verifySignature, decryptResource and signCardExt against every case of
// spec/vectors/ (made by openssl and Python cryptography, never by weixin-kit), negative cases
// included; node:crypto cross-checks the signatures independently.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const nodeCrypto = require('node:crypto')
const h = require('./helpers.js')

const { buildAuthorization, verifySignature, decryptResource, signCardExt, ConfigError, SignatureError, ValidationError, PayClient } = h.weixin

const KEYS = h.vectors('keys.json')
const SIGNING = h.vectors('request_signing.json')
const RESPONSES = h.vectors('response_verification.json')
const NOTIFICATIONS = h.vectors('notification.json')
const CARDS = h.vectors('card_signature.json')
const DIGESTS = h.vectors('digests.json')
const PLATFORM_KEY = KEYS.platform.public_key_spki_pem

/** What Wechatpay-Serial names: the public key (by id) or the platform certificate (by serial). */
function platformPemFor(serial) {
  if (serial === KEYS.public_key_id) return PLATFORM_KEY
  if (serial === KEYS.platform.certificate_serial_no) return KEYS.platform.certificate_pem
  return null
}

const signingArgs = (c, key = KEYS.merchant.private_key_pkcs8_pem) => ({
  mchid: SIGNING.mchid, serial_no: SIGNING.serial_no, private_key: key,
  method: c.method, url: c.url, body: c.body, timestamp: c.timestamp, nonce: c.nonce,
})

test('the vectors are what node:crypto computes too (the vectors and this test agree)', () => {
  for (const c of SIGNING.cases) {
    assert.equal(c.signing_string, `${c.method}\n${c.url}\n${c.timestamp}\n${c.nonce}\n${c.body}\n`)
    assert.equal(nodeCrypto.sign('sha256', Buffer.from(c.signing_string), KEYS.merchant.private_key_pkcs8_pem).toString('base64'), c.signature)
  }
  for (const c of DIGESTS.cases) assert.equal(h.sha1(c.input), c.sha1)
})

for (const c of SIGNING.cases) {
  for (const format of ['private_key_pkcs8_pem', 'private_key_pkcs1_pem']) {
    test(`buildAuthorization ${c.name} (${format}) is the vector's header`, async () => {
      const pending = buildAuthorization(signingArgs(c, KEYS.merchant[format]))
      assert.ok(pending instanceof Promise)
      assert.equal(await pending, c.authorization)
    })
  }
  test(`buildAuthorization ${c.name}: body as a Buffer and a Uint8Array, timestamp as text`, async () => {
    for (const body of [Buffer.from(c.body), new Uint8Array(Buffer.from(c.body))]) {
      assert.equal(await buildAuthorization({ ...signingArgs(c), body, timestamp: String(c.timestamp) }), c.authorization)
    }
  })
}

test('buildAuthorization errors: not a key, a public key, a nonce breaking the quoting, a missing field', async () => {
  const c = SIGNING.cases[0]
  const secret = KEYS.merchant.private_key_pkcs8_pem
  await h.rejects(() => buildAuthorization({ ...signingArgs(c), private_key: 'not a key' }), ConfigError)
  await h.rejects(() => buildAuthorization({ ...signingArgs(c), private_key: KEYS.merchant.public_key_spki_pem }), ConfigError)
  await h.rejects(() => buildAuthorization({ ...signingArgs(c), nonce: 'abc",signature="x' }), ValidationError, [secret])
  const e = await h.rejects(() => buildAuthorization({ ...signingArgs(c), mchid: undefined }), ValidationError, [secret])
  assert.equal(e.field, 'mchid')
  const t = await h.rejects(() => buildAuthorization({ ...signingArgs(c), timestamp: 'soon' }), ValidationError, [secret])
  assert.equal(t.field, 'timestamp')
})

for (const c of RESPONSES.cases) {
  test(`verifySignature ${c.name} → ${c.valid}`, async () => {
    const pem = platformPemFor(c.serial)
    assert.ok(pem)
    const pending = verifySignature({ public_key: pem, timestamp: c.timestamp, nonce: c.nonce, body: c.body, signature: c.signature })
    assert.ok(pending instanceof Promise)
    assert.equal(await pending, c.valid)
    // the header as text, the body as bytes
    assert.equal(await verifySignature({ public_key: pem, timestamp: String(c.timestamp), nonce: c.nonce, body: Buffer.from(c.body), signature: c.signature }), c.valid)
    if (c.serial === KEYS.public_key_id) {
      assert.equal(await verifySignature({ public_key: KEYS.platform.public_key_pkcs1_pem, timestamp: c.timestamp, nonce: c.nonce, body: c.body, signature: c.signature }), c.valid)
    }
    // node:crypto agrees with the vector
    const message = Buffer.from(`${c.timestamp}\n${c.nonce}\n${c.body}\n`)
    assert.equal(nodeCrypto.verify('sha256', message, pem, Buffer.from(c.signature, 'base64')), c.valid)
  })
}

test('verifySignature with the wrong key or a garbage signature is false; not a key is a ConfigError', async () => {
  const c = RESPONSES.cases.find((x) => x.valid && x.serial === KEYS.public_key_id)
  const args = { public_key: PLATFORM_KEY, timestamp: c.timestamp, nonce: c.nonce, body: c.body, signature: c.signature }
  assert.equal(await verifySignature({ ...args, public_key: KEYS.merchant.public_key_spki_pem }), false)
  assert.equal(await verifySignature({ ...args, signature: 'bm90IGEgc2lnbmF0dXJl' }), false)
  await h.rejects(() => verifySignature({ ...args, public_key: 'not a key' }), ConfigError)
})

for (const c of NOTIFICATIONS.decrypt) {
  test(`decryptResource ${c.name} is the plaintext; tampering is a SignatureError`, async () => {
    const args = { apiv3_key: c.apiv3_key, nonce: c.nonce, associated_data: c.associated_data, ciphertext: c.ciphertext }
    assert.equal(decryptResource(args), c.plaintext)
    const raw = Buffer.from(c.ciphertext, 'base64')
    raw[raw.length - 1] ^= 1 // inside the GCM tag
    await h.rejects(() => decryptResource({ ...args, ciphertext: raw.toString('base64') }), SignatureError, [c.apiv3_key])
    assert.throws(() => decryptResource({ ...args, ciphertext: raw.toString('base64') }), SignatureError)
    assert.throws(() => decryptResource({ ...args, associated_data: c.associated_data + 'x' }), SignatureError)
    assert.throws(() => decryptResource({ ...args, apiv3_key: [...c.apiv3_key].reverse().join('') }), SignatureError)
    assert.throws(() => decryptResource({ ...args, apiv3_key: c.apiv3_key.slice(0, 31) }), (e) => e instanceof ConfigError && !e.message.includes(c.apiv3_key.slice(0, 31)))
  })
}

const SIGNED = NOTIFICATIONS.notifications.filter((n) => 'Wechatpay-Nonce' in n.headers)
for (const c of SIGNED) {
  test(`notification vector ${c.name} (${c.expect}): signature and resource`, async () => {
    const hd = c.headers
    const pem = platformPemFor(hd['Wechatpay-Serial'])
    if (c.expect === 'unknown_serial') {
      assert.equal(pem, null)
      return
    }
    const verdict = await verifySignature({ public_key: pem, timestamp: hd['Wechatpay-Timestamp'], nonce: hd['Wechatpay-Nonce'], body: c.body, signature: hd['Wechatpay-Signature'] })
    assert.equal(verdict, c.expect !== 'bad_signature')
    if (c.expect === 'stale') assert.ok(Math.abs(c.now - Number(hd['Wechatpay-Timestamp'])) > 300)
    const resource = JSON.parse(c.body).resource
    const args = { apiv3_key: NOTIFICATIONS.apiv3_key, nonce: resource.nonce, associated_data: resource.associated_data ?? '', ciphertext: resource.ciphertext }
    if (c.expect === 'ok') {
      assert.equal(resource.algorithm, 'AEAD_AES_256_GCM')
      assert.deepEqual(JSON.parse(decryptResource(args)), c.payload)
    } else if (c.expect === 'aead_tag_mismatch') {
      assert.throws(() => decryptResource(args), SignatureError)
    } else if (c.expect === 'unsupported_algorithm') {
      assert.notEqual(resource.algorithm, 'AEAD_AES_256_GCM')
    }
  })
}

test('parseNotification refuses every public-key vector at today’s clock (all signed long ago)', async () => {
  const client = new PayClient({
    mchid: KEYS.mchid, serial_no: KEYS.merchant_serial_no, private_key: KEYS.merchant.private_key_pkcs8_pem,
    wechatpay_public_key_id: KEYS.public_key_id, wechatpay_public_key: PLATFORM_KEY,
    apiv3_key: NOTIFICATIONS.apiv3_key, base_url: 'http://127.0.0.1:9', download_certificates: false,
  })
  const cases = NOTIFICATIONS.notifications.filter((n) => n.headers['Wechatpay-Serial'] === KEYS.public_key_id)
  assert.ok(cases.length > 3)
  for (const c of cases) {
    const e = await h.rejects(client.parseNotification(c.headers, c.body), SignatureError, [NOTIFICATIONS.apiv3_key, KEYS.merchant.private_key_pkcs8_pem])
    if (c.expect === 'ok') assert.ok(e.message.includes('Wechatpay-Timestamp'), e.message)
  }
})

for (const c of CARDS.cases) {
  test(`signCardExt ${c.name} is the vector`, () => {
    const nonce = c.nonce_str ?? '' // an absent nonce_str contributes nothing
    const signature = signCardExt({ api_ticket: c.api_ticket, card_id: c.card_id, timestamp: c.timestamp, nonce_str: nonce, code: c.code, openid: c.openid })
    assert.equal(typeof signature, 'string')
    assert.equal(signature, c.signature)
    assert.equal(h.sha1(c.sorted_concatenation), c.signature)
  })
}

test('signCardExt: the JS-SDK documentation example, and a missing ticket is a ValidationError', () => {
  assert.equal(
    signCardExt({ api_ticket: 'ojZ8YtyVyr30HheH3CM73y7h4jJE', card_id: 'pjZ8Yt1XGILfi-FUsewpnnolGgZk', timestamp: 1404896688, nonce_str: '123', code: '1434008071' }),
    'f137ab68b7f8112d20ee528ab6074564e2796250'
  )
  assert.throws(() => signCardExt({ card_id: 'x', timestamp: 1, nonce_str: 'n' }), (e) => e instanceof ValidationError && e.field === 'api_ticket')
  assert.throws(() => signCardExt(), (e) => e instanceof ValidationError)
})
