/**
 * The meta-layer: reads the telemetry store, finds what goes wrong, and
 * proposes reviewed edits of the agents' behaviour files.
 *
 * @since 0.1.0
 */
export * as Behaviour from "./Behaviour.js"
export * as GitHubPublisher from "./publish/GitHubPublisher.js"
export * as LocalGitPublisher from "./publish/LocalGitPublisher.js"
export * as Proposal from "./publish/Proposal.js"
export * as Publisher from "./publish/Publisher.js"
export * as Analysis from "./Analysis.js"
export * as MetaConfig from "./MetaConfig.js"
export * as Plan from "./Plan.js"
export * as Replay from "./Replay.js"
export * as Rewrite from "./Rewrite.js"
export * as BuiltInAnalysers from "./BuiltInAnalysers.js"
export * as CostAnalyser from "./analysers/Cost.js"
export * as EfficiencyAnalyser from "./analysers/Efficiency.js"
export * as ErrorsAnalyser from "./analysers/Errors.js"
export * as LatencyAnalyser from "./analysers/Latency.js"
export * as ProposalStore from "./ProposalStore.js"
export * as MetaLayer from "./MetaLayer.js"
