#!/usr/bin/env node
// ModifyStockInfo throughput and client CPU per call: weixin-kit (this package, ../index.js)
// against wechatpay-axios-plugin (npm, APIv3 in public-key mode), in ONE run against ONE sandbox
// process.
//
// Every call is the same valid change to one existing stock (a fresh out_request_no each time,
// so every call is applied), signed by the client, verified by the sandbox, answered 204 and
// signed by the sandbox, and the answer's signature verified by the client. The sandbox is the
// release binary, run as a separate process (its CPU is not the client's): the client's CPU is
// process.cpuUsage() (user + system, every thread of this process: the JS thread, libuv's pool
// and the addon's tokio runtime) around each case; the sandbox's is read from /proc/<pid>/stat.
//
//     cd bindings-node && WEIXIN_KIT_NODE_PROFILE=release node scripts/build.js
//     cargo build --release -p weixin-kit-sandbox
//     cd bench && npm install && node modify_stock_info.js [--seconds 5] [--concurrency 16]
//
// `cargo xtask bench` does all of that. Prints numbers; asserts nothing about them and exits 0
// whether the targets are met or not (README.md says how to read the tables).
'use strict'

const { spawn, spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { performance } = require('node:perf_hooks')

const ROOT = path.resolve(__dirname, '..', '..')
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100

// The targets (bindings-node/bench/README.md).
const TARGET_X_FLOOR = 1.3 // client CPU per call at most 1.3x the crypto floor
const TARGET_CPU_VS_AXIOS = 3 // at least 3x less client CPU per call than axios-plugin
const TARGET_RATE_VS_AXIOS = 2 // at least 2x axios-plugin's calls/s at the widest concurrency

// -- options -----------------------------------------------------------------------------------

function parseArgs(argv) {
  const opts = { seconds: 5, warmup: 1, concurrency: 16, repeat: 1, only: '', pin: false, floorSeconds: 1 }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const value = () => {
      const v = argv[++i]
      if (v === undefined) usage(`${arg} needs a value`)
      return v
    }
    if (arg === '--seconds') opts.seconds = Number(value())
    else if (arg === '--warmup') opts.warmup = Number(value())
    else if (arg === '--concurrency') opts.concurrency = Number.parseInt(value(), 10)
    else if (arg === '--repeat') opts.repeat = Number.parseInt(value(), 10)
    else if (arg === '--only') opts.only = value()
    else if (arg === '--floor-seconds') opts.floorSeconds = Number(value())
    else if (arg === '--pin') opts.pin = true
    else if (arg === '--help' || arg === '-h') usage()
    else usage(`unknown option ${arg}`)
  }
  return opts
}

function usage(error) {
  const text =
    'usage: node modify_stock_info.js [--seconds S (5)] [--warmup S (1)] [--concurrency N (16)]\n' +
    '       [--repeat R (1)] [--only substrings,comma-separated] [--floor-seconds S (1)] [--pin]\n' +
    '  --pin: the sandbox on the last core, this process on the others (taskset; >= 2 cores)\n' +
    'sandbox binary: $WEIXIN_KIT_SANDBOX_BIN or target/release/weixin-kit-sandbox'
  if (error) {
    console.error(`${error}\n${text}`)
    process.exit(2)
  }
  console.log(text)
  process.exit(0)
}

// -- /proc -------------------------------------------------------------------------------------

