// Owns how netmaster reads request bodies: JSON, also when it comes without a Content-Type or as
// text/plain, because Contiv's own netctl POSTs JSON with no Content-Type and Contiv's netmaster
// read it. Any other media type is still refused (415), and bad JSON is a 400 naming the problem.
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** statusCode: the server's error handler answers any 4xx error with its own message. */
export class BodyError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

function parseJson(body: string): unknown {
  if (body.trim() === '') return undefined;
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new BodyError(400, `request body: invalid JSON: ${(err as Error).message}`);
  }
}

/** Registers the parsers; fastify's own application/json parser stays as it is. */
export function acceptContivBodies(app: FastifyInstance): void {
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseJson(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  // The catch-all also sees bodies that carry no Content-Type (fastify hands those to it).
  app.addContentTypeParser('*', { parseAs: 'string' }, (req: FastifyRequest, body, done) => {
    const type = req.headers['content-type'];
    if (type !== undefined) {
      done(
        new BodyError(415, `request body: unsupported media type ${JSON.stringify(type)}; send JSON`),
        undefined,
      );
      return;
    }
    try {
      done(null, parseJson(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
