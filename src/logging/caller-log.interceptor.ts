import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { Observable } from 'rxjs';

/** Adds the caller's `sub` to every log line of an authenticated request, the response line included. */
@Injectable()
export class CallerLogInterceptor implements NestInterceptor {
  constructor(private readonly logger: PinoLogger) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() === 'http') {
      const sub = context.switchToHttp().getRequest<FastifyRequest>().caller?.sub;
      if (sub) this.logger.assign({ sub });
    }
    return next.handle();
  }
}
