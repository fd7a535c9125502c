import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventCatalogue } from './catalogue';

const dir = mkdtempSync(join(tmpdir(), 'vora-catalogue-'));
function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('EventCatalogue', () => {
  describe('the shipped catalogue (SPEC section 5)', () => {
    const catalogue = EventCatalogue.fromFile(join(__dirname, '../../config/events.json'));
    const CALL = [
      'CallOriginated',
      'CallDelivered',
      'CallEstablished',
      'CallHeld',
      'CallRetrieved',
      'CallTransferred',
      'CallConferenced',
      'CallDiverted',
      'CallCleared',
      'CallFailed',
    ];
    const FEATURE = ['DoNotDisturbChanged', 'CallForwardingChanged', 'PresenceChanged'];

    it('gives users the call and feature events and VoicemailWaiting', () => {
      expect(catalogue.allowedFor('user')).toEqual([...CALL, ...FEATURE, 'VoicemailWaiting']);
    });

    it('gives managers the group events too', () => {
      expect(catalogue.allowedFor('manager')).toEqual([...CALL, ...FEATURE, 'VoicemailWaiting', 'AgentStateChanged', 'QueueStatusChanged']);
    });

    it('gives OTT callers the call events and VoicemailWaiting', () => {
      expect(catalogue.allowedFor('ott')).toEqual([...CALL, 'VoicemailWaiting']);
    });

    it('gives administrators nothing', () => {
      expect(catalogue.allowedFor('admin')).toEqual([]);
    });

    it('knows each event and its target', () => {
      expect(catalogue.get('CallDelivered')).toEqual({ name: 'CallDelivered', target: 'identity', modes: ['user', 'manager', 'ott'] });
      expect(catalogue.get('QueueStatusChanged')).toEqual({ name: 'QueueStatusChanged', target: 'group', modes: ['manager'] });
      expect(catalogue.get('CallTeleported')).toBeUndefined();
      expect(catalogue.get('constructor')).toBeUndefined();
    });
  });

  it('keeps the JSON Schema of each event\'s data, and any object for events that name none', () => {
    const shipped = EventCatalogue.fromFile(join(__dirname, '../../config/events.json'));
    expect(shipped.dataSchema('CallDelivered')).toMatchObject({ type: 'object', required: ['callId', 'direction', 'remoteParty'] });
    expect(shipped.entries.map((e) => e.name)).toHaveLength(16);
    const bare = EventCatalogue.fromFile(file('bare.json', { events: [{ name: 'Ping', target: 'identity', modes: ['user'] }] }));
    expect(bare.dataSchema('Ping')).toEqual({ type: 'object' });
  });

  it.each([
    [{ type: 'string' }, '.data must be a JSON Schema of an object'],
    [[], '.data must be a JSON Schema of an object'],
    [{ type: 'object', properties: { n: 1 } }, '.data.properties must map each field to its JSON Schema'],
  ])('refuses a data schema %j', (data, message) => {
    const path = file('bad-data.json', { events: [{ name: 'Ping', target: 'identity', modes: ['user'], data }] });
    expect(() => EventCatalogue.fromFile(path)).toThrow(`${path}: events[0]${message}`);
  });

  it('keeps operator additions', () => {
    const catalogue = EventCatalogue.fromFile(
      file('extended.json', { events: [{ name: 'ParkedCallReminder', target: 'identity', modes: ['user', 'ott'] }] }),
    );
    expect(catalogue.allowedFor('ott')).toEqual(['ParkedCallReminder']);
    expect(catalogue.allowedFor('manager')).toEqual([]);
  });

  it('names the file when it cannot be read or parsed', () => {
    const missing = join(dir, 'missing.json');
    expect(() => EventCatalogue.fromFile(missing)).toThrow(`EVENTS_FILE ${missing} cannot be read as JSON`);
    const broken = file('broken.json', '{"events": [');
    expect(() => EventCatalogue.fromFile(broken)).toThrow(`EVENTS_FILE ${broken} cannot be read as JSON`);
  });

  it.each([
    ['shape', {}, ': expected {"events": [...]}'],
    ['shape', { events: {} }, ': expected {"events": [...]}'],
    ['name', { events: [{ target: 'identity', modes: [] }] }, ': events[0].name must be an alphanumeric event name'],
    ['name', { events: [{ name: 'Call Delivered', target: 'identity', modes: [] }] }, ': events[0].name must be an alphanumeric event name'],
    ['target', { events: [{ name: 'CallDelivered', target: 'everyone', modes: [] }] }, ': events[0].target must be "identity" or "group"'],
    ['modes', { events: [{ name: 'CallDelivered', target: 'identity', modes: ['platform'] }] }, ': events[0].modes must list modes among admin, manager, user, ott'],
    ['modes', { events: [{ name: 'CallDelivered', target: 'identity' }] }, ': events[0].modes must list modes among admin, manager, user, ott'],
  ])('refuses a bad %s', (_what, content, message) => {
    const path = file('bad.json', content);
    expect(() => EventCatalogue.fromFile(path)).toThrow(`${path}${message}`);
  });
});
