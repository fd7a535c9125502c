import { Injectable } from '@nestjs/common';
import { Session, SessionCloseCode } from './session';

/** Cluster bus topic: a session's socket must close, wherever it is held. */
export const SESSION_CLOSED_TOPIC = 'vora:session-closed';

export interface SessionClosed {
  readonly sessionId: string;
  readonly code: SessionCloseCode;
  /** The close reason the socket is given. */
  readonly reason?: string;
  /** Whose subscription may have changed with it (logout deletes it): caches evict it. */
  readonly sub: string;
  readonly identity: string;
}

type EndedHandler = (session: Session) => Promise<void> | void;

/**
 * In-process hooks for what must happen exactly once when a session ends
 * (e.g. dropping its event buffer). Higher modules register here; the session
 * module never imports them.
 */
@Injectable()
export class SessionEvents {
  private readonly endedHandlers: EndedHandler[] = [];

  onEnded(handler: EndedHandler): void {
    this.endedHandlers.push(handler);
  }

  async ended(session: Session): Promise<void> {
    await Promise.all(this.endedHandlers.map((handler) => handler(session)));
  }
}
