/**
 * Regenerates the "real output" blocks of README.md from a real run:
 *
 *   npm run readme-output             # prints the blocks
 *   npm run readme-output -- --write  # and puts them into README.md
 *
 * It starts the gateway with the embedded defaults on a free port, runs the
 * README's own commands (curl, npm run token, npm run ws) in bash with
 * localhost:3000 pointed at that port, and prints what they printed. Each
 * block sits in README.md between `<!-- readme-output: NAME -->` and
 * `<!-- /readme-output -->`; test/readme.e2e-spec.ts checks that the README
 * still matches a fresh run (timestamps, tokens and ids aside).
 */
import { ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config/load-config';

const ROOT = join(__dirname, '..');
const README = join(ROOT, 'README.md');

/** Headers that change with every request or belong to the connection, not to the answer. */
const ALWAYS_LEFT_OUT = ['Date', 'Connection', 'Keep-Alive', 'x-request-id'];

interface Shell {
  /** Runs a README command, returning what it printed on stdout (in a terminal, curl shows no progress meter). */
  run(command: string): Promise<string>;
  /** Runs `NAME=$(...)` and keeps NAME for the commands after it. */
  assign(command: string): Promise<void>;
}

function shell(port: number, devKeyDir: string): Shell {
  const vars: Record<string, string> = {};
  const exec = (command: string) =>
    new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      const script = command.replaceAll('localhost:3000', `localhost:${port}`);
      execFile('bash', ['-c', script], { cwd: ROOT, env: { ...process.env, ...vars, DEV_KEY_DIR: devKeyDir, PORT: String(port) } }, (error, stdout, stderr) =>
        error ? reject(new Error(`${command}\n${stderr || error.message}`)) : resolve({ stdout, stderr }),
      );
    });
  return {
    async run(command) {
      return (await exec(command)).stdout;
    },
    async assign(command) {
      const name = command.match(/^([A-Z_]+)=/)?.[1];
      if (!name) throw new Error(`not an assignment: ${command}`);
      vars[name] = (await exec(`${command}\nprintf %s "$${name}"`)).stdout;
    },
  };
}

/** `curl -i` output split into its status line, headers and body. */
interface Answer {
  status: string;
  headers: Array<[name: string, value: string]>;
  body: string;
}

function parseAnswer(output: string): Answer {
  const [head, ...body] = output.replace(/\r\n/g, '\n').split('\n\n');
  const [status, ...lines] = head.split('\n');
  return { status, headers: lines.map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]), body: body.join('\n\n') };
}

const fence = (lang: string, lines: string[]) => ['```' + lang, ...lines, '```'].join('\n');

/** A `curl -i` step: the command, then the answer without the headers named in the README's note. */
class Transcript {
  readonly answers: Answer[] = [];
  private readonly leftOut = new Set(ALWAYS_LEFT_OUT.map((name) => name.toLowerCase()));

  record(output: string): Answer {
    const answer = parseAnswer(output);
    this.answers.push(answer);
    return answer;
  }

  /** Headers every answer of the run carried with the same value: shown once, left out of each block. */
  sharedHeaders(): Array<[string, string]> {
    const [first, ...rest] = this.answers;
    return first.headers.filter(
      ([name, value]) =>
        !this.leftOut.has(name.toLowerCase()) && rest.every((answer) => answer.headers.some(([n, v]) => n === name && v === value)),
    );
  }

  render(command: string, answer: Answer): string[] {
    const shared = new Set(this.sharedHeaders().map(([name]) => name));
    const headers = answer.headers.filter(([name]) => !this.leftOut.has(name.toLowerCase()) && !shared.has(name));
    return [`$ ${command}`, answer.status, ...headers.map(([name, value]) => `${name}: ${value}`), ...(answer.body ? ['', answer.body] : [])];
  }
}

/** A terminal running `npm run ws`: what it printed, and what was typed, in order. */
class SocketTerminal {
  readonly lines: string[] = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private output = '';
  private readonly closed: Promise<void>;

