// Owns the form of an error answer. Our clients get the status that says what went wrong and
// {"Err": message}. Contiv's own clients (its netctl, built on its Go model client) show an error's
// text only when the status is 500 and the body is the message as plain text, which is how Contiv's
// netmaster answered every error; they get that form, so that a refusal's reason reaches the user.
import type { FastifyReply, FastifyRequest } from 'fastify';

/** Contiv's Go clients send Go's default User-Agent and no Accept header; ours and curl send one. */
export function isContivClient(req: FastifyRequest): boolean {
  const agent = req.headers['user-agent'];
  return req.headers.accept === undefined && typeof agent === 'string' && agent.startsWith('Go-http-client/');
}

export function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
  if (isContivClient(reply.request)) {
    return reply.code(500).type('text/plain; charset=utf-8').send(`${message}\n`);
  }
  return reply.code(status).send({ Err: message });
}
