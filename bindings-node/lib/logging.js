'use strict'
// setLogger: the core's log records (each call's answers, retries, verification verdicts and
// token refreshes; never a secret, URL, body or openid) to a function of the user's. One logger
// per process; records below its level are not built on the native side.

const { addon } = require('./native.js')

const LEVELS = ['error', 'warn', 'info', 'debug', 'trace']

/**
 * `setLogger(fn, { level = 'info' })`: `fn({ level, target, message, fields })` is called on the
 * JS thread for every record at `level` or above; `setLogger(null)` stops it. What `fn` throws
 * is ignored (a logger must not break calls). Returns false when the records cannot arrive
 * (another global tracing subscriber in the process).
 */
function setLogger(fn, options = {}) {
  const level = options.level === undefined ? 'info' : options.level
  if (!LEVELS.includes(level)) {
    throw new TypeError(`invalid \`level\`: must be one of ${LEVELS.join(', ')}`)
  }
  if (fn === null || fn === undefined) {
    return addon.setLogSink(null, level)
  }
  if (typeof fn !== 'function') {
    throw new TypeError('invalid `logger`: must be a function or null')
  }
  return addon.setLogSink((record) => {
    try {
      fn(record)
    } catch (_) {
      // A logger that throws loses its record, not the call.
    }
  }, level)
}

module.exports = { setLogger }
