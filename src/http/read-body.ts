import { describeJsonType, invalidRequest } from '../errors/api-error.ts';

/**
 * A JSON request body as an object, or a 400 `invalid_type` saying what came instead. With
 * `optional`, an absent body reads as `{}`: the SDKs send none for calls without parameters
 * (`conversations.create()`), and a bare POST is no mistake then.
 */
export function readBody(body: unknown, options: { optional: boolean }): Record<string, unknown> {
  if (options.optional && (body === undefined || body === null)) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidRequest(
      null,
      `Invalid type for the request body: expected an object, but got ${describeJsonType(body)} instead.`,
      'invalid_type',
    );
  }
  return body as Record<string, unknown>;
}
