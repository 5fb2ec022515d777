// Owns the public surface of IPAM (pure address arithmetic and store-backed allocators).
// It must never add behaviour of its own: it only re-exports.
export * from './addr.js';
export * from './allocator.js';
export * from './group-ids.js';
