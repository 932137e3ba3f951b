export { routeRequest } from './routeRequest';
export { banditState } from './banditState';
export { banditFeedback } from './banditFeedback';
export { benchFloor } from './benchFloor';
export { shadowEvaluation } from './shadowEvaluation';
export { budget } from './budget';
