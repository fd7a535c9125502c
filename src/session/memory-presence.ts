import { OnModuleDestroy } from '@nestjs/common';
import { ExpiringMap } from '../common/expiring-map';
import { Presence } from './presence';

export class MemoryPresence extends Presence implements OnModuleDestroy {
  private readonly sockets = new ExpiringMap<string, string>();

  onModuleDestroy(): void {
    this.sockets.close();
  }

  async connected(sessionId: string, connectionId: string, ttlMs: number): Promise<void> {
    this.sockets.set(sessionId, connectionId, ttlMs);
  }

  async disconnected(sessionId: string, connectionId: string): Promise<void> {
    if (this.sockets.get(sessionId) === connectionId) this.sockets.delete(sessionId);
  }

  async isConnected(sessionId: string): Promise<boolean> {
    return this.sockets.get(sessionId) !== undefined;
  }
}
