export { CHORD_GUARD_SUFFIX, MemcacheBackend } from './memcache-backend.js';
export type { MemcacheBackendOptions } from './options.js';
