/**
 * Validates what Riposte returns — objects, list pages, error bodies, streamed events — against
 * OpenAI's published OpenAPI description in shared/spec (OpenAPI 3.1, JSON Schema 2020-12).
 *
 * The spec is read and prepared once, on first use; each schema is compiled by Ajv once, on first
 * use, and cached, so validating thousands of stream events costs one compiled function call each.
 *
 * Preparing the spec for Ajv (see `prepareSchemas`):
 * - the components are added as one document with an `$id`, so `#/components/schemas/X` resolves;
 * - OpenAPI 3.0 `nullable: true` (still used by the Chat and Assistants schemas) becomes a null
 *   alternative, including the `allOf: [{$ref}, {nullable: true}]` pattern;
 * - the draft 2019-09 `$recursiveRef` in CompoundFilter becomes a plain `$ref` to the schema;
 * - `discriminator` and every anyOf/oneOf whose branches all require a distinct `type` const become
 *   Ajv discriminated `oneOf`s: validation picks the branch by its tag, and a failure reports only
 *   that branch's errors instead of one complaint per branch;
 * - `x-*`, `example` and other annotations are ignored (strict: false);
 * - every `format` in the spec is registered as a no-op, except `unixtime`, which must be seconds
 *   (a millisecond timestamp from `Date.now()` is a bug the spec's `type: number` would let pass).
 *
 * Where OpenAI itself sends something the published schema rejects, the difference is listed in
 * `KNOWN_SPEC_DEVIATIONS` with its evidence and patched on top of the spec — never loosened
 * silently. `createSpecValidator({ deviations: false })` validates against the spec as published.
 */
import { AssertionError } from 'node:assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';

type JsonObject = Record<string, unknown>;

/** Where the spec lives: shared/ sits beside the repository, here and in CI. */
export const SPEC_URL = new URL('../../../shared/spec/openai-openapi.json', import.meta.url);

/** The `$id` the prepared spec is registered under; refs into it read `${SPEC_ID}#/components/schemas/X`. */
const SPEC_ID = 'https://riposte.invalid/shared/spec/openai-openapi.json';

/** How many validation errors an assertion message shows. */
const MAX_REPORTED_ERRORS = 8;

/**
 * A documented difference between OpenAI's published schema and what OpenAI's API really sends,
 * applied as a patch on top of the spec. Each one has a test proving the published spec rejects it.
 */
export interface SpecDeviation {
  /** The component schema patched. */
  schema: string;
  /** The property patched. */
  property: string;
  /** What OpenAI sends that the schema rejects, and the evidence. */
  reason: string;
  /** Rewrites the property's schema. */
  patch: (propertySchema: JsonObject) => JsonObject;
}

export const KNOWN_SPEC_DEVIATIONS: readonly SpecDeviation[] = [
  {
    schema: 'ModelResponseProperties',
    property: 'user',
    reason:
      'The Response schema types `user` as a plain string, but OpenAI sends `"user": null` when it was not set — ' +
      'the spec\'s own example for POST /responses ends with `"user": null`. Riposte sends every key, null where ' +
      'unset, as OpenAI does.',
    patch: (propertySchema) => ({ anyOf: [propertySchema, { type: 'null' }] }),
  },
  {
    schema: 'Response',
    property: 'usage',
    reason:
      'The Response schema types `usage` as a ResponseUsage object, but OpenAI sends `"usage": null` until the ' +
      "response ends — the spec's own examples do so in `response.created` / `response.in_progress` (POST /responses, " +
      'streaming) and in the cancelled Response of POST /responses/{id}/cancel.',
    patch: (propertySchema) => ({ anyOf: [propertySchema, { type: 'null' }] }),
  },
];

/** Options for `createSpecValidator`. */
export interface SpecValidatorOptions {
  /** Where to read the spec from; defaults to shared/spec beside the repository. */
  specUrl?: URL;
  /** Apply `KNOWN_SPEC_DEVIATIONS` (the default); false validates against the spec as published. */
  deviations?: boolean;
}

