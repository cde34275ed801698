import type { AttributeFilter } from './vector-stores.ts';

/**
 * One comparison of OpenAI's `filters`, reduced to what SQL must test, shared by both stores so
 * they agree on the semantics:
 * - `ne` and `nin` are the negations of `eq` and `in`, so a file without the key matches them;
 * - values compare only with values of the same JSON type: numbers numerically (1 equals 1.0),
 *   strings by code point, booleans by equality; `"5"` never equals `5`;
 * - `gt`/`gte`/`lt`/`lte` hold only for numbers and strings; with a boolean or a list they never do;
 * - `eq`/`ne` given a list behave as `in`/`nin`, and `in`/`nin` given one value as `eq`/`ne`.
 */
export type ComparisonPlan =
  | { kind: 'never' }
  | { kind: 'member'; key: string; numbers: number[]; strings: string[]; booleans: boolean[]; negated: boolean }
  | { kind: 'order'; key: string; operator: '>' | '>=' | '<' | '<='; value: number | string };

export function planComparison(filter: Extract<AttributeFilter, { key: string }>): ComparisonPlan {
  const negated = filter.type === 'ne' || filter.type === 'nin';
  if (filter.type === 'eq' || filter.type === 'ne' || filter.type === 'in' || filter.type === 'nin') {
    const values = Array.isArray(filter.value) ? filter.value : [filter.value];
    return {
      kind: 'member',
      key: filter.key,
      numbers: values.filter((value): value is number => typeof value === 'number'),
      strings: values.filter((value): value is string => typeof value === 'string'),
      booleans: values.filter((value): value is boolean => typeof value === 'boolean'),
      negated,
    };
  }
  if (typeof filter.value !== 'number' && typeof filter.value !== 'string') return { kind: 'never' };
  const operators = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;
  return { kind: 'order', key: filter.key, operator: operators[filter.type], value: filter.value };
}
