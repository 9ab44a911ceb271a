'use strict'
// weixin-kit for Node: WeChat Pay APIv3, mini-program server and third-party platform APIs
// over one Rust core.
// See index.d.ts for the typed surface and README.md (repository root) for a quickstart.

const { PayClient, MiniProgramClient, ComponentClient } = require('./lib/clients.js')
const { setLogger } = require('./lib/logging.js')
const { buildAuthorization, verifySignature, decryptResource, signCardExt } = require('./lib/crypto.js')

module.exports = {
  ...require('./generated/errors.js'),
  PayClient,
  MiniProgramClient,
  ComponentClient,
  buildAuthorization,
  verifySignature,
  decryptResource,
  signCardExt,
  setLogger,
}
