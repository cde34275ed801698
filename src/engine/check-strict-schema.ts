/**
 * OpenAI's Structured Outputs strict mode accepts only a subset of JSON Schema. A schema sent with
 * `strict: true` (in `text.format` or on a function tool) is refused up front with OpenAI's wording,
 * so a client learns about a schema OpenAI would reject on Riposte too, before any model runs.
 */

type JsonObject = Record<string, unknown>;

/** Where a keyword sits, as OpenAI prints it: a Python tuple such as ('properties', 'x', 'items'). */
type SchemaPath = ReadonlyArray<string | number>;

const MAX_NESTING_DEPTH = 10;
const MAX_TOTAL_PROPERTIES = 5000;
const MAX_TOTAL_ENUM_VALUES = 1000;
/** A single string enum with more than this many values is also limited in total length. */
const LARGE_ENUM_THRESHOLD = 250;
const MAX_LARGE_ENUM_CHARACTERS = 15_000;
/** Property names, definition names, enum and const values together. */
const MAX_TOTAL_NAME_CHARACTERS = 120_000;

const JSON_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);

const STRING_FORMATS = new Set(['date-time', 'time', 'date', 'duration', 'email', 'hostname', 'ipv4', 'ipv6', 'uuid']);

/**
 * Keywords strict mode takes. Anything else ('default', 'oneOf', 'allOf', 'minLength',
 * 'uniqueItems', 'patternProperties', …) is refused, as OpenAI refuses it.
 */
const PERMITTED_KEYWORDS = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'const',
  'anyOf',
  '$ref',
  '$defs',
  'definitions',
  // Annotations, which change nothing the model may produce.
  'description',
  'title',
  '$schema',
  '$id',
  '$comment',
  'examples',
  // String, number and array constraints OpenAI supports.
  'pattern',
  'format',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
]);

class StrictSchemaError extends Error {
  readonly path: SchemaPath | null;

  constructor(path: SchemaPath | null, message: string) {
    super(message);
    this.path = path;
  }
}

interface WalkState {
  root: JsonObject;
  totalProperties: number;
  totalEnumValues: number;
  totalNameCharacters: number;
}

/**
 * Checks `schema` against the strict-mode rules. `context` names the schema in the message, as
 * OpenAI does: `response_format 'weather'` or `function 'get_weather'`. Returns OpenAI's style
 * of message ("Invalid schema for function 'f': In context=('properties', 'x'), …") or null when
 * the schema is acceptable.
 */
export function checkStrictSchema(schema: Record<string, unknown>, context: string): string | null {
  try {
    checkRoot(schema);
    return null;
  } catch (error) {
    if (!(error instanceof StrictSchemaError)) throw error;
    const where = error.path === null ? '' : `In context=${formatPath(error.path)}, `;
    return `Invalid schema for ${context}: ${where}${error.message}`;
  }
}

function checkRoot(schema: JsonObject): void {
  // The root must be a plain object schema: a union or a $ref at the root is not accepted.
  const rootTypes = typeList(schema.type);
  if (!rootTypes.includes('object') || rootTypes.length !== 1 || schema.anyOf !== undefined) {
    const got = typeof schema.type === 'string' ? schema.type : 'None';
    throw new StrictSchemaError(null, `schema must be a JSON Schema of 'type: "object"', got 'type: "${got}"'.`);
  }
  const state: WalkState = { root: schema, totalProperties: 0, totalEnumValues: 0, totalNameCharacters: 0 };
  checkSchema(schema, [], 1, state);
  if (state.totalProperties > MAX_TOTAL_PROPERTIES) {
    throw new StrictSchemaError(
      null,
      `schema has ${state.totalProperties} object properties in total, more than the limit of ${MAX_TOTAL_PROPERTIES}.`,
    );
  }
  if (state.totalEnumValues > MAX_TOTAL_ENUM_VALUES) {
    throw new StrictSchemaError(
      null,
      `schema has ${state.totalEnumValues} enum values in total, more than the limit of ${MAX_TOTAL_ENUM_VALUES}.`,
    );
  }
  if (state.totalNameCharacters > MAX_TOTAL_NAME_CHARACTERS) {
    throw new StrictSchemaError(
      null,
      `the total string length of property names, definition names, enum values and const values is ${state.totalNameCharacters}, more than the limit of ${MAX_TOTAL_NAME_CHARACTERS}.`,
    );
  }
}

/** `depth` counts the object levels from the root (which is 1), the nesting OpenAI limits. */
function checkSchema(schema: unknown, path: SchemaPath, depth: number, state: WalkState): void {
  if (!isObject(schema)) {
    throw new StrictSchemaError(path, `schema must be a JSON object, got ${JSON.stringify(schema) ?? 'undefined'}.`);
  }
  for (const keyword of Object.keys(schema)) {
    if (!PERMITTED_KEYWORDS.has(keyword)) throw new StrictSchemaError(path, `'${keyword}' is not permitted.`);
  }
  for (const keyword of ['$defs', 'definitions'] as const) {
    const definitions = schema[keyword];
    if (definitions === undefined) continue;
    if (!isObject(definitions)) throw new StrictSchemaError(path, `'${keyword}' must be an object of schemas.`);
    for (const [name, definition] of Object.entries(definitions)) {
      state.totalNameCharacters += name.length;
      // A definition is checked where it is declared; its depth is counted from there.
      checkSchema(definition, [...path, keyword, name], depth, state);
    }
  }

  if (schema.$ref !== undefined) {
    checkReference(schema.$ref, path, state);
    return;
  }
  if (schema.anyOf !== undefined) {
    if (!Array.isArray(schema.anyOf) || schema.anyOf.length === 0) {
      throw new StrictSchemaError(path, `'anyOf' must be a non-empty array of schemas.`);
    }
    schema.anyOf.forEach((branch, index) => checkSchema(branch, [...path, 'anyOf', index], depth, state));
    return;
  }
  if (schema.type === undefined) throw new StrictSchemaError(path, `schema must have a 'type' key.`);

  const types = typeList(schema.type);
  if (types.length === 0) throw new StrictSchemaError(path, `'type' must be a string or an array of strings.`);
  for (const type of types) {
    if (!JSON_TYPES.has(type)) throw new StrictSchemaError(path, `'${type}' is not a valid type.`);
  }
  checkValues(schema, path, state);
  checkFormat(schema, path);
  if (types.includes('object')) checkObject(schema, path, depth, state);
  if (types.includes('array')) checkArray(schema, path, depth, state);
}

