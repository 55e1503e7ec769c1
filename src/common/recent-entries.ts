/**
 * Entries trusted until their `until` deadline, at most `maxEntries` of them, with a generation
 * counter for revocation: `forgetWhere` and `clear` move it, and `store` refuses an entry read
 * under an older generation, so a database read that raced with a revocation is never kept.
 * The caches of verified credentials are built on it (CredentialCache, DavLoginCache).
 */
export class RecentEntries<E extends { until: number }> {
  private readonly entries = new Map<string, E>();
  private gen = 0;

  constructor(private readonly maxEntries: number) {}

  /** The current generation; pass it to `store` for what was read after this call. */
  generation(): number {
    return this.gen;
  }

  /** The entry for `key` while it is within its deadline (an expired one is dropped). */
  get(key: string, now = Date.now()): E | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Stores `entry` unless something was forgotten since `generation`; says whether it did. */
  store(key: string, entry: E, generation: number): boolean {
    if (generation !== this.gen) return false;
    if (this.entries.size >= this.maxEntries) {
      // drop the oldest tenth (a Map iterates in insertion order)
      let n = Math.ceil(this.maxEntries / 10);
      for (const old of this.entries.keys()) {
        this.entries.delete(old);
        if (--n <= 0) break;
      }
    }
    this.entries.delete(key); // re-inserted last, as the newest
    this.entries.set(key, entry);
    return true;
  }

  forgetWhere(match: (entry: E) => boolean): void {
    this.gen++;
    for (const [key, entry] of this.entries) if (match(entry)) this.entries.delete(key);
  }

  clear(): void {
    this.gen++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
