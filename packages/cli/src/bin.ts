#!/usr/bin/env node
import { run } from './main.js';

// The AWS SDK (SQS broker) warns on every run under Node 20 about its own future Node support; for
// a command's output that is noise the user cannot act on. Set the variable to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// The first Ctrl-C (or SIGTERM) ends the command: `events` stops following and exits 0, any other
// command exits 130 after closing its connections. A second one ends the process at once.
const interrupt = new AbortController();
const onSignal = () => {
  if (interrupt.signal.aborted) process.exit(130);
  interrupt.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

// No top-level await: the package's sources stay loadable with require().
void run(process.argv.slice(2), { signal: interrupt.signal }).then((code) => {
  process.exitCode = code;
  // Every command closes its connections, so the process ends by itself; should an adapter's close
  // leave a handle behind, this ends it anyway instead of hanging a script. unref(): it never keeps
  // a process alive that is already done.
  setTimeout(() => process.exit(code), 5_000).unref();
});