  constructor(command: string, env: Record<string, string>) {
    this.lines.push(`$ ${command}`);
    this.child = spawn('bash', ['-c', command], { cwd: ROOT, env: { ...process.env, ...env } });
    const keep = (chunk: Buffer) => {
      this.output += chunk;
      const complete = this.output.split('\n');
      this.output = complete.pop()!;
      this.lines.push(...complete);
    };
    this.child.stdout.on('data', keep);
    this.child.stderr.on('data', keep);
    this.closed = new Promise((resolve) => this.child.once('close', () => resolve()));
  }

  async waitFor(text: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!this.lines.some((line) => line.includes(text))) {
      if (Date.now() > deadline) throw new Error(`npm run ws never printed ${text}:\n${this.lines.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Types a line (the terminal shows it), then waits for the answer it causes. */
  async type(line: string, answer: string): Promise<void> {
    this.lines.push(line);
    this.child.stdin.write(`${line}\n`);
    await this.waitFor(answer);
  }

  async exit(): Promise<void> {
    await this.closed;
  }
}

/** Runs the walk-through once against a fresh gateway and returns every README block by name. */
export async function generateReadmeBlocks(): Promise<Map<string, string>> {
  const devKeyDir = mkdtempSync(join(tmpdir(), 'vora-readme-'));
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DEV_KEY_DIR: devKeyDir });
  const app = await createApp(config, { silent: true });
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const blocks = new Map<string, string>();
  try {
    const one = shell(port, devKeyDir);
    const two = shell(port, devKeyDir);
    const http = new Transcript();
    const steps: Array<[block: string, command: string, answer: Answer]> = [];
    const curl = async (block: string, command: string) => steps.push([block, command, http.record(await one.run(command))]);
    const plain = async (commands: string[]) => {
      const lines: string[] = [];
      for (const command of commands) lines.push(`$ ${command}`, ...(await one.run(command)).replace(/\n?$/, '').split('\n'));
      return fence('', lines);
    };

    const modes = (sub: string, scope: string) =>
      `curl -s localhost:3000/identity -H "Authorization: Bearer $(npm run -s token -- --sub ${sub} --scope ${scope})"`;
    blocks.set('modes', await plain([modes('carol', 'vora:manager'), modes('oscar', 'vora:ott'), modes('erin', 'vora:admin')]));

    await one.assign('TOKEN=$(npm run -s token -- --sub alice --scope vora:user)');
    await curl('identity', 'curl -i localhost:3000/identity -H "Authorization: Bearer $TOKEN"');
    await curl('options', 'curl -i -X OPTIONS localhost:3000/identity');
    await curl(
      'setup',
      `curl -i -X POST localhost:3000/identity/setup -H "Authorization: Bearer $TOKEN" \\\n    -H 'Content-Type: application/json' -d '{"connectionType":"WEB","identity":"+905321110001"}'`,
    );
    const setupAs = (body: string) =>
      `curl -s -X POST localhost:3000/identity/setup -H "Authorization: Bearer $TOKEN" \\\n    -H 'Content-Type: application/json' -d '${body}'`;
    blocks.set(
      'setup-refused',
      await plain([setupAs('{"connectionType":"WEB","identity":"+905321110003"}'), setupAs('{"connectionType":"WEB","identity":"+905321110001","holdUpMode":true}')]),
    );
    await curl(
      'subscription',
      `curl -i -X POST localhost:3000/identity/%2B905321110001/eventSubscription -H "Authorization: Bearer $TOKEN" \\\n    -H 'Content-Type: application/json' -d '{"subscribeAll":false,"events":["CallDelivered","CallCleared"]}'`,
    );

    // The second terminal: a session of its own, and the socket.
    const setWsToken = [
      'TOKEN=$(npm run -s token -- --sub alice --scope vora:user)',
      `WS_TOKEN=$(curl -s -X POST localhost:3000/identity/setup -H "Authorization: Bearer $TOKEN" \\\n    -H 'Content-Type: application/json' -d '{"connectionType":"WEB","identity":"+905321110001"}' \\\n  | node -pe 'JSON.parse(require("fs").readFileSync(0)).webSocketToken')`,
    ];
    for (const command of setWsToken) await two.assign(command);
    blocks.set('ws-token', fence('sh', setWsToken));
    const wsToken = (await two.run('printf %s "$WS_TOKEN"')).trim();
    const socket = new SocketTerminal('npm run -s ws -- --token "$WS_TOKEN"', { WS_TOKEN: wsToken, PORT: String(port) });
    await socket.waitFor('"welcome"');
    await socket.type('ping', '"pong"');

    await one.assign('CORE=$(npm run -s token -- --sub core --scope vora:events:publish)');
    await curl(
      'events',
      `curl -i -X POST localhost:3000/events -H "Authorization: Bearer $CORE" -H 'Content-Type: application/json' \\\n    -d '{"event":"CallDelivered","identity":"+905321110001","data":{"callId":"c-1","direction":"terminating","remoteParty":"+905551112233"}}'`,
    );
    await socket.waitFor('"type":"event"');
    await curl('liveness', 'curl -i localhost:3000/health/liveness');
    await curl('readiness', 'curl -i localhost:3000/health/readiness');
    await curl('logout', 'curl -i -X POST localhost:3000/logout/%2B905321110001 -H "Authorization: Bearer $TOKEN"');
    await socket.exit();
    await curl('logout', 'curl -i -X POST localhost:3000/logout/%2B905321110001 -H "Authorization: Bearer $TOKEN"');
    await curl('unauthorized', 'curl -i localhost:3000/identity');
    blocks.set('ws', fence('', socket.lines));

    for (const [block, command, answer] of steps) {
      const lines = http.render(command, answer);
      const previous = blocks.get(block);
      blocks.set(block, previous ? `${previous.slice(0, -'\n```'.length)}\n\n${lines.join('\n')}\n\`\`\`` : fence('', lines));
    }
    const shared = http.sharedHeaders();
    blocks.set(
      'headers',
      [
        wrap(
          `The \`curl -i\` blocks leave out ${ALWAYS_LEFT_OUT.map((name) => `\`${name}\``).join(', ').replace(/, ([^,]*)$/, ' and $1')} ` +
            '(the last is a new id per request, or the plain `X-Request-Id` the request sent, echoed back), and these headers, ' +
            'which every answer of the run carried with the same values:',
        ),
        '',
        fence('', shared.map(([name, value]) => `${name}: ${value}`)),
      ].join('\n'),
    );
  } finally {
    await app.close();
  }
  return blocks;
}

/** Prose at the README's width. */
function wrap(text: string, width = 78): string {
  const lines = [''];
  for (const word of text.split(' ')) {
    const last = lines.length - 1;
    if (lines[last] && lines[last].length + 1 + word.length > width) lines.push(word);
    else lines[last] = lines[last] ? `${lines[last]} ${word}` : word;
  }
  return lines.join('\n');
}

const MARKER = /^([ \t]*)<!-- readme-output: ([a-z-]+) -->\n[\s\S]*?^[ \t]*<!-- \/readme-output -->$/gm;

/** The README's blocks by name, as they stand. */
export function readmeBlocks(readme: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const [whole, indent, name] of readme.matchAll(MARKER)) {
    const body = whole.split('\n').slice(1, -1).map((line) => line.slice(indent.length));
    found.set(name, body.join('\n').trim());
  }
  return found;
}

/** The README with each marked block replaced by the generated one, at the marker's indentation. */
export function withBlocks(readme: string, blocks: Map<string, string>): string {
  return readme.replace(MARKER, (_whole, indent: string, name: string) => {
    const block = blocks.get(name);
    if (block === undefined) throw new Error(`README.md has a block "${name}" that this script does not make`);
    const indented = block.split('\n').map((line) => (line ? indent + line : line));
    return [`${indent}<!-- readme-output: ${name} -->`, '', ...indented, '', `${indent}<!-- /readme-output -->`].join('\n');
  });
}

/** What differs from run to run: timestamps, tokens, ids. */
export function normalised(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
    .replace(/"webSocketToken":"[A-Za-z0-9_-]+"/g, '"webSocketToken":"<token>"')
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { write: { type: 'boolean' } } });
  const blocks = await generateReadmeBlocks();
  if (values.write) {
    writeFileSync(README, withBlocks(readFileSync(README, 'utf8'), blocks));
    console.log(`README.md: ${blocks.size} blocks written`);
    return;
  }
  for (const [name, block] of blocks) console.log(`<!-- readme-output: ${name} -->\n${block}\n`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: Error) => {
      console.error(error.message);
      process.exit(1);
    },
  );
}
