/** Workflow ids are business keys: one run per request, one bandit state per policy, one feedback per request. */
export const routeWorkflowId = (requestId: string) => `route-${requestId}`;
export const banditWorkflowId = (policyId: string) => `bandit-${policyId}`;
/** One budget per tenant: the entity workflow that holds its spend and open reservations. */
export const budgetWorkflowId = (tenant: string) => `budget-${tenant}`;
export const feedbackWorkflowId = (requestId: string) => `bandit-feedback-${requestId}`;

/**
 * Memo flag a starter sets to let a route workflow run its quick steps as local activities. The SDK writes local
 * activity results into history without the payload codec, so a starter that encrypts payloads must not set it.
 */
export const LOCAL_QUICK_STEPS_MEMO = 'localQuickSteps';
