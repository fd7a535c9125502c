import type { ResyncNotice, SessionState, VoraError, VoraEvent, VoraSession, WelcomeMessage } from '../../client/src';
import { eventually } from './eventually';

/** Everything a VoraSession tells its listeners, in order, to wait on and assert. */
export class SessionRecorder {
  readonly events: VoraEvent[] = [];
  readonly states: SessionState[] = [];
  readonly welcomes: WelcomeMessage[] = [];
  readonly errors: VoraError[] = [];
  readonly resyncs: ResyncNotice[] = [];

  constructor(readonly session: VoraSession) {
    session.on('event', (event) => this.events.push(event));
    session.on('state', (state) => this.states.push(state));
    session.on('welcome', (welcome) => this.welcomes.push(welcome));
    session.on('error', (error) => this.errors.push(error));
    session.on('resync', (notice) => this.resyncs.push(notice));
  }

  get ids(): number[] {
    return this.events.map((event) => Number(event.id));
  }

  /** Waits (bounded) until `count` events arrived. */
  async eventCount(count: number, timeoutMs = 10_000): Promise<VoraEvent[]> {
    await eventually(() => expect(this.events.length).toBeGreaterThanOrEqual(count), { timeoutMs });
    return this.events;
  }

  /** Waits until the session has received its n-th welcome (counting from 1). */
  async welcomeCount(count: number, timeoutMs = 10_000): Promise<WelcomeMessage> {
    await eventually(() => expect(this.welcomes.length).toBeGreaterThanOrEqual(count), { timeoutMs });
    return this.welcomes[count - 1];
  }

  async state(state: SessionState, timeoutMs = 10_000): Promise<void> {
    await eventually(() => expect(this.session.state).toBe(state), { timeoutMs });
  }

  async errorCount(count: number, timeoutMs = 10_000): Promise<VoraError[]> {
    await eventually(() => expect(this.errors.length).toBeGreaterThanOrEqual(count), { timeoutMs });
    return this.errors;
  }
}
