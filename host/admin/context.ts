import type { ResolvedConfig } from '../config/load.ts';
import type { Host } from '../host.ts';
import type { Logger } from '../logger.ts';
import type { RunOnce } from '../run-once/runner.ts';
import type { DesiredState } from './desired-state.ts';

/** What the admin endpoints work with. */
export interface AdminContext {
  host: Host;
  config: ResolvedConfig;
  /** Names of the modules the config file has: a removal of one of these is remembered. */
  configModules: ReadonlySet<string>;
  desired: DesiredState;
  runOnce: RunOnce;
  logger: Logger;
}
