/**
 * A storage port could not reach its backend (Redis down); callers answer 503 rather than hang.
 * The message stays free of addresses: readiness shows it to anyone; `cause` keeps the driver's error for logs.
 */
export class StoreUnavailableError extends Error {
  constructor(message = 'the session store is unavailable', options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
