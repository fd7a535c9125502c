import { Module } from '@nestjs/common';
import { ConsoleController } from './console.controller';

/** GET /console: loaded only when CONSOLE is on (by default, with the development issuer). */
@Module({ controllers: [ConsoleController] })
export class ConsoleModule {}
