import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';

const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
const compiled = new Map<string, ValidateFunction>();
const CACHE_LIMIT = 500;

/** The outcome of checking model output against a schema: null when it conforms, else why not. */
export type SchemaViolation = string | null;

/**
 * Checks that `text` is JSON conforming to `schema` — how Riposte holds Structured Outputs and
 * strict function arguments on upstreams that do not enforce them. Compiled schemas are cached,
 * since agents send the same tools and formats on every turn.
 */
export function checkJsonText(text: string, schema: Record<string, unknown>): SchemaViolation {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `the output is not valid JSON (${(error as Error).message})`;
  }
  const validate = compile(schema);
  if (validate(value)) return null;
  const first = validate.errors?.[0];
  if (!first) return 'the output does not match the schema';
  return `the output does not match the schema: ${first.instancePath || '(root)'} ${first.message ?? 'is invalid'}`;
}

function compile(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (validate) return validate;
  validate = ajv.compile(schema);
  if (compiled.size >= CACHE_LIMIT) {
    const oldest = compiled.keys().next().value;
    if (oldest !== undefined) compiled.delete(oldest);
  }
  compiled.set(key, validate);
  return validate;
}