/** utime + stime (seconds) of a process, every thread, or of one thread with `tid`. */
function procCpuSeconds(pid, tid) {
  try {
    const file = tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`
    const stat = fs.readFileSync(file, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ') // after "pid (comm) "
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK // fields 14 and 15 of proc(5)
  } catch {
    return null
  }
}

/** CPU seconds every core of the machine spent busy so far (all but idle and iowait). */
function machineBusySeconds() {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1, 9).map(Number)
    return (fields.reduce((a, b) => a + b, 0) - fields[3] - (fields[4] || 0)) / CLK_TCK
  } catch {
    return null
  }
}

function usableCores() {
  const out = spawnSync('taskset', ['-cp', String(process.pid)], { encoding: 'utf8' })
  const list = out.status === 0 ? out.stdout.split(':').pop().trim() : ''
  const cores = []
  for (const part of list.split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(Number)
    for (let c = a; c <= (b === undefined ? a : b); c++) cores.push(c)
  }
  return cores.length ? cores : [...Array(os.cpus().length).keys()]
}

// -- the sandbox process -----------------------------------------------------------------------

class SandboxProcess {
  /** The stand-alone sandbox: prints one JSON line (base_url, credentials), serves until killed. */
  static async start(binary, core) {
    if (!fs.existsSync(binary)) {
      console.error(`${binary} not found: run \`cargo build --release -p weixin-kit-sandbox\` (or set WEIXIN_KIT_SANDBOX_BIN)`)
      process.exit(1)
    }
    // Pinned before exec (taskset), so every thread the sandbox starts inherits the affinity.
    const [cmd, args] = core === undefined ? [binary, []] : ['taskset', ['-c', String(core), binary]]
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    const line = await new Promise((resolve, reject) => {
      const rl = readline.createInterface({ input: proc.stdout })
      rl.once('line', (l) => {
        rl.close()
        resolve(l)
      })
      proc.once('exit', (code) => reject(new Error(`the sandbox exited (${code}) before printing its address`)))
    })
    proc.stdout.resume() // nothing more is expected; never let a full pipe block it
    const info = JSON.parse(line)
    return new SandboxProcess(proc, info.base_url, info.credentials)
  }

  constructor(proc, baseUrl, credentials) {
    this.proc = proc
    this.baseUrl = baseUrl
    this.credentials = credentials
  }

  async control(method, route, body) {
    const res = await fetch(this.baseUrl + route, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`sandbox control ${method} ${route}: HTTP ${res.status} ${text}`)
    return text ? JSON.parse(text) : null
  }

  cpuSeconds() {
    return procCpuSeconds(this.proc.pid)
  }

  stop() {
    this.proc.kill('SIGTERM')
  }
}

// -- the clients -------------------------------------------------------------------------------

function weixinKitClient(sb, publicKeyPem) {
  const { PayClient } = require('../index.js')
  const c = sb.credentials
  return new PayClient({
    mchid: c.mchid,
    serial_no: c.merchant_serial_no,
    private_key: c.merchant_private_key_pem,
    wechatpay_public_key_id: c.wechatpay_public_key_id,
    wechatpay_public_key: publicKeyPem || c.wechatpay_public_key_pem,
    base_url: sb.baseUrl, // no backup host: a custom base_url never fails over to WeChat
  })
}

/** wechatpay-axios-plugin in APIv3 public-key mode (its README, 初始化: `certs` keyed by the
 * 微信支付公钥ID), every request sent to the sandbox (`baseURL` is an axios setting; the SDK
 * merges axios settings into the same object). Response verification is the SDK's default: its
 * transformResponse verifies Wechatpay-Signature with certs[Wechatpay-Serial] on every 2xx. */
function axiosPluginClient(sb, publicKeyPem) {
  const { Wechatpay } = require('wechatpay-axios-plugin')
  const c = sb.credentials
  return new Wechatpay({
    mchid: c.mchid,
    serial: c.merchant_serial_no,
    privateKey: c.merchant_private_key_pem,
    certs: { [c.wechatpay_public_key_id]: publicKeyPem || c.wechatpay_public_key_pem },
    baseURL: `${sb.baseUrl}/`,
  })
}

function axiosPluginVersion() {
  try {
    return require('wechatpay-axios-plugin/package.json').version
  } catch {
    return JSON.parse(fs.readFileSync(require.resolve('wechatpay-axios-plugin').replace(/index\.js$/, 'package.json'))).version
  }
}

