'use strict'
// The core's signing, verification and decryption as functions of one wire-named object each.
// No cryptography here: bindings-node/src/crypto.rs calls weixin_kit::bridge::crypto; the RSA
// ones run off the JS thread and return Promises.

const { addon, guard } = require('./native.js')
const { requireText } = require('./args.js')

/** The Authorization header value for a request (`url`: path and query as sent). */
function buildAuthorization(args = {}) {
  const a = (name, how) => requireText(args, name, how)
  const values = [
    a('mchid'), a('serial_no'), a('private_key'), a('method'), a('url'),
    a('body', { optional: true, bytes: true }) ?? '', a('timestamp', { integer: true }), a('nonce'),
  ]
  values[6] = Number(values[6])
  return guard(() => addon.buildAuthorization(...values))
}

/** Whether `signature` is WeChat Pay's signature over `TIMESTAMP\nNONCE\nBODY\n`. */
function verifySignature(args = {}) {
  const a = (name, how) => requireText(args, name, how)
  const timestamp = a('timestamp', { integer: true })
  const values = [a('public_key'), String(timestamp), a('nonce'), a('body', { bytes: true }), a('signature')]
  return guard(() => addon.verifySignature(...values))
}

/** Decrypts a notification resource (AEAD_AES_256_GCM with the APIv3 key) to its text. */
function decryptResource(args = {}) {
  const a = (name) => requireText(args, name)
  const values = [a('apiv3_key'), a('nonce'), a('associated_data') , a('ciphertext')]
  return guard(() => addon.decryptResource(...values))
}

/** 卡券签名: SHA1 hex of the sorted values of api_ticket, card_id, timestamp, nonce_str, code, openid. */
function signCardExt(args = {}) {
  const a = (name, how) => requireText(args, name, how)
  const values = [
    a('api_ticket'), a('card_id'), Number(a('timestamp', { integer: true })), a('nonce_str'),
    a('code', { optional: true }), a('openid', { optional: true }),
  ]
  return guard(() => addon.signCardExt(...values))
}

module.exports = { buildAuthorization, verifySignature, decryptResource, signCardExt }
