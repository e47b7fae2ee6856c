export { CHORD_GUARD_SUFFIX, MemcacheBackend } from './memcache-backend.js';
export { MemcacheControlPlane } from './memcache-control-plane.js';
export type {
  MemcacheBackendOptions,
  MemcacheConnectionOptions,
  MemcacheControlPlaneOptions,
} from './options.js';
