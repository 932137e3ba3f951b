/** Prebuilds the workflow bundle that production workers load (CONVENTIONS: no bundling at worker start-up). */
import { writeFileSync } from 'node:fs';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_BUNDLE_PATH } from '../src/worker/bundle';

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows') });
  writeFileSync(WORKFLOW_BUNDLE_PATH, code);
  console.error(`workflow bundle: ${WORKFLOW_BUNDLE_PATH} (${(code.length / 1024).toFixed(0)} KiB)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
