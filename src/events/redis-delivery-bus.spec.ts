import { frameOf, frameTail } from './envelope';
import { Delivery } from './event-buffer.store';
import { deliveryLines, readDeliveryLines } from './redis-delivery-bus';

describe('the lines of a deliveries message', () => {
  const tail = frameTail(
    { event: 'CallDelivered', timestamp: '2026-11-28T13:00:00.000Z', dataJson: JSON.stringify({ note: 'two words\nand a break', emoji: 'çağrı ☎', sep: '\u2028' }) },
    '+905300000001',
  );
  const deliveries: Delivery[] = [
    { sessionId: '6c1f1a8e-5f4c-4f7e-9a3b-1d2c3b4a5f60', id: 1, frame: frameOf(1, tail), acceptedAt: 1795871000123 },
    { sessionId: '6c1f1a8e-5f4c-4f7e-9a3b-1d2c3b4a5f60', id: 2, frame: frameOf(2, tail) },
    { sessionId: 'b0e6a7c2-0d4e-4c1a-8f2e-7a9b6c5d4e3f', id: 9007199254740991, frame: '{"type":"event","id":"9007199254740991"}', acceptedAt: 0 },
  ];

  it('reads back what was written, frames byte for byte', () => {
    const message = `origin ${deliveryLines(deliveries)}`;
    expect(readDeliveryLines(message, 'origin '.length)).toEqual(deliveries);
  });

  it('keeps acceptedAt absent when it was', () => {
    const [, second] = readDeliveryLines(deliveryLines(deliveries), 0) as Delivery[];
    expect(second.acceptedAt).toBeUndefined();
  });

  it('writes nothing for no deliveries and reads nothing back', () => {
    expect(deliveryLines([])).toBe('');
    expect(readDeliveryLines('origin ', 'origin '.length)).toEqual([]);
  });

  it.each([
    ['a line without its break', 's 1 - {}'],
    ['a line without a frame', 's 1 -\n'],
    ['an empty frame', 's 1 - \n'],
    ['an empty session id', ' 1 - {}\n'],
    ['an id that is not a number', 's one - {}\n'],
    ['an id of 0', 's 0 - {}\n'],
    ['a time that is not a number', 's 1 soon {}\n'],
    ['JSON of the old format', '[{"sessionId":"s","id":1,"frame":"{}"}]'],
  ])('refuses %s, naming the line', (_, text) => {
    expect(readDeliveryLines(`s 1 - {}\n${text}`, 0)).toMatch(/^line 2 /);
  });
});
