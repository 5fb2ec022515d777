// Owns the public surface of the OVSDB client library (RFC 7047): what other modules may import.
// It must never hold logic of its own, only re-exports.

export {
  type Monitor,
  type MonitorCondRequest,
  type MonitorRequest,
  type MonitorSelect,
  OvsdbClient,
  type OvsdbClientEvents,
  type OvsdbClientOptions,
  type UpdateHandler,
} from './client.js';
export { DEFAULT_MAX_MESSAGE_BYTES, FramerError, type FramerErrorKind, JsonFramer } from './framer.js';
export { applyColumnDiff, defaultValue, Replica, type RowUpdate2, type TableUpdates2 } from './replica.js';
export {
  type AtomicType,
  type BaseType,
  type ColumnSchema,
  type ColumnType,
  columnOf,
  type DatabaseSchema,
  describeOp,
  isComposite,
  parseSchema,
  type TableSchema,
  validateMonitorRequest,
  validateOperations,
  valueMismatch,
} from './schema.js';
export * from './types.js';
