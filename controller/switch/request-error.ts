// Owns the error a request gets when it cannot be answered: timeout, closed connection, protocol
// mix-up. Switch-reported errors are OFErrorReply instead.

/** A request that timed out or whose connection went away. */
export class RequestError extends Error {
  override readonly name = 'RequestError';
}
