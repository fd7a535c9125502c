import { Interned } from './interned';

describe('Interned', () => {
  it('makes one value per key and hands it to every later caller', () => {
    const table = new Interned<string[]>();
    const make = jest.fn(() => ['CallDelivered']);
    const first = table.get('a', make);
    expect(table.get('a', make)).toBe(first);
    expect(table.get('b', make)).not.toBe(first);
    expect(make).toHaveBeenCalledTimes(2);
  });

  it('keeps at most max values, making the others each time', () => {
    const table = new Interned<object>(2);
    const [a, b] = [table.get('a', () => ({})), table.get('b', () => ({}))];
    expect(table.get('c', () => ({}))).not.toBe(table.get('c', () => ({})));
    expect([table.get('a', () => ({})), table.get('b', () => ({}))]).toEqual([a, b]);
    expect(table.get('a', () => ({}))).toBe(a);
  });
});