/** One ModifyStockInfo through each client. */
const CALLS = {
  'weixin-kit': (client, stockId, outRequestNo) =>
    client.busifavor.modifyStockInfo({ stock_id: stockId, out_request_no: outRequestNo, comment: '活动使用' }),
  'axios-plugin': async (client, stockId, outRequestNo) => {
    const res = await client.v3.marketing.busifavor.stocks._stock_id_.patch(
      { out_request_no: outRequestNo, comment: '活动使用' },
      { stock_id: stockId }
    )
    if (res.status !== 204) throw new Error(`HTTP ${res.status}: ${JSON.stringify(res.data)}`)
  },
}

function describeError(e) {
  if (e && e.response) return `HTTP ${e.response.status} ${e.code || ''}: ${e.message}`
  return `${(e && e.name) || typeof e}: ${e && e.message !== undefined ? e.message : String(e)}`
}

/**
 * Both clients must really verify the answer: built with a wrong WeChat Pay public key (the
 * merchant's own, same id), a 204 signed by the sandbox must be rejected.
 */
async function checkVerification(sb, name, make) {
  const { stock_id: stockId } = await sb.control('POST', '/sandbox/stocks', { stock_name: '验签检查' })
  const good = make(sb)
  await CALLS[name](good, stockId, `verify-ok-${name}-${process.pid}`) // must succeed (204)
  const wrong = make(sb, sb.credentials.merchant_public_key_pem)
  try {
    await CALLS[name](wrong, stockId, `verify-bad-${name}-${process.pid}`)
  } catch (e) {
    return `on (a 204 succeeds; with a wrong public key it is rejected: ${describeError(e).slice(0, 90)})`
  }
  return 'OFF: a wrong WeChat Pay public key was accepted, the answer is not verified'
}

// -- the crypto floor --------------------------------------------------------------------------

/** One RSA-2048 PKCS#1 v1.5 SHA-256 signature plus one verification, by node:crypto (OpenSSL)
 * with KeyObjects parsed once, as a client holds them. CPU µs per operation of this thread. */
function cryptoFloor(credentials, seconds) {
  const priv = crypto.createPrivateKey(credentials.merchant_private_key_pem)
  const pub = crypto.createPublicKey(credentials.merchant_public_key_pem)
  const wechatpay = crypto.createPublicKey(credentials.wechatpay_public_key_pem)
  const bits = [priv, wechatpay].map((k) => k.asymmetricKeyDetails.modulusLength)
  const message = Buffer.from(
    `PATCH\n/v3/marketing/busifavor/stocks/1212121212\n${Math.floor(Date.now() / 1000)}\n` +
      `${crypto.randomBytes(16).toString('hex')}\n{"out_request_no":"bench-1","comment":"活动使用"}\n`
  )
  const signature = crypto.sign('RSA-SHA256', message, priv)
  const perOp = (op) => {
    for (let i = 0; i < 20; i++) op() // warm
    const tid = process.pid // the main thread: its own CPU time, not the pool's
    const t0 = procCpuSeconds(process.pid, tid)
    const w0 = performance.now()
    const u0 = process.cpuUsage()
    let n = 0
    while (performance.now() - w0 < seconds * 1000) {
      for (let i = 0; i < 20; i++) op()
      n += 20
    }
    const u = process.cpuUsage(u0)
    const t1 = procCpuSeconds(process.pid, tid)
    // The thread's CPU from /proc (10 ms ticks) if there, else the process's.
    const cpuUs = t0 !== null && t1 !== null && t1 > t0 ? (t1 - t0) * 1e6 : u.user + u.system
    return cpuUs / n
  }
  const signUs = perOp(() => crypto.sign('RSA-SHA256', message, priv))
  const verifyUs = perOp(() => {
    if (!crypto.verify('RSA-SHA256', message, pub, signature)) throw new Error('floor: verify failed')
  })
  return { signUs, verifyUs, us: signUs + verifyUs, bits, library: `node:crypto (OpenSSL ${process.versions.openssl})` }
}

