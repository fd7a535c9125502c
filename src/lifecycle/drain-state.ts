import { Injectable } from '@nestjs/common';

/**
 * Set when shutdown begins: readiness fails before connections close, and
 * no new WebSocket is accepted. The process's one drain flag.
 */
@Injectable()
export class DrainState {
  private draining = false;

  begin(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }
}
