import type { SQLOutputValue } from 'node:sqlite';
import type { StoredItem } from '../stores.ts';

/** A row as node:sqlite returns it. */
export type Row = Record<string, SQLOutputValue>;

/*
 * Typed reads of a column, shared by the SQLite stores. A column of the wrong type means the
 * schema and the code disagree, so it throws rather than guess.
 */

export function readText(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw new TypeError(`Column ${column} is not text.`);
  return value;
}

export function readNullableText(row: Row, column: string): string | null {
  const value = row[column];
  return value === null || value === undefined ? null : readText(row, column);
}

export function readNumber(row: Row, column: string): number {
  const value = row[column];
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  throw new TypeError(`Column ${column} is not a number.`);
}

/** An item kept as JSON.stringify text in the column `item`. */
export function readItem(row: Row): StoredItem {
  return JSON.parse(readText(row, 'item')) as StoredItem;
}
