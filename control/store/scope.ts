// Who is asking: the project a token belongs to. Every resource belongs to a
// project; a resource of another project does not exist for the caller
// (NOT_FOUND, never PERMISSION_DENIED, so ids cannot be probed). An admin
// token sees every project.
export interface Scope {
  readonly project: string;
  readonly admin: boolean;
}

/** SQL fragment and parameters restricting rows to the scope's project. */
export function scopeWhere(scope: Scope): { sql: string; params: string[] } {
  return scope.admin ? { sql: '1 = 1', params: [] } : { sql: 'project = ?', params: [scope.project] };
}
