/**
 * Prompt versions are "1", "2", … on the wire and integers in the tables (so they sort and count
 * in SQL). Only the canonical spelling names a version: "01", "1.0" or " 1" name none, as an
 * unknown id names no row.
 */
export function parsePromptVersion(version: string): number | null {
  if (!/^[1-9][0-9]{0,8}$/.test(version)) return null;
  return Number(version);
}
