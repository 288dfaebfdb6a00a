// The simulated agents of the heartbeats-net bench, in a process of their
// own (forked by heartbeats-net.ts): one grpc-js client channel per agent,
// each with that agent's own mTLS certificate from the control's instances
// CA, as real agents hold. Driven over IPC:
//   {cmd: 'connect'}  -> every channel sends one heartbeat (TLS handshakes)
//   {cmd: 'round'}    -> every agent sends one heartbeat at once; the reply
//                        carries each call's latency in ms
import { readFileSync } from 'node:fs';
import { credentials, Metadata } from '@grpc/grpc-js';
import { ConductorServiceClient, type HeartbeatResponse } from '../../proto/gen/coffer/control/v1/conductor.js';
import { DatastoreState } from '../../proto/gen/coffer/agent/v1/lifecycle.js';

interface Start {
  readonly address: string;
  readonly ca: string;
  readonly agents: ReadonlyArray<{ id: string; cert: string; key: string }>;
}

const start = JSON.parse(process.env.HEARTBEAT_AGENTS!) as Start;
const ca = readFileSync(start.ca);
const clients = start.agents.map((a) => ({
  id: a.id,
  client: new ConductorServiceClient(start.address, credentials.createSsl(ca, readFileSync(a.key), readFileSync(a.cert)), {
    // One connection per agent, as separate agents have: no sharing of subchannels between channels.
    'grpc.use_local_subchannel_pool': 1,
  }),
}));
/** Each agent's reports must be newer than its last (the conductor's ordering rule). */
let lastSent = 0;

function heartbeat(c: (typeof clients)[number]): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) =>
    c.client.heartbeat(
      { instanceId: c.id, sentAtMs: (lastSent = Math.max(Date.now(), lastSent + 1)), state: DatastoreState.DATASTORE_STATE_ACTIVE, reason: '', agentVersion: 'bench', datastorePort: 0, replication: undefined, cluster: undefined } as never,
      new Metadata(),
      { deadline: Date.now() + 120_000 },
      (err: Error | null, res: HeartbeatResponse) => {
        if (err) return reject(err);
        if (!res.accepted) return reject(new Error(`heartbeat of ${c.id} not accepted`));
        resolve(Number(process.hrtime.bigint() - t0) / 1e6);
      },
    ),
  );
}

process.on('message', (m: { cmd: string }) => {
  void (async () => {
    try {
      if (m.cmd === 'round' || m.cmd === 'connect') {
        const latencies = await Promise.all(clients.map(heartbeat));
        process.send!({ ok: true, latencies });
      } else if (m.cmd === 'exit') {
        for (const c of clients) c.client.close();
        process.exit(0);
      }
    } catch (err) {
      process.send!({ ok: false, error: (err as Error).message });
    }
  })();
});
process.send!({ ok: true, ready: true });
