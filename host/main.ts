// edgehost: runs the modules of the host config, each in its own sandbox (`npm start`).
import { runHost } from './start.ts';

await runHost(process.argv.slice(2));
