'use strict'
// The public entry point: the generated loader (binding.js) with one addition. Core errors
// and wrong arguments already arrive as `Error`s whose `code` is the SPEC code; this maps
// the few errors napi raises itself (codes like `GenericFailure`, napi's status names) to a
// SPEC code, so every failure of ours carries one. An exception of the caller's own (thrown
// by a getter of an options object, say) passes through untouched. No other behaviour
// lives here.

const binding = require('./binding.js')

const ERROR_CODES = Object.freeze([
  'VALIDATION_ERROR',
  'TEMPLATE_NOT_FOUND',
  'SESSION_NOT_FOUND',
  'EXECUTION_NOT_FOUND',
  'FILE_NOT_FOUND',
  'SESSION_NOT_READY',
  'SESSION_BUSY',
  'INVALID_PATH',
  'OUTPUT_LIMIT_EXCEEDED',
  'STARTUP_MODE_UNSUPPORTED',
  'MODULE_NOT_ALLOWED',
  'STARTUP_FAILED',
  'INTERNAL',
  'NO_CAPACITY',
  'STORE_UNAVAILABLE',
])
// napi's status names (napi_status), as napi-rs puts them on `error.code`.
const NAPI_STATUS = new Set([
  'InvalidArg', 'ObjectExpected', 'StringExpected', 'NameExpected', 'FunctionExpected',
  'NumberExpected', 'BooleanExpected', 'ArrayExpected', 'GenericFailure', 'PendingException',
  'Cancelled', 'EscapeCalledTwice', 'HandleScopeMismatch', 'CallbackScopeMismatch', 'QueueFull',
  'Closing', 'BigintExpected', 'DateExpected', 'ArrayBufferExpected',
  'DetachableArraybufferExpected', 'WouldDeadlock', 'NoExternalBuffersAllowed', 'Unknown',
])
const PROMISE_METHODS = new Set(['createSession', 'repl', 'runFile'])

function withSpecCode(error) {
  if (error instanceof Error && NAPI_STATUS.has(error.code)) {
    error.code = /^InvalidArg$|Expected$/.test(error.code) ? 'VALIDATION_ERROR' : 'INTERNAL'
  }
  return error
}

const Native = binding.VmSystem

class VmSystem extends Native {
  constructor(...args) {
    try {
      super(...args)
    } catch (error) {
      throw withSpecCode(error)
    }
  }
}

for (const name of Object.getOwnPropertyNames(Native.prototype)) {
  const descriptor = Object.getOwnPropertyDescriptor(Native.prototype, name)
  if (name === 'constructor' || typeof descriptor.value !== 'function') continue
  const method = descriptor.value
  const wrapped = PROMISE_METHODS.has(name)
    ? function (...args) {
        try {
          return method.apply(this, args).catch((error) => Promise.reject(withSpecCode(error)))
        } catch (error) {
          return Promise.reject(withSpecCode(error))
        }
      }
    : function (...args) {
        try {
          return method.apply(this, args)
        } catch (error) {
          throw withSpecCode(error)
        }
      }
  Object.defineProperty(wrapped, 'name', { value: name })
  Object.defineProperty(VmSystem.prototype, name, { ...descriptor, value: wrapped })
}

// `__napiBindingTarget` is declared by the generated index.d.ts: keep it.
module.exports = { VmSystem, ERROR_CODES, __napiBindingTarget: binding.__napiBindingTarget }
