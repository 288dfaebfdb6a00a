// What the task engine tells whoever watches its work: /metrics counts
// steps and tasks by workflow (the task's kind) and step name, both fixed
// sets. A step or task paused by the control's own shutdown is not
// reported: it resumes at the next start.
export interface TaskObserver {
  /**
   * One attempt of a step ended: success, retry (a retryable failure,
   * tried again after a backoff) or failure (the task fails with it).
   */
  stepEnded(workflow: string, step: string, result: 'success' | 'retry' | 'failure', seconds: number): void;
  /** A task ended; `seconds` from its submission (a control restart in between included), `failedStep` when it failed. */
  taskEnded(workflow: string, result: 'succeeded' | 'failed', seconds: number, failedStep?: string): void;
}
