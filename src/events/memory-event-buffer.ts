import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { ExpiringMap } from '../common/expiring-map';
import { GatewayConfig } from '../config/gateway-config';
import { frameOf } from './envelope';
import { AppendEntry, BufferedEvent, BufferSlice, Delivery, EventBuffer, isNewerSource } from './event-buffer';

/** A ring of the newest frames of one session. */
class Ring {
  nextId = 1;
  lastWritten = 0;
  /** The newest stream entry id taken (see EventBuffer.append). */
  lastSource?: string;
  private readonly frames: string[] = [];
  private count = 0;

  constructor(private readonly capacity: number) {}

  push(tail: string): BufferedEvent {
    const id = this.nextId++;
    const frame = frameOf(id, tail);
    // Slots fill in order, so the array grows only as far as the session's traffic needs.
    this.frames[(id - 1) % this.capacity] = frame;
    this.count = Math.min(this.count + 1, this.capacity);
    return { id, frame };
  }

  continueFrom(lastId: number): void {
    if (this.nextId > lastId) return;
    this.nextId = lastId + 1;
    this.count = 0;
  }

  slice(afterId: number): BufferSlice {
    const newestId = this.nextId - 1;
    const oldestId = this.count ? newestId - this.count + 1 : 0;
    const events: BufferedEvent[] = [];
    if (!this.count) return { events, oldestId, newestId };
    for (let id = Math.max(afterId + 1, oldestId); id <= newestId; id++) {
      events.push({ id, frame: this.frames[(id - 1) % this.capacity] });
    }
    return { events, oldestId, newestId };
  }
}

@Injectable()
export class MemoryEventBuffer extends EventBuffer implements OnModuleDestroy {
  private readonly rings = new ExpiringMap<string, Ring>();
  private readonly capacity: number;
  private readonly ttlMs: number;

  constructor(config: GatewayConfig) {
    super();
    this.capacity = config.ws.eventBufferSize;
    this.ttlMs = config.session.idleTtlS * 1000;
  }

  onModuleDestroy(): void {
    this.rings.close();
  }

  async append(entries: readonly AppendEntry[]): Promise<Array<Delivery | undefined>> {
    return entries.map(({ sessionId, tail, sourceId }) => {
      let ring = this.rings.get(sessionId);
      if (!ring) this.rings.set(sessionId, (ring = new Ring(this.capacity)), this.ttlMs);
      else this.rings.touch(sessionId, this.ttlMs);
      if (sourceId !== undefined) {
        if (ring.lastSource !== undefined && !isNewerSource(sourceId, ring.lastSource)) return undefined;
        ring.lastSource = sourceId;
      }
      return { sessionId, ...ring.push(tail) };
    });
  }

  async readAfter(sessionId: string, afterId: number): Promise<BufferSlice> {
    return this.rings.get(sessionId)?.slice(afterId) ?? { events: [], oldestId: 0, newestId: 0 };
  }

  async lastWritten(sessionId: string): Promise<number> {
    return this.rings.get(sessionId)?.lastWritten ?? 0;
  }

  async markWritten(sessionId: string, id: number): Promise<void> {
    const ring = this.rings.get(sessionId);
    if (ring && id > ring.lastWritten) ring.lastWritten = id;
  }

  async touch(sessionId: string): Promise<void> {
    this.rings.touch(sessionId, this.ttlMs);
  }

  async continueFrom(sessionId: string, lastId: number): Promise<void> {
    let ring = this.rings.get(sessionId);
    if (!ring) this.rings.set(sessionId, (ring = new Ring(this.capacity)), this.ttlMs);
    ring.continueFrom(lastId);
  }

  async drop(sessionId: string): Promise<void> {
    this.rings.delete(sessionId);
  }
}
