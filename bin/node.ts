// snaketron-node: parse the configuration, start a cluster node, stop it gracefully on SIGTERM/SIGINT.
import { ConfigError, parseNodeConfig, usage } from '../actors/snaketron/config.ts';
import { createLogger } from '../runtime/log.ts';

let config;
try {
  config = parseNodeConfig(process.argv.slice(2), process.env);
} catch (err) {
  process.stderr.write(`snaketron-node: ${err instanceof ConfigError ? err.message : String(err)}\n`);
  process.exit(2);
}
if (config === 'help') {
  process.stdout.write(`${usage()}\n`);
  process.exit(0);
}
const log = createLogger({ node: config.nodeId }, config.logLevel);
let node;
try {
  // loaded once the options are good: a bad option or --help is answered without loading the whole node first
  const { startNode } = await import('../actors/snaketron/node.ts');
  node = await startNode({ ...config, logger: log });
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  log.fatal({ err: message }, 'node could not start');
  process.stderr.write(`snaketron-node: ${message}\n`);
  process.exit(1);
}
const running = node;
let signals = 0;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (++signals > 1) {
      log.warn({ signal }, 'second signal: exiting at once, without finishing the hand-over');
      process.exit(1);
    }
    log.info({ signal }, 'signal received');
    void running.stop().then(() => process.exit(0), (err: unknown) => {
      log.error({ err }, 'stop failed');
      process.exit(1);
    });
  });
}
