import { Controller, Get, HttpCode, ServiceUnavailableException } from '@nestjs/common';
import { ApiNoContentResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheckResult, HealthCheckService, HealthIndicatorResult } from '@nestjs/terminus';
import { Public } from '../auth/access.decorator';
import { ApiErrorResponse } from '../common/api-responses';
import { VoraError } from '../common/vora-error';
import { DrainIndicator, KeysIndicator, ProcessIndicator, StoreIndicator } from './indicators';

type Check = () => Promise<HealthIndicatorResult> | HealthIndicatorResult;

@ApiTags('health')
@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly process: ProcessIndicator,
    private readonly store: StoreIndicator,
    private readonly keys: KeysIndicator,
    private readonly drain: DrainIndicator,
  ) {}

  /**
   * Never depends on Redis or the issuer: restarting would not fix them. One
   * check only, asked directly: probes call this often, and Terminus's
   * aggregation costs more than the check.
   */
  @Get('liveness')
  @HttpCode(204)
  @ApiOperation({ summary: 'Liveness', description: 'Check liveness status of the service.' })
  @ApiNoContentResponse({ description: 'No Content' })
  @ApiErrorResponse(503, 'Service Unavailable', { summary: 'A stalled event loop', message: 'not alive: process (event loop stalled for 5210 ms)' })
  liveness(): void {
    const problem = this.process.problem();
    if (problem) throw VoraError.unavailable(`not alive: process (${problem})`);
  }

  @Get('readiness')
  @HttpCode(204)
  @ApiOperation({ summary: 'Readiness', description: 'Check readiness status of the service.' })
  @ApiNoContentResponse({ description: 'No Content' })
  @ApiErrorResponse(503, 'Service Unavailable', {
    summary: 'Redis unreachable',
    message: 'not ready: store (store unreachable: Connection is closed.)',
  })
  async readiness(): Promise<void> {
    await this.run('not ready', [() => this.drain.check(), () => this.store.check(), () => this.keys.check()]);
  }

  /** Terminus reports failures in its own shape; the seed wants its error body naming each check. */
  private async run(what: string, checks: Check[]): Promise<void> {
    try {
      await this.health.check(checks);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      const result = error.getResponse() as HealthCheckResult;
      const failures = Object.entries(result.error ?? {}).map(
        ([name, detail]) => `${name} (${(detail as { message?: string }).message ?? 'down'})`,
      );
      throw VoraError.unavailable(`${what}: ${failures.join(', ')}`);
    }
  }
}
