import { ApiError } from './api-error.ts';
import type { ErrorCode } from './error-codes.ts';

/**
 * A failure talking to a model upstream. Adapters throw it; the engine decides whether to retry
 * (`retryable`) and, when it gives up, turns it into the OpenAI error the client sees
 * (`toApiError`), either as an HTTP error or inside `response.failed`.
 */
export class UpstreamError extends Error {
  /** HTTP status from the upstream, or undefined when no response came (connection, timeout). */
  readonly upstreamStatus: number | undefined;
  /** OpenAI error code the client should see, e.g. `rate_limit_exceeded`. */
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** Seconds the upstream asked us to wait (Retry-After), when it said. */
  readonly retryAfterSeconds: number | undefined;

  constructor(options: {
    message: string;
    code: ErrorCode;
    retryable: boolean;
    upstreamStatus?: number | undefined;
    retryAfterSeconds?: number | undefined;
    cause?: unknown;
  }) {
    super(options.message, { cause: options.cause });
    this.name = 'UpstreamError';
    this.code = options.code;
    this.retryable = options.retryable;
    this.upstreamStatus = options.upstreamStatus;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** The HTTP error a non-streaming client gets for this failure. */
  toApiError(): ApiError {
    switch (this.code) {
      case 'context_length_exceeded':
        return new ApiError({
          status: 400,
          type: 'invalid_request_error',
          code: this.code,
          param: 'input',
          message: this.message,
        });
      case 'invalid_prompt':
      case 'upstream_bad_request':
        return new ApiError({
          status: 400,
          type: 'invalid_request_error',
          code: this.code,
          param: null,
          message: this.message,
        });
      case 'rate_limit_exceeded':
        return new ApiError({
          status: 429,
          type: 'rate_limit_error',
          code: this.code,
          param: null,
          message: this.message,
        });
      case 'model_not_found':
        return new ApiError({
          status: 404,
          type: 'invalid_request_error',
          code: this.code,
          param: 'model',
          message: this.message,
        });
      case 'upstream_timeout':
        return new ApiError({ status: 504, type: 'server_error', code: this.code, param: null, message: this.message });
      default:
        return new ApiError({ status: 502, type: 'server_error', code: this.code, param: null, message: this.message });
    }
  }
}
