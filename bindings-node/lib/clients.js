'use strict'
// The two clients. Each holds one native ClientCore (the Rust client: connection pool, keys,
// token cache, retries) and inherits its per-operation groups and actions from the generated
// family class (generated/pay.js, generated/mp.js), which all end in `call(name, args)`.
// Create one client per credential set and keep it: it serves any number of concurrent calls.

const util = require('node:util')
const { PayOperations } = require('../generated/pay.js')
const { MiniProgramOperations } = require('../generated/mp.js')
const { ConfigError } = require('../generated/errors.js')
const { addon, guard } = require('./native.js')
const { splitArgs, settings } = require('./args.js')

/** The settings that are callbacks (functions), not configuration keys. */
const CALLBACKS = ['token_provider', 'card_token_provider', 'signer']

/**
 * A user function (plain or async) as the native side calls it: one array of arguments in, a
 * Promise of `{ value }` or `{ error }` out — it never throws, so a failing callback is the
 * core's CallbackError naming it, not a crash.
 */
function hostFunction(name, fn) {
  if (fn === undefined || fn === null) return undefined
  if (typeof fn !== 'function') {
    throw new ConfigError(`\`${name}\` must be a function`, { detail: `\`${name}\` must be a function` })
  }
  return async (args) => {
    try {
      return { value: await fn(...args) }
    } catch (e) {
      const kind = e && e.name ? e.name : typeof e
      return { error: `${kind}: ${e && e.message !== undefined ? e.message : String(e)}` }
    }
  }
}

function build(family, config) {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    const detail = 'the configuration must be an object of settings'
    throw new ConfigError(detail, { detail })
  }
  const callbacks = {}
  for (const key of CALLBACKS) {
    const wrapped = hostFunction(key, config[key])
    if (wrapped) callbacks[key] = wrapped
  }
  const core = guard(() => new addon.ClientCore(family, settings(config, CALLBACKS), callbacks))
  const call = async (name, args) => {
    const [values, bytes] = splitArgs(args)
    const result = await guard(() => core.call(name, values, bytes))
    return result === null ? undefined : result
  }
  return { core, call }
}

function describe(client) {
  const shown = {}
  for (const [key, value] of Object.entries(client.info)) if (key !== 'family') shown[key] = value
  return shown
}

/** A WeChat Pay APIv3 client (see index.d.ts for the settings). */
class PayClient extends PayOperations {
  constructor(config) {
    const { core, call } = build('pay', config)
    super(call)
    Object.defineProperty(this, '_core', { value: core })
  }

  /** What may be shown of the client: mchid, serial_no, wechatpay_public_key_id, base_url. */
  get info() {
    return this._core.info
  }

  [util.inspect.custom](depth, options, inspect) {
    return `PayClient ${inspect(describe(this), options)}`
  }
}

/** A mini-program (and card-owning Official Account) client (see index.d.ts). */
class MiniProgramClient extends MiniProgramOperations {
  constructor(config) {
    const { core, call } = build('mp', config)
    super(call)
    Object.defineProperty(this, '_core', { value: core })
  }

  /** What may be shown of the client: appid, card_appid, base_url, token_store (its scheme). */
  get info() {
    return this._core.info
  }

  [util.inspect.custom](depth, options, inspect) {
    return `MiniProgramClient ${inspect(describe(this), options)}`
  }
}

module.exports = { PayClient, MiniProgramClient }
