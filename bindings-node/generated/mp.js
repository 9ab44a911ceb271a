'use strict'
// TEMPORARY stand-in
class ServiceCardOperations { constructor(call) { Object.defineProperty(this, '_call', { value: call }) }
  setUserNotifyExt(args) { return this._call('setUserNotifyExt', args) } }
class CardOperations { constructor(call) { Object.defineProperty(this, '_call', { value: call }) }
  cardExt(args) { return this._call('cardExt', args) }
  decryptCardCode(args) { return this._call('decryptCardCode', args) } }
class MiniProgramOperations { constructor(call) { Object.defineProperty(this, '_call', { value: call }); this.serviceCard = new ServiceCardOperations(call); this.card = new CardOperations(call) }
  accessToken() { return this._call('accessToken', {}) }
  refreshAccessToken() { return this._call('refreshAccessToken', {}) } }
module.exports = { MiniProgramOperations, ServiceCardOperations, CardOperations }
