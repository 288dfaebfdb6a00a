// The agent's cluster core, wired to its datastore's ClusterCapability:
// validation (validate.ts), membership (membership-store.ts), the recovery
// rule (recovery-rule.ts), and the waits for a node to serve. Every step
// that changes the datastore runs under the agent's lock; reads need none.
// The gRPC glue is services/cluster-service.ts; the control's order of
// calls across members is docs/clusters.md.
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../lib/logger.js';
import type { ClusterContext, ClusterMember, ClusterNodeStatus, InstallClusterRequest, RecoveryPosition } from '../../proto/gen/coffer/agent/v1/cluster.js';
import { AgentError, unimplemented } from '../errors.js';
import { throwIfCancelled, type ProgressEvent } from '../lifecycle/context.js';
import type { ClusterCapability, ClusterPlan, DatastoreControl } from '../managers/manager.js';
import { MembershipStore, type Membership } from './membership-store.js';
import { checkBootstrapFrom } from './recovery-rule.js';
import { checkClusterId, checkMembers, checkSecrets, checkStrategy, notMember } from './validate.js';

export interface ClusterDeps {
  readonly capability: ClusterCapability | undefined;
  readonly datastore: string;
  readonly instanceId: string;
  readonly agentDir: string;
  readonly locked: <T>(what: string, fn: () => Promise<T>) => Promise<T>;
  readonly requirePrepared: (what: string) => void;
  readonly running: () => boolean;
  readonly datastoreControl: DatastoreControl;
  /**
   * Makes sure the agent's own account on this node is its own, re-made
   * on this node only when not (a node's accounts are its donor's after a
   * full copy). The manager's connect does it at every start; called again
   * once the node serves.
   */
  readonly ensureOwnAccount: () => Promise<void>;
  readonly log: Logger;
  /** How long a node may take to serve (a joiner's full copy included). */
  readonly joinTimeoutMs?: number;
}

const POLL_MS = 500;

