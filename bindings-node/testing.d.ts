// weixin-kit/testing: the in-process WeChat sandbox (see testing.js and sandbox/README.md).

import { PayClient, PayConfig, MiniProgramClient, MiniProgramConfig, ComponentClient, ComponentConfig } from './index'

/** The sandbox's identities (all generated at start; nothing here is a real credential). */
export interface SandboxCredentials {
  mchid: string
  serial_no: string
  merchant_private_key: string
  wechatpay_public_key_id: string
  wechatpay_public_key: string
  apiv3_key: string
  appid: string
  secret: string
  platform_serial_no: string
  platform_certificate: string
  /** The Official Account that owns the sandbox's cards. */
  card_appid: string
  card_secret: string
}

/** One request as the sandbox saw it. */
export interface SandboxRequest {
  seq: number
  time: string
  /** `main` or `backup`. */
  listener: string
  method: string
  path: string
  /** The operation the route belongs to (`ModifyStockInfo`, `setUserNotifyExt` …), or null. */
  operation: string | null
  body: unknown
  /** The request signature's verdict (WeChat Pay routes). */
  signature: unknown
  status: number
  faults: unknown[]
  request_id: string | null
  [key: string]: unknown
}

/** A delivery report of a notification. */
export interface NotificationReport {
  id: string
  notify_url: string
  delivered: boolean
  attempts: unknown[]
  /** The envelope as sent (the JSON body with the encrypted resource). */
  envelope: Record<string, unknown>
  /** The decrypted resource. */
  payload: Record<string, unknown>
  [key: string]: unknown
}

export type FaultKind =
  | 'system_error'
  | 'frequency_limited'
  | 'connection_reset'
  | 'latency'
  | 'tamper_signature'
  | 'stale_timestamp'
  | 'daily_quota'
  /** The change is applied (and logged), then the connection is reset without an answer. */
  | 'reset_after_apply'
  /** The change is applied (and logged), then the answer is delayed by `ms`. */
  | 'latency_after_apply'
  | (string & {})

export interface FaultOptions {
  /** Match by path prefix instead of operation (`/v3/marketing/`, `/cgi-bin/`). */
  path_prefix?: string
  /** The next N matching requests (default: until clearFaults()). */
  count?: number
  /** `latency`, `latency_after_apply`: milliseconds. */
  ms?: number
  /** The random share (0 < p ≤ 1) of matching requests it hits (default: every one). */
  probability?: number
  /** Seeds the draws of `probability`, so that a run can be repeated. */
  seed?: number
  /** `stale_timestamp`: seconds off (default 600). */
  seconds?: number
  [key: string]: unknown
}

/** A running sandbox: two loopback listeners (main, backup) with the same state. */
export declare class Sandbox {
  private constructor()
  /** Starts a sandbox with a fresh identity on two free loopback ports. */
  static start(): Promise<Sandbox>
  /** Stops both listeners. Idempotent. */
  stop(): Promise<void>
  readonly stopped: boolean
  [Symbol.asyncDispose](): Promise<void>
  /** The main listener: stands for api.mch.weixin.qq.com and api.weixin.qq.com. */
  readonly baseUrl: string
  /** The backup listener (api2.mch.weixin.qq.com): same routes, same state. */
  readonly backupBaseUrl: string
  readonly credentials: Readonly<SandboxCredentials>

  /** A PayClient for this sandbox (public-key mode, APIv3 key, main and backup URLs). */
  payClient(overrides?: Partial<PayConfig>): PayClient
  /** A MiniProgramClient for this sandbox (its appid, secret and card account). */
  mpClient(overrides?: Partial<MiniProgramConfig>): MiniProgramClient
  /**
   * A ComponentClient for this sandbox's third-party platform (component_appid,
   * component_appsecret, token, encoding_aes_key as at start, its URLs).
   */
  componentClient(overrides?: Partial<ComponentConfig>): ComponentClient

  /**
   * One call of the control API (sandbox/README.md), in-process; resolves to its JSON answer.
   * The third-party platform's state is driven through it: `POST /sandbox/component/config
   * {push_url}`, `POST /sandbox/component/push_ticket` → the delivery, `POST
   * /sandbox/component/authorize {authorizer_appid?, func_ids?}` → `{authorizer_appid,
   * authorization_code, push}`, `POST /sandbox/component/revoke {authorizer_appid}`, `POST
   * /sandbox/component/rotate_refresh_token`, `GET /sandbox/component/counters`, `GET
   * /sandbox/component/pushes`. A route that refuses rejects.
   */
  control(method: 'GET' | 'POST' | 'DELETE' | (string & {}), path: string, body?: unknown): Promise<any>

