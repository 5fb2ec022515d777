// Owns the refusal every REST handler throws: an HTTP status and the message the client is shown.

/** A refused request with its HTTP status; the message goes back as {"Err": ...} (see error-form.ts). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}
