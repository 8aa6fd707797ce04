/**
 * The meta-layer: reads the telemetry store, finds what goes wrong, and
 * proposes reviewed edits of the agents' behaviour files.
 *
 * @since 0.1.0
 */

/**
 * Agents' behaviour files: the Schema, loading a folder, comment-preserving edits.
 *
 * @since 0.1.0
 */
export * as Behaviour from "./Behaviour.js"
