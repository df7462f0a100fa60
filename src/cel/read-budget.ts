// @bufbuild/cel has no cost limit (Kubernetes' CEL has one), and a comprehension nested in another
// over a large list is quadratic: two `all`s over 1000 items take seconds, over 5000 a minute. So
// where an expression reads data promote does not control (rendered objects, a server's answer),
// the data is seen through proxies that count each property read, and an evaluation past its
// budget ends with an error result. Reads are counted, not time, so the verdict is the same on
// every machine and under any load. An expression's own literals are not counted: they are
// bounded by the expression's length.

/** A read past the budget: thrown from inside the CEL evaluation, which ends it. */
class OutOfReads extends Error {}

export interface ReadBudget {
  /** `value` as expressions should see it: every property read below it counts. */
  meter<T>(value: T): T;
  /** Whether the budget ran out (the evaluation that spent it gave an error, never a value). */
  spent(): boolean;
  readonly maxReads: number;
}

export function readBudget(maxReads: number): ReadBudget {
  let left = maxReads;
  // One proxy per object, so identity holds and a read allocates nothing.
  const cache = new WeakMap<object, object>();
  const spend = (reads: number) => {
    left -= reads;
    if (left < 0) throw new OutOfReads(`the expression read more than ${maxReads} fields`);
  };
  const meter = <T>(value: T): T => {
    if (typeof value !== 'object' || value === null) return value;
    let proxy = cache.get(value);
    if (!proxy) {
      proxy = new Proxy(value, {
        get(target, key, receiver) {
          spend(1);
          return meter(Reflect.get(target, key, receiver));
        },
        has(target, key) {
          spend(1);
          return Reflect.has(target, key);
        },
        // Listing keys is charged a read per key, whatever the library reads next.
        ownKeys(target) {
          const keys = Reflect.ownKeys(target);
          spend(keys.length);
          return keys;
        },
      });
      cache.set(value, proxy);
    }
    return proxy as T;
  };
  return { meter, spent: () => left < 0, maxReads };
}