/** Schema checks against the OpenAI spec; each assertion throws an AssertionError explaining the mismatch. */
export interface SpecValidator {
  /** Asserts that `value` is valid against `components.schemas[schemaName]`. */
  assertMatchesSchema(schemaName: string, value: unknown, context?: string): void;
  /**
   * Asserts that a streamed event is one of `ResponseStreamEvent`'s members, chosen by its `type`.
   * Takes `unknown` — any `{type: string}` fits — so parsed SSE data can be passed as it is.
   */
  assertStreamEvent(event: unknown, context?: string): void;
  /** Asserts that an HTTP error body is `{error: {message, type, param, code}}` as the spec's ErrorResponse. */
  assertErrorBody(body: unknown, context?: string): void;
  /** Asserts that `page` is a valid list page of the list schema `schemaName` (e.g. ResponseItemList). */
  assertListPage(schemaName: string, page: unknown, context?: string): void;
  /** Asserts that every property the schema lists (through allOf) is present as a key of `value`. */
  assertHasEverySpecKey(schemaName: string, value: unknown, options?: EveryKeyOptions): void;
  /** The `type` of every member of `ResponseStreamEvent`, sorted. */
  responseStreamEventTypes(): string[];
  /** The schema name validating stream events of `type`, or undefined for a type the spec does not know. */
  streamEventSchemaName(type: string): string | undefined;
  /** The property names a schema lists, through allOf and $ref, and those it requires. */
  schemaKeys(schemaName: string): { properties: string[]; required: string[] };
}

/** Options for `assertHasEverySpecKey`. */
export interface EveryKeyOptions {
  /** Keys not to demand, beyond the SDK-only ones the spec marks with `x-oaiSupportedSDKs`. */
  except?: readonly string[];
  context?: string;
}

