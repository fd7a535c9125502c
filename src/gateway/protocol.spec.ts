import { CloseCode, parseClientMessage } from './protocol';

describe('parseClientMessage', () => {
  it.each([
    ['{"type":"ping"}', { type: 'ping' }],
    ['{"type":"ping","extra":1}', { type: 'ping' }],
    ['{"type":"ready","callId":"c-1"}', { type: 'ready', callId: 'c-1' }],
    ['{"type":"decline","callId":"c-2"}', { type: 'decline', callId: 'c-2' }],
    [`{"type":"ready","callId":"${'c'.repeat(128)}"}`, { type: 'ready', callId: 'c'.repeat(128) }],
  ])('accepts %s', (text, expected) => {
    expect(parseClientMessage(text)).toEqual(expected);
  });

  it.each([
    ['', 'messages must be JSON objects'],
    ['{"type":', 'messages must be JSON objects'],
    ['null', 'messages must be JSON objects'],
    ['"ping"', 'messages must be JSON objects'],
    ['42', 'messages must be JSON objects'],
    ['[{"type":"ping"}]', 'messages must be JSON objects'],
    ['{}', 'unknown message type null; expected ping, ready or decline'],
    ['{"type":"hello"}', 'unknown message type "hello"; expected ping, ready or decline'],
    ['{"type":7}', 'unknown message type 7; expected ping, ready or decline'],
    ['{"type":"PING"}', 'unknown message type "PING"; expected ping, ready or decline'],
    ['{"type":"ready"}', 'ready needs a callId string'],
    ['{"type":"ready","callId":""}', 'ready needs a callId string'],
    ['{"type":"ready","callId":12}', 'ready needs a callId string'],
    [`{"type":"decline","callId":"${'c'.repeat(129)}"}`, 'decline needs a callId string'],
  ])('refuses %j with a message for the client', (text, message) => {
    expect(parseClientMessage(text)).toBe(message);
  });

  it('has the close codes of SPEC section 4', () => {
    expect(CloseCode).toEqual({
      GoingAway: 1001,
      UnsupportedData: 1003,
      PolicyViolation: 1008,
      MessageTooBig: 1009,
      InternalError: 1011,
      LoggedOut: 4000,
      SessionExpired: 4001,
      Replaced: 4002,
      TooSlow: 4008,
    });
  });
});
