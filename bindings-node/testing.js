'use strict'
// weixin-kit/testing: an in-process WeChat sandbox for tests — the same server the Rust,
// Python and demo suites use. It speaks the real protocol on two loopback ports (main and
// backup, same state): it verifies request signatures as WeChat Pay does (a bad one answers
// 401 SIGN_ERROR), signs every response, keeps merchant-coupon stocks, sends signed and
// encrypted notifications, issues mini-program tokens and card tickets, plays WeChat for a
// third-party platform (tokens, encrypted pushes, authorizations), and injects faults.
//
// Every method is one call of the sandbox's control API (sandbox/README.md) through the
// native SandboxCore; the semantics are Python's weixin_kit.testing.Sandbox.

const { addon, guard } = require('./lib/native.js')
const { PayClient, MiniProgramClient, ComponentClient } = require('./lib/clients.js')
const { WeixinKitError } = require('./generated/errors.js')

if (!addon.hasSandbox()) {
  throw new WeixinKitError('weixin-kit/testing: this build of the native addon leaves the sandbox out')
}

/** `fields` without its undefined/null entries. */
function present(fields = {}) {
  const out = {}
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) out[k] = v
  return out
}

const segment = encodeURIComponent

class Sandbox {
  /** Use `await Sandbox.start()`. */
  constructor(core, credentials, payConfig, mpConfig, componentConfig) {
    Object.defineProperty(this, '_core', { value: core })
    this.credentials = Object.freeze(credentials)
    Object.defineProperty(this, '_payConfig', { value: payConfig })
    Object.defineProperty(this, '_mpConfig', { value: mpConfig })
    Object.defineProperty(this, '_componentConfig', { value: componentConfig })
  }

  /** Starts a sandbox with a fresh identity on two free loopback ports. */
  static async start() {
    const core = await guard(() => addon.startSandbox())
    const control = (path) => guard(() => core.control('GET', path))
    const [credentials, payConfig, mpConfig, componentConfig] = await Promise.all([
      control('/sandbox/client/credentials'),
      control('/sandbox/client/pay_config'),
      control('/sandbox/client/mp_config'),
      control('/sandbox/client/component_config'),
    ])
    return new Sandbox(core, credentials, payConfig, mpConfig, componentConfig)
  }

  /**
   * One call of the control API (sandbox/README.md), in-process; resolves to its JSON answer.
   * Everything without a method of its own goes through here, e.g. the third-party platform's
   * `control('POST', '/sandbox/component/authorize', { func_ids: [17, 18] })`.
   */
  control(method, path, body) {
    return guard(() => this._core.control(method, path, body))
  }

  _control(method, path, body) {
    return this.control(method, path, body)
  }

  // -- lifecycle --------------------------------------------------------------------------

  /** Stops both listeners. Idempotent. */
  stop() {
    return guard(() => this._core.stop())
  }

  get stopped() {
    return this._core.stopped
  }

  /** `await using sb = await Sandbox.start()` (Node ≥ 20 with explicit resource management). */
  [Symbol.asyncDispose || Symbol.for('Symbol.asyncDispose')]() {
    return this.stop()
  }

  // -- where and who ----------------------------------------------------------------------

  /** The main listener: stands for api.mch.weixin.qq.com and api.weixin.qq.com. */
  get baseUrl() {
    return this._core.baseUrl
  }

  /** The backup listener (api2.mch.weixin.qq.com): same routes, same state. */
  get backupBaseUrl() {
    return this._core.backupBaseUrl
  }

  // -- clients configured for it ----------------------------------------------------------

  /** A PayClient for this sandbox (public-key mode, APIv3 key, main and backup URLs). */
  payClient(overrides = {}) {
    return new PayClient({ ...this._payConfig, ...overrides })
  }

  /** A MiniProgramClient for this sandbox (its appid, secret and card account). */
  mpClient(overrides = {}) {
    return new MiniProgramClient({ ...this._mpConfig, ...overrides })
  }

  /**
   * A ComponentClient for this sandbox's third-party platform (its component_appid, secret,
   * message-check token and EncodingAESKey as at start; after changing them with
   * `control('POST', '/sandbox/component/config', …)` pass the new ones as overrides). The
   * sandbox pushes to the URL set with `control('POST', '/sandbox/component/config', { push_url })`.
   */
  componentClient(overrides = {}) {
    return new ComponentClient({ ...this._componentConfig, ...overrides })
  }

  // -- WeChat Pay state -------------------------------------------------------------------

  /** Creates a merchant-coupon stock that ModifyStockInfo can change; resolves to it. */
  createStock(stockId, fields = {}) {
    const stock = { stock_name: '沙箱测试券', ...present(fields) }
    if (stockId !== undefined && stockId !== null) stock.stock_id = stockId
    return this._control('POST', '/sandbox/stocks', stock)
  }

  /** The stock (with `applied_out_request_nos`), or null. */
  stock(stockId) {
    return this._control('GET', `/sandbox/stocks/${segment(stockId)}`)
  }