/** Builds a validator; the module's exported functions share one built with the defaults. */
export function createSpecValidator(options: SpecValidatorOptions = {}): SpecValidator {
  const specUrl = options.specUrl ?? SPEC_URL;
  const applyDeviations = options.deviations ?? true;
  let prepared: PreparedSpec | undefined;
  const validators = new Map<string, ValidateFunction>();

  function spec(): PreparedSpec {
    prepared ??= prepareSpec(specUrl, applyDeviations);
    return prepared;
  }

  function validatorFor(schemaName: string): ValidateFunction {
    let validate = validators.get(schemaName);
    if (validate) return validate;
    const { ajv, schemas } = spec();
    if (!Object.hasOwn(schemas, schemaName)) {
      throw new Error(
        `spec-validator: the spec has no schema named ${JSON.stringify(schemaName)}${suggest(schemaName, Object.keys(schemas))}`,
      );
    }
    validate = ajv.getSchema(`${SPEC_ID}#/components/schemas/${escapePointer(schemaName)}`);
    if (!validate) throw new Error(`spec-validator: Ajv could not compile ${schemaName}`);
    validators.set(schemaName, validate);
    return validate;
  }

  function assertMatchesSchema(schemaName: string, value: unknown, context?: string): void {
    const validate = validatorFor(schemaName);
    if (validate(value)) return;
    throw new AssertionError({
      message: describeFailure(schemaName, value, validate.errors ?? [], context),
      actual: value,
      expected: schemaName,
      operator: 'matchesSchema',
    });
  }

  function streamEventSchemaName(type: string): string | undefined {
    return spec().streamEvents.get(type);
  }

  function assertStreamEvent(event: unknown, context?: string): void {
    const type = isObject(event) ? event.type : undefined;
    const schemaName = typeof type === 'string' ? streamEventSchemaName(type) : undefined;
    if (!schemaName) {
      throw new AssertionError({
        message:
          `${prefix(context)}${JSON.stringify(type)} is not a ResponseStreamEvent type in the spec` +
          `${typeof type === 'string' ? suggest(type, [...spec().streamEvents.keys()]) : ''}\n` +
          `event: ${preview(event)}`,
        actual: type,
        expected: 'a ResponseStreamEvent type',
        operator: 'assertStreamEvent',
      });
    }
    assertMatchesSchema(schemaName, event, context ? `${context} (${String(type)})` : String(type));
  }

  function assertErrorBody(body: unknown, context?: string): void {
    assertMatchesSchema(ERROR_RESPONSE, body, context);
  }

  function assertListPage(schemaName: string, page: unknown, context?: string): void {
    const keys = schemaKeys(schemaName);
    if (!keys.properties.includes('data') || !keys.properties.includes('object')) {
      throw new Error(`spec-validator: ${schemaName} is not a list schema (it has no object and data properties)`);
    }
    assertMatchesSchema(schemaName, page, context);
    // Riposte's own promise (DESIGN.md), which some list schemas leave loose: `object` is "list"
    // and first_id/last_id name the ends of `data`.
    const { object, data, first_id: firstId, last_id: lastId } = page as JsonObject;
    const problems: string[] = [];
    if (object !== 'list') problems.push(`object is ${JSON.stringify(object)}, not "list"`);
    if (Array.isArray(data) && data.length > 0) {
      const ids = data.map((entry) => (entry as JsonObject | null)?.id);
      if (keys.properties.includes('first_id') && ids[0] !== undefined && firstId !== ids[0]) {
        problems.push(`first_id is ${JSON.stringify(firstId)} but data[0].id is ${JSON.stringify(ids[0])}`);
      }
      const lastIndex = ids.length - 1;
      if (keys.properties.includes('last_id') && ids[lastIndex] !== undefined && lastId !== ids[lastIndex]) {
        problems.push(
          `last_id is ${JSON.stringify(lastId)} but data[${lastIndex}].id is ${JSON.stringify(ids[lastIndex])}`,
        );
      }
    }
    if (problems.length > 0) {
      throw new AssertionError({
        message: `${prefix(context)}${schemaName} page is inconsistent:\n  ${problems.join('\n  ')}`,
        actual: page,
        expected: schemaName,
        operator: 'assertListPage',
      });
    }
  }

  function schemaKeys(schemaName: string): { properties: string[]; required: string[] } {
    const { schemas } = spec();
    const schema = schemas[schemaName];
    if (!isObject(schema))
      throw new Error(`spec-validator: the spec has no schema named ${JSON.stringify(schemaName)}`);
    const collected = collectKeys(schema, schemas);
    return { properties: [...collected.properties.keys()], required: [...collected.required] };
  }

  function assertHasEverySpecKey(schemaName: string, value: unknown, keyOptions: EveryKeyOptions = {}): void {
    const { schemas } = spec();
    const schema = schemas[schemaName];
    if (!isObject(schema))
      throw new Error(`spec-validator: the spec has no schema named ${JSON.stringify(schemaName)}`);
    if (!isObject(value)) {
      throw new AssertionError({
        message: `${prefix(keyOptions.context)}${schemaName}: expected an object, got ${preview(value)}`,
        actual: value,
        expected: schemaName,
        operator: 'assertHasEverySpecKey',
      });
    }
    const except = new Set(keyOptions.except ?? []);
    const missing = [...collectKeys(schema, schemas).properties]
      .filter(([key, propertySchema]) => !except.has(key) && !isSdkOnly(propertySchema) && !(key in value))
      .map(([key]) => key);
    if (missing.length > 0) {
      throw new AssertionError({
        message: `${prefix(keyOptions.context)}${schemaName} is missing keys the spec lists: ${missing.join(', ')}`,
        actual: Object.keys(value),
        expected: schemaName,
        operator: 'assertHasEverySpecKey',
      });
    }
  }

  function responseStreamEventTypes(): string[] {
    return [...spec().streamEvents.keys()].sort();
  }

  return {
    assertMatchesSchema,
    assertStreamEvent,
    assertErrorBody,
    assertListPage,
    assertHasEverySpecKey,
    responseStreamEventTypes,
    streamEventSchemaName,
    schemaKeys,
  };
}

/**
 * The error body's schema. The published spec references `#/components/schemas/ErrorResponse`
 * (from its 429 response) but does not define it, and its two 404s point at `Error`, the inner
 * object — while OpenAI's API wraps it: `{"error": {"message", "type", "param", "code"}}`. This is
 * the definition from OpenAI's full openapi.yaml, built on the spec's own `Error`; if a later copy
 * of the spec defines ErrorResponse, that definition is used instead.
 */
const ERROR_RESPONSE = 'ErrorResponse';
const ERROR_RESPONSE_FALLBACK: JsonObject = {
  type: 'object',
  properties: { error: { $ref: '#/components/schemas/Error' } },
  required: ['error'],
};

interface PreparedSpec {
  ajv: Ajv2020;
  schemas: JsonObject;
  /** Stream event type → schema name, from ResponseStreamEvent's members. */
  streamEvents: Map<string, string>;
}

