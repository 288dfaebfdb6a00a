// The replication workflows, registered with the others in server.ts.
import { createReplicasWorkflow } from './create-replicas.js';
import { switchoverWorkflow } from './switchover.js';
import { ejectWorkflow } from './eject.js';
import { rejoinWorkflow } from './rejoin.js';
import { detachWorkflow } from './detach.js';

export const REPLICATION_WORKFLOWS = [createReplicasWorkflow, switchoverWorkflow, ejectWorkflow, rejoinWorkflow, detachWorkflow] as const;
