/**
 * The meta-layer: reads the telemetry store, finds what goes wrong, and
 * proposes reviewed edits of the agents' behaviour files.
 *
 * @since 0.1.0
 */
export {}