function checkObject(schema: JsonObject, path: SchemaPath, depth: number, state: WalkState): void {
  if (depth > MAX_NESTING_DEPTH) {
    throw new StrictSchemaError(
      path,
      `schema is nested ${depth} levels deep, more than the limit of ${MAX_NESTING_DEPTH}.`,
    );
  }
  if (schema.additionalProperties !== false) {
    throw new StrictSchemaError(path, `'additionalProperties' is required to be supplied and to be false.`);
  }
  const properties = schema.properties ?? {};
  if (!isObject(properties)) throw new StrictSchemaError(path, `'properties' must be an object of schemas.`);
  const names = Object.keys(properties);
  const required = schema.required ?? [];
  if (!Array.isArray(required) || !required.every((name) => typeof name === 'string')) {
    throw new StrictSchemaError(
      path,
      `'required' is required to be supplied and to be an array including every key in properties.`,
    );
  }
  // Strict mode has no optional properties: an optional field is written as a union with null.
  const missing = names.find((name) => !required.includes(name));
  if (missing !== undefined) {
    throw new StrictSchemaError(
      path,
      `'required' is required to be supplied and to be an array including every key in properties. Missing '${missing}'.`,
    );
  }
  const extra = required.find((name) => !names.includes(name));
  if (extra !== undefined) {
    throw new StrictSchemaError(
      path,
      `'required' is required to be supplied and to be an array including every key in properties. Extra required key '${extra}' supplied.`,
    );
  }
  state.totalProperties += names.length;
  for (const [name, property] of Object.entries(properties)) {
    state.totalNameCharacters += name.length;
    checkSchema(property, [...path, 'properties', name], depth + 1, state);
  }
}

function checkArray(schema: JsonObject, path: SchemaPath, depth: number, state: WalkState): void {
  if (schema.items === undefined) return;
  if (Array.isArray(schema.items))
    throw new StrictSchemaError(path, `'items' must be a schema, not an array of schemas.`);
  checkSchema(schema.items, [...path, 'items'], depth, state);
}

function checkValues(schema: JsonObject, path: SchemaPath, state: WalkState): void {
  if (schema.enum !== undefined) {
    if (!Array.isArray(schema.enum) || schema.enum.length === 0) {
      throw new StrictSchemaError(path, `'enum' must be a non-empty array.`);
    }
    state.totalEnumValues += schema.enum.length;
    let characters = 0;
    for (const value of schema.enum) {
      if (typeof value === 'string') characters += value.length;
    }
    state.totalNameCharacters += characters;
    if (schema.enum.length > LARGE_ENUM_THRESHOLD && characters > MAX_LARGE_ENUM_CHARACTERS) {
      throw new StrictSchemaError(
        path,
        `an enum with more than ${LARGE_ENUM_THRESHOLD} values may hold at most ${MAX_LARGE_ENUM_CHARACTERS} characters in total, got ${characters}.`,
      );
    }
  }
  if (typeof schema.const === 'string') state.totalNameCharacters += schema.const.length;
}

function checkFormat(schema: JsonObject, path: SchemaPath): void {
  if (schema.format === undefined) return;
  if (typeof schema.format !== 'string' || !STRING_FORMATS.has(schema.format)) {
    throw new StrictSchemaError(
      path,
      `'format' ${JSON.stringify(schema.format)} is not supported. Supported formats are: ${[...STRING_FORMATS].map((format) => `'${format}'`).join(', ')}.`,
    );
  }
}

/** References must point inside the schema: the root ('#') or a definition in $defs / definitions. */
function checkReference(reference: unknown, path: SchemaPath, state: WalkState): void {
  if (typeof reference !== 'string') throw new StrictSchemaError(path, `'$ref' must be a string.`);
  if (reference === '#') return;
  if (!reference.startsWith('#/')) {
    throw new StrictSchemaError(path, `reference '${reference}' must point inside the schema (start with '#/').`);
  }
  let target: unknown = state.root;
  for (const rawSegment of reference.slice(2).split('/')) {
    const segment = rawSegment.replaceAll('~1', '/').replaceAll('~0', '~');
    target = isObject(target) ? target[segment] : undefined;
  }
  if (!isObject(target)) throw new StrictSchemaError(path, `reference '${reference}' could not be resolved.`);
}

function typeList(type: unknown): string[] {
  if (typeof type === 'string') return [type];
  if (Array.isArray(type) && type.every((entry) => typeof entry === 'string')) return type;
  return [];
}

function formatPath(path: SchemaPath): string {
  const parts = path.map((part) => (typeof part === 'number' ? String(part) : `'${part}'`));
  return parts.length === 1 ? `(${parts[0]},)` : `(${parts.join(', ')})`;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
