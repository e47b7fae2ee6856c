import { backendSuite } from '@machinery/testing';
import { makeBackend } from './memcache.js';

backendSuite({ name: 'MemcacheBackend', create: (ctx) => makeBackend(ctx) });