  stocks() {
    return this._control('GET', '/sandbox/stocks')
  }

  /** Images uploaded through MarketingImageUpload. */
  media() {
    return this._control('GET', '/sandbox/media')
  }

  /** The URL registered with SetCouponNotify, or null. */
  async notifyUrl() {
    return (await this._control('GET', '/sandbox/notify_url')).notify_url
  }

  /** Sends a COUPON.SEND notification, signed and encrypted as WeChat Pay does, and waits for its delivery. */
  sendCouponNotification(stockId, fields = {}) {
    return this._control('POST', '/sandbox/notifications/coupon', { ...present(fields), stock_id: stockId })
  }

  /** Delivery reports of the notifications sent since resetLog(). */
  notifications() {
    return this._control('GET', '/sandbox/notifications')
  }

  // -- faults -----------------------------------------------------------------------------

  /** Makes matching requests fail; resolves to the rule's id. */
  async injectFault(operation, kind = 'system_error', options = {}) {
    const { path_prefix, count, ...fields } = options
    const fault = { ...present(fields), ...present({ operation, path_prefix, count }), kind }
    return (await this._control('POST', '/sandbox/faults', fault)).id
  }

  /** The active fault rules (with `remaining`). */
  faults() {
    return this._control('GET', '/sandbox/faults')
  }

  async clearFaults() {
    await this._control('DELETE', '/sandbox/faults')
  }

  /** While down, the main listener drops every request; the backup keeps serving. */
  async setMainDown(down = true) {
    await this._control('POST', down ? '/sandbox/main/down' : '/sandbox/main/up')
  }

  /** `"public_key"` (default) or `"certificate"`: which key signs responses. */
  async setSigningMode(mode) {
    await this._control('POST', '/sandbox/signing_mode', { mode })
  }

  // -- observation ------------------------------------------------------------------------

  /** `{ requests: {operation: n}, applied_out_request_nos, notifications, mp }`. */
  counters() {
    return this._control('GET', '/sandbox/counters')
  }

  /** The request log, oldest first. */
  requests() {
    return this._control('GET', '/sandbox/requests')
  }

  /** Clears the request log and the WeChat Pay counters (stocks stay). */
  async resetLog() {
    await this._control('DELETE', '/sandbox/requests')
  }

  // -- mini-program side ------------------------------------------------------------------

  async mpAddUser(openid) {
    await this._control('POST', '/sandbox/mp/users', { openid })
  }

  /** Registers a notify_code for setUserNotifyExt (`fields`: valid_after_secs, banned, …). */
  async mpAddNotifyCode(openid, notifyType, notifyCode, fields = {}) {
    const registration = { ...present(fields), openid, notify_type: notifyType, notify_code: notifyCode }
    await this._control('POST', '/sandbox/mp/notify_codes', registration)
  }

  /** What setUserNotifyExt delivered for this code, or null. */
  mpNotifyExt(openid, notifyCode) {
    const query = new URLSearchParams({ openid, notify_code: notifyCode })
    return this._control('GET', `/sandbox/mp/notify_ext?${query}`)
  }

  /** Registers a card owned by `ownerAppid` (default: the sandbox's Official Account). */
  mpCreateCard(cardId, ownerAppid, fields = {}) {
    return this._control('POST', '/sandbox/mp/cards', { ...present(fields), card_id: cardId, ...present({ owner_appid: ownerAppid }) })
  }

  /** What the front end's wx.addCard does with `cardList` (items as card.cardExt returns them). */
  wxAddCard(cardList, openid) {
    return this._control('POST', '/sandbox/card/add', present({ cardList, openid }))
  }

  /** A card code encrypted as wx.addCard returns it (for decryptCardCode). */
  async mpEncryptCardCode(cardId, code) {
    return (await this._control('POST', '/sandbox/mp/card_codes', { card_id: cardId, code })).encrypt_code
  }

  /** The route `path` (or `*`) answers `errcode` for the next `count` calls. */
  async mpAddErrcodeFault(path, errcode, { count, errmsg } = {}) {
    await this._control('POST', '/sandbox/mp/errcode_faults', present({ path, errcode, count, errmsg }))
  }

  async mpClearErrcodeFaults() {
    await this._control('DELETE', '/sandbox/mp/errcode_faults')
  }

  /** Every access token expires now (the next call answers 42001). */
  async mpExpireTokens() {
    await this._control('POST', '/sandbox/mp/expire_tokens')
  }

  /** Every card/JS-SDK ticket expires now. */
  async mpExpireTickets() {
    await this._control('POST', '/sandbox/mp/expire_tickets')
  }

  /** Moves the mini-program side's clock forward by `seconds`. */
  async mpAdvanceClock(seconds) {
    await this._control('POST', '/sandbox/mp/advance_clock', { seconds })
  }

  /** Tokens and tickets issued, calls per operation, faults injected. */
  mpCounters() {
    return this._control('GET', '/sandbox/mp/counters')
  }
}

module.exports = { Sandbox }
