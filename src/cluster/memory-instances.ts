import { Injectable } from '@nestjs/common';
import { Instances, newInstanceId } from './instances';

@Injectable()
export class MemoryInstances extends Instances {
  readonly self = newInstanceId();

  count(): number {
    return 1;
  }

  isAlive(instanceId: string): boolean {
    return instanceId === this.self;
  }

  alive(): readonly string[] {
    return [this.self];
  }

  /** There is no other. */
  heardFrom(): void {}

  /** Its only instance is never away. */
  onRejoined(): void {}
}