function prepareSpec(specUrl: URL, applyDeviations: boolean): PreparedSpec {
  let text: string;
  try {
    text = readFileSync(specUrl, 'utf8');
  } catch (error) {
    throw new Error(
      `spec-validator: cannot read OpenAI's spec at ${fileURLToPath(specUrl)} (${(error as Error).message}). ` +
        'The contract tests expect shared/spec/openai-openapi.json beside the repository (../shared from its root).',
    );
  }
  const document = JSON.parse(text) as { components?: { schemas?: JsonObject } };
  const published = document.components?.schemas;
  if (!isObject(published)) throw new Error(`spec-validator: ${fileURLToPath(specUrl)} has no components.schemas`);

  const schemas = structuredClone(published);
  schemas[ERROR_RESPONSE] ??= ERROR_RESPONSE_FALLBACK;
  if (applyDeviations) {
    for (const deviation of KNOWN_SPEC_DEVIATIONS) applyDeviation(schemas, deviation);
  }
  prepareSchemas(schemas);

  const ajv = new Ajv2020({ strict: false, allErrors: true, discriminator: true, validateFormats: true });
  for (const format of collectFormats(schemas)) {
    if (format === 'unixtime') {
      // Seconds since the epoch: below 1e11 (the year 5138) rules out milliseconds.
      ajv.addFormat(format, { type: 'number', validate: (seconds: number) => seconds >= 0 && seconds < 1e11 });
    } else {
      ajv.addFormat(format, true);
    }
  }
  ajv.addSchema({ $id: SPEC_ID, components: { schemas } });

  return { ajv, schemas, streamEvents: streamEventMap(schemas) };
}

function applyDeviation(schemas: JsonObject, deviation: SpecDeviation): void {
  // The property sits on the schema itself or on one of its inline allOf members (as in Response).
  const schema = schemas[deviation.schema];
  const holders = isObject(schema) ? [schema, ...(Array.isArray(schema.allOf) ? schema.allOf : [])] : [];
  for (const holder of holders) {
    const properties = isObject(holder) ? holder.properties : undefined;
    const propertySchema = isObject(properties) ? properties[deviation.property] : undefined;
    if (isObject(properties) && isObject(propertySchema)) {
      properties[deviation.property] = deviation.patch(propertySchema);
      return;
    }
  }
  throw new Error(
    `spec-validator: deviation for ${deviation.schema}.${deviation.property} no longer applies: the spec changed; re-check it`,
  );
}

/** Rewrites the schemas in place into what Ajv's draft 2020-12 validator understands (see the file comment). */
function prepareSchemas(schemas: JsonObject): void {
  for (const [name, schema] of Object.entries(schemas)) {
    schemas[name] = rewriteOpenApi(schema, name);
  }
  for (const schema of Object.values(schemas)) discriminateUnions(schema, schemas);
}

function rewriteOpenApi(node: unknown, componentName: string): unknown {
  if (Array.isArray(node)) return node.map((entry) => rewriteOpenApi(entry, componentName));
  if (!isObject(node)) return node;
  const result: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    // Annotations may hold arbitrary JSON (examples of schemas, say): leave them as they are.
    if (
      key === 'example' ||
      key === 'examples' ||
      key === 'default' ||
      key === 'const' ||
      key === 'enum' ||
      key.startsWith('x-')
    ) {
      result[key] = value;
    } else if (key === 'properties' && isObject(value)) {
      result[key] = Object.fromEntries(
        Object.entries(value).map(([property, schema]) => [property, rewriteOpenApi(schema, componentName)]),
      );
    } else {
      result[key] = rewriteOpenApi(value, componentName);
    }
  }
  if (result.$recursiveRef !== undefined) {
    // Only CompoundFilter uses it, as `$recursiveRef: '#'` with `$recursiveAnchor` on the component.
    result.$ref = `#/components/schemas/${escapePointer(componentName)}`;
    delete result.$recursiveRef;
  }
  delete result.$recursiveAnchor;
  // `allOf: [{$ref: X}, {nullable: true}]` means "X or null" in OpenAPI 3.0.
  if (Array.isArray(result.allOf)) {
    const members = result.allOf as unknown[];
    const kept = members.filter(
      (member) =>
        !(
          isObject(member) &&
          member.nullable === true &&
          Object.keys(member).every((key) => key === 'nullable' || key === 'description')
        ),
    );
    if (kept.length !== members.length) {
      result.allOf = kept;
      result.nullable = true;
    }
  }
  if (result.nullable === true) {
    delete result.nullable;
    return allowNull(result);
  }
  delete result.nullable;
  return result;
}

