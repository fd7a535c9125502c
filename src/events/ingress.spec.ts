import { VoraError } from '../common/vora-error';
import { EventCatalogue } from '../catalogue/catalogue';
import { frameOf, frameTail } from './envelope';
import { MAX_BATCH, MAX_DATA_BYTES, parsePublished, PublishedEvent } from './ingress';
import { fromFields } from './ingress-stream';

const catalogue = new EventCatalogue([
  { name: 'CallDelivered', target: 'identity', modes: ['user', 'manager', 'ott'] },
  { name: 'PresenceChanged', target: 'identity', modes: ['user', 'manager'] },
  { name: 'AgentStateChanged', target: 'group', modes: ['manager'] },
]);
const NOW = new Date('2026-11-28T10:00:00.000Z');
const ALICE = '+905321110001';
const call = { event: 'CallDelivered', identity: ALICE, data: { callId: 'c-1' } };

const parse = (body: unknown) => parsePublished(body, catalogue, NOW);
/** The 400 a body is refused with. */
const refusal = (body: unknown): string => {
  try {
    parse(body);
  } catch (error) {
    expect(error).toBeInstanceOf(VoraError);
    expect((error as VoraError).status).toBe(400);
    return (error as VoraError).message;
  }
  throw new Error('the body was accepted');
};
const BAD_DATE = 'occurredAt must be an ISO-8601 date-time with an offset, e.g. 2026-11-28T10:15:30.120Z';

describe('parsePublished', () => {
  it('takes one event', () => {
    expect(parse(call)).toEqual<PublishedEvent[]>([
      {
        event: 'CallDelivered',
        identity: ALICE,
        group: undefined,
        timestamp: NOW.toISOString(),
        data: { callId: 'c-1' },
        dataJson: '{"callId":"c-1"}',
      },
    ]);
  });

  it('takes a batch, keeping its order', () => {
    const events = parse([call, { event: 'AgentStateChanged', group: 'sales', data: { state: 'busy' } }, { ...call, data: { n: 3 } }]);
    expect(events.map((e) => [e.event, e.identity, e.group, e.data])).toEqual([
      ['CallDelivered', ALICE, undefined, { callId: 'c-1' }],
      ['AgentStateChanged', undefined, 'sales', { state: 'busy' }],
      ['CallDelivered', ALICE, undefined, { n: 3 }],
    ]);
  });

  it(`takes ${MAX_BATCH} events and refuses ${MAX_BATCH + 1}`, () => {
    expect(parse(Array(MAX_BATCH).fill(call))).toHaveLength(MAX_BATCH);
    expect(refusal(Array(MAX_BATCH + 1).fill(call))).toBe('a batch holds at most 500 events, got 501');
  });

  it('refuses an empty batch', () => {
    expect(refusal([])).toBe('the batch is empty: send one event or an array of 1 to 500');
  });

  it('names the first bad item of a batch, or "event" for a single one', () => {
    expect(refusal([call, { event: 'Nope', identity: ALICE }, { event: 'Worse' }])).toBe('events[1]: unknown event "Nope"');
    expect(refusal({ event: 'Nope', identity: ALICE })).toBe('event: unknown event "Nope"');
  });

  it.each([
    ['null', null],
    ['a string', 'CallDelivered'],
    ['a number', 1],
    ['an array', [call]],
  ])('refuses an item that is %s', (_what, item) => {
    expect(refusal([item])).toBe('events[0]: must be a JSON object');
  });

  it('refuses unknown fields, naming them all', () => {
    expect(refusal({ ...call, priority: 1, callId: 'c-1' })).toBe('event: unknown fields: priority, callId');
  });

  it.each([
    ['an unknown name', { event: 'CallExploded', identity: ALICE }, 'unknown event "CallExploded"'],
    ['no name', { identity: ALICE }, 'unknown event null'],
    ['a name that is not a string', { event: 42, identity: ALICE }, 'unknown event 42'],
    ['a name in another case', { event: 'calldelivered', identity: ALICE }, 'unknown event "calldelivered"'],
  ])('refuses %s', (_what, item, message) => {
    expect(refusal(item)).toBe(`event: ${message}`);
  });

  describe('targets', () => {
    it.each([
      ['no identity', { event: 'CallDelivered' }, 'identity must be an E.164 number'],
      ['an identity without +', { event: 'CallDelivered', identity: '905321110001' }, 'identity must be an E.164 number'],
      ['an identity that is a number', { event: 'CallDelivered', identity: 905321110001 }, 'identity must be an E.164 number'],
      ['an identity with 16 digits', { event: 'CallDelivered', identity: '+9053211100011234' }, 'identity must be an E.164 number'],
      ['a group on an identity event', { ...call, group: 'sales' }, 'CallDelivered is an identity event and takes no group'],
      ['an identity on a group event', { event: 'AgentStateChanged', group: 'sales', identity: ALICE }, 'AgentStateChanged is a group event and takes no identity'],
      ['no group', { event: 'AgentStateChanged' }, 'group must be a group name'],
      ['an empty group', { event: 'AgentStateChanged', group: '' }, 'group must be a group name'],
      ['a group that is not a string', { event: 'AgentStateChanged', group: ['sales'] }, 'group must be a group name'],
      ['a group over 64 characters', { event: 'AgentStateChanged', group: 'g'.repeat(65) }, 'group must be a group name'],
    ])('refuses %s', (_what, item, message) => {
      expect(refusal(item)).toBe(`event: ${message}`);
    });

    it('takes a group of 64 characters', () => {
      expect(parse({ event: 'AgentStateChanged', group: 'g'.repeat(64) })[0].group).toBe('g'.repeat(64));
    });
  });

  describe('data', () => {
    it('defaults to {} when absent or null', () => {
      expect(parse({ event: 'CallDelivered', identity: ALICE })[0].data).toEqual({});
      expect(parse({ event: 'CallDelivered', identity: ALICE, data: null })[0].data).toEqual({});
    });

    it.each([
      ['an array', [1]],
      ['a boolean', true],
      ['a string', 'x'],
      ['a number', 1],
    ])('refuses data that is %s', (_what, data) => {
      expect(refusal({ ...call, data })).toBe('event: data must be a JSON object');
    });

    it('takes 16 KiB of serialized data and refuses one byte more, counting bytes not characters', () => {
      const padding = MAX_DATA_BYTES - JSON.stringify({ s: '' }).length;
      expect(parse({ ...call, data: { s: 'x'.repeat(padding) } })).toHaveLength(1);
      expect(refusal({ ...call, data: { s: 'x'.repeat(padding + 1) } })).toBe('event: data is larger than 16 KiB');
      // "ğ" is two bytes in UTF-8.
      expect(refusal({ ...call, data: { s: 'ğ'.repeat(padding / 2 + 1) } })).toBe('event: data is larger than 16 KiB');
    });
  });

  describe('occurredAt', () => {
    it.each([
      ['2026-11-28T10:15:30.120Z', '2026-11-28T10:15:30.120Z'],
      ['2026-11-28T10:15:30Z', '2026-11-28T10:15:30.000Z'],
      ['2026-11-28T13:15:30.5+03:00', '2026-11-28T10:15:30.500Z'],
      ['2026-11-28T05:15:30-05:00', '2026-11-28T10:15:30.000Z'],
      ['2026-11-28t10:15:30z', '2026-11-28T10:15:30.000Z'],
      ['2026-11-28T10:15:30.123456Z', '2026-11-28T10:15:30.123Z'],
    ])('takes %s as the timestamp %s', (occurredAt, timestamp) => {
      expect(parse({ ...call, occurredAt })[0].timestamp).toBe(timestamp);
    });

    it('defaults to the time the event was accepted', () => {
      expect(parse(call)[0].timestamp).toBe('2026-11-28T10:00:00.000Z');
    });

    it.each([
      ['not a date', 'yesterday'],
      ['a number', 1764324930120],
      ['a digit string', '1'],
      ['an RFC 2822 date', 'Sat, 28 Nov 2026 10:15:30 GMT'],
      ['a date alone', '2026-11-28'],
      ['a local time without offset', '2026-11-28T10:15:30'],
      ['an impossible hour', '2026-11-28T25:15:30Z'],
      ['an empty string', ''],
      ['null', null],
    ])('refuses %s', (_what, occurredAt) => {
      expect(refusal({ ...call, occurredAt })).toBe(`event: ${BAD_DATE}`);
    });
  });

  it('leaves nothing half-parsed: one bad item refuses the batch', () => {
    const batch = [call, call, { ...call, data: [] }];
    expect(refusal(batch)).toBe('events[2]: data must be a JSON object');
  });
});

