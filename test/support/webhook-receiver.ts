import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawBody: string;
  readonly body: any;
  readonly at: number;
}

/** A scripted answer: a status, or a redirect to `location`. */
export type ScriptedAnswer = number | { readonly status: number; readonly location: string };

/**
 * A real HTTP server standing in for a push service or the platform's
 * callback: it records every request and answers with scripted statuses
 * (then 200 once the script is used up).
 */
export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  private script: ScriptedAnswer[] = [];
  private waiters: Array<() => void> = [];
  private server?: Server;
  private port = 0;

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await receiver.listen();
    return receiver;
  }

  url(path = '/'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** The next requests are answered with these statuses (or redirects), in order. */
  answerWith(...answers: ScriptedAnswer[]): void {
    this.script.push(...answers);
  }

  /** Resolves once `count` requests (optionally matching) arrived; bounded. */
  async waitFor(count: number, predicate: (request: ReceivedRequest) => boolean = () => true, timeoutMs = 5_000): Promise<ReceivedRequest[]> {
    const matching = () => this.requests.filter(predicate);
    if (matching().length >= count) return matching();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out waiting for ${count} request(s); got ${JSON.stringify(matching().map((r) => r.body))}`));
      }, timeoutMs);
      const check = () => {
        if (matching().length < count) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve(matching());
      };
      this.waiters.push(check);
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private listen(): Promise<void> {
    this.server = createServer((request, response) => {
      let rawBody = '';
      request.on('data', (chunk) => (rawBody += chunk));
      request.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(rawBody);
        } catch {
          body = rawBody;
        }
        this.requests.push({ path: request.url ?? '/', headers: request.headers, rawBody, body, at: Date.now() });
        const answer = this.script.shift() ?? 200;
        if (typeof answer === 'number') response.writeHead(answer).end();
        else response.writeHead(answer.status, { location: answer.location }).end();
        for (const waiter of [...this.waiters]) waiter();
      });
    });
    return new Promise((resolve) =>
      this.server!.listen(0, '127.0.0.1', () => {
        this.port = (this.server!.address() as AddressInfo).port;
        resolve();
      }),
    );
  }
}