/** The same floor by the core's own key types (aws-lc: what weixin-kit's client runs), through
 * the addon's `_cryptoFloor` (bindings-node/src/bench.rs, as Python's `_crypto_floor`); null
 * with an addon built before it existed. */
function coreCryptoFloor(credentials, seconds) {
  const { addon } = require('../lib/native.js')
  if (typeof addon._cryptoFloor !== 'function') return null
  const [signUs, verifyUs] = addon._cryptoFloor(credentials.merchant_private_key_pem, credentials.merchant_public_key_pem, seconds)
  return { signUs, verifyUs, us: signUs + verifyUs, library: "weixin-kit's core (aws-lc)" }
}

// -- running a case ----------------------------------------------------------------------------

function newResult(name, client, mode, workers) {
  return { name, client, mode, workers, calls: 0, errors: 0, elapsed: 0, latencies: [], clientCpu: 0, jsCpu: 0, serverCpu: 0, machineCpu: 0, serverCalls: 0, firstError: null }
}

function addResult(total, one) {
  for (const key of ['calls', 'errors', 'elapsed', 'clientCpu', 'jsCpu', 'serverCpu', 'machineCpu', 'serverCalls']) {
    total[key] = total[key] === null || one[key] === null ? null : total[key] + one[key]
  }
  for (const l of one.latencies) total.latencies.push(l)
  total.firstError = total.firstError || one.firstError
}

/** `workers` loops, each awaiting one call at a time until the deadline. */
async function runWorkers(call, workers, seconds, result) {
  const deadline = performance.now() + seconds * 1000
  const worker = async () => {
    for (;;) {
      const start = performance.now()
      if (start >= deadline) return
      try {
        await call()
      } catch (e) {
        result.errors++
        if (!result.firstError) {
          result.firstError = describeError(e)
          console.error(`  ${result.name}: ${result.firstError}`)
        }
      }
      result.latencies.push(performance.now() - start)
    }
  }
  await Promise.all(Array.from({ length: workers }, worker))
}

async function measure(sb, result, call, seconds, warmup) {
  if (warmup > 0) await runWorkers(call, result.workers, warmup, newResult(result.name, result.client, result.mode, result.workers))
  await sb.control('DELETE', '/sandbox/requests') // the sandbox's log and counters start empty
  const server0 = sb.cpuSeconds()
  const machine0 = machineBusySeconds()
  const js0 = procCpuSeconds(process.pid, process.pid)
  const cpu0 = process.cpuUsage() // this process, every thread (tokio's and libuv's included)
  const t0 = performance.now()
  await runWorkers(call, result.workers, seconds, result)
  result.elapsed = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const js1 = procCpuSeconds(process.pid, process.pid)
  const server1 = sb.cpuSeconds()
  const machine1 = machineBusySeconds()
  result.clientCpu = (cpu.user + cpu.system) / 1e6
  result.jsCpu = js0 === null || js1 === null ? null : js1 - js0
  result.serverCpu = server0 === null || server1 === null ? null : server1 - server0
  result.machineCpu = machine0 === null || machine1 === null ? null : machine1 - machine0
  result.calls = result.latencies.length - result.errors
  const counters = await sb.control('GET', '/sandbox/counters')
  result.serverCalls = (counters.requests && counters.requests.ModifyStockInfo) || 0
  return result
}

