export const CACHEABLE = 'cache:cacheable';
export const CACHE_PUT = 'cache:put';
export const CACHE_EVICT = 'cache:evict';
export const CACHEABLE_BATCH = 'cache:cacheable-batch';
