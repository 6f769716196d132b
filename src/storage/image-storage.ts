/** Where uploaded image bytes live. Keys are relative `/`-separated paths: `images/<characterId>/<id>.png`. */
export interface ImageStorage {
  /** Stores the bytes under the key, replacing nothing half-written: readers see the whole file or none. */
  put(key: string, bytes: Buffer, mime: string): Promise<void>;
  /** Removes the key; removing a key that does not exist is not an error. */
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
}

/** Injection token of the configured {@link ImageStorage} driver. */
export const IMAGE_STORAGE = Symbol('IMAGE_STORAGE');

/**
 * Deletes bytes no row refers to any more (after the commit that removed the row). A failure leaves an orphan
 * file, which is logged rather than raised: the write it follows has already succeeded.
 */
export async function discardStoredImages(
  storage: ImageStorage,
  keys: readonly string[],
  log: { error(message: string): void },
  atOnce = 16,
): Promise<void> {
  for (let i = 0; i < keys.length; i += atOnce) {
    await Promise.all(
      keys.slice(i, i + atOnce).map(async (key) => {
        try {
          await storage.delete(key);
        } catch (error) {
          log.error(`Could not delete stored image ${key}: ${(error as Error).message}`);
        }
      }),
    );
  }
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Throws unless the key is a plain relative path of safe segments: no `..`, no absolute paths, no backslashes,
 * no empty segments or control characters. Drivers call this before touching anything.
 */
export function assertSafeStorageKey(key: string): void {
  const segments = key.split('/');
  if (key.length === 0 || key.length > 255 || !segments.every((s) => SEGMENT.test(s) && !s.includes('..'))) {
    throw new Error(`Unsafe storage key: ${JSON.stringify(key.slice(0, 300))}`);
  }
}
