import { Module } from '@nestjs/common';
import { DrainState } from './drain-state';
import { GracefulShutdown } from './graceful-shutdown';

/** Process lifecycle: the one drain flag (readiness and the WebSocket handshake read it) and the drain of the HTTP server. */
@Module({
  providers: [DrainState, GracefulShutdown],
  exports: [DrainState, GracefulShutdown],
})
export class LifecycleModule {}
