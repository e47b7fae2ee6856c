import { describe, expect, it } from 'vitest';
import { COMMANDS as ALL, PLANNED } from '../src/commands.js';
import { machinery } from './machinery.js';

const COMMANDS = [
  'status',
  'task',
  'pending',
  'delayed',
  'dead-letters',
  'requeue',
  'purge',
  'send',
  'revoke',
  'pause',
  'resume',
  'workers',
  'events',
  'dashboard',
];

describe('help and usage errors need no service', () => {
  it('machinery --help lists every command, the exit codes and the variables', async () => {
    const r = await machinery(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(r.stdout).toContain('BROKER_URL');
    expect(r.stdout).toContain('3 not found');
  });

  it.each(COMMANDS)('machinery %s --help shows its usage without connecting', async (name) => {
    // No broker is configured: a command that tried to connect would fail with exit code 2.
    const r = await machinery([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: machinery ${name}`));
    expect(r.stdout).toContain('Examples:');
    expect(r.stderr).toBe('');
  });

  it('machinery help <command> is the same as <command> --help', async () => {
    const a = await machinery(['help', 'send']);
    const b = await machinery(['send', '--help']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
  });

  it('no command prints the help to stderr and exits 2', async () => {
    const r = await machinery([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Usage: machinery <command>');
  });

  it('an unknown command exits 2 naming the commands', async () => {
    const r = await machinery(['stats']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'machinery: Unknown command "stats": use one of status, task, pending, delayed, dead-letters, requeue, purge, send, revoke, pause, resume, workers, events, dashboard (machinery --help).',
    );
  });

  it('dashboard refuses a non-loopback --host without a token or password, before connecting (exit 2)', async () => {
    const r = await machinery(['dashboard', '--host', '0.0.0.0', '--actions']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^machinery: Refusing to listen on 0\.0\.0\.0 without a token or password/);
  });

  it('no planned command is also implemented (a name is one or the other)', () => {
    for (const name of Object.keys(PLANNED)) expect(ALL.map((c) => c.name)).not.toContain(name);
    expect(ALL.map((c) => c.name)).toEqual(COMMANDS);
  });

  it('dashboard with a bad --port exits 2', async () => {
    const r = await machinery(['dashboard', '--port', 'http']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--port http is not a port');
  });

  it('an unknown option exits 2 and points to the command help', async () => {
    const r = await machinery(['status', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--bogus'");
    expect(r.stderr).toContain('See machinery status --help.');
  });

  it('a bad --limit exits 2 before connecting', async () => {
    const r = await machinery(['pending', '--limit', 'ten', '--broker', 'redis://127.0.0.1:1']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'machinery: --limit ten is not a positive whole number: pass e.g. --limit 100.',
    );
  });

  it('without --broker or BROKER_URL it exits 2 and says what to set', async () => {
    const r = await machinery(['status']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'machinery: No broker: pass --broker redis://host:6379 (or amqp://, sqs://, …) or set BROKER_URL.',
    );
  });

  it('--json errors are JSON on stdout too', async () => {
    const r = await machinery(['status', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      error: {
        code: 'ERR_INVALID_ARGUMENT',
        message: 'No broker: pass --broker redis://host:6379 (or amqp://, sqs://, …) or set BROKER_URL.',
      },
    });
  });

  it.each([
    [
      ['revoke'],
      'machinery: revoke needs UUIDs or --schedule: machinery revoke <uuid…> or machinery revoke --schedule <name>.',
    ],
    [
      ['revoke', 'task_x', '--ttl', 'forever'],
      'machinery: --ttl forever is not a duration: use 90s, 30m, 1h or 24h.',
    ],
    [['pause'], 'machinery: pause needs queue names: machinery pause <queue…>.'],
    [['resume'], 'machinery: resume needs queue names: machinery resume <queue…>.'],
    [
      ['events', '--type', 'finished'],
      'machinery: --type finished: not an event type; use sent, received, started, succeeded, failed, retried, revoked, deadLettered.',
    ],
    [
      ['events', '--follow', '--for', '10s'],
      'machinery: --for and --follow exclude each other: --follow has no end.',
    ],
    [['events', '--for', 'soon'], 'machinery: --for soon is not a duration: use 10s, 2m or 500ms.'],
  ])('control plane usage errors exit 2 before connecting: %j', async (args, message) => {
    const r = await machinery(args);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(message);
  });

  it('--version prints the package version', async () => {
    const r = await machinery(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
