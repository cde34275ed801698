/**
 * A deep copy of plain JSON data (objects, arrays, strings, numbers, booleans, null; undefined
 * kept as it is). The engine snapshots its output items and Response objects into stream events
 * several times per request, and for such small trees structuredClone's serialise-and-rebuild
 * costs several times more than copying them in JavaScript.
 */
export function cloneJson<Value>(value: Value): Value {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const copy: unknown[] = new Array(value.length);
    for (let index = 0; index < value.length; index++) copy[index] = cloneJson(value[index] as unknown);
    return copy as Value;
  }
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) copy[key] = cloneJson((value as Record<string, unknown>)[key]);
  return copy as Value;
}
