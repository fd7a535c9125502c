import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';

/** This process's name among the instances: readable in Redis, unique across restarts. */
export const newInstanceId = (): string => `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

/**
 * The gateway instances alive now. With Redis each instance beats into a
 * registry and drops out a few beats after it stops (or is killed); in
 * memory mode this process is the only one.
 */
export abstract class Instances {
  abstract readonly self: string;
  /** As of the latest beat; never less than 1 (this one). */
  abstract count(): number;
  /** Whether the instance beat recently; this one always is. */
  abstract isAlive(instanceId: string): boolean;
  /** Every instance alive as of the latest beat, this one included. */
  abstract alive(): readonly string[];
  /**
   * An instance was just heard from (it published): alive, even if it
   * started after this one's latest beat.
   */
  abstract heardFrom(instanceId: string): void;
  /**
   * Called once the others count this instance alive again after its
   * registry entry had lapsed (the store was away for longer than the
   * entry lives): meanwhile they kept its sockets' deliveries in the
   * buffers only, so the sockets read what they missed.
   */
  abstract onRejoined(listener: () => void): void;
}
