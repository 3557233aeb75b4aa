import type { Command } from '../command.ts';

export const start: Command = {
  usage: 'Usage: edgehost start [host options]   (edgehost start --help lists them)',
  async run(args) {
    const { runHost } = await import('../../start.ts');
    await runHost(args);
    // The host runs until a signal stops it; runHost exits the process itself.
    return new Promise<number>(() => {});
  },
};
