'use strict'
// The third-party platform (第三方平台) through ComponentClient, with the README's Express app
// (the block after <!-- component-node -->, run as written) as the sandbox's push URL: the
// sandbox encrypts and signs its pushes as WeChat does and reports what the app answered;
// what happened is checked through the sandbox (deliveries, counters, request log, the
// service-card state), never through our own output alone.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const util = require('node:util')
const { pathToFileURL } = require('node:url')
const h = require('./helpers.js')

const { ComponentClient, MiniProgramClient, NotAuthorizedError, SignatureError, ConfigError, MiniProgramError, WeixinKitError } = h.weixin
// One sandbox and one app for the file; the tests use fresh authorizers, so state carries over.
const ctx = { sb: undefined }

/** The README code block after `<!-- name -->` (as xtask's readme_block reads it). */
function readmeBlock(name) {
  const readme = fs.readFileSync(path.join(h.ROOT, 'README.md'), 'utf8')
  const marker = `<!-- ${name} -->`
  const at = readme.indexOf(marker)
  assert.ok(at >= 0, `README.md has ${marker}`)
  const after = readme.slice(at + marker.length)
  const fence = after.indexOf('```')
  const body = after.slice(after.indexOf('\n', fence) + 1)
  return body.slice(0, body.indexOf('\n```') + 1)
}

/** The environment the README's app reads, for this sandbox's platform. */
function appEnv(config) {
  return {
    COMPONENT_APPID: config.component_appid,
    COMPONENT_APPSECRET: config.component_appsecret,
    COMPONENT_TOKEN: config.token,
    COMPONENT_AES_KEY: config.encoding_aes_key,
    WEIXIN_BASE_URL: config.base_url,
    PORT: '0',
  }
}

/**
 * The README's Express app, imported from a project whose node_modules has weixin-kit (this
 * package) and express, listening on a free port; the sandbox pushes to it.
 */
