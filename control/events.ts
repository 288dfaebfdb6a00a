// In-process notifications for the Watch streams: a record changed (read it
// again from SQLite) or a task reported progress. SQLite stays the truth; an
// event only says "look again".
import { EventEmitter } from 'node:events';

export interface ProgressRecord {
  seq: number;
  task_id: string;
  step: string;
  phase: string;
  message: string;
  percent: number;
  bytes_done: number;
  bytes_total: number;
  at: number;
}

interface EventMap {
  instance: [id: string];
  /** A cluster record changed (its task, its member list); a member's own changes come as `instance`. */
  cluster: [id: string];
  task: [id: string];
  progress: [event: ProgressRecord];
}

export class ControlEvents extends EventEmitter<EventMap> {
  constructor() {
    super();
    // One listener per open Watch stream.
    this.setMaxListeners(0);
  }
}
