'use strict'
// TEMPORARY stand-in
class BusifavorOperations { constructor(call) { Object.defineProperty(this, '_call', { value: call }) }
  modifyStockInfo(args) { return this._call('ModifyStockInfo', args) }
  setCouponNotify(args) { return this._call('SetCouponNotify', args) } }
class MediaOperations { constructor(call) { Object.defineProperty(this, '_call', { value: call }) }
  marketingImageUpload(args) { return this._call('MarketingImageUpload', args) } }
class PayOperations { constructor(call) { Object.defineProperty(this, '_call', { value: call }); this.busifavor = new BusifavorOperations(call); this.media = new MediaOperations(call) }
  parseNotification(headers, body) { return this._call('parseNotification', { headers, body }) }
  request(method, path, body) { return this._call('request', { method, path, body }) }
  platformCertificateSerials() { return this._call('platformCertificateSerials', {}) }
  refreshCertificates() { return this._call('refreshCertificates', {}) } }
module.exports = { PayOperations, BusifavorOperations, MediaOperations }