function allowNull(schema: JsonObject): JsonObject {
  if (Array.isArray(schema.enum) && !schema.enum.includes(null)) schema.enum = [...(schema.enum as unknown[]), null];
  if (typeof schema.type === 'string') {
    schema.type = [schema.type, 'null'];
    return schema;
  }
  if (Array.isArray(schema.type)) {
    if (!schema.type.includes('null')) schema.type = [...(schema.type as unknown[]), 'null'];
    return schema;
  }
  const { description, title, ...rest } = schema;
  return {
    ...(description === undefined ? {} : { description }),
    ...(title === undefined ? {} : { title }),
    anyOf: [rest, { type: 'null' }],
  };
}

/** Turns unions whose branches all require a distinct tag into Ajv discriminated oneOfs, in place. */
function discriminateUnions(node: unknown, schemas: JsonObject): void {
  if (Array.isArray(node)) {
    for (const entry of node) discriminateUnions(entry, schemas);
    return;
  }
  if (!isObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    if (
      key === 'example' ||
      key === 'examples' ||
      key === 'default' ||
      key === 'const' ||
      key === 'enum' ||
      key.startsWith('x-')
    )
      continue;
    if (key === 'properties' && isObject(value)) {
      for (const schema of Object.values(value)) discriminateUnions(schema, schemas);
    } else {
      discriminateUnions(value, schemas);
    }
  }
  const declared =
    isObject(node.discriminator) && typeof node.discriminator.propertyName === 'string'
      ? node.discriminator.propertyName
      : undefined;
  delete node.discriminator;
  const unionKey = Array.isArray(node.oneOf) ? 'oneOf' : Array.isArray(node.anyOf) ? 'anyOf' : undefined;
  if (!unionKey || (node.oneOf !== undefined && node.anyOf !== undefined)) return;
  const branches = node[unionKey] as unknown[];
  const tag = declared ?? 'type';
  // Branches that cannot be objects (a string enum, null, an array) stay as they are; the object
  // branches must all require a distinct tag, and become one discriminated group beside them.
  const tagged: { branch: unknown; values: string[] }[] = [];
  const others: unknown[] = [];
  for (const branch of branches) {
    const info = tagInfo(branch, tag, schemas, new Set());
    if (info.values && info.values.length > 0 && info.required) tagged.push({ branch, values: info.values });
    else if (cannotBeObject(branch, schemas)) others.push(branch);
    else return;
  }
  if (tagged.length < 2) return;
  const seen = new Set<string>();
  for (const value of tagged.flatMap((entry) => entry.values)) {
    if (seen.has(value)) return;
    seen.add(value);
  }
  const group = tagged.map(({ branch, values }) =>
    ajvCanReadTag(branch, tag, schemas)
      ? branch
      : { allOf: [branch], properties: { [tag]: { enum: values } }, required: [tag] },
  );
  delete node[unionKey];
  if (others.length === 0) {
    node.oneOf = group;
    node.discriminator = { propertyName: tag };
  } else {
    // Ajv's discriminator only looks at objects: `type: object` keeps the group from passing a string.
    node[unionKey] = [...others, { type: 'object', oneOf: group, discriminator: { propertyName: tag } }];
  }
}

/** Whether a union branch only admits non-objects (its type, enum or const says so). */
function cannotBeObject(branch: unknown, schemas: JsonObject): boolean {
  let schema = branch;
  if (isObject(schema) && typeof schema.$ref === 'string') schema = resolveRef(schema.$ref, schemas);
  if (!isObject(schema)) return false;
  if (typeof schema.type === 'string') return schema.type !== 'object';
  if (Array.isArray(schema.type)) return !schema.type.includes('object');
  const values = Array.isArray(schema.enum)
    ? (schema.enum as unknown[])
    : 'const' in schema
      ? [schema.const]
      : undefined;
  return values !== undefined && values.every((value) => !isObject(value));
}

interface TagInfo {
  values: string[] | undefined;
  required: boolean;
}

