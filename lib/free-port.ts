// A TCP port free on 127.0.0.1 now, chosen below the kernel's ephemeral
// range (32768-60999 by default). Port 0 hands out ports from that range,
// where any outgoing connection may take the same port as its local end
// before the server that was promised it binds: seen as "could not bind" in
// parallel test runs. Below it only servers bind, and they bind on purpose.
import { createServer } from 'node:net';

// 20000-26999: below the ephemeral range, and below the test Swift's fixed
// ports (27110-27211, test/support/swift-saio).
const LOW = 20000;
const HIGH = 27000;

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function freePort(taken: ReadonlySet<number> = new Set()): Promise<number> {
  const high = HIGH;
  for (let i = 0; i < 200; i++) {
    const port = LOW + Math.floor(Math.random() * (high - LOW));
    if (!taken.has(port) && (await bindable(port))) return port;
  }
  throw new Error(`no free TCP port on 127.0.0.1 between ${LOW} and ${high}`);
}
