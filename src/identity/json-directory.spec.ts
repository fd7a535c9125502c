import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonDirectory, parseDirectory } from './json-directory';

const ALICE = {
  sub: 'alice',
  username: 'alice',
  identities: ['+905321110001'],
  fixedNumber: '+902121110001',
  groups: ['sales'],
  manages: [],
};

describe('parseDirectory', () => {
  const parse = (users: unknown) => parseDirectory({ users }, 'dir.json');

  it('reads entries and fills defaults', () => {
    expect(parse([ALICE, { sub: 'erin' }])).toEqual([
      ALICE,
      { sub: 'erin', username: 'erin', identities: [], fixedNumber: undefined, groups: [], manages: [] },
    ]);
  });

  it.each([
    [null, 'dir.json: expected {"users": [...]}'],
    [{}, 'dir.json: expected {"users": [...]}'],
    [{ users: {} }, 'dir.json: expected {"users": [...]}'],
  ])('refuses %j', (raw, message) => {
    expect(() => parseDirectory(raw, 'dir.json')).toThrow(message);
  });

  it.each([
    [[{ username: 'x' }], 'dir.json: users[0].sub must be a non-empty string'],
    [[{ sub: '' }], 'dir.json: users[0].sub must be a non-empty string'],
    [[null], 'dir.json: users[0].sub must be a non-empty string'],
    [[ALICE, { ...ALICE }], 'dir.json: users[1].sub "alice" appears twice'],
    [[{ sub: 'a', identities: '+905321110001' }], 'dir.json: users[0].identities must be a list of strings'],
    [[{ sub: 'a', identities: [905321110001] }], 'dir.json: users[0].identities must be a list of strings'],
    [[{ sub: 'a', identities: ['05321110001', '+905321110001', '+0123'] }], 'dir.json: users[0].identities are not E.164 numbers: 05321110001, +0123'],
    [[{ sub: 'a', fixedNumber: '2121110001' }], 'dir.json: users[0].fixedNumber must be an E.164 number'],
    [[{ sub: 'a', fixedNumber: 902121110001 }], 'dir.json: users[0].fixedNumber must be an E.164 number'],
    [[{ sub: 'a', groups: 'sales' }], 'dir.json: users[0].groups must be a list of strings'],
    [[{ sub: 'a', manages: [1] }], 'dir.json: users[0].manages must be a list of strings'],
  ])('refuses %j', (users, message) => {
    expect(() => parse(users)).toThrow(message);
  });
});

describe('JsonDirectory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vora-directory-'));
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };

  it('finds entries by sub and managers by group', async () => {
    const carol = { sub: 'carol', identities: ['+905321110003'], groups: ['sales'], manages: ['sales', 'support'] };
    const directory = JsonDirectory.fromFile(write('ok.json', JSON.stringify({ users: [ALICE, carol] })));
    expect(await directory.findBySub('alice')).toEqual(ALICE);
    expect(await directory.findBySub('mallory')).toBeUndefined();
    expect((await directory.managersOf('sales')).map((e) => e.sub)).toEqual(['carol']);
    expect((await directory.managersOf('support')).map((e) => e.sub)).toEqual(['carol']);
    expect(await directory.managersOf('billing')).toEqual([]);
  });

  it('loads the shipped sample directory', async () => {
    const directory = JsonDirectory.fromFile(join(__dirname, '../../config/directory.json'));
    expect(await directory.findBySub('alice')).toBeDefined();
  });

  it('names the file when it cannot be read', () => {
    const missing = join(dir, 'missing.json');
    expect(() => JsonDirectory.fromFile(missing)).toThrow(`DIRECTORY_FILE ${missing} cannot be read as JSON`);
  });

  it('names the file when it is not JSON', () => {
    const file = write('bad.json', '{"users": [');
    expect(() => JsonDirectory.fromFile(file)).toThrow(`DIRECTORY_FILE ${file} cannot be read as JSON`);
  });

  it('names the file and the entry when an entry is wrong', () => {
    const file = write('wrong.json', JSON.stringify({ users: [{ sub: 'a', identities: ['123'] }] }));
    expect(() => JsonDirectory.fromFile(file)).toThrow(`${file}: users[0].identities are not E.164 numbers: 123`);
  });
});

describe('JsonDirectory reload', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vora-directory-reload-'));
  const BOB = { sub: 'bob', identities: ['+905321110002'] };

  it('reads the file again, and keeps the directory in force when the new file is wrong', async () => {
    const file = join(dir, 'moving.json');
    writeFileSync(file, JSON.stringify({ users: [ALICE, BOB] }));
    const directory = JsonDirectory.fromFile(file);
    writeFileSync(file, JSON.stringify({ users: [{ ...ALICE, identities: [] }, { ...BOB, identities: ['+905321110002', '+905321110001'] }] }));
    expect((await directory.findBySub('alice'))?.identities).toEqual(['+905321110001']);
    expect(directory.reload()).toBe(true);
    expect((await directory.findBySub('alice'))?.identities).toEqual([]);
    expect((await directory.findBySub('bob'))?.identities).toEqual(['+905321110002', '+905321110001']);

    writeFileSync(file, '{"users": [');
    expect(directory.reload()).toBe(false);
    expect((await directory.findBySub('bob'))?.identities).toEqual(['+905321110002', '+905321110001']);
  });

  it('reloads on SIGHUP while the module lives, and not after', async () => {
    const file = join(dir, 'hangup.json');
    writeFileSync(file, JSON.stringify({ users: [ALICE] }));
    const directory = JsonDirectory.fromFile(file);
    directory.onModuleInit();
    try {
      writeFileSync(file, JSON.stringify({ users: [ALICE, BOB] }));
      const reloaded = new Promise((resolve) => process.once('SIGHUP', resolve));
      process.emit('SIGHUP');
      await reloaded;
      expect(await directory.findBySub('bob')).toBeDefined();
    } finally {
      directory.onModuleDestroy();
    }
    expect(process.listeners('SIGHUP')).toEqual([]);
  });
});
