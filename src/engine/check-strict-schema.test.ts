import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkStrictSchema } from './check-strict-schema.ts';

const CONTEXT = "response_format 'answer'";

function objectOf(properties: Record<string, unknown>): Record<string, unknown> {
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false };
}

function problem(schema: Record<string, unknown>): string | null {
  return checkStrictSchema(schema, CONTEXT);
}

describe('checkStrictSchema', () => {
  test('accepts a schema that follows every strict-mode rule', () => {
    const schema = {
      ...objectOf({
        name: { type: 'string', description: 'who', pattern: '^[a-z]+$' },
        email: { type: 'string', format: 'email' },
        age: { type: ['integer', 'null'], minimum: 0, maximum: 150 },
        ratio: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, multipleOf: 0.01 },
        tags: { type: 'array', items: { type: 'string', enum: ['a', 'b'] }, minItems: 1, maxItems: 3 },
        kind: { type: 'string', const: 'person' },
        address: objectOf({ city: { type: 'string' } }),
        either: { anyOf: [{ type: 'string' }, objectOf({ n: { type: 'number' } })] },
        friend: { $ref: '#/$defs/friend' },
        self: { $ref: '#' },
      }),
      title: 'Person',
      $defs: {
        friend: objectOf({ name: { type: 'string' }, next: { anyOf: [{ $ref: '#/$defs/friend' }, { type: 'null' }] } }),
      },
    };
    assert.equal(problem(schema), null);
  });

  test('accepts an object with no properties when it forbids additional ones', () => {
    assert.equal(problem({ type: 'object', additionalProperties: false }), null);
  });

  test('the root must be an object schema, not a union or another type', () => {
    assert.equal(
      problem({ type: 'array', items: { type: 'string' } }),
      `Invalid schema for ${CONTEXT}: schema must be a JSON Schema of 'type: "object"', got 'type: "array"'.`,
    );
    assert.equal(
      problem({ anyOf: [objectOf({}), objectOf({ a: { type: 'string' } })] }),
      `Invalid schema for ${CONTEXT}: schema must be a JSON Schema of 'type: "object"', got 'type: "None"'.`,
    );
  });

  test('every object needs additionalProperties: false, with the path in OpenAI tuple form', () => {
    assert.equal(
      problem({ type: 'object', properties: {}, required: [] }),
      `Invalid schema for ${CONTEXT}: In context=(), 'additionalProperties' is required to be supplied and to be false.`,
    );
    const nested = objectOf({ x: { type: 'array', items: { type: 'object', properties: {}, required: [] } } });
    assert.equal(
      problem(nested),
      `Invalid schema for ${CONTEXT}: In context=('properties', 'x', 'items'), 'additionalProperties' is required to be supplied and to be false.`,
    );
  });

  test('every property must be required, and required names only properties', () => {
    assert.equal(
      problem({
        type: 'object',
        properties: { a: { type: 'string' }, b: { type: 'string' } },
        required: ['a'],
        additionalProperties: false,
      }),
      `Invalid schema for ${CONTEXT}: In context=(), 'required' is required to be supplied and to be an array including every key in properties. Missing 'b'.`,
    );
    assert.match(
      problem({
        type: 'object',
        properties: { a: { type: 'string' } },
        required: ['a', 'z'],
        additionalProperties: false,
      }) ?? '',
      /Extra required key 'z' supplied\.$/,
    );
  });

  test('keywords outside the supported subset are not permitted', () => {
    for (const keyword of [
      'default',
      'oneOf',
      'allOf',
      'not',
      'minLength',
      'maxLength',
      'uniqueItems',
      'patternProperties',
      'if',
    ]) {
      const schema = objectOf({
        a: { type: 'string', [keyword]: keyword === 'oneOf' || keyword === 'allOf' ? [] : 1 },
      });
      assert.equal(
        problem(schema),
        `Invalid schema for ${CONTEXT}: In context=('properties', 'a'), '${keyword}' is not permitted.`,
        keyword,
      );
    }
  });

  test('a schema needs a type unless it is a union or a reference', () => {
    assert.equal(
      problem(objectOf({ a: {} })),
      `Invalid schema for ${CONTEXT}: In context=('properties', 'a'), schema must have a 'type' key.`,
    );
    assert.equal(
      problem(objectOf({ a: { const: 'x' } })),
      `Invalid schema for ${CONTEXT}: In context=('properties', 'a'), schema must have a 'type' key.`,
    );
    assert.match(problem(objectOf({ a: { type: 'text' } })) ?? '', /'text' is not a valid type\.$/);
  });

  test('anyOf branches are checked, with their index in the path', () => {
    assert.equal(
      problem(objectOf({ a: { anyOf: [{ type: 'string' }, { type: 'object' }] } })),
      `Invalid schema for ${CONTEXT}: In context=('properties', 'a', 'anyOf', 1), 'additionalProperties' is required to be supplied and to be false.`,
    );
  });

  test('definitions are checked and references must resolve', () => {
    assert.equal(
      problem({ ...objectOf({}), $defs: { thing: { type: 'object' } } }),
      `Invalid schema for ${CONTEXT}: In context=('$defs', 'thing'), 'additionalProperties' is required to be supplied and to be false.`,
    );
    assert.match(
      problem(objectOf({ a: { $ref: '#/$defs/missing' } })) ?? '',
      /reference '#\/\$defs\/missing' could not be resolved/,
    );
    assert.match(
      problem(objectOf({ a: { $ref: 'https://example.com/schema' } })) ?? '',
      /must point inside the schema/,
    );
  });

  test('only the supported string formats are accepted', () => {
    assert.equal(problem(objectOf({ a: { type: 'string', format: 'date-time' } })), null);
    assert.match(problem(objectOf({ a: { type: 'string', format: 'uri' } })) ?? '', /'format' "uri" is not supported/);
  });

  test('tuple-style items are refused', () => {
    assert.match(
      problem(objectOf({ a: { type: 'array', items: [{ type: 'string' }] } })) ?? '',
      /'items' must be a schema/,
    );
  });

  test('at most 10 levels of object nesting', () => {
    const nest = (levels: number): Record<string, unknown> =>
      levels === 1 ? objectOf({ leaf: { type: 'string' } }) : objectOf({ child: nest(levels - 1) });
    assert.equal(problem(nest(10)), null);
    assert.match(problem(nest(11)) ?? '', /nested 11 levels deep, more than the limit of 10/);
  });

  test('at most 5000 properties in total', () => {
    const many = (count: number, prefix: string): Record<string, unknown> =>
      Object.fromEntries(Array.from({ length: count }, (_, index) => [`${prefix}${index}`, { type: 'string' }]));
    assert.equal(problem(objectOf({ a: objectOf(many(2500, 'p')), b: objectOf(many(2498, 'q')) })), null);
    assert.match(
      problem(objectOf({ a: objectOf(many(2500, 'p')), b: objectOf(many(2500, 'q')) })) ?? '',
      /5002 object properties in total, more than the limit of 5000/,
    );
  });

  test('at most 1000 enum values in total', () => {
    const values = (count: number): string[] => Array.from({ length: count }, (_, index) => `v${index}`);
    assert.equal(
      problem(objectOf({ a: { type: 'string', enum: values(500) }, b: { type: 'string', enum: values(500) } })),
      null,
    );
    assert.match(
      problem(objectOf({ a: { type: 'string', enum: values(600) }, b: { type: 'string', enum: values(401) } })) ?? '',
      /1001 enum values in total/,
    );
  });

  test('a string enum of more than 250 values holds at most 15000 characters', () => {
    const long = Array.from({ length: 251 }, (_, index) => `${index}`.padEnd(60, 'x'));
    assert.match(problem(objectOf({ a: { type: 'string', enum: long } })) ?? '', /at most 15000 characters in total/);
  });
});
