// Test ports come from the same picker as the local driver's: below the
// kernel's ephemeral range (lib/free-port.ts says why).
import { freePort } from '../../lib/free-port.js';

export { freePort };
