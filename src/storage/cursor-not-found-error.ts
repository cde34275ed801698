/**
 * Thrown by `ResponseStore.listInputItems` when `after` or `before` is not the id of an input item
 * of that response (for that owner). OpenAI answers such a cursor with a 400, so the route turns
 * this into an `invalid_request_error` naming `param`.
 */
export class CursorNotFoundError extends Error {
  /** Which cursor was unknown: `after` or `before`. */
  readonly param: 'after' | 'before';
  readonly cursor: string;

  constructor(param: 'after' | 'before', cursor: string) {
    super(`No item with id '${cursor}' in this list (the '${param}' cursor).`);
    this.name = 'CursorNotFoundError';
    this.param = param;
    this.cursor = cursor;
  }
}
