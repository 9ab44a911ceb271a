'use strict'
// Plain JS values → what the core takes: wire-named JSON arguments, with byte values (Buffer,
// Uint8Array, ArrayBuffer) set apart, and settings with PEM Buffers as text.

const { ValidationError } = require('../generated/errors.js')

function asBuffer(value) {
  if (Buffer.isBuffer(value)) return value
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  if (value instanceof ArrayBuffer) return Buffer.from(value)
  return undefined
}

/**
 * The arguments of one call: `[values, bytes]`, top-level byte values moved to `bytes`,
 * `undefined` and `null` left out (absent).
 */
function splitArgs(args) {
  if (args === undefined || args === null) return [undefined, undefined]
  if (typeof args !== 'object' || Array.isArray(args) || asBuffer(args)) {
    const rule = 'must be an object of arguments keyed by wire name'
    throw new ValidationError(`invalid \`args\`: ${rule}`, { field: 'args', rule })
  }
  let values
  let bytes
  for (const [name, value] of Object.entries(args)) {
    if (value === undefined || value === null) continue
    const buffer = asBuffer(value)
    if (buffer) (bytes || (bytes = {}))[name] = buffer
    else (values || (values = {}))[name] = value
  }
  return [values, bytes]
}

/** Settings as the core's configuration: absent ones dropped, Buffers (PEM files) as text. */
function settings(config, callbackKeys) {
  const out = {}
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined || value === null || callbackKeys.includes(key)) continue
    out[key] = text(value)
  }
  return out
}

function text(value) {
  const buffer = asBuffer(value)
  if (buffer) return buffer.toString('utf8')
  if (Array.isArray(value)) return value.map(text)
  return value
}

/** A required text argument of a crypto function, or a ValidationError naming it. */
function requireText(args, name, { optional = false, bytes = false, integer = false } = {}) {
  const value = args[name]
  if (value === undefined || value === null) {
    if (optional) return undefined
    throw invalid(name, 'is required')
  }
  if (bytes) {
    const buffer = asBuffer(value)
    if (buffer) return buffer
    if (typeof value === 'string') return value
    throw invalid(name, 'must be a Buffer, a Uint8Array or a string')
  }
  if (integer) {
    if (Number.isSafeInteger(value)) return value
    if (typeof value === 'string' && /^-?\d+$/.test(value)) return value
    throw invalid(name, 'must be an integer (seconds since the epoch)')
  }
  if (typeof value === 'string') return value
  const buffer = asBuffer(value)
  if (buffer) return buffer.toString('utf8')
  throw invalid(name, 'must be a string')
}

function invalid(field, rule) {
  return new ValidationError(`invalid \`${field}\`: ${rule}`, { field, rule })
}

module.exports = { splitArgs, settings, requireText }