/** The values a union branch allows for its tag property, and whether it requires the tag. */
function tagInfo(schema: unknown, tag: string, schemas: JsonObject, visiting: Set<unknown>): TagInfo {
  if (!isObject(schema) || visiting.has(schema)) return { values: undefined, required: false };
  visiting.add(schema);
  let values: string[] | undefined;
  let required = Array.isArray(schema.required) && schema.required.includes(tag);
  const merge = (info: TagInfo): void => {
    values ??= info.values;
    required ||= info.required;
  };
  if (typeof schema.$ref === 'string') merge(tagInfo(resolveRef(schema.$ref, schemas), tag, schemas, visiting));
  if (isObject(schema.properties) && schema.properties[tag] !== undefined)
    values ??= constValues(schema.properties[tag], schemas);
  if (Array.isArray(schema.allOf)) for (const member of schema.allOf) merge(tagInfo(member, tag, schemas, visiting));
  const union = Array.isArray(schema.oneOf) ? schema.oneOf : Array.isArray(schema.anyOf) ? schema.anyOf : undefined;
  if (union && values === undefined) {
    const infos = union.map((branch) => tagInfo(branch, tag, schemas, visiting));
    if (infos.every((info) => info.values)) values = infos.flatMap((info) => info.values!);
    required ||= infos.every((info) => info.required);
  }
  visiting.delete(schema);
  return { values, required };
}

function constValues(schema: unknown, schemas: JsonObject): string[] | undefined {
  if (!isObject(schema)) return undefined;
  if (typeof schema.$ref === 'string') return constValues(resolveRef(schema.$ref, schemas), schemas);
  if (typeof schema.const === 'string') return [schema.const];
  if (Array.isArray(schema.enum) && schema.enum.every((value) => typeof value === 'string')) return schema.enum;
  return undefined;
}

/** Whether Ajv's discriminator finds the tag as it looks for it: `properties[tag]` with const/enum, required, on the (dereferenced) branch. */
function ajvCanReadTag(branch: unknown, tag: string, schemas: JsonObject): boolean {
  let schema = branch;
  if (
    isObject(schema) &&
    typeof schema.$ref === 'string' &&
    Object.keys(schema).every((key) => key === '$ref' || key === 'description' || key === 'title')
  ) {
    schema = resolveRef(schema.$ref, schemas);
  }
  if (
    !isObject(schema) ||
    !isObject(schema.properties) ||
    !Array.isArray(schema.required) ||
    !schema.required.includes(tag)
  )
    return false;
  const property = schema.properties[tag];
  return (
    isObject(property) &&
    (typeof property.const === 'string' ||
      (Array.isArray(property.enum) && property.enum.every((value) => typeof value === 'string')))
  );
}

function resolveRef(ref: string, schemas: JsonObject): unknown {
  const match = /^#\/components\/schemas\/([^/]+)$/.exec(ref);
  return match ? schemas[unescapePointer(match[1]!)] : undefined;
}

function streamEventMap(schemas: JsonObject): Map<string, string> {
  const union = schemas.ResponseStreamEvent;
  const members = isObject(union) ? (union.oneOf ?? union.anyOf) : undefined;
  if (!Array.isArray(members)) throw new Error('spec-validator: the spec has no ResponseStreamEvent union');
  const map = new Map<string, string>();
  for (const member of members) {
    // Members may have been wrapped as `{allOf: [{$ref}], …}` by discriminateUnions.
    const reference = isObject(member) && typeof member.$ref === 'string' ? member.$ref : firstAllOfRef(member);
    const schemaName = reference?.replace('#/components/schemas/', '');
    if (!schemaName)
      throw new Error(`spec-validator: ResponseStreamEvent has a member that is not a $ref: ${preview(member)}`);
    const { values } = tagInfo(schemas[schemaName], 'type', schemas, new Set());
    if (!values) throw new Error(`spec-validator: ${schemaName} has no \`type\` const`);
    for (const type of values) {
      const previous = map.get(type);
      if (previous)
        throw new Error(`spec-validator: stream event type ${type} is claimed by both ${previous} and ${schemaName}`);
      map.set(type, unescapePointer(schemaName));
    }
  }
  return map;
}

function firstAllOfRef(member: unknown): string | undefined {
  if (!isObject(member) || !Array.isArray(member.allOf)) return undefined;
  const first: unknown = member.allOf[0];
  return isObject(first) && typeof first.$ref === 'string' ? first.$ref : undefined;
}

function collectFormats(node: unknown, formats = new Set<string>()): Set<string> {
  if (Array.isArray(node)) {
    for (const entry of node) collectFormats(entry, formats);
  } else if (isObject(node)) {
    if (typeof node.format === 'string') formats.add(node.format);
    for (const value of Object.values(node)) collectFormats(value, formats);
  }
  return formats;
}