  /**
   * Creates a merchant-coupon stock that ModifyStockInfo can change (`stock_id` generated when
   * absent). `fields`: stock_name, comment, goods_name, subsidy, creator_mchid (another
   * merchant: 403), available_end_time (in the past: 403), or any other stock field.
   */
  createStock(stockId?: string | null, fields?: Record<string, unknown>): Promise<Record<string, unknown>>
  /** The stock (with `applied_out_request_nos`), or null. */
  stock(stockId: string): Promise<Record<string, unknown> | null>
  stocks(): Promise<Record<string, unknown>[]>
  /** Images uploaded through MarketingImageUpload. */
  media(): Promise<Record<string, unknown>[]>
  /** The URL registered with SetCouponNotify, or null. */
  notifyUrl(): Promise<string | null>
  /**
   * Sends a COUPON.SEND notification, signed and encrypted as WeChat Pay does, to the URL
   * registered with SetCouponNotify (or `fields.notify_url`) and waits for its delivery.
   * `fields`: coupon_code, openid, unionid, send_channel, send_merchant, send_time,
   * attach_info, event_type, notify_url, max_attempts, interval_ms, tamper_signature,
   * stale_timestamp.
   */
  sendCouponNotification(stockId: string, fields?: Record<string, unknown>): Promise<NotificationReport>
  /** Delivery reports of the notifications sent since resetLog(). */
  notifications(): Promise<NotificationReport[]>

  /**
   * Makes matching requests fail; resolves to the rule's id. `operation`: ModifyStockInfo,
   * SetCouponNotify, MarketingImageUpload, Certificates or a mini-program operation; with
   * neither it nor `options.path_prefix`, every request matches.
   */
  injectFault(operation?: string | null, kind?: FaultKind, options?: FaultOptions): Promise<number>
  faults(): Promise<Record<string, unknown>[]>
  clearFaults(): Promise<void>
  /** While down, the main listener drops every request; the backup keeps serving. */
  setMainDown(down?: boolean): Promise<void>
  /** Which key signs responses. */
  setSigningMode(mode: 'public_key' | 'certificate'): Promise<void>

  /** `{ requests: {operation: n}, applied_out_request_nos, notifications, mp }`. */
  counters(): Promise<Record<string, any>>
  /** The request log, oldest first. */
  requests(): Promise<SandboxRequest[]>
  /** Clears the request log and the WeChat Pay counters (stocks stay). */
  resetLog(): Promise<void>

  /** Registers a user (openid). */
  mpAddUser(openid: string): Promise<void>
  /**
   * Registers a notify_code for setUserNotifyExt. `fields`: valid_after_secs (85437 until
   * then), banned (85436), expire_after_secs, code_state, requires_check_json.
   */
  mpAddNotifyCode(openid: string, notifyType: number, notifyCode: string, fields?: Record<string, unknown>): Promise<void>
  /** What setUserNotifyExt delivered for this code (`ext_json` as sent, `ext` decoded …), or null. */
  mpNotifyExt(openid: string, notifyCode: string): Promise<Record<string, any> | null>
  /** Registers a card owned by `ownerAppid` (default: credentials.card_appid). `fields`: custom_code, bind_openid. */
  mpCreateCard(cardId: string, ownerAppid?: string | null, fields?: Record<string, unknown>): Promise<Record<string, unknown>>
  /**
   * What the front end's wx.addCard does with `cardList` (items as `card.cardExt` returns
   * them): each signature is checked against the card owner's wx_card ticket.
   */
  wxAddCard(
    cardList: Array<{ cardId: string; cardExt: string }>,
    openid?: string
  ): Promise<{ errMsg: string; cardList: Array<{ cardId: string; cardExt: string; code: string; isSuccess: boolean }> }>
  /** A card code encrypted as wx.addCard returns it (for decryptCardCode). */
  mpEncryptCardCode(cardId: string, code: string): Promise<string>
  /** The route `path` (`/wxa/set_user_notifyext`, or `*`) answers `errcode` for the next `count` calls. */
  mpAddErrcodeFault(path: string, errcode: number, options?: { count?: number; errmsg?: string }): Promise<void>
  mpClearErrcodeFaults(): Promise<void>
  /** Every access token expires now (the next call answers 42001). */
  mpExpireTokens(): Promise<void>
  /** Every card/JS-SDK ticket expires now. */
  mpExpireTickets(): Promise<void>
  /** Moves the mini-program side's clock forward (token and ticket lifetimes, 85437 delays). */
  mpAdvanceClock(seconds: number): Promise<void>
  /** Tokens and tickets issued, calls per operation, faults injected. */
  mpCounters(): Promise<Record<string, any>>
}
