/** Workflow ids are business keys: one run per request, one bandit state per policy, one feedback per request. */
export const routeWorkflowId = (requestId: string) => `route-${requestId}`;
export const banditWorkflowId = (policyId: string) => `bandit-${policyId}`;
export const feedbackWorkflowId = (requestId: string) => `bandit-feedback-${requestId}`;
