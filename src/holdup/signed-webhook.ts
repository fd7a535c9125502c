import { createHmac } from 'node:crypto';

export interface WebhookAttempt {
  readonly attempts: number;
  readonly status?: number;
  readonly error?: string;
}

export class WebhookFailed extends Error {
  constructor(
    message: string,
    readonly attempt: WebhookAttempt,
  ) {
    super(message);
  }
}

/** `sha256=<hex HMAC-SHA256 of the raw body>`, as in X-Vora-Signature. */
export const signature = (secret: string, body: string): string =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2_000;
const ATTEMPT_TIMEOUT_MS = 3_000;

/**
 * POSTs a signed JSON body, retrying 5xx answers and network errors with
 * exponential backoff and full jitter until the deadline; a 4xx is final, and
 * so is a redirect: it is never followed, because the body (caller, user,
 * identity) and its signature would go wherever the answer points.
 */
export async function postSigned(url: string, secret: string, payload: unknown, deadline: number): Promise<WebhookAttempt> {
  const body = JSON.stringify(payload);
  const headers = { 'content-type': 'application/json', 'x-vora-signature': signature(secret, body) };
  for (let attempts = 1; ; attempts++) {
    let status: number | undefined;
    let error: string | undefined;
    try {
      const timeout = Math.max(1, Math.min(ATTEMPT_TIMEOUT_MS, deadline - Date.now()));
      const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeout) });
      await response.arrayBuffer();
      status = response.status;
      if (response.ok) return { attempts, status };
      if (status >= 300 && status < 400) throw new WebhookFailed(`answered ${status}, a redirect, which is not followed`, { attempts, status });
      if (status < 500) throw new WebhookFailed(`answered ${status}`, { attempts, status });
    } catch (caught) {
      if (caught instanceof WebhookFailed) throw caught;
      error = (caught as Error).message;
    }
    const delay = Math.random() * Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempts - 1));
    if (Date.now() + delay >= deadline) {
      throw new WebhookFailed(status ? `answered ${status} until the deadline` : `unreachable until the deadline: ${error}`, {
        attempts,
        status,
        error,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