describe('frameTail', () => {
  it('addresses an event to a recipient identity, keeping the group, with data as serialized at ingress', () => {
    const data = { a: 1, text: 'Çağrı "quoted" \u2028 \\ ☎' };
    const [group] = parse({ event: 'AgentStateChanged', group: 'sales', data, occurredAt: '2026-11-28T10:15:30Z' });
    expect(JSON.parse(frameOf(7, frameTail(group, '+905321110003')))).toEqual({
      type: 'event',
      id: '7',
      event: 'AgentStateChanged',
      identity: '+905321110003',
      group: 'sales',
      timestamp: '2026-11-28T10:15:30.000Z',
      data,
    });
  });
});

describe('fromFields (a vora:ingress entry)', () => {
  const entry = (...fields: string[]) => fromFields(['event', 'CallDelivered', 'identity', ALICE, ...fields]);

  it('reads data as JSON', () => {
    expect(parse(entry('data', '{"callId":"c-1"}'))[0].data).toEqual({ callId: 'c-1' });
  });

  it('refuses data that is not JSON', () => {
    expect(() => entry('data', '{"callId":')).toThrow(new Error('data must be JSON'));
  });

  it.each([
    ['__proto__', '{"__proto__":{"polluted":true}}'],
    ['constructor.prototype', '{"constructor":{"prototype":{"polluted":true}}}'],
  ])('refuses data with a %s key, as POST /events does', (_what, data) => {
    expect(() => entry('data', data)).toThrow(new Error('data contains a forbidden key (__proto__ or constructor)'));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps a field named __proto__ as a field, refused as unknown', () => {
    expect(refusal(entry('__proto__', '{"event":"CallCleared"}'))).toBe('event: unknown fields: __proto__');
  });
});
