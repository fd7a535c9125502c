import { PendingCall } from './holdup';
import { PendingCallStore } from './pending-calls.store';

export class MemoryPendingCallStore extends PendingCallStore {
  private readonly calls = new Map<string, PendingCall>();

  async begin(call: PendingCall): Promise<boolean> {
    if (this.calls.has(call.callId)) return false;
    this.calls.set(call.callId, call);
    return true;
  }

  async get(callId: string): Promise<PendingCall | undefined> {
    return this.calls.get(callId);
  }

  async settle(callId: string): Promise<PendingCall | undefined> {
    const call = this.calls.get(callId);
    this.calls.delete(callId);
    return call;
  }

  async pendingFor(sessionId: string): Promise<PendingCall[]> {
    return [...this.calls.values()].filter((call) => call.sessionIds.includes(sessionId));
  }

  async due(now: number): Promise<PendingCall[]> {
    return [...this.calls.values()].filter((call) => call.deadline <= now);
  }
}