/** The properties (name → schema) a schema lists, through $ref and allOf, and the keys it requires. */
function collectKeys(
  schema: unknown,
  schemas: JsonObject,
  collected = { properties: new Map<string, unknown>(), required: new Set<string>() },
  visiting = new Set<unknown>(),
): { properties: Map<string, unknown>; required: Set<string> } {
  if (!isObject(schema) || visiting.has(schema)) return collected;
  visiting.add(schema);
  if (typeof schema.$ref === 'string') collectKeys(resolveRef(schema.$ref, schemas), schemas, collected, visiting);
  if (Array.isArray(schema.allOf)) for (const member of schema.allOf) collectKeys(member, schemas, collected, visiting);
  if (isObject(schema.properties)) {
    for (const [key, propertySchema] of Object.entries(schema.properties)) {
      if (!collected.properties.has(key)) collected.properties.set(key, propertySchema);
    }
  }
  if (Array.isArray(schema.required))
    for (const key of schema.required) if (typeof key === 'string') collected.required.add(key);
  visiting.delete(schema);
  return collected;
}

/** A property the spec documents only for the SDKs' convenience (Response.output_text): never on the wire. */
function isSdkOnly(schema: unknown): boolean {
  if (!isObject(schema)) return false;
  if (schema['x-oaiSupportedSDKs'] !== undefined) return true;
  const branches = [
    ...(Array.isArray(schema.anyOf) ? schema.anyOf : []),
    ...(Array.isArray(schema.oneOf) ? schema.oneOf : []),
  ];
  return branches.some((branch) => isObject(branch) && branch['x-oaiSupportedSDKs'] !== undefined);
}

// ---- error messages -------------------------------------------------------------------------

function describeFailure(
  schemaName: string,
  value: unknown,
  errors: readonly ErrorObject[],
  context: string | undefined,
): string {
  const useful = usefulErrors(errors);
  const lines = useful.slice(0, MAX_REPORTED_ERRORS).map((error) => `  ${formatError(error, value)}`);
  if (useful.length > MAX_REPORTED_ERRORS) lines.push(`  … and ${useful.length - MAX_REPORTED_ERRORS} more`);
  return `${prefix(context)}value does not match the spec's ${schemaName}:\n${lines.join('\n')}\nvalue: ${preview(value)}`;
}

/**
 * Drops the noise Ajv reports for unions when a more specific error says what is wrong: the
 * "must match a schema in anyOf" summary, the "must be null" / "must be object" of branches of
 * another JSON type, and the tag mismatches of branches whose `type`/`object` is not the value's.
 * (Tagged unions are discriminated in `discriminateUnions`, so Ajv reports only the matching branch.)
 */
function usefulErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const isUnionSummary = (error: ErrorObject): boolean =>
    error.keyword === 'anyOf' || error.keyword === 'oneOf' || error.keyword === 'if';
  const within = (path: string, base: string): boolean => path === base || path.startsWith(`${base}/`);
  const unionPaths = new Set(errors.filter(isUnionSummary).map((error) => error.instancePath));
  // "must be null" / "must be object" from a union branch of another JSON type than the value's.
  const isWrongTypeBranch = (error: ErrorObject): boolean =>
    error.keyword === 'type' && unionPaths.has(error.instancePath);
  // "type must be one of […]" from a tagged branch whose tag is not the value's.
  const isTagMismatch = (error: ErrorObject): boolean =>
    (error.keyword === 'enum' || error.keyword === 'const') &&
    /\/(type|object)$/.test(error.instancePath) &&
    unionPaths.has(error.instancePath.slice(0, error.instancePath.lastIndexOf('/')));
  // The other complaints of such a branch (a string branch's `enum`, say) share its schema path.
  const wrongTypeBranches = new Set(
    errors.filter(isWrongTypeBranch).map((error) => `${error.instancePath} ${parentPath(error.schemaPath)}`),
  );
  const isFromWrongTypeBranch = (error: ErrorObject): boolean =>
    wrongTypeBranches.has(`${error.instancePath} ${parentPath(error.schemaPath)}`);
  const isNoise = (error: ErrorObject): boolean =>
    isUnionSummary(error) || isWrongTypeBranch(error) || isFromWrongTypeBranch(error) || isTagMismatch(error);
  const explained = (error: ErrorObject): boolean =>
    errors.some(
      (other) =>
        other !== error &&
        !isNoise(other) &&
        within(other.instancePath, error.instancePath.replace(/\/(type|object)$/, '')),
    );
  let useful = errors.filter((error) => !(isNoise(error) && explained(error)));
  // Without a more specific error, a wrong-type complaint still beats the bare union summary.
  if (useful.some((error) => !isUnionSummary(error))) {
    useful = useful.filter(
      (error) =>
        !isUnionSummary(error) ||
        !useful.some((other) => !isUnionSummary(other) && within(other.instancePath, error.instancePath)),
    );
  }
  const seen = new Set<string>();
  return useful.filter((error) => {
    const key = `${error.instancePath}\u0000${error.message ?? ''}\u0000${JSON.stringify(error.params)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function parentPath(schemaPath: string): string {
  return schemaPath.slice(0, schemaPath.lastIndexOf('/'));
}

function formatError(error: ErrorObject, root: unknown): string {
  const where = error.instancePath || '(root)';
  let message = error.message ?? error.keyword;
  if (error.keyword === 'enum')
    message += `: ${JSON.stringify((error.params as { allowedValues?: unknown }).allowedValues)}`;
  if (error.keyword === 'discriminator') {
    const params = error.params as { tag?: unknown; tagValue?: unknown };
    message = `${String(params.tag)} ${JSON.stringify(params.tagValue)} is not one of the union's types`;
  }
  const actual =
    error.keyword === 'required' || error.keyword === 'additionalProperties'
      ? ''
      : ` (got ${preview(valueAt(root, error.instancePath), 80)})`;
  return `${where}: ${message}${actual}  [${error.schemaPath}]`;
}

