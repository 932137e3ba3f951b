/** The task queue the router's workers poll and its clients start workflows on. */
export const TASK_QUEUE = 'model-router';
