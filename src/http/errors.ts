import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, invalidJson, invalidRequest, payloadTooLarge, serverError } from '../errors/api-error.ts';

/** The one place an error becomes OpenAI's `{"error": {"message", "type", "param", "code"}}` body. */
export function sendError(reply: FastifyReply, error: ApiError): FastifyReply {
  return reply
    .code(error.status)
    .header('content-type', 'application/json; charset=utf-8')
    .send({ error: error.toJSON() });
}

/**
 * Fastify's own failures (bad JSON, body too large, wrong content type) and anything unexpected,
 * as ApiErrors. Unexpected errors are logged and answered with a 500 that leaks nothing.
 */
export function toApiError(error: unknown, request: FastifyRequest, bodyLimitBytes: number): ApiError {
  if (error instanceof ApiError) return error;
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return invalidJson(fastifyError.message ?? '');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return payloadTooLarge(bodyLimitBytes);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return invalidRequest(
        null,
        `Unsupported request body: send JSON with 'Content-Type: application/json'. (${fastifyError.message ?? ''})`,
        'invalid_content_type',
      );
  }
  if (error instanceof SyntaxError) return invalidJson(error.message);
  request.log.error({ err: error }, 'unexpected error');
  return serverError();
}
