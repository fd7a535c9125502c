import { Writable } from 'node:stream';

/** A pino destination that keeps every JSON line, for tests that read the logs. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    done();
  }

  get records(): Array<Record<string, any>> {
    return this.lines.map((line) => JSON.parse(line));
  }

  get text(): string {
    return this.lines.join('\n');
  }
}
