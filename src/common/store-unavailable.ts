/** A storage port could not reach its backend (Redis down); callers answer 503 rather than hang. */
export class StoreUnavailableError extends Error {
  constructor(message = 'the session store is unavailable') {
    super(message);
    this.name = 'StoreUnavailableError';
  }
}
