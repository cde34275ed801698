/**
 * The one catalogue of errors Riposte returns. Every failure a client can see is an ApiError;
 * http/errors.ts is the only place that turns one into OpenAI's `{"error": {...}}` body.
 */
import type { ErrorCode } from './error-codes.ts';

export type ApiErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'api_error';

export interface ApiErrorFields {
  status: number;
  type: ApiErrorType;
  code: ErrorCode | null;
  param: string | null;
  message: string;
}

export class ApiError extends Error implements ApiErrorFields {
  readonly status: number;
  readonly type: ApiErrorType;
  readonly code: ErrorCode | null;
  readonly param: string | null;

  constructor(fields: ApiErrorFields) {
    super(fields.message);
    this.name = 'ApiError';
    this.status = fields.status;
    this.type = fields.type;
    this.code = fields.code;
    this.param = fields.param;
  }

  toJSON(): { message: string; type: ApiErrorType; param: string | null; code: ErrorCode | null } {
    return { message: this.message, type: this.type, param: this.param, code: this.code };
  }
}

/** 400 for a request whose `param` is missing, of the wrong type or out of range. */
export function invalidRequest(param: string | null, message: string, code: ErrorCode | null = null): ApiError {
  return new ApiError({ status: 400, type: 'invalid_request_error', code, param, message });
}

/** 400 for a value outside its enum or range (OpenAI's `invalid_value`). */
export function invalidValue(param: string, message: string): ApiError {
  return invalidRequest(param, message, 'invalid_value');
}

/** 400 for a required parameter that is absent (OpenAI's `missing_required_parameter`). */
export function missingParameter(param: string): ApiError {
  return invalidRequest(param, `Missing required parameter: '${param}'.`, 'missing_required_parameter');
}

/**
 * `value` when it lies within `range` (either bound optional); otherwise a 400 worded and coded as
 * OpenAI's (`integer_below_min_value`, `decimal_above_max_value`, …). `noun` is the word the
 * message uses, the kind by default.
 */
export function checkRange(
  value: number,
  param: string,
  range: { min?: number | undefined; max?: number | undefined },
  kind: 'decimal' | 'integer',
  noun: string = kind,
): number {
  if (range.min !== undefined && value < range.min) {
    throw invalidRequest(
      param,
      `Invalid '${param}': ${noun} below minimum value. Expected a value >= ${range.min}, but got ${value} instead.`,
      `${kind}_below_min_value`,
    );
  }
  if (range.max !== undefined && value > range.max) {
    throw invalidRequest(
      param,
      `Invalid '${param}': ${noun} above maximum value. Expected a value <= ${range.max}, but got ${value} instead.`,
      `${kind}_above_max_value`,
    );
  }
  return value;
}

/** 400 for a parameter of the wrong JSON type (OpenAI's `invalid_type`). */
export function invalidType(param: string, expected: string, value: unknown): ApiError {
  return invalidRequest(
    param,
    `Invalid type for '${param}': expected ${expected}, but got ${describeJsonType(value)} instead.`,
    'invalid_type',
  );
}

/** 404 for an id this key cannot see, whether it never existed, was deleted or belongs to another key. */
export function notFound(kind: string, id: string, param: string | null = null): ApiError {
  return new ApiError({
    status: 404,
    type: 'invalid_request_error',
    code: null,
    param,
    message: `${kind} with id '${id}' not found.`,
  });
}

/** 404 for a model name that no route in the config serves. */
export function modelNotFound(model: string): ApiError {
  return new ApiError({
    status: 404,
    type: 'invalid_request_error',
    code: 'model_not_found',
    param: 'model',
    message: `The model \`${model}\` does not exist or you do not have access to it.`,
  });
}

export function missingApiKey(): ApiError {
  return new ApiError({
    status: 401,
    type: 'invalid_request_error',
    code: null,
    param: null,
    message:
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
  });
}

export function invalidApiKey(): ApiError {
  return new ApiError({
    status: 401,
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    param: null,
    message: 'Incorrect API key provided.',
  });
}

export function routeNotFound(method: string, url: string): ApiError {
  return new ApiError({
    status: 404,
    type: 'invalid_request_error',
    code: 'unknown_url',
    param: null,
    message: `Unrecognized request URL (${method} ${url}). Please check the URL and method.`,
  });
}

export function methodNotAllowed(method: string, url: string): ApiError {
  return new ApiError({
    status: 405,
    type: 'invalid_request_error',
    code: 'method_not_allowed',
    param: null,
    message: `Method ${method} is not allowed for ${url}.`,
  });
}

export function payloadTooLarge(limitBytes: number): ApiError {
  return new ApiError({
    status: 413,
    type: 'invalid_request_error',
    code: 'request_too_large',
    param: null,
    message: `The request body is larger than the limit of ${limitBytes} bytes.`,
  });
}

export function invalidJson(message: string): ApiError {
  return invalidRequest(
    null,
    `We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.) ${message}`,
    'invalid_json',
  );
}

/**
 * 400 for input that does not fit the model's context window. `reservedOutputTokens` (when Riposte
 * itself checks, before any upstream call) is the room kept for the answer, named so that a
 * client whose input alone is under the window understands why it was refused.
 */
export function contextLengthExceeded(inputTokens: number, contextWindow: number, reservedOutputTokens = 0): ApiError {
  const requested =
    reservedOutputTokens > 0
      ? `${inputTokens + reservedOutputTokens} tokens requested: ${inputTokens} of input and ${reservedOutputTokens} kept for output`
      : `${inputTokens} tokens requested`;
  return invalidRequest(
    'input',
    `Your input exceeds the context window of this model (${requested}, ${contextWindow} available). Please adjust your input and try again.`,
    'context_length_exceeded',
  );
}

export function serverError(
  message = 'The server had an error while processing your request. Sorry about that!',
): ApiError {
  return new ApiError({ status: 500, type: 'server_error', code: 'server_error', param: null, message });
}

export function conflict(message: string, param: string | null = null): ApiError {
  return new ApiError({ status: 409, type: 'invalid_request_error', code: 'conflict', param, message });
}

/** The JSON type name OpenAI's error messages use ("a string", "an object", …). */
export function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return Number.isInteger(value) ? 'an integer' : 'a decimal';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}
