// Owns the public surface of the object model (schema, validation, keys, integrity).
// It must never add behaviour of its own: it only re-exports.

export * from './endpoint.js';
export * from './generated.js';
export * from './integrity.js';
export * from './schema.js';
export * from './service.js';
export * from './validate.js';
