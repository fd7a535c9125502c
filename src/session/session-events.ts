import { Injectable } from '@nestjs/common';
import { Session } from './session';

/**
 * What happens in a session's life, heard in this process only and awaited:
 * for work that must happen exactly once, in step with the request that
 * caused it (the identity's subscription, the session's event buffer).
 * Higher modules listen here; the session module never imports them. What
 * every instance must hear goes through ClusterEvents instead.
 */
export interface SessionLifecycle {
  /** Setup opened it (after any session it replaced ended). */
  opened: Session;
  /** A socket keeps it alive. */
  kept: Session;
  /** The owner no longer keeps a subscription on the identity: a logout, or the right to it lost. */
  subscriptionReleased: { readonly sub: string; readonly identity: string };
  /** It ended: logged out, replaced, revoked or expired. */
  ended: Session;
}

type Handler<Name extends keyof SessionLifecycle> = (event: SessionLifecycle[Name]) => Promise<void> | void;

@Injectable()
export class SessionEvents {
  private readonly handlers: { [Name in keyof SessionLifecycle]: Handler<Name>[] } = {
    opened: [],
    kept: [],
    subscriptionReleased: [],
    ended: [],
  };

  on<Name extends keyof SessionLifecycle>(name: Name, handler: Handler<Name>): void {
    this.handlers[name].push(handler);
  }

  /** Resolves once every handler has. */
  async emit<Name extends keyof SessionLifecycle>(name: Name, event: SessionLifecycle[Name]): Promise<void> {
    const handlers: Handler<Name>[] = this.handlers[name];
    await Promise.all(handlers.map((handler) => handler(event)));
  }
}
