/** Why a value cannot be cached as it is: a bounded kind (a metric label) and where in the value it was found. */
export interface NotPlainJson {
  kind: 'class' | 'date' | 'binary' | 'collection' | 'bigint' | 'function' | 'symbol' | 'number' | 'cycle' | 'hole';
  /** `.items[3].at`; '' for the value itself */
  path: string;
  /** what was found there, for the log line: `Date`, `UserDto`, `NaN`, … */
  what: string;
}

/**
 * Where `value` is not plain JSON data, or undefined when it is: objects whose prototype is `Object.prototype` or
 * null, arrays, strings, finite numbers, booleans and null, nested as deep as wanted, without cycles. An object
 * property that is undefined counts as absent (JSON leaves it out).
 *
 * The cache stores a value's JSON, and a read from Redis hands back `JSON.parse` of it; a miss or an L1 hit hands
 * back the loader's own object. The two are the same value only for plain data: a `Date` comes back from Redis as
 * a string, a class instance as a plain object (class-transformer's `@Exclude` no longer applies, so a field it
 * hid is served), a `Map` as `{}`. So anything else is not cached (see CacheService.store), and the miss and every
 * hit hand back the same thing. It walks what `JSON.stringify` walks anyway: only on writes.
 */
export function notPlainJson(value: unknown): NotPlainJson | undefined {
  return check(value, []);
}

function check(value: unknown, ancestors: object[]): NotPlainJson | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : { kind: 'number', path: '', what: String(value) };
    case 'bigint':
      return { kind: 'bigint', path: '', what: 'a bigint' };
    case 'function':
      return { kind: 'function', path: '', what: 'a function' };
    case 'symbol':
      return { kind: 'symbol', path: '', what: 'a symbol' };
    case 'object':
      break;
  }
  if (value === null) {
    return undefined;
  }
  const object = value;
  const prototype: unknown = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== Array.prototype && prototype !== null) {
    return foreign(object, prototype);
  }
  if (ancestors.includes(object)) {
    return { kind: 'cycle', path: '', what: 'a reference to an enclosing object' };
  }
  ancestors.push(object);
  const found = prototype === Array.prototype ? checkItems(object as unknown[], ancestors) : checkFields(object as Record<string, unknown>, ancestors);
  ancestors.pop();
  return found;
}

function checkItems(items: unknown[], ancestors: object[]): NotPlainJson | undefined {
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    // JSON writes a hole or an undefined item as null: it would come back as another value.
    const found = item === undefined ? { kind: 'hole' as const, path: '', what: 'undefined (or a hole)' } : check(item, ancestors);
    if (found) {
      found.path = `[${i}]${found.path}`;
      return found;
    }
  }
  return undefined;
}

function checkFields(fields: Record<string, unknown>, ancestors: object[]): NotPlainJson | undefined {
  for (const name of Object.keys(fields)) {
    const found = check(fields[name], ancestors);
    if (found) {
      found.path = `.${name}${found.path}`;
      return found;
    }
  }
  return undefined;
}

function foreign(object: object, prototype: unknown): NotPlainJson {
  const name = (prototype as { constructor?: { name?: string } } | null)?.constructor?.name || 'an object of a class';
  const kind =
    object instanceof Date ? 'date'
    : ArrayBuffer.isView(object) || object instanceof ArrayBuffer ? 'binary'
    : object instanceof Map || object instanceof Set || object instanceof WeakMap || object instanceof WeakSet ? 'collection'
    : 'class';
  return { kind, path: '', what: name };
}
