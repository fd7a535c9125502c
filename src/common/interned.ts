/**
 * One shared value per distinct key, for values that many holders keep alike
 * (the subscriptions of thousands of sessions): their memory is spent once,
 * and hot paths read a few objects that stay in cache. At most `max` values
 * are kept; past that they are made but not shared, so that a stream of
 * distinct keys cannot grow the table without bound.
 */
export class Interned<V> {
  private readonly values = new Map<string, V>();

  constructor(private readonly max = 1024) {}

  get(key: string, make: () => V): V {
    const known = this.values.get(key);
    if (known !== undefined) return known;
    const value = make();
    if (this.values.size < this.max) this.values.set(key, value);
    return value;
  }
}
