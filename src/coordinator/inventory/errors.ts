/**
 * Why the inventory refused a request, for the CLI (exit status, message) and the HTTP API (status code). A
 * message names fields and ids, never a value that was given: a refused record may carry a secret by mistake.
 */
export type InventoryErrorKind =
  /** The request is malformed (a record, an XML, an id): HTTP 400. */
  | 'invalid'
  /** A host or VM of that id is already recorded: HTTP 409. */
  | 'exists'
  /** No host or VM of that id: HTTP 404. */
  | 'not-found';

export class InventoryError extends Error {
  override readonly name = 'InventoryError';

  constructor(
    readonly kind: InventoryErrorKind,
    message: string,
  ) {
    super(message);
  }
}
