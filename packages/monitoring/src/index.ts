/**
 * @since 0.1.0
 */
export * as Alerts from "./Alerts.js"
export * as AsyncMonitor from "./AsyncMonitor.js"
export * as ErrorMonitor from "./ErrorMonitor.js"
export * as EventBus from "./EventBus.js"
export * as Metrics from "./Metrics.js"
export * as Monitoring from "./Monitoring.js"
export * as MonitoringConfig from "./MonitoringConfig.js"
export * as PerformanceMonitor from "./PerformanceMonitor.js"
export * as SystemMetrics from "./SystemMetrics.js"
export * as ToolSwitch from "./ToolSwitch.js"
export * as UsageMonitor from "./UsageMonitor.js"
