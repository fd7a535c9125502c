import { Injectable } from '@nestjs/common';
import { RedisConnection, viaRedis } from '../infra/redis/redis-connection';
import { OutcomeReport } from './holdup';
import { OutcomeReporter } from './outcome-reporter';

export const EGRESS_STREAM = 'vora:egress';
/** Keeps the stream bounded when nobody reads it. */
const MAX_LENGTH = 100_000;

/** The egress stream: outcomes appended to `vora:egress`, for a platform that prefers reading to being called. Only Redis has one. */
export abstract class OutcomeStream extends OutcomeReporter {}

/** Without Redis there is no stream to append to. */
export class NoOutcomeStream extends OutcomeStream {
  async report(): Promise<void> {}
}

@Injectable()
export class StreamOutcomeReporter extends OutcomeStream {
  constructor(private readonly redis: RedisConnection) {
    super();
  }

  async report(outcome: OutcomeReport): Promise<void> {
    const fields = Object.entries(outcome).flatMap(([field, value]) => [field, String(value)]);
    await viaRedis(() => this.redis.client.xadd(EGRESS_STREAM, 'MAXLEN', '~', MAX_LENGTH, '*', ...fields));
  }
}
