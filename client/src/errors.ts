/** The body of every error answer of the gateway's REST API (the seed's `ResponseStatusVoraError`). */
export interface ResponseStatusVoraError {
  timestamp: string;
  /** The HTTP status as a decimal string. */
  status: string;
  error: string;
  message: string;
}

/** Every error this library reports is one of these. */
export class VoraError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The gateway answered a REST call with an error; `body` is its `ResponseStatusVoraError`. */
export class VoraRequestError extends VoraError {
  constructor(
    readonly status: number,
    readonly body: ResponseStatusVoraError,
  ) {
    super(body.message);
  }
}

/** A REST call or a socket could not reach the gateway at all. */
export class VoraNetworkError extends VoraError {
  constructor(
    message: string,
    readonly original?: unknown,
  ) {
    super(message);
  }
}

/** The socket closed with a code that needs the app's attention (the session ended, or the client broke the protocol). */
export class VoraCloseError extends VoraError {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** The gateway answered a client message with `{"type":"error"}`. */
export class VoraProtocolError extends VoraError {}

/** The library was used in a way it cannot serve (no WebSocket implementation, no access token for a REST call, ...). */
export class VoraUsageError extends VoraError {}
