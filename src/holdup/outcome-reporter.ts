import { Logger } from '@nestjs/common';
import { SignedWebhookConfig } from '../config/gateway-config';
import { OutcomeReport } from './holdup';
import { postSigned } from './signed-webhook';

/** Tells the platform what became of a held-up call: the egress port. */
export abstract class OutcomeReporter {
  abstract report(outcome: OutcomeReport): Promise<void>;
}

const CALLBACK_WINDOW_MS = 30_000;

/** PLATFORM_CALLBACK_URL, signed like the push, retried for a while on 5xx. */
export class WebhookOutcomeReporter extends OutcomeReporter {
  constructor(private readonly config: SignedWebhookConfig) {
    super();
  }

  async report(outcome: OutcomeReport): Promise<void> {
    await postSigned(this.config.url, this.config.secret, outcome, Date.now() + CALLBACK_WINDOW_MS);
  }
}

/** Reports to every configured egress; one failing does not stop the others. */
export class FanOutOutcomeReporter extends OutcomeReporter {
  private readonly log = new Logger('HoldUp');

  constructor(private readonly reporters: readonly OutcomeReporter[]) {
    super();
  }

  async report(outcome: OutcomeReport): Promise<void> {
    const results = await Promise.allSettled(this.reporters.map((reporter) => reporter.report(outcome)));
    for (const result of results) {
      if (result.status === 'rejected') {
        this.log.warn(`call ${outcome.callId}: ${outcome.event} could not be reported: ${(result.reason as Error).message}`);
      }
    }
  }
}
