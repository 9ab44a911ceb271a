'use strict'
// A Redis token store shared by 4 Node processes: a real redis-server (free port, no
// persistence, temp dir), 4 child processes each with a MiniProgramClient on
// token_store redis://…, calling setUserNotifyExt and accessToken() at the same moment; the
// sandbox issued exactly one token.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const h = require('./helpers.js')

const ctx = h.useSandbox()
let redis = null
before(async () => {
  redis = await h.startRedis()
})
after(async () => {
  if (redis) await redis.stop()
})

const CHILD = `
const { MiniProgramClient } = require(${JSON.stringify(h.PKG)})
const job = JSON.parse(process.argv[1])
const mp = new MiniProgramClient(job.config)
const wait = Math.max(0, job.startAt - Date.now())
setTimeout(async () => {
  try {
    const [answer, token] = await Promise.all([
      mp.serviceCard.setUserNotifyExt({ openid: job.openid, notify_type: 1003, notify_code: job.code, ext_json: { child: job.index } }),
      mp.accessToken(),
    ])
    process.stdout.write(JSON.stringify({ errcode: answer.errcode, token, again: await mp.accessToken() }))
  } catch (e) {
    process.stdout.write(JSON.stringify({ error: e.name + ': ' + e.message }))
    process.exitCode = 1
  }
}, wait)
`

test('4 Node processes sharing a Redis token store fetch ONE token', async (t) => {
  if (!redis) {
    t.skip('redis-server is not installed (CI installs it); the Redis token store is not tested')
    return
  }
  const { sb } = ctx
  const counters = await h.mpDelta(sb)
  const c = sb.credentials
  // getAccessToken (/cgi-bin/token) issues a new token every call and invalidates the previous
  // one: processes that did not share the store would each fetch.
  const config = { appid: c.appid, secret: c.secret, base_url: sb.baseUrl, token_store: redis.url(0), token_endpoint: 'token' }
  const codes = []
  for (let i = 0; i < 4; i++) codes.push(await h.newNotifyCode(sb))
  const startAt = Date.now() + 1200
  const runs = await Promise.all(
    codes.map(({ openid, code }, index) => h.runNode(['-e', CHILD, JSON.stringify({ config, openid, code, index, startAt })], { timeoutMs: 20000 }))
  )
  const outputs = runs.map((r, i) => {
    assert.equal(r.code, 0, `child ${i}: ${r.stdout} ${r.stderr}`)
    return JSON.parse(r.stdout)
  })
  assert.ok(outputs.every((o) => o.errcode === 0))
  const tokens = new Set(outputs.flatMap((o) => [o.token, o.again]))
  assert.equal(tokens.size, 1)
  const d = await counters()
  assert.equal(d.tokens_issued, 1, JSON.stringify(d))
  assert.equal(d.stable_tokens_issued ?? 0, 0)
  assert.equal(d.calls.setUserNotifyExt, 4)
  for (const [i, { openid, code }] of codes.entries()) {
    assert.deepEqual(JSON.parse((await sb.mpNotifyExt(openid, code)).ext_json), { child: i })
  }
  // the token lives in Redis
  const size = await h.redisCommand(redis.port, 'DBSIZE')
  assert.match(size, /^:\d+/)
  assert.ok(Number(size.slice(1)) >= 1)
  // the sandbox accepts it: it is the one it issued last
  assert.equal((await h.rawTicket(sb, [...tokens][0], 'jsapi')).errcode, 0)
  assert.ok(path.isAbsolute(h.PKG))
})
