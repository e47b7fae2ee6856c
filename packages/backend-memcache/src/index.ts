export { CHORD_GUARD_SUFFIX, MemcacheBackend } from './memcache-backend.js';
export { MemcacheControlPlane } from './memcache-control-plane.js';
export { MemcacheFlowControl } from './memcache-flow-control.js';
export type {
  MemcacheBackendOptions,
  MemcacheConnectionOptions,
  MemcacheControlPlaneOptions,
  MemcacheFlowControlOptions,
} from './options.js';
