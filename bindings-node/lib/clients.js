'use strict'
// The three clients. Each holds one native ClientCore (the Rust client: connection pool, keys,
// token cache, retries) and inherits its per-operation groups and actions from the generated
// family class (generated/pay.js, generated/mp.js, generated/component.js), which all end in
// `call(name, args)`. Create one client per credential set and keep it: it serves any number
// of concurrent calls.

const util = require('node:util')
const { PayOperations } = require('../generated/pay.js')
const { MiniProgramOperations } = require('../generated/mp.js')
const { ThirdPartyPlatformOperations } = require('../generated/component.js')
const { ConfigError, ValidationError } = require('../generated/errors.js')
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
  return adopt(guard(() => new addon.ClientCore(family, settings(config, CALLBACKS), callbacks)))
}

/** The `call(name, args)` the generated classes end in, over a native core. */
function adopt(core) {
  const call = async (name, args) => {
    const [values, bytes] = splitArgs(args)
    const result = await guard(() => core.call(name, values, bytes))
    return result === null ? undefined : result
  }
  return { core, call }
}

/**
 * The key under which `ComponentClient.authorizer` hands a MiniProgramClient its native core
 * instead of settings: module-private, so no configuration object can carry it.
 */
const CORE = Symbol('weixin-kit native core')

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
    const given = config !== null && typeof config === 'object' ? config[CORE] : undefined
    const { core, call } = given ? adopt(given) : build('mp', config)
    super(call)
    Object.defineProperty(this, '_core', { value: core })
  }

  /**
   * What may be shown of the client: appid, card_appid, base_url, token_store (its scheme);
   * component_appid for an authorizer's client (`ComponentClient.authorizer`).
   */
  get info() {
    return this._core.info
  }

  [util.inspect.custom](depth, options, inspect) {
    return `MiniProgramClient ${inspect(describe(this), options)}`
  }
}

/**
 * A third-party platform (第三方平台) client (see index.d.ts): the verify-ticket and
 * authorization pushes, the component_access_token, each authorizer's tokens (refresh tokens
 * kept in `token_store`), and a MiniProgramClient per authorizer.
 */
class ComponentClient extends ThirdPartyPlatformOperations {
  constructor(config) {
    const { core, call } = build('component', config)
    super(call)
    Object.defineProperty(this, '_core', { value: core })
  }

  /** What may be shown of the client: component_appid, base_url, token_store (its scheme). */
  get info() {
    return this._core.info
  }

  /**
   * A MiniProgramClient calling as `authorizerAppid` (its authorizer_access_token, refreshed
   * with the stored refresh token), sharing this client's connections and token store. Nothing
   * is sent here: a call rejects with NotAuthorizedError when the account must authorize again.
   */
  authorizer(authorizerAppid) {
    if (typeof authorizerAppid !== 'string') {
      const rule = 'must be a string (the authorizer account appid)'
      throw new ValidationError(`invalid \`authorizer_appid\`: ${rule}`, { field: 'authorizer_appid', rule })
    }
    const core = guard(() => this._core.authorizer(authorizerAppid))
    return new MiniProgramClient({ [CORE]: core })
  }

  [util.inspect.custom](depth, options, inspect) {
    return `ComponentClient ${inspect(describe(this), options)}`
  }
}

module.exports = { PayClient, MiniProgramClient, ComponentClient }
