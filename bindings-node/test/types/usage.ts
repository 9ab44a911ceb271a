// Compiled by `npm run typecheck` (tsc --noEmit --strict), never run: what a TypeScript user
// writes against the declarations. Every `@ts-expect-error` line is a mistake the declarations
// must reject — if one compiles, tsc reports the directive as unused and the check fails.

import {
  ApiError,
  CallbackError,
  ComponentClient,
  MiniProgramClient,
  NotAuthorizedError,
  PayClient,
  ValidationError,
  WeixinKitError,
  buildAuthorization,
  decryptResource,
  signCardExt,
  verifySignature,
  setLogger,
  type LogRecord,
  type AddCardListItem,
  type ModifyStockInfoArgs,
  type Notification,
  type SetCouponNotifyResponse,
  type SetUserNotifyExtArgs,
  type QueryAuthResponse,
} from 'weixin-kit'
import { Sandbox } from 'weixin-kit/testing'

export async function usage(headers: Record<string, string | string[] | undefined>, raw: Buffer) {
  const pay = new PayClient({
    mchid: '1900000001',
    serial_no: 'ABC',
    private_key: Buffer.from('-----BEGIN PRIVATE KEY-----'),
    wechatpay_public_key_id: 'PUB_KEY_ID_0119',
    wechatpay_public_key: '-----BEGIN PUBLIC KEY-----',
    apiv3_key: '0123456789abcdef0123456789abcdef',
    timeout: 5,
    signer: async (message: string) => message,
  })
  // @ts-expect-error: mchid is required
  new PayClient({ serial_no: 'ABC' })
  // @ts-expect-error: a setting that does not exist
  new PayClient({ mchid: '1', serial_no: 'A', privateKey: 'camelCase is not a key' })
  // @ts-expect-error: timeout is a number of seconds
  new PayClient({ mchid: '1', serial_no: 'A', timeout: '5s' })

  const nothing: void = await pay.busifavor.modifyStockInfo({
    stock_id: '101156451224',
    out_request_no: 'r-1',
    comment: '活动使用',
  })
  void nothing
  // @ts-expect-error: stock_id is required
  await pay.busifavor.modifyStockInfo({ out_request_no: 'r-1' })
  // @ts-expect-error: wire names, not camelCase
  await pay.busifavor.modifyStockInfo({ stockId: '1', out_request_no: 'r-1' })
  // @ts-expect-error: the stock id is a string
  await pay.busifavor.modifyStockInfo({ stock_id: 101156451224, out_request_no: 'r-1' })
  const args: ModifyStockInfoArgs = { stock_id: '1', out_request_no: '2' }
  await pay.busifavor.modifyStockInfo(args)

  const r: SetCouponNotifyResponse = await pay.busifavor.setCouponNotify({ notify_url: 'https://x' })
  const when: string = r.update_time
  // @ts-expect-error: no such field in the answer
  r.updateTime
  void when

  await pay.media.marketingImageUpload({ filename: 'a.png', file: Buffer.from([1, 2, 3]) })
  await pay.media.marketingImageUpload({ filename: 'a.png', file: new Uint8Array([1]) })
  // @ts-expect-error: the file is bytes, not a path
  await pay.media.marketingImageUpload({ filename: 'a.png', file: 42 })

  const event: Notification = await pay.parseNotification(headers, raw)
  const id: string = event.id
  void id
  await pay.parseNotification(headers, raw.toString('utf8'))
  // @ts-expect-error: the body is bytes or text
  await pay.parseNotification(headers, { parsed: true })
  const answer: unknown = await pay.request('GET', '/v3/certificates')
  void answer
  const serials: string[] = await pay.platformCertificateSerials()
  void serials

  const mp = new MiniProgramClient({
    appid: 'wx1',
    secret: 's',
    token_store: 'redis://127.0.0.1:6379/0',
    card_appid: 'wx2',
    card_token_provider: async () => 'token',
  })
  // @ts-expect-error: appid is required
  new MiniProgramClient({ secret: 's' })
  // @ts-expect-error: a token provider returns the token
  new MiniProgramClient({ appid: 'wx1', token_provider: () => 42 })

  const ext: SetUserNotifyExtArgs = {
    openid: 'o',
    notify_type: 1003,
    notify_code: 'c',
    ext_json: { data_list: [] },
  }
  await mp.serviceCard.setUserNotifyExt(ext)
  await mp.serviceCard.setUserNotifyExt({ ...ext, ext_json: '{"data_list":[]}' })
  // @ts-expect-error: notify_type is a number
  await mp.serviceCard.setUserNotifyExt({ ...ext, notify_type: '1003' })
  const item: AddCardListItem = await mp.card.cardExt({ card_id: 'p1', openid: 'o' })
  const card: { cardId: string; cardExt: string } = item
  void card
  // @ts-expect-error: card_id is required
  await mp.card.cardExt({ openid: 'o' })
  const token: string = await mp.accessToken()
  void token

  try {
    await mp.card.decryptCardCode({ encrypt_code: 'x' })
  } catch (e) {
    if (e instanceof ApiError) {
      const status: number | null = e.status
      const code: string | null = e.code
      void status, code
    } else if (e instanceof ValidationError) {
      const field: string | null = e.field
      void field
    } else if (e instanceof CallbackError) {
      const which: string | null = e.callback
      void which
    }
    if (e instanceof WeixinKitError) {
      const retry: boolean = e.retryable
      void retry
    }
  }

  const authorization: string = await buildAuthorization({
    mchid: '1',
    serial_no: 'A',
    private_key: 'pem',
    method: 'GET',
    url: '/v3/x',
    timestamp: 1,
    nonce: 'n',
  })
  void authorization
  // @ts-expect-error: the RSA functions return promises
  const sync: boolean = verifySignature({ public_key: 'k', timestamp: 1, nonce: 'n', body: '', signature: 's' })
  void sync
  const text: string = decryptResource({ apiv3_key: 'k', nonce: 'n', associated_data: '', ciphertext: 'c' })
  const signature: string = signCardExt({ api_ticket: 't', card_id: 'c', timestamp: 1, nonce_str: 'n' })
  void text, signature

  // The third-party platform: the push as received, an authorizer's MiniProgramClient.
  const platform = new ComponentClient({
    component_appid: 'wx3',
    component_appsecret: 's',
    token: 't',
    encoding_aes_key: 'k',
    token_store: 'redis://127.0.0.1:6379/0',
  })
  // @ts-expect-error: component_appsecret is required
  new ComponentClient({ component_appid: 'wx3' })
  // @ts-expect-error: a mini-program key is not a platform setting
  new ComponentClient({ component_appid: 'wx3', component_appsecret: 's', appid: 'wx1' })
  const pushed = await platform.parsePush('timestamp=1&nonce=n&msg_signature=s', raw)
  await platform.parsePush({ timestamp: '1', nonce: 'n', msg_signature: 's' }, raw.toString('utf8'))
  // @ts-expect-error: the body is bytes or text
  await platform.parsePush('', { xml: true })
  if (pushed.info_type === 'authorized') {
    const granted: { authorizer_appid: string; func_info: number[] } = await platform.authorize(String(pushed.authorization_code))
    const merchant: MiniProgramClient = platform.authorizer(granted.authorizer_appid)
    const shownAppid: string = merchant.info.appid
    void shownAppid
    await merchant.serviceCard.setUserNotifyExt(ext)
  }
  // @ts-expect-error: the authorizer is an appid string
  platform.authorizer(42)
  // @ts-expect-error: a mini-program client acts for one account, it hands out no others
  mp.authorizer('wx4')
  const componentToken: string = await platform.componentAccessToken()
  const raw2: QueryAuthResponse = await platform.component.queryAuth({ component_appid: 'wx3', authorization_code: 'c' })
  void componentToken, raw2
  await platform.forgetAuthorizer('wx4')
  try {
    await platform.authorizerAccessToken('wx4')
  } catch (e) {
    if (e instanceof NotAuthorizedError) {
      const who: string | null = e.authorizer_appid
      const why: unknown = e.detail
      void who, why
    }
  }

  const sb = await Sandbox.start()
  const componentClient: ComponentClient = sb.componentClient({ token_store: 'memory://' })
  void componentClient
  const delivery = await sb.control('POST', '/sandbox/component/push_ticket')
  void delivery
  const client: PayClient = sb.payClient({ max_attempts: 1 })
  void client
  const faultId: number = await sb.injectFault('ModifyStockInfo', 'latency', { ms: 100, count: 1 })
  void faultId
  // @ts-expect-error: the base URL is read-only
  sb.baseUrl = 'http://elsewhere'
  await sb.stop()
}

// setLogger: records with typed fields; a level outside the five is rejected.
const logged: LogRecord[] = []
const installed: boolean = setLogger((record) => {
  logged.push(record)
  const status: string | number | boolean | undefined = record.fields.status
  void status
}, { level: 'debug' })
void installed
setLogger(null)
// @ts-expect-error: not a level
setLogger(() => {}, { level: 'verbose' })
