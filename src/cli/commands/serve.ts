import type { Command } from '../command';

/**
 * `tollgate serve`: the gateway itself, in this process, configured by the same environment as
 * `npm start`. Being the server (not its parent) is what lets a service manager's SIGTERM drain it.
 */
export const serveCommand: Command = {
  path: ['serve'],
  summary: 'Run the gateway in this process, configured by the environment as for npm start',
  examples: [
    'PORT=8787 TOLLGATE_DATA_DIR=/var/lib/tollgate tollgate serve',
    'DATABASE_URL=postgres://… TOLLGATE_CONFIG=/etc/tollgate.json HOST=0.0.0.0 tollgate serve',
  ],
  run: () => startGateway(),
};

/** Loading the Node entry starts the server, which then owns the process's signals and exit. */
export async function startGateway(): Promise<void> {
  // In dist/ this is the sibling bundle `./node.js` (scripts/build.mjs), not a second copy of the server.
  await import('../../node');
}
