import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../servers/binaries';

/** Written by `npm run build` (scripts/build-workflow-bundle.ts); production workers load it instead of bundling. */
export const WORKFLOW_BUNDLE_PATH = join(PROJECT_ROOT, 'dist', 'workflow-bundle.js');

/** The prebuilt bundle when there is one, else the workflow sources (bundled at start-up: slower, dev only). */
export function workflowCode(): { bundlePath: string } | { workflowsPath: string } {
  return existsSync(WORKFLOW_BUNDLE_PATH) ? { bundlePath: WORKFLOW_BUNDLE_PATH } : { workflowsPath: require.resolve('../workflows') };
}
