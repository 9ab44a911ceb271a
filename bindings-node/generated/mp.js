'use strict'
// TEMPORARY stand-in
class AuthOperations { constructor(call) { Object.defineProperty(this, '_call', { value: call }) }
  getAccessToken(args) { return this._call('getAccessToken', args) }
  getStableAccessToken(args) { return this._call('getStableAccessToken', args) } }
class ServiceCardOperations { constructor(call) { Object.defineProperty(this, '_call', { value: call }) }
  setUserNotify(args) { return this._call('setUserNotify', args) }
  setUserNotifyExt(args) { return this._call('setUserNotifyExt', args) }
  getUserNotify(args) { return this._call('getUserNotify', args) } }
class CardOperations { constructor(call) { Object.defineProperty(this, '_call', { value: call }) }
  getTicket(args) { return this._call('getTicket', args) }
  cardExt(args) { return this._call('cardExt', args) }
  decryptCardCode(args) { return this._call('decryptCardCode', args) } }
class MiniProgramOperations { constructor(call) { Object.defineProperty(this, '_call', { value: call }); this.auth = new AuthOperations(call); this.serviceCard = new ServiceCardOperations(call); this.card = new CardOperations(call) }
  accessToken() { return this._call('accessToken', {}) }
  refreshAccessToken() { return this._call('refreshAccessToken', {}) } }
module.exports = { MiniProgramOperations, AuthOperations, ServiceCardOperations, CardOperations }
