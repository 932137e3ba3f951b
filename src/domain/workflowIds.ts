/**
 * Workflow ids are business keys: one run per tenant's request, one bandit state per policy, one budget per tenant.
 * A tenant id has no "-", so `route-<tenant>-<requestId>` splits one way only and two tenants' ids never collide.
 */
export const routeWorkflowId = (tenant: string, requestId: string) => `route-${tenant}-${requestId}`;
/** The id runs were started under before ids were tenant-scoped; read only, to find their answers. */
export const legacyRouteWorkflowId = (requestId: string) => `route-${requestId}`;
export const budgetWorkflowId = (tenant: string) => `budget-${tenant}`;
export const banditWorkflowId = (policyId: string) => `bandit-${policyId}`;
export const feedbackWorkflowId = (tenant: string, requestId: string) => `bandit-feedback-${tenant}-${requestId}`;

/**
 * Memo flag a starter sets to let a route workflow run its quick steps as local activities. The SDK writes local
 * activity results into history without the payload codec, so a starter that encrypts payloads must not set it.
 */
export const LOCAL_QUICK_STEPS_MEMO = 'localQuickSteps';
