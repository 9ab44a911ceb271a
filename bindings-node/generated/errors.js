'use strict'
// TEMPORARY stand-in
class WeixinKitError extends Error { constructor(text, f = {}) { super(text); this.name = new.target.name; Object.assign(this, f) } }
class ApiError extends WeixinKitError {}
class MiniProgramError extends WeixinKitError {}
class SignatureError extends WeixinKitError {}
class ValidationError extends WeixinKitError {}
class TransportError extends WeixinKitError {}
class TimeoutError extends WeixinKitError {}
class ConfigError extends WeixinKitError {}
class UnexpectedResponseError extends WeixinKitError {}
class CallbackError extends WeixinKitError {}
const ERROR_CLASSES = { WeixinKitError, ApiError, MiniProgramError, SignatureError, ValidationError, TransportError, TimeoutError, ConfigError, UnexpectedResponseError, CallbackError }
function errorFromDescription(d) { const C = ERROR_CLASSES[d.kind] || WeixinKitError; const { kind, text, ...f } = d; return new C(text, f) }
module.exports = { WeixinKitError, ApiError, MiniProgramError, SignatureError, ValidationError, TransportError, TimeoutError, ConfigError, UnexpectedResponseError, CallbackError, ERROR_CLASSES, errorFromDescription }