function valueAt(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let current = root;
  for (const segment of pointer.slice(1).split('/')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as JsonObject)[unescapePointer(segment)];
  }
  return current;
}

// ---- small helpers --------------------------------------------------------------------------

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

function unescapePointer(segment: string): string {
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}

function prefix(context: string | undefined): string {
  return context ? `${context}: ` : '';
}

function preview(value: unknown, limit = 600): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > limit ? `${text.slice(0, limit)}…` : text;
}

function suggest(name: string, candidates: readonly string[]): string {
  const lower = name.toLowerCase();
  const close = candidates
    .filter((candidate) => candidate.toLowerCase().includes(lower) || lower.includes(candidate.toLowerCase()))
    .slice(0, 5);
  return close.length > 0 ? ` (did you mean ${close.join(', ')}?)` : '';
}

// ---- the shared instance --------------------------------------------------------------------

const shared = createSpecValidator();

/** Asserts that `value` is valid against the spec's `components.schemas[schemaName]`. */
export function assertMatchesSchema(schemaName: string, value: unknown, context?: string): void {
  shared.assertMatchesSchema(schemaName, value, context);
}

/** Asserts that a streamed event matches the `ResponseStreamEvent` member for its `type`; unknown types fail. */
export function assertStreamEvent(event: unknown, context?: string): void {
  shared.assertStreamEvent(event, context);
}

/** Asserts that an HTTP error body is `{error: {message, type, param, code}}` (the spec's ErrorResponse). */
export function assertErrorBody(body: unknown, context?: string): void {
  shared.assertErrorBody(body, context);
}

/** Asserts that `page` is a valid, self-consistent page of the list schema `schemaName` (e.g. ResponseItemList). */
export function assertListPage(schemaName: string, page: unknown, context?: string): void {
  shared.assertListPage(schemaName, page, context);
}

/**
 * Asserts that every property `schemaName` lists (through allOf and $ref) is a key of `value`:
 * Riposte sends every key the spec lists, null where unset. Properties the spec marks as SDK-only
 * (`x-oaiSupportedSDKs`, e.g. Response.output_text) are not demanded.
 */
export function assertHasEverySpecKey(schemaName: string, value: unknown, options?: EveryKeyOptions): void {
  shared.assertHasEverySpecKey(schemaName, value, options);
}

/** Every `type` of the spec's `ResponseStreamEvent` union, sorted. */
export function responseStreamEventTypes(): string[] {
  return shared.responseStreamEventTypes();
}

/** The schema name for a stream event type, or undefined if the spec does not know the type. */
export function streamEventSchemaName(type: string): string | undefined {
  return shared.streamEventSchemaName(type);
}

/** The property names a schema lists (through allOf and $ref) and those it requires. */
export function schemaKeys(schemaName: string): { properties: string[]; required: string[] } {
  return shared.schemaKeys(schemaName);
}
