/**
 * Lookups asked for in one turn of the event loop are answered by a single
 * call of `load`, made once the turn's code has run: lookups started side by
 * side (the router starts one per target of a batch) then share a round trip
 * or two instead of costing one each. See also RedisConnection.inTurn.
 */
export class BatchedLookup<K, V> {
  private pending?: { readonly keys: K[]; readonly values: Promise<V[]> };

  /** `load` answers keys[i] with values[i]; a key may be asked for twice. */
  constructor(private readonly load: (keys: readonly K[]) => Promise<V[]>) {}

  get(key: K): Promise<V> {
    const batch = (this.pending ??= this.nextBatch());
    const index = batch.keys.push(key) - 1;
    return batch.values.then((values) => values[index]);
  }

  private nextBatch(): { keys: K[]; values: Promise<V[]> } {
    const keys: K[] = [];
    const values = new Promise<void>((resolve) => process.nextTick(resolve)).then(() => {
      this.pending = undefined;
      return this.load(keys);
    });
    return { keys, values };
  }
}
