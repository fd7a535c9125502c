import { httpRequest } from './http';
import { nowMs, sleep } from './stats';

export interface PublishResult {
  published: number;
  batches: number;
  /** When the first batch was sent and when the last one was answered. */
  startedAt: number;
  endedAt: number;
  /** Paced runs: batches that left later than their slot by more than one interval (the server fell behind). */
  late: number;
  errors: string[];
}

/** Paced runs never keep more batches than this in flight; beyond it the publisher waits (and counts late slots). */
const MAX_PACED_IN_FLIGHT = 64;

/**
 * The telephony core of the benchmarks: posts batches of PresenceChanged for
 * random identities to POST /events, each event carrying a sequence number
 * (to count losses and duplicates) and its send time (for latency).
 */
export class Publisher {
  private seq = 0;
  private next = 0;

  constructor(
    private readonly urls: readonly string[],
    readonly identities: readonly string[],
    private readonly token?: string,
  ) {}

  /** Sequence numbers handed out so far: the events a run must see delivered, each once. */
  get sequence(): number {
    return this.seq;
  }

  batch(size: number, pick: (i: number) => string = () => this.randomIdentity()): string {
    const sentAt = nowMs();
    const events = new Array<string>(size);
    for (let i = 0; i < size; i++) {
      events[i] = `{"event":"PresenceChanged","identity":"${pick(i)}","data":{"presence":"available","seq":${this.seq++},"sentAt":${sentAt}}}`;
    }
    return `[${events.join(',')}]`;
  }

  /** Posts one batch to the next instance (round-robin). */
  async post(body: string): Promise<void> {
    const url = this.urls[this.next++ % this.urls.length];
    const headers: Record<string, string> = this.token ? { authorization: `Bearer ${this.token}` } : {};
    const response = await httpRequest('POST', `${url}/events`, body, headers);
    if (response.status !== 202) throw new Error(`POST /events answered ${response.status}: ${response.body.slice(0, 200)}`);
  }

  /** One event for each of the identities, in batches. */
  async publishToEach(identities: readonly string[], batchSize: number): Promise<number> {
    for (let start = 0; start < identities.length; start += batchSize) {
      const slice = identities.slice(start, start + batchSize);
      await this.post(this.batch(slice.length, (i) => slice[i]));
    }
    return identities.length;
  }

  /** As fast as the server answers: `inFlight` lanes each posting the next batch when the last is answered. */
  async fullSpeed(durationMs: number, batchSize: number, inFlight: number): Promise<PublishResult> {
    const result = this.emptyResult();
    const deadline = result.startedAt + durationMs;
    const lane = async () => {
      while (nowMs() < deadline && result.errors.length < 10) {
        const body = this.batch(batchSize);
        try {
          await this.post(body);
          result.published += batchSize;
          result.batches++;
        } catch (error) {
          result.errors.push((error as Error).message);
        }
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    result.endedAt = nowMs();
    return result;
  }

  /** `rate` events per second in batches of `batchSize`, on a fixed schedule (open loop). */
  async paced(durationMs: number, rate: number, batchSize: number): Promise<PublishResult> {
    const result = this.emptyResult();
    const intervalMs = (batchSize / rate) * 1000;
    const slots = Math.floor(durationMs / intervalMs);
    const inFlight = new Set<Promise<void>>();
    for (let slot = 0; slot < slots && result.errors.length < 10; slot++) {
      const due = result.startedAt + slot * intervalMs;
      const wait = due - nowMs();
      if (wait > 1) await sleep(wait);
      else if (wait < -intervalMs) result.late++;
      while (inFlight.size >= MAX_PACED_IN_FLIGHT) await Promise.race(inFlight);
      const posted: Promise<void> = this.post(this.batch(batchSize)).then(
        () => {
          result.published += batchSize;
          result.batches++;
        },
        (error: Error) => void result.errors.push(error.message),
      );
      inFlight.add(posted);
      void posted.finally(() => inFlight.delete(posted));
    }
    await Promise.all(inFlight);
    result.endedAt = nowMs();
    return result;
  }

  private randomIdentity(): string {
    return this.identities[Math.floor(Math.random() * this.identities.length)];
  }

  private emptyResult(): PublishResult {
    return { published: 0, batches: 0, startedAt: nowMs(), endedAt: 0, late: 0, errors: [] };
  }
}
