export type { BackendSuiteOptions } from './backend-suite.js';
export { backendSuite } from './backend-suite.js';
export type { BrokerGroup, BrokerGroupName, BrokerSuiteOptions } from './broker-suite.js';
export { brokerGroups, brokerSuite } from './broker-suite.js';
export type { AdapterContext, AdapterFactory } from './context.js';
export type { ControlPlaneSuiteOptions } from './control-plane-suite.js';
export { controlPlaneSuite } from './control-plane-suite.js';
export type { ControlScenarioAdapters, ControlScenarioSuiteOptions } from './control-scenario-suite.js';
export { controlScenarioSuite } from './control-scenario-suite.js';
export type { FlowControlSuiteOptions, FlowScenarioAdapters } from './flow-control-suite.js';
export { flowControlSuite } from './flow-control-suite.js';
export type { SuiteBaseOptions } from './harness.js';
export type { EventuallyOptions } from './helpers.js';
export { Closer, deferred, eventually, observeFor, PerNamespace, uniqueNamespace } from './helpers.js';
export type { LockSuiteOptions } from './lock-suite.js';
export { lockSuite } from './lock-suite.js';
export type { ScenarioAdapters, ScenarioSuiteOptions } from './scenario-suite.js';
export { scenarioSuite } from './scenario-suite.js';
export {
  add,
  delayTest,
  goSuiteTasks,
  multiply,
  panicTask,
  returnJustError,
  returnMultipleValues,
  sum,
} from './scenario-tasks.js';