async function startReadmeApp(sb) {
  const { dir, cleanup } = h.tempDir('weixin-kit-component-')
  fs.mkdirSync(path.join(dir, 'node_modules'))
  fs.symlinkSync(h.PKG, path.join(dir, 'node_modules', 'weixin-kit'), 'dir')
  fs.symlinkSync(path.join(h.PKG, 'node_modules', 'express'), path.join(dir, 'node_modules', 'express'), 'dir')
  const file = path.join(dir, 'push-app.mjs')
  fs.writeFileSync(file, readmeBlock('component-node'))
  const config = await sb.control('GET', '/sandbox/client/component_config')
  const env = appEnv(config)
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
  let app
  try {
    Object.assign(process.env, env)
    app = await import(pathToFileURL(file).href)
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
  if (!app.server.listening) await new Promise((resolve, reject) => app.server.once('listening', resolve).once('error', reject))
  const pushUrl = `http://127.0.0.1:${app.server.address().port}/wechat/component/events`
  await sb.control('POST', '/sandbox/component/config', { push_url: pushUrl })
  const close = async () => {
    app.server.closeAllConnections()
    await new Promise((resolve) => app.server.close(resolve))
    cleanup()
  }
  return { ...app, config, pushUrl, close }
}

const counters = () => ctx.sb.control('GET', '/sandbox/component/counters')
const mpCalls = async (op) => (await ctx.sb.mpCounters()).calls[op] || 0
const refreshesOf = async (appid) => (await ctx.sb.control('GET', '/sandbox/component/counters')).refreshes[appid] || 0

/** The secrets of the sandbox's platform, and what it pushed. */
function platformSecrets(config) {
  return [config.component_appsecret, config.token, config.encoding_aes_key]
}

/** The verify ticket inside a delivery (the sandbox's diagnostic copy of the event XML). */
function ticketOf(delivery) {
  const m = /<ComponentVerifyTicket><!\[CDATA\[(.*?)\]\]>/.exec(delivery.plaintext)
  assert.ok(m, delivery.plaintext)
  return m[1]
}

let app
before(async () => {
  ctx.sb = await h.Sandbox.start()
  app = await startReadmeApp(ctx.sb)
})
after(async () => {
  if (app) await app.close()
  if (ctx.sb) await ctx.sb.stop()
})

test('the README app: ticket push → component token → authorize from the authorized push → setUserNotifyExt as the authorizer → revoke → NotAuthorizedError', async () => {
  const { sb } = ctx
  const { platform, notifyAs } = app
  assert.ok(platform instanceof ComponentClient)

  // No ticket yet: a typed error saying so, and nothing sent.
  const none = await h.rejects(platform.componentAccessToken(), ConfigError, platformSecrets(app.config))
  assert.match(none.detail, /no component_verify_ticket/)
  assert.equal((await counters()).component_token_calls, 0)

  // WeChat's ticket push, to the app's URL: answered `success`, the ticket stored.
  const ticketPush = await sb.control('POST', '/sandbox/component/push_ticket')
  assert.equal(ticketPush.url.split('?')[0], app.pushUrl)
  assert.equal(ticketPush.status, 200)
  assert.equal(ticketPush.response, 'success')
  assert.equal(ticketPush.delivered, true)
  const token = await platform.componentAccessToken()
  let c = await counters()
  assert.equal(c.component_token_calls, 1, 'fetched with the pushed ticket')
  assert.equal(c.component_tokens_issued, 1)
  assert.equal(await platform.componentAccessToken(), token, 'kept, not fetched again')
  assert.equal((await counters()).component_token_calls, 1)

  // The merchant authorizes: the app exchanges the code of the `authorized` push.
  const granted = await sb.control('POST', '/sandbox/component/authorize', {})
  assert.equal(granted.push.info_type, 'authorized')
  assert.equal(granted.push.delivered, true, JSON.stringify({ ...granted.push, envelope: undefined, plaintext: undefined }))
  c = await counters()
  assert.equal(c.query_auth_calls, 1)
  assert.equal(c.query_auth_succeeded, 1, 'the app called authorize(code) with the pushed code')
  const appid = granted.authorizer_appid

  // As the merchant: setUserNotifyExt with the authorizer's token, which the sandbox accepts
  // for that appid only (not the platform's own mini-program token).
  const mp = platform.authorizer(appid)
  assert.ok(mp instanceof MiniProgramClient)
  assert.equal(mp.info.appid, appid)
  assert.equal(mp.info.component_appid, app.config.component_appid)
  const { openid, code } = await h.newNotifyCode(sb)
  const ext = { pay_info: { transaction_id: code, pay_amount: 2001, pay_time: 1683546394 } }
  await sb.resetLog()
  assert.deepEqual(await notifyAs(appid, { openid, notify_type: 1003, notify_code: code, ext_json: ext }), { errcode: 0, errmsg: 'ok' })
  const recorded = await sb.mpNotifyExt(openid, code)
  assert.deepEqual(recorded.ext, ext)
  const [sent] = await h.logFor(sb, 'setUserNotifyExt')
  const used = new URL(sent.path, sb.baseUrl).searchParams.get('access_token')
  assert.equal(used, await platform.authorizerAccessToken(appid))
  assert.notEqual(used, await h.rawToken(sb))
  assert.equal(await refreshesOf(appid), 0, 'the token from queryAuth, no refresh')

  // The merchant cancels: the `unauthorized` push reaches the app, the tokens are forgotten,
  // and the next call fails at once, naming the account, without a request.
  const revoked = await sb.control('POST', '/sandbox/component/revoke', { authorizer_appid: appid })
  assert.equal(revoked.info_type, 'unauthorized')
  assert.equal(revoked.delivered, true)
  const calls = await mpCalls('setUserNotifyExt')
  const e = await h.rejects(notifyAs(appid, { openid, notify_type: 1003, notify_code: code, ext_json: ext }), NotAuthorizedError, platformSecrets(app.config))
  assert.equal(e.authorizer_appid, appid)
  assert.equal(typeof e.detail, 'string')
  assert.match(e.detail, /authoriz/)
  assert.ok(e.message.includes(appid))
  assert.equal(await mpCalls('setUserNotifyExt'), calls, 'nothing sent')
  assert.equal(await refreshesOf(appid), 0, 'no refresh attempted')
  await h.rejects(platform.authorizerAccessToken(appid), NotAuthorizedError)
})

test('a refresh token WeChat refuses (61023) → NotAuthorizedError naming it, and no refresh after', async () => {
  const { sb } = ctx
  const { platform } = app
  const granted = await sb.control('POST', '/sandbox/component/authorize', {})
  assert.equal(granted.push.delivered, true)
  const appid = granted.authorizer_appid
  const mp = platform.authorizer(appid)
  const { openid, code } = await h.newNotifyCode(sb)
  const args = { openid, notify_type: 1003, notify_code: code, ext_json: {} }
  await mp.serviceCard.setUserNotifyExt(args)

  // Revoked while the push URL is unset: the app never hears of it; WeChat answers 40001 to
  // the access token and 61023 to the refresh token.
  await sb.control('POST', '/sandbox/component/config', { push_url: '' })
  try {
    const revoked = await sb.control('POST', '/sandbox/component/revoke', { authorizer_appid: appid })
    assert.equal(revoked.delivered, false)
  } finally {
    await sb.control('POST', '/sandbox/component/config', { push_url: app.pushUrl })
  }
  const e = await h.rejects(mp.serviceCard.setUserNotifyExt(args), NotAuthorizedError, platformSecrets(app.config))
  assert.equal(e.authorizer_appid, appid)
  assert.match(e.detail, /61023/)
  assert.equal(await refreshesOf(appid), 1, 'one refresh, refused')
  await h.rejects(mp.serviceCard.setUserNotifyExt(args), NotAuthorizedError)
  assert.equal(await refreshesOf(appid), 1, 'stops refreshing')
})

test('without permission set 18 the service-card call is refused by WeChat (MiniProgramError)', async () => {
  const { sb } = ctx
  const granted = await sb.control('POST', '/sandbox/component/authorize', { func_ids: [17, 19] })
  assert.equal(granted.push.delivered, true)
  const { openid, code } = await h.newNotifyCode(sb)
  const e = await h.rejects(
    app.platform.authorizer(granted.authorizer_appid).serviceCard.setUserNotifyExt({ openid, notify_type: 1003, notify_code: code, ext_json: {} }),
    MiniProgramError
  )
  assert.equal(e.errcode, (await sb.control('GET', '/sandbox/component/config')).missing_permission_errcode)
})

test('parsePush: the push as received is typed (never the ticket); a tampered body or signature is a SignatureError (the app answers 403), a malformed one a ValidationError (400)', async () => {
  const { sb } = ctx
  const { platform } = app
  const delivery = await sb.control('POST', '/sandbox/component/push_ticket')
  assert.equal(delivery.delivered, true)
  const query = new URL(delivery.url).search
  const ticket = ticketOf(delivery)

  // Replayed as received (query string or object, text or Buffer): the same event.
  for (const [q, body] of [
    [query, delivery.envelope],
    [Object.fromEntries(new URLSearchParams(query)), Buffer.from(delivery.envelope)],
  ]) {
    const event = await platform.parsePush(q, body)
    assert.equal(event.info_type, 'component_verify_ticket')
    assert.equal(event.app_id, app.config.component_appid)
    assert.equal(event.create_time, delivery.create_time)
    assert.ok(!JSON.stringify(event).includes(ticket), 'the ticket is never returned')
  }

  // One character of Encrypt changed: msg_signature no longer matches.
  const encrypted = /<Encrypt><!\[CDATA\[(.*?)\]\]>/.exec(delivery.envelope)[1]
  const flipped = (encrypted[10] === 'A' ? 'B' : 'A')
  const tampered = delivery.envelope.replace(encrypted, encrypted.slice(0, 10) + flipped + encrypted.slice(11))
  assert.notEqual(tampered, delivery.envelope)
  await h.rejects(platform.parsePush(query, tampered), SignatureError, [...platformSecrets(app.config), ticket])
  const badSignature = query.replace(/msg_signature=[0-9a-f]+/, `msg_signature=${'0'.repeat(40)}`)
  assert.notEqual(badSignature, query)
  await h.rejects(platform.parsePush(badSignature, delivery.envelope), SignatureError)

  // The README app, sent the tampered body at its URL: not `success`.
  const answer = await fetch(delivery.url, { method: 'POST', body: tampered, headers: { 'content-type': 'text/xml' } })
  assert.equal(answer.status, 403)
  assert.notEqual(await answer.text(), 'success')
  const malformed = await fetch(delivery.url, { method: 'POST', body: '<xml><AppId>x</AppId></xml>' })
  assert.equal(malformed.status, 400)
  const missing = await h.rejects(platform.parsePush(query, '<xml><AppId>x</AppId></xml>'), h.weixin.ValidationError)
  assert.equal(missing.field, 'Encrypt')
  const replay = await fetch(delivery.url, { method: 'POST', body: delivery.envelope, headers: { 'content-type': 'text/xml' } })
  assert.equal(replay.status, 200)
  assert.equal(await replay.text(), 'success')
})

test('what the clients show (inspect, String, JSON) holds no secret, ticket or token', async () => {
  const { sb } = ctx
  const { platform } = app
  const delivery = await sb.control('POST', '/sandbox/component/push_ticket')
  const granted = await sb.control('POST', '/sandbox/component/authorize', {})
  const mp = platform.authorizer(granted.authorizer_appid)
  const secrets = [
    ...platformSecrets(app.config),
    ticketOf(delivery),
    granted.authorization_code,
    await platform.componentAccessToken(),
    await platform.authorizerAccessToken(granted.authorizer_appid),
  ]
  const local = sb.componentClient()
  for (const client of [platform, mp, local]) {
    const shown = [util.inspect(client, { depth: 10, showHidden: true }), String(client), JSON.stringify(client), JSON.stringify(client.info)].join('\n')
    for (const secret of secrets) assert.ok(!shown.includes(secret), `${secret.slice(0, 6)}… shown by ${shown}`)
  }
  assert.match(util.inspect(platform), /^ComponentClient \{/)
  assert.ok(util.inspect(platform).includes(app.config.component_appid))
  assert.deepEqual(local.info, { family: 'component', component_appid: app.config.component_appid, base_url: sb.baseUrl, token_store: 'memory' })
  assert.ok(util.inspect(mp).includes(granted.authorizer_appid))
})

test('configuration and arguments: a ConfigError naming the key, a ValidationError naming authorizer_appid', async () => {
  const { sb } = ctx
  const secrets = platformSecrets(app.config)
  for (const [overrides, key] of [
    [{ component_appsecret: undefined }, 'component_appsecret'],
    [{ token: undefined }, 'encoding_aes_key'],
    [{ appid: 'wx0123456789abcdef' }, 'appid'],
  ]) {
    const e = await h.rejects(() => sb.componentClient(overrides), ConfigError, secrets)
    assert.ok(e.detail.includes(key), e.detail)
  }
  const badKey = 'x'.repeat(42)
  const e = await h.rejects(() => sb.componentClient({ encoding_aes_key: badKey }), h.weixin.ValidationError, [...secrets, badKey])
  assert.equal(e.field, 'encoding_aes_key')
  const platform = sb.componentClient()
  for (const bad of [5, null, '', 'not an appid']) {
    const e = await h.rejects(() => platform.authorizer(bad), h.weixin.ValidationError)
    assert.equal(e.field, 'authorizer_appid')
  }
  // The generated error class, exported and in the hierarchy.
  assert.equal(typeof NotAuthorizedError, 'function')
  assert.ok(new NotAuthorizedError('x', { authorizer_appid: 'wx1', detail: 'd' }) instanceof WeixinKitError)
})

test("every operation of miniprogram.json's `component` tag and every action the core names is a method of ComponentClient", () => {
  const { addon } = require('../lib/native.js')
  const platform = ctx.sb.componentClient()
  const doc = h.spec('miniprogram.json')
  const ops = []
  for (const item of Object.values(doc.paths)) {
    for (const op of Object.values(item)) if (op && op.operationId && (op.tags || [])[0] === 'component') ops.push(op.operationId)
  }
  assert.deepEqual(ops.sort(), ['getAuthorizerAccessToken', 'getComponentAccessToken', 'queryAuth'])
  for (const op of ops) assert.equal(typeof platform.component[h.methodName(op)], 'function', op)
  const names = addon.callable('component').map(([name]) => name)
  for (const op of ops) assert.ok(names.includes(op), op)
  for (const name of names.filter((n) => !ops.includes(n))) assert.equal(typeof platform[name], 'function', name)
  assert.equal(typeof platform.authorizer, 'function')
})
