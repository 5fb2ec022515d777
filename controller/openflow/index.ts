// Owns the public surface of the OpenFlow 1.3 library: what other folders may import.
// It holds no logic and never imports anything outside controller/openflow.

export * from './actions.js';
export * from './actions-decode.js';
export * from './actions-encode.js';
export * from './buffer.js';
export * from './cookie.js';
export * from './encode.js';
export * from './errors.js';
export * from './flow.js';
export * from './match.js';
export * from './messages.js';
export * from './parser.js';
