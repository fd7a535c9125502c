import { Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { GatewayConfig } from '../config/gateway-config';
import { RoutedRecipient, EventRouter } from '../events/event-router';
import { PublishedEvent } from '../events/ingress';
import { Metrics } from '../infra/metrics/metrics';
import { Session } from '../session/session';
import { HoldUpOutcome, PendingCall, PushRequest } from './holdup';
import { OutcomeReporter } from './outcome-reporter';
import { PendingCallStore } from './pending-calls.store';
import { PushSender } from './push-sender';
import { WebhookFailed } from './signed-webhook';

/** How often deadlines are checked; a ClientNotReady is at most this late. */
const DEADLINE_SWEEP_MS = 200;

export type ClientAnswer = 'ready' | 'decline';

/**
 * holdUpMode (SPEC section 7): when a terminating call reaches a mobile
 * session whose socket is closed, wake the app with a push, wait for it to
 * answer, and report the outcome to the platform once per call.
 */
@Injectable()
export class HoldUpService implements OnModuleInit, OnModuleDestroy {
  private readonly log = new Logger('HoldUp');
  private sweeper?: NodeJS.Timeout;
  /** Sweeps failed in a row; 0 while deadlines are checked. */
  private failedSweeps = 0;

  constructor(
    private readonly config: GatewayConfig,
    private readonly router: EventRouter,
    private readonly calls: PendingCallStore,
    private readonly push: PushSender,
    private readonly reporter: OutcomeReporter,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    this.router.tap('CallDelivered', (event, recipients) => void this.onRouted(event, recipients));
    this.sweeper = setInterval(() => void this.settleOverdue(), DEADLINE_SWEEP_MS);
    this.sweeper.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  /** A client said `ready` or `decline`; false when no call of that id waits for this session. */
  async answer(session: Session, callId: string, answer: ClientAnswer): Promise<boolean> {
    const pending = await this.calls.get(callId);
    if (!pending || !pending.sessionIds.includes(session.id)) return false;
    const outcome: HoldUpOutcome = answer === 'ready' ? 'ClientReady' : 'ClientDeclined';
    await this.settle(callId, outcome, session.id);
    return true;
  }

  /** A socket opened; for a woken session this is a step of its calls worth timing. */
  async connected(session: Session): Promise<void> {
    if (!session.holdUpMode) return;
    for (const call of await this.calls.pendingFor(session.id)) {
      this.metrics.holdUpTimings.observe({ step: 'connected' }, (Date.now() - call.startedAt) / 1000);
      this.log.log(`call ${call.callId}: client connected after ${Date.now() - call.startedAt} ms (session ${session.id})`);
    }
  }

  private async onRouted(event: PublishedEvent, recipients: readonly RoutedRecipient[]): Promise<void> {
    const callId = event.data.callId;
    // Only an identity event names a callee whose sessions can be held up.
    if (event.group !== undefined || event.data.direction !== 'terminating' || typeof callId !== 'string') return;
    try {
      const asleep: RoutedRecipient[] = [];
      for (const recipient of recipients) {
        const { session } = recipient;
        if (!session.holdUpMode || session.connectionType !== 'MOBILE') continue;
        if (!recipient.connected) asleep.push(recipient);
      }
      if (!asleep.length) return;
      const startedAt = Date.now();
      const call: PendingCall = {
        callId,
        identity: event.identity,
        sessionIds: asleep.map((r) => r.session.id),
        startedAt,
        deadline: startedAt + this.config.holdUp.timeoutMs,
      };
      if (!(await this.calls.begin(call))) return;
      await Promise.all(asleep.map(({ session }) => this.wake(call, session, event)));
    } catch (error) {
      this.log.error(`call ${callId}: holdUp could not start: ${(error as Error).message}`);
    }
  }

  private async wake(call: PendingCall, session: Session, event: PublishedEvent): Promise<void> {
    const { remoteParty } = event.data;
    const request: PushRequest = {
      sessionId: session.id,
      sub: session.sub,
      identity: session.identity,
      callId: call.callId,
      event: 'CallDelivered',
      remoteParty: typeof remoteParty === 'string' ? remoteParty : null,
      data: event.data,
      deadline: new Date(call.deadline).toISOString(),
    };
    try {
      const attempt = await this.push.send(request, call.deadline);
      this.metrics.pushes.inc({ result: 'sent' });
      this.metrics.holdUpTimings.observe({ step: 'push' }, (Date.now() - call.startedAt) / 1000);
      this.log.log(
        `call ${call.callId}: push sent to session ${session.id} after ${Date.now() - call.startedAt} ms (${attempt.attempts} attempt(s))`,
      );
    } catch (error) {
      const detail = error instanceof WebhookFailed ? `${error.message} after ${error.attempt.attempts} attempt(s)` : (error as Error).message;
      this.metrics.pushes.inc({ result: 'failed' });
      this.log.warn(`call ${call.callId}: push to session ${session.id} failed: ${detail}`);
    }
  }

  /**
   * Sweeps run five times a second: while the store is down, one line says so
   * when it goes and one when it is back, and the metric counts the sweeps between.
   */
  private async settleOverdue(): Promise<void> {
    try {
      for (const call of await this.calls.due(Date.now())) await this.settle(call.callId, 'ClientNotReady', call.sessionIds[0]);
    } catch (error) {
      this.metrics.holdUpDeadlineCheckFailures.inc();
      if (this.failedSweeps++ === 0) {
        this.log.warn(
          `holdUp deadlines could not be checked: ${(error as Error).message}; retrying every ${DEADLINE_SWEEP_MS} ms ` +
            '(vora_holdup_deadline_check_failures_total counts the failures)',
        );
      }
      return;
    }
    if (this.failedSweeps) {
      this.log.log(`holdUp deadlines are checked again, after ${this.failedSweeps} failed sweep(s)`);
      this.failedSweeps = 0;
    }
  }

  /** Reports the call if this instance is the one that settles it. */
  private async settle(callId: string, outcome: HoldUpOutcome, sessionId: string): Promise<void> {
    const call = await this.calls.settle(callId);
    if (!call) return;
    const waitedMs = Date.now() - call.startedAt;
    this.metrics.holdUpOutcomes.inc({ outcome });
    this.metrics.holdUpTimings.observe({ step: 'outcome' }, waitedMs / 1000);
    this.log.log(`call ${callId}: ${outcome} after ${waitedMs} ms (session ${sessionId})`);
    await this.reporter.report({
      event: outcome,
      callId,
      identity: call.identity,
      sessionId,
      waitedMs,
      occurredAt: new Date().toISOString(),
    });
  }
}
