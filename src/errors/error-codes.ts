/**
 * Every `code` Riposte puts in an error body, with what it means. ApiError and UpstreamError take
 * only these, so the compiler keeps the catalogue complete, and a test keeps docs/errors.md in
 * step with it.
 */
export const ERROR_CODES = {
  // Request validation (400)
  invalid_json: 'The body is not valid JSON.',
  invalid_content_type:
    'The body is not JSON (Content-Type must be application/json), or, for file uploads, not multipart/form-data.',
  missing_required_parameter: 'A required parameter is absent.',
  invalid_type: 'A parameter has the wrong JSON type.',
  invalid_value: 'A parameter is outside its enum, pattern or allowed set, or names an id that does not exist.',
  empty_string: 'A string that must not be empty is empty.',
  empty_array: 'An array that must not be empty is empty.',
  array_above_max_length: 'An array has more entries than allowed (such as more than 20 conversation items).',
  string_below_min_length: 'A string is shorter than allowed.',
  string_above_max_length: 'A string is longer than allowed.',
  integer_below_min_value: 'An integer is below its minimum.',
  integer_above_max_value: 'An integer is above its maximum.',
  decimal_below_min_value: 'A number is below its minimum.',
  decimal_above_max_value: 'A number is above its maximum.',
  object_above_max_properties: 'An object (such as metadata) has too many keys.',
  property_name_above_max_length: 'A key (such as a metadata key) is too long.',
  unknown_parameter:
    'A field this endpoint does not take (in a prompt configuration), or a prompt variable the prompt does not use.',
  mutually_exclusive_parameters: 'Two parameters that cannot be used together were both given.',
  invalid_json_schema: 'text.format.schema breaks the Structured Outputs strict-mode rules.',
  invalid_function_parameters: "A strict function tool's parameters break the strict-mode rules.",
  invalid_encrypted_content: 'An encrypted_content blob was altered, or made for another server or API key.',
  unsupported_parameter: 'A parameter this server does not serve yet.',
  unsupported_tool: 'A built-in tool (or tool_choice) this server does not run yet.',
  context_length_exceeded: "The input does not fit the model's context window.",
  file_too_large: 'A file (max_file_bytes) or an upload part (64 MB) is larger than allowed.',
  upload_not_pending: 'The upload is completed, cancelled or expired: it takes no more parts, completion or cancel.',
  upload_size_mismatch: "The parts named on completing an upload do not add up to the upload's bytes.",
  checksum_mismatch: 'The md5 given on completing an upload does not match the assembled bytes.',
  // Auth and routing
  invalid_api_key: 'The bearer key is not one of the configured keys (401).',
  unknown_url: 'No such route (404).',
  method_not_allowed: 'The route exists, but not for this HTTP method (405).',
  request_too_large: 'The body is larger than the configured limit (413).',
  model_not_found: 'No configured route serves this model name (404).',
  conflict: 'The request conflicts with the current state of the resource (409).',
  // Upstream and server failures
  rate_limit_exceeded: 'The upstream is rate limiting; retry later (429).',
  upstream_bad_request: 'The upstream refused the translated request (400).',
  upstream_authentication_error: 'The upstream refused its API key (502).',
  upstream_unavailable: 'The upstream could not be reached (502).',
  upstream_timeout: 'The upstream did not answer in time (504).',
  upstream_error: 'The upstream failed or broke off its answer (502).',
  invalid_prompt: 'In a failed Response: the upstream refused the input.',
  server_error: 'An unexpected server failure, or output that never matched its strict schema (500).',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