/** True when something accepts a TCP connection at host:port within timeoutMs. */
function reachable(host: string, port: number, timeoutMs: number): Promise<boolean> {
  if (!port) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

export class Cluster {
  readonly membership: MembershipStore;

  constructor(private readonly deps: ClusterDeps) {
    this.membership = new MembershipStore(deps.agentDir);
  }

  capability(): ClusterCapability {
    if (!this.deps.capability) throw unimplemented('cluster', this.deps.datastore);
    return this.deps.capability;
  }

  private member(what: string): { cap: ClusterCapability; m: Membership; plan: ClusterPlan } {
    const cap = this.capability();
    const m = this.membership.get();
    if (!m) throw notMember(what);
    const self = m.members.find((x) => x.instanceId === this.deps.instanceId)!;
    return { cap, m, plan: { ...m, self } };
  }

  /** Checks an install request before anything changes. */
  validateInstall(req: InstallClusterRequest): ClusterPlan {
    const cap = this.capability();
    checkStrategy(cap, req.strategy, this.deps.datastore);
    checkClusterId(req.clusterId, req.strategy, cap.maxClusterIdLength?.(req.strategy) ?? 64);
    const self = checkMembers(cap, req.strategy, req.members, this.deps.instanceId);
    checkSecrets(cap, req.strategy, req.secrets);
    this.deps.requirePrepared('install a cluster');
    const current = this.membership.get();
    if (current && current.clusterId !== req.clusterId) {
      throw new AgentError('AGENT_ERR_NOT_READY', `cannot install cluster ${req.clusterId}: this instance is a member of cluster ${current.clusterId}`);
    }
    return { strategy: req.strategy, clusterId: req.clusterId, members: req.members, self };
  }

  /**
   * InstallCluster: configure, start as the first node or a joiner, wait
   * until the node serves. Called again on a member that serves, it only
   * reports (the control retries after its own crash).
   */
  async install(req: InstallClusterRequest, emit: (p: ProgressEvent) => void, signal: AbortSignal): Promise<ClusterContext> {
    const plan = this.validateInstall(req);
    const cap = this.capability();
    return this.deps.locked('InstallCluster', async () => {
      if (this.membership.get() && this.deps.running() && cap.serving(await cap.nodeStatus())) {
        // Started by another path (boot, after the agent died mid-install),
        // or a first install cut off (the control died, the stream was
        // cancelled) after the full copy: its account is checked again, as
        // after any start, and re-made when it is the donor's.
        await this.deps.ensureOwnAccount();
        if (cap.join) await cap.join(plan, req.secrets, emit, signal);
        emit({ phase: 'done', message: 'already a serving member', percent: 100 });
        return (await this.context())!;
      }
      if (this.membership.get()?.clusterId === plan.clusterId && this.deps.running()) {
        // A first install cut off while the node was still joining (the
        // control died, the stream was cancelled): the node keeps joining
        // by itself. Stopping it now would throw away its state transfer
        // and race its own SST processes for their ports; wait for it.
        emit({ phase: 'start', message: 'the node is already starting and joining; waiting for it to serve', percent: 20 });
        await this.waitServing(cap, emit, signal);
        await cap.clearBootstrap();
        await this.deps.ensureOwnAccount();
        if (cap.join) await cap.join(plan, req.secrets, emit, signal);
        emit({ phase: 'done', message: 'the node serves as a member', percent: 100 });
        return (await this.context())!;
      }
      emit({ phase: 'configure', message: req.bootstrap ? 'configuring the first node of a new cluster' : 'configuring a joining node', percent: 5 });
      await this.deps.datastoreControl.stop(signal);
      await cap.configure(plan, req.secrets, req.bootstrap);
      this.membership.set({ strategy: plan.strategy, clusterId: plan.clusterId, members: plan.members });
      throwIfCancelled(signal, 'InstallCluster');
      emit({ phase: 'start', message: req.bootstrap ? 'starting a new cluster' : 'starting and joining (a full state transfer from a member)', percent: 20 });
      await this.startAndServe(cap, emit, signal);
      if (req.bootstrap) await cap.afterBootstrap(plan, req.secrets);
      if (cap.join) await cap.join(plan, req.secrets, emit, signal);
      emit({ phase: 'done', message: 'the node serves as a member', percent: 100 });
      return (await this.context())!;
    });
  }

  /** Starts the datastore and waits until it serves, with the agent's own account. */
  private async startAndServe(cap: ClusterCapability, emit: (p: ProgressEvent) => void, signal: AbortSignal): Promise<void> {
    await this.deps.datastoreControl.start(signal);
    await this.waitServing(cap, emit, signal);
    // Only once serving: a restart of this node from now on joins.
    await cap.clearBootstrap();
    await this.deps.ensureOwnAccount();
  }

  private async waitServing(cap: ClusterCapability, emit: (p: ProgressEvent) => void, signal: AbortSignal): Promise<ClusterNodeStatus> {
    const timeoutMs = this.deps.joinTimeoutMs ?? 600_000;
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      throwIfCancelled(signal, 'waiting for the node to serve');
      const s = await cap.nodeStatus();
      if (cap.serving(s)) return s;
      const seen = s.running ? `${s.state || 'starting'}${s.primary ? '' : ', not in a primary component'}` : 'not answering';
      if (seen !== last) emit({ phase: 'join', message: `node: ${seen}`, percent: 50 });
      last = seen;
      if (Date.now() > deadline) throw new AgentError('AGENT_ERR_TIMEOUT', `the node did not serve within ${timeoutMs} ms (last seen: ${seen})`);
      await sleep(POLL_MS);
    }
  }

  /**
   * At agent boot: a member whose peers all fail to answer on their
   * cluster port is in a full outage (or the first to come back from one):
   * its datastore stays down for the control's recovery, which must choose
   * the most advanced node. '' when it may start (no member, the bootstrap
   * node of an install, or a peer answers: it rejoins).
   */
  async holdAtBoot(): Promise<string> {
    const cap = this.deps.capability;
    const m = this.membership.get();
    if (!cap || !m) return '';
    // Its cluster comes back by itself: nothing for the control to choose.
    if (cap.selfRecovering) return '';
    if (cap.bootstrapPending()) return '';
    const peers = m.members.filter((x) => x.instanceId !== this.deps.instanceId);
    if (!peers.length) return '';
    const port = cap.peerPort(m.strategy);
    const answers = await Promise.all(peers.map((p) => reachable(p.host, p.clusterPorts[port] ?? 0, 2000)));
    if (answers.some(Boolean)) return '';
    return `no other member of cluster ${m.clusterId} answers (${peers.map((p) => p.instanceId).join(', ')}): a full outage; waiting for the control's recovery (GetRecoveryPosition, RecoverCluster)`;
  }

  /** CompleteCluster: the bootstrap flag is dropped for good (idempotent). */
  async complete(clusterId: string, signal: AbortSignal): Promise<void> {
    const { cap, m, plan } = this.member('complete a cluster');
    if (m.clusterId !== clusterId) throw new AgentError('AGENT_ERR_NOT_READY', `cannot complete cluster ${clusterId}: this instance is a member of ${m.clusterId}`);
    await cap.clearBootstrap();
    if (cap.complete) await this.deps.locked('CompleteCluster', () => cap.complete!(plan, signal));
  }

  /** A datastore whose cluster recovers by itself has no recovery position to give. */
  private noRecovery(cap: ClusterCapability): void {
    if (cap.selfRecovering) throw new AgentError('AGENT_ERR_UNIMPLEMENTED', `${unimplemented('cluster recovery', this.deps.datastore).message}: ${cap.selfRecovering}`);
  }

  /** GetClusterContext: null when no cluster's member. */
  async context(): Promise<ClusterContext | undefined> {
    const cap = this.capability();
    const m = this.membership.get();
    if (!m) return undefined;
    return { clusterId: m.clusterId, strategy: m.strategy, members: [...m.members], instanceId: this.deps.instanceId, status: await cap.nodeStatus() };
  }

  /**
   * GetRecoveryPosition: refused on a node of a primary component; any
   * other node cannot serve, so its datastore is stopped (a node trying to
   * join peers that are all down) and its position read.
   */
  async recoveryPosition(signal: AbortSignal): Promise<RecoveryPosition> {
    const { cap } = this.member('read a recovery position');
    this.noRecovery(cap);
    return this.deps.locked('GetRecoveryPosition', () => this.stoppedPosition(cap, signal));
  }

  private async stoppedPosition(cap: ClusterCapability, signal: AbortSignal): Promise<RecoveryPosition> {
    const s = await cap.nodeStatus();
    if (s.running && s.primary) {
      throw new AgentError('AGENT_ERR_NOT_READY', `this node serves in a primary component of ${s.clusterSize} (${s.state}): the cluster is up, nothing to recover`);
    }
    await this.deps.datastoreControl.stop(signal);
    const p = await cap.recoveryPosition(signal);
    return { instanceId: this.deps.instanceId, ...p };
  }

  /** RecoverCluster: bootstrap only from the most advanced node; the others rejoin. */
  async recover(clusterId: string, bootstrap: boolean, positions: readonly RecoveryPosition[], emit: (p: ProgressEvent) => void, signal: AbortSignal): Promise<ClusterContext> {
    const { cap, m } = this.member('recover a cluster');
    this.noRecovery(cap);
    if (m.clusterId !== clusterId) throw new AgentError('AGENT_ERR_NOT_READY', `cannot recover cluster ${clusterId}: this instance is a member of ${m.clusterId}`);
    if (bootstrap && !positions.length) throw new AgentError('AGENT_ERR_INVALID_ARGUMENT', 'positions is empty: bootstrap needs every member\'s recovery position, to refuse a node that is behind');
    return this.deps.locked('RecoverCluster', async () => {
      emit({ phase: 'position', message: 'reading the last committed position', percent: 5 });
      if (bootstrap) {
        const own = await this.stoppedPosition(cap, signal);
        checkBootstrapFrom(own, positions);
        await cap.markSafeToBootstrap();
        emit({ phase: 'start', message: `starting the cluster anew from this node (seqno ${own.seqno})`, percent: 20 });
      } else {
        const s = await cap.nodeStatus();
        if (cap.serving(s)) {
          // As in install: a rejoin cut off after a full copy left the donor's account.
          await this.deps.ensureOwnAccount();
          emit({ phase: 'done', message: 'already a serving member', percent: 100 });
          return (await this.context())!;
        }
        await this.deps.datastoreControl.stop(signal);
        emit({ phase: 'start', message: 'rejoining the cluster', percent: 20 });
      }
      await this.startAndServe(cap, emit, signal);
      emit({ phase: 'done', message: 'the node serves as a member', percent: 100 });
      return (await this.context())!;
    });
  }

  /** SetClusterMembers: grow and shrink rewrite every member's list. */
  async setMembers(clusterId: string, members: readonly ClusterMember[], signal: AbortSignal): Promise<ClusterContext> {
    const { cap, m } = this.member('change the member list');
    if (m.clusterId !== clusterId) throw new AgentError('AGENT_ERR_NOT_READY', `cannot change cluster ${clusterId}: this instance is a member of ${m.clusterId}`);
    const self = checkMembers(cap, m.strategy, members, this.deps.instanceId);
    return this.deps.locked('SetClusterMembers', async () => {
      await cap.setMembers({ strategy: m.strategy, clusterId, members, self }, this.deps.running(), signal);
      this.membership.set({ ...m, members });
      return (await this.context())!;
    });
  }

  /** LeaveCluster: a clean stop, then no member any more (idempotent). */
  async leave(clusterId: string, signal: AbortSignal): Promise<void> {
    const cap = this.capability();
    const m = this.membership.get();
    if (!m) return;
    if (m.clusterId !== clusterId) throw new AgentError('AGENT_ERR_NOT_READY', `cannot leave cluster ${clusterId}: this instance is a member of ${m.clusterId}`);
    await this.deps.locked('LeaveCluster', async () => {
      if (cap.beforeLeave) {
        const self = m.members.find((x) => x.instanceId === this.deps.instanceId)!;
        await cap.beforeLeave({ ...m, self }, this.deps.running(), signal);
      }
      await this.deps.datastoreControl.stop(signal);
      await cap.deconfigure();
      this.membership.set(null);
    });
  }
}
