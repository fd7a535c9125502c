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

  it('keeps exactly max values, making the others each time', () => {
    const table = new Interned<object>(3);
    const make = jest.fn(() => ({}));
    const kept = ['a', 'b', 'c'].map((key) => table.get(key, make));
    expect(make).toHaveBeenCalledTimes(3);

    // Past the bound: made on every call, never shared.
    const [d1, d2] = [table.get('d', make), table.get('d', make)];
    expect(d1).not.toBe(d2);
    expect(make).toHaveBeenCalledTimes(5);

    // Every value within the bound is still the very same object, and nothing was made for it.
    for (const [i, key] of ['a', 'b', 'c'].entries()) expect(table.get(key, make)).toBe(kept[i]);
    expect(make).toHaveBeenCalledTimes(5);
  });

  it('keeps 1024 values by default', () => {
    const table = new Interned<object>();
    const kept = Array.from({ length: 1024 }, (_, i) => table.get(`k${i}`, () => ({})));
    expect(table.get('k1024', () => ({}))).not.toBe(table.get('k1024', () => ({})));
    expect(kept.every((value, i) => table.get(`k${i}`, () => ({})) === value)).toBe(true);
  });
});
