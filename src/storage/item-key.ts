/**
 * How an item id a client chose is kept where SQL compares it: its JSON text. PostgreSQL text
 * cannot hold NUL, and both databases store text as UTF-8, into which a lone surrogate does not
 * go (SQLite turns each into U+FFFD, so two ids differing only there would read as one).
 * JSON.stringify escapes both, so distinct ids keep distinct keys.
 */
export function itemKey(id: string): string {
  return JSON.stringify(id);
}

/**
 * How a name a client chose (a prompt's) is kept: its JSON text, for the same reasons; null
 * stays SQL NULL.
 */
export function nameText(name: string | null): string | null {
  return name === null ? null : JSON.stringify(name);
}

export function parseNameText(text: string | null): string | null {
  return text === null ? null : (JSON.parse(text) as string);
}
