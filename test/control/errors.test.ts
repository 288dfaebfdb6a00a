// Locks the control's error table (the checks of test/support/error-table.ts):
// each code's gRPC status (the API) and HTTP status (the REST bridge).
import t from 'tap';
import { CONTROL_ERROR_SPEC, ControlError, toServiceError, type ControlErrorCode } from '../../control/errors.js';
import { lockErrorTable } from '../support/error-table.js';

lockErrorTable<ControlErrorCode>(t, {
  spec: CONTROL_ERROR_SPEC,
  prefix: 'CONTROL_ERR_',
  build: (code, message) => new ControlError(code, message),
  toServiceError,
  statuses: {
    CONTROL_ERR_INVALID_ARGUMENT: ['INVALID_ARGUMENT', 400],
    CONTROL_ERR_INVALID_PARAMETER: ['INVALID_ARGUMENT', 422],
    CONTROL_ERR_UNAUTHENTICATED: ['UNAUTHENTICATED', 401],
    CONTROL_ERR_PERMISSION_DENIED: ['PERMISSION_DENIED', 403],
    CONTROL_ERR_NOT_FOUND: ['NOT_FOUND', 404],
    CONTROL_ERR_CONFLICT: ['FAILED_PRECONDITION', 409],
    CONTROL_ERR_UNAVAILABLE: ['FAILED_PRECONDITION', 409],
    CONTROL_ERR_AGENT_UNREACHABLE: ['UNAVAILABLE', 503],
    CONTROL_ERR_STORAGE: ['UNAVAILABLE', 503],
    CONTROL_ERR_BUSY: ['ABORTED', 409],
    CONTROL_ERR_AGENT: ['FAILED_PRECONDITION', 409],
    CONTROL_ERR_INTERNAL: ['INTERNAL', 500],
  },
});
