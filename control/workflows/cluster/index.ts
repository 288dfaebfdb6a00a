// The cluster workflows, registered with the others in server.ts.
import { clusterCreateWorkflow } from './create.js';
import { clusterGrowWorkflow } from './grow.js';
import { clusterShrinkWorkflow } from './shrink.js';
import { clusterDeleteWorkflow } from './delete.js';
import { clusterRecoverWorkflow } from './recover.js';

export const CLUSTER_WORKFLOWS = [clusterCreateWorkflow, clusterGrowWorkflow, clusterShrinkWorkflow, clusterDeleteWorkflow, clusterRecoverWorkflow] as const;
