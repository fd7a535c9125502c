import { Injectable } from '@nestjs/common';

/** Set when shutdown begins, so that readiness fails before connections close. */
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
