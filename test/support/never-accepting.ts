import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';

/**
 * A listening TCP port that never completes another connection: a backend host whose server is
 * wedged, or whose SYNs a firewall drops. A python3 socket listens with a backlog of zero and
 * never accepts; once one connection fills that backlog, the kernel drops further SYNs, so a
 * connect hangs until its caller gives up (Node's own listeners always accept, hence python3).
 */
export async function neverAccepting(): Promise<{ port: number; close(): void }> {
  const child = spawn(
    'python3',
    [
      '-c',
      'import socket, time\ns = socket.socket()\ns.bind(("127.0.0.1", 0))\ns.listen(0)\nprint(s.getsockname()[1], flush=True)\ntime.sleep(600)',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout!.once('data', (data: Buffer) => resolve(Number(String(data).trim())));
  });
  // The one connection the backlog holds; every later SYN is dropped.
  const filler: Socket = await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
  return {
    port,
    close() {
      filler.destroy();
      child.kill('SIGKILL');
    },
  };
}
