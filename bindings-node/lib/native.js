'use strict'
// The native addon (native/weixin_kit.node, built by scripts/build.js) and the one place where
// its failures become the package's error classes: a native error's message is PREFIX + the
// core's error description as JSON (bindings-node/src/errors.rs); everything else the addon
// throws (an argument it could not convert) becomes a WeixinKitError with its text.

const path = require('node:path')
const { WeixinKitError, errorFromDescription } = require('../generated/errors.js')

const PREFIX = 'weixin-kit-error:'
const ADDON = path.join(__dirname, '..', 'native', 'weixin_kit.node')

let addon
try {
  addon = require(ADDON)
} catch (e) {
  throw new WeixinKitError(
    `the native addon ${ADDON} could not be loaded (${e.message}); ` +
      'reinstall the package (npm install <repository>/bindings-node builds it with cargo)'
  )
}

/** The package's error for anything a native call threw. */
function fromNative(e) {
  if (e instanceof WeixinKitError) return e
  const text = e && typeof e.message === 'string' ? e.message : String(e)
  if (text.startsWith(PREFIX)) {
    return errorFromDescription(JSON.parse(text.slice(PREFIX.length)))
  }
  return new WeixinKitError(text)
}

/** Calls a native function, converting what it throws or rejects with. */
function guard(call) {
  let result
  try {
    result = call()
  } catch (e) {
    throw fromNative(e)
  }
  if (result && typeof result.then === 'function') {
    return result.then(undefined, (e) => {
      throw fromNative(e)
    })
  }
  return result
}

module.exports = { addon, fromNative, guard }
