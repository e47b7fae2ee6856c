import type { Cluster, Redis } from 'ioredis';
import { LuaScript } from './lua-script.js';

/** One adapter's Lua script with the keys and arguments of one call. */
export interface ScriptStep {
  /** Lua source, run as it would run alone (it reads `KEYS` and `ARGV` and returns its reply). */
  readonly lua: string;
  readonly keys: readonly string[];
  readonly args: readonly (string | number)[];
}

/** A step handed from one adapter to another to run in the other's script call. */
export interface CarriedStep extends ScriptStep {
  /** Called with the step's own reply once the joint call ran it (an `Error` when it replied with one). */
  done(reply: unknown): void;
  /** Called when the step did not run (the write before it failed), failed, or the call failed. */
  failed(err: unknown): void;
  /**
   * The writes that carried the step fail with it: their callers wait for its work too (a task's
   * publication), not only for the write (as an acknowledgement's do).
   */
  readonly failsWrites?: boolean;
}

/**
 * An adapter that can hand work of `items` to another adapter on the same server, as one step to run
 * in that adapter's script call (see {@link JointScript}).
 */
export interface StepCarrier<T> {
  /** The client the adapter itself uses; a joint call is only made on the same server. */
  readonly client: Redis | Cluster;
  /**
   * Takes the work of `items` out of the adapter's own batching and returns it as one step, or
   * `undefined` when nothing is left to do. The caller runs the step exactly once and reports its
   * reply or failure to it.
   */
  carry(items: readonly T[]): CarriedStep | undefined;
}

/** One item of work offered to be carried, with the adapter that carries it. */
export interface Carried<T> {
  readonly carrier: StepCarrier<T>;
  readonly item: T;
}

/**
 * Two scripts run as one atomic call: `first`, a batch of writes, then `then` — only when every write
 * of `first` is done. `first` replies with one entry per write (1 for done), or with a number when a
 * failed write ends the call instead (so a number means all were done). Lets two adapters on one
 * server do in one round trip what must happen in order: the Redis backend stores a task's outcome
 * and the Redis broker's acknowledgement of the task rides in the same call, never applied without the
 * write. Each step sees its own `KEYS` and `ARGV`, exactly as when it runs alone. On a single server
 * only: a Redis Cluster would refuse keys of two slots in one call.
 */
export class JointScript {
  private readonly script: LuaScript;

  constructor(first: string, then: string) {
    this.script = new LuaScript(`local function first(KEYS, ARGV)
${first}
end
local function second(KEYS, ARGV)
${then}
end
local nk, na = tonumber(ARGV[1]), tonumber(ARGV[2])
local k1, a1, k2, a2 = {}, {}, {}, {}
for i = 1, nk do k1[i] = KEYS[i] end
for i = nk + 1, #KEYS do k2[#k2 + 1] = KEYS[i] end
for i = 1, na do a1[i] = ARGV[2 + i] end
for i = na + 3, #ARGV do a2[#a2 + 1] = ARGV[i] end
local r1 = first(k1, a1)
if type(r1) == 'table' then
  for i = 1, #r1 do
    if r1[i] ~= 1 then return {r1, false} end
  end
end
return {r1, second(k2, a2)}
`);
  }

  /**
   * Runs `first`, then `then` when every write of `first` is done. Resolves with both replies; the
   * second is `null` when it did not run.
   */
  async run(client: Redis | Cluster, first: ScriptStep, then: ScriptStep): Promise<[unknown[], unknown]> {
    const reply = (await this.script.run(
      client,
      [...first.keys, ...then.keys],
      [first.keys.length, first.args.length, ...first.args, ...then.args],
    )) as [unknown[], unknown];
    return [reply[0], reply[1] ?? null];
  }
}