function pct(latencies, q) {
  if (!latencies.length) return NaN
  const sorted = Float64Array.from(latencies).sort()
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

// -- printing ----------------------------------------------------------------------------------

const pad = (v, n) => String(v).padStart(n)
const padEnd = (v, n) => String(v).padEnd(n)
const fixed = (v, d = 0) => (v === null || v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(d))
const perCall = (seconds, r) => (seconds === null || !r.calls ? null : (seconds / r.calls) * 1e6)
const cores = (seconds, r) => (seconds === null || !r.elapsed ? null : seconds / r.elapsed)
const othersCores = (r) =>
  r.machineCpu === null || r.serverCpu === null || !r.elapsed ? null : Math.max((r.machineCpu - r.clientCpu - r.serverCpu) / r.elapsed, 0)

function printTable(results, n) {
  const axios = {}
  for (const r of results) if (r.client === 'axios-plugin') axios[r.workers] = r
  const header =
    padEnd('client', 14) + padEnd('mode', 12) + pad('conc', 5) + pad('calls/s', 9) + pad('vs axios', 9) +
    pad('p50 ms', 8) + pad('p99 ms', 8) + pad('errors', 7) + pad('client CPU', 11) + pad('µs/call', 9) +
    pad('JS µs', 7) + pad('server CPU', 11) + pad('µs/call', 9) + pad('others', 8)
  console.log(header)
  console.log('-'.repeat(header.length))
  for (const r of results) {
    const rate = r.elapsed ? r.calls / r.elapsed : 0
    const base = axios[r.workers]
    const vs = base && base.calls ? `${(rate / (base.calls / base.elapsed)).toFixed(2)}x` : '-'
    console.log(
      padEnd(r.client, 14) + padEnd(r.mode, 12) + pad(r.workers, 5) + pad(rate.toFixed(0), 9) + pad(vs, 9) +
        pad(fixed(pct(r.latencies, 0.5), 2), 8) + pad(fixed(pct(r.latencies, 0.99), 2), 8) + pad(r.errors, 7) +
        pad(fixed(cores(r.clientCpu, r), 2), 11) + pad(fixed(perCall(r.clientCpu, r)), 9) +
        pad(fixed(perCall(r.jsCpu, r)), 7) + pad(fixed(cores(r.serverCpu, r), 2), 11) +
        pad(fixed(perCall(r.serverCpu, r)), 9) + pad(fixed(othersCores(r), 2), 8)
    )
  }
  console.log()
  console.log(
    'calls/s: successful calls per wall-clock second · vs axios: over axios-plugin\'s at the same concurrency ·\n' +
      'client CPU: cores this process kept busy (process.cpuUsage(), every thread: JS, libuv, tokio) and CPU µs per call ·\n' +
      'JS µs: the main (JS) thread\'s share of it, from /proc/self/task (10 ms ticks) · server CPU: the same for the sandbox\n' +
      'process (/proc/<pid>/stat) · others: cores the machine\'s other processes kept busy meanwhile (from /proc/stat)'
  )
  const mismatched = results.filter((r) => r.serverCalls !== r.calls + r.errors).map((r) => `${r.name} (${r.serverCalls} vs ${r.calls + r.errors})`)
  if (mismatched.length) {
    console.log(`note: the sandbox counted a different number of ModifyStockInfo requests for: ${mismatched.join(', ')}`)
  }
  void n
}

function verdictLine(ok) {
  return ok === null ? 'n/a' : ok ? 'met' : 'NOT met'
}

function printSummary(results, floors, n, usable, pinned) {
  const find = (client, workers) => results.find((r) => r.client === client && r.workers === workers && r.calls)
  const rate = (r) => r.calls / r.elapsed
  const us = (r) => perCall(r.clientCpu, r)
  console.log(
    `crypto floor per call: one RSA-${floors.node.bits[0]} PKCS#1 v1.5 SHA-256 signature + one verification, keys parsed once, ` +
      'CPU of the measuring thread, in this run:'
  )
  for (const f of [floors.core, floors.node].filter(Boolean)) {
    console.log(`  ${padEnd(f.library, 30)} sign ${f.signUs.toFixed(0)} + verify ${f.verifyUs.toFixed(0)} = ${f.us.toFixed(0)} µs`)
  }
  // Each client against the crypto it runs: weixin-kit signs with the core (aws-lc),
  // axios-plugin with node:crypto. The floor is "one RSA-2048 sign + one verify".
  const floorOf = (client) => (client === 'weixin-kit' && floors.core ? floors.core : floors.node)
  const floor = floorOf('weixin-kit')
  const header =
    padEnd('client', 14) + pad('conc', 5) + pad('calls/s', 9) + pad('client µs', 11) + pad('x floor', 9) +
    pad('vs axios µs', 13) + pad('server µs', 11) + pad('bound/s', 9) + pad('x bound', 9)
  console.log(header)
  console.log('-'.repeat(header.length))
  for (const r of results.filter((x) => x.calls)) {
    const ax = find('axios-plugin', r.workers)
    const server = perCall(r.serverCpu, r)
    const bound = server === null ? null : 1e6 / (us(r) + server)
    console.log(
      padEnd(r.client, 14) + pad(r.workers, 5) + pad(rate(r).toFixed(0), 9) + pad(us(r).toFixed(0), 11) +
        pad((us(r) / floorOf(r.client).us).toFixed(2), 9) + pad(ax ? `${(us(ax) / us(r)).toFixed(2)}x less` : '-', 13) +
        pad(fixed(server), 11) + pad(fixed(bound), 9) + pad(bound === null ? 'n/a' : (rate(r) / bound).toFixed(2), 9)
    )
  }
  console.log(
    "x floor: client µs per call / the floor of the client's own crypto (weixin-kit: the core's, axios-plugin: node:crypto) ·\n" +
      "vs axios µs: axios-plugin's client µs per call / this row's · bound/s: " +
      '1 / (client µs + server µs), one call at a time with nobody waiting (concurrent rows can reach cores x bound)'
  )

  console.log('\ntargets (printed, never asserted):')
  const ours = [find('weixin-kit', 1), find('weixin-kit', n)]
  const theirs = [find('axios-plugin', 1), find('axios-plugin', n)]
  for (const [i, mode] of [[0, 'sequential'], [1, `${n} in flight`]]) {
    const o = ours[i]
    const a = theirs[i]
    if (o) {
      const x = us(o) / floor.us
      const xNode = floors.core ? ` (${(us(o) / floors.node.us).toFixed(2)}x the node:crypto floor)` : ''
      console.log(
        `  ${mode}: weixin-kit client CPU ${us(o).toFixed(0)} µs/call = ${x.toFixed(2)}x the floor${xNode} (target <= ${TARGET_X_FLOOR}x): ${verdictLine(x <= TARGET_X_FLOOR)}`
      )
    }
    if (o && a) {
      const less = us(a) / us(o)
      console.log(
        `  ${mode}: axios-plugin ${us(a).toFixed(0)} µs/call / weixin-kit ${us(o).toFixed(0)} µs/call = ${less.toFixed(2)}x less CPU (target >= ${TARGET_CPU_VS_AXIOS}x): ${verdictLine(less >= TARGET_CPU_VS_AXIOS)}`
      )
    }
  }
  if (ours[1] && theirs[1]) {
    const x = rate(ours[1]) / rate(theirs[1])
    console.log(
      `  ${n} in flight: weixin-kit ${rate(ours[1]).toFixed(0)} calls/s / axios-plugin ${rate(theirs[1]).toFixed(0)} = ${x.toFixed(2)}x (target >= ${TARGET_RATE_VS_AXIOS}x): ${verdictLine(x >= TARGET_RATE_VS_AXIOS)}`
    )
  }

  console.log(`\nwas the sandbox the bottleneck? (${usable} cores${pinned ? ', the sandbox pinned to one of its own' : ', shared by client and sandbox'})`)
  for (const client of ['weixin-kit', 'axios-plugin']) {
    const seq = find(client, 1)
    const wide = find(client, n)
    if (!wide) continue
    const c = cores(wide.clientCpu, wide)
    const js = cores(wide.jsCpu, wide)
    const s = cores(wide.serverCpu, wide)
    const others = othersCores(wide) || 0
    const scale = seq ? rate(wide) / rate(seq) : null
    let verdict
    if (s === null) {
      verdict = 'unknown (no /proc)'
    } else if (pinned) {
      verdict =
        s >= 0.9
          ? `yes: the sandbox used ${s.toFixed(2)} of its own core (no headroom)`
          : `no: the sandbox used ${s.toFixed(2)} of its own core (headroom ${(1 - s).toFixed(2)}); ` +
            (js !== null && js >= 0.85
              ? `the client's JS thread was busy ${js.toFixed(2)} of the time: the client is the limit`
              : `client ${c.toFixed(2)} of its ${usable - 1} core(s), other processes ${others.toFixed(2)} cores of the machine`)
    } else {
      const left = usable - c - others
      const busy = c + s + others
      if (busy >= 0.9 * usable) {
        verdict =
          `the machine was saturated (client ${c.toFixed(2)} + sandbox ${s.toFixed(2)} + others ${others.toFixed(2)} of ${usable} cores` +
          (others >= 0.5 ? `; other processes took ${others.toFixed(2)} cores, which both sides did not get` : '') +
          '): ' +
          (s >= 0.8 * c
            ? 'the sandbox (one sign + one verify per call, like the client) took about as much as the client, so on this box it is as much the limit as the client: more cores would raise the rate, and this row understates the client'
            : 'the client took most of it; the sandbox, with less, was not the limit')
      } else if (s >= 0.9 * Math.max(left, 0.01)) {
        verdict = `yes: the sandbox used ${s.toFixed(2)} cores, all that the client (${c.toFixed(2)}) and others (${others.toFixed(2)}) left it`
      } else if (js !== null && js >= 0.85) {
        verdict = `no: the client's JS thread was busy ${js.toFixed(2)} of the time (client ${c.toFixed(2)} cores in all) while the sandbox used ${s.toFixed(2)} of the ${left.toFixed(2)} cores left to it: the client's own thread is the limit`
      } else {
        verdict = `no core was full (client ${c.toFixed(2)}, JS thread ${fixed(js, 2)}, sandbox ${s.toFixed(2)}, others ${others.toFixed(2)} of ${usable}): waiting (latency), not CPU`
      }
    }
    // Flat from 1 to n in flight while neither the client nor other processes kept the cores
    // busy: the limit is outside the client.
    const flat = scale !== null && scale < 1.2 && c < 0.8 && (js === null || js < 0.8) && s !== null && c + s + others < 0.9 * usable
    console.log(
      `  ${client}, ${n} in flight: ${verdict}` +
        (scale !== null ? `; throughput ${scale.toFixed(2)}x the sequential rate` : '') +
        (flat ? ' — flat while the client is not busy: something outside the client (the sandbox?) limits it' : '')
    )
  }
  const o = find('weixin-kit', n)
  const a = find('axios-plugin', n)
  if (!pinned && o && a && o.serverCpu !== null && a.serverCpu !== null) {
    const costO = us(o) + perCall(o.serverCpu, o)
    const costA = us(a) + perCall(a.serverCpu, a)
    console.log(
      `  when client and sandbox share saturated cores, a call costs the machine client + sandbox CPU: weixin-kit ${costO.toFixed(0)} µs, ` +
        `axios-plugin ${costA.toFixed(0)} µs, so the ${n}-in-flight rate ratio tends to ${(costA / costO).toFixed(2)}x: the sandbox's ` +
        `~${perCall(o.serverCpu, o).toFixed(0)} µs per call, paid on the same cores, dilutes the client's advantage; with the sandbox on cores of its own ` +
        `(--pin, or another machine) the ratio can reach the client-CPU ratio, ${(us(a) / us(o)).toFixed(2)}x`
    )
  }
}

// -- main --------------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2))
  const binary = process.env.WEIXIN_KIT_SANDBOX_BIN || path.join(ROOT, 'target', 'release', 'weixin-kit-sandbox')
  let sandboxCore
  if (opts.pin) {
    const all = usableCores()
    if (!process.env.WEIXIN_KIT_BENCH_PINNED) {
      if (all.length < 2) usage('--pin needs at least 2 usable cores')
      // Re-run this script on every core but the last (before any thread of the addon exists),
      // and start the sandbox on the last one.
      const child = spawnSync('taskset', ['-c', all.slice(0, -1).join(','), process.execPath, ...process.argv.slice(1)], {
        stdio: 'inherit',
        env: { ...process.env, WEIXIN_KIT_BENCH_PINNED: String(all[all.length - 1]) },
      })
      process.exit(child.status === null ? 1 : child.status)
    }
    sandboxCore = Number(process.env.WEIXIN_KIT_BENCH_PINNED)
  }
  const usable = usableCores().length + (sandboxCore === undefined ? 0 : 1)
  const sb = await SandboxProcess.start(binary, sandboxCore)
  try {
    const n = opts.concurrency
    const makers = { 'weixin-kit': weixinKitClient, 'axios-plugin': axiosPluginClient }
    const ourVersion = require('../package.json').version
    console.log(
      `weixin-kit ${ourVersion} (../index.js, native/weixin_kit.node) · wechatpay-axios-plugin ${axiosPluginVersion()} · ` +
        `Node ${process.version} · ${os.arch()} · cores: ${os.cpus().length} (usable: ${usable}) · load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`
    )
    console.log(`sandbox: ${binary} (pid ${sb.proc.pid}, a separate process) at ${sb.baseUrl}`)
    if (sandboxCore !== undefined) {
      console.log(`pinned: sandbox on core ${sandboxCore}, this process on cores ${usableCores().join(',')} (server CPU < 1.00 = headroom)`)
    }
    console.log(
      `workload: ModifyStockInfo, a fresh stock per case, a unique out_request_no per call; ${opts.seconds} s per case ` +
        `after ${opts.warmup} s warm-up; sequential (1 in flight) and ${n} in flight (async loops in this one process)` +
        (opts.repeat > 1 ? `; ${opts.repeat} rounds added up` : '')
    )
    for (const name of Object.keys(makers)) {
      console.log(`response verification, ${name}: ${await checkVerification(sb, name, makers[name])}`)
    }
    const floors = { node: cryptoFloor(sb.credentials, opts.floorSeconds), core: coreCryptoFloor(sb.credentials, opts.floorSeconds) }
    console.log()

    const clients = { 'weixin-kit': weixinKitClient(sb), 'axios-plugin': axiosPluginClient(sb) }
    const cases = []
    for (const client of Object.keys(clients)) {
      for (const [mode, workers] of [['sequential', 1], ['concurrent', n]]) {
        const name = `${client} ${mode}`
        const only = opts.only.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)
        if (only.length && !only.some((s) => name.toLowerCase().includes(s))) continue
        cases.push({ name, client, mode, workers, total: newResult(name, client, mode, workers) })
      }
    }
    // --repeat: the cases in turn, round after round, added up, so that load from other
    // processes on a shared machine falls on every case alike.
    for (let round = 0; round < opts.repeat; round++) {
      for (const c of cases) {
        const suffix = opts.repeat > 1 ? ` (round ${round + 1}/${opts.repeat})` : ''
        console.error(`running ${c.name} (${c.workers} in flight)${suffix} …`)
        const { stock_id: stockId } = await sb.control('POST', '/sandbox/stocks', { stock_name: '压测券' })
        const prefix = `${c.name.replace(/ /g, '_')}-${round}-${process.pid}-`
        let seq = 0
        const client = clients[c.client]
        const call = () => CALLS[c.client](client, stockId, prefix + seq++)
        const one = await measure(sb, newResult(c.name, c.client, c.mode, c.workers), call, opts.seconds, opts.warmup)
        addResult(c.total, one)
      }
    }
    const results = cases.map((c) => c.total)
    printTable(results, n)
    console.log()
    printSummary(results, floors, n, usable, sandboxCore !== undefined)
  } finally {
    sb.stop()
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e)
  process.exit(1)
})
