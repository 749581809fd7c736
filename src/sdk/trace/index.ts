export {
  type ChromeTrace,
  type ChromeTraceEvent,
  type ChromeTraceOptions,
  CPU_TRACK_PID,
  toChromeTrace,
} from './chrome-trace';
export {
  type EcallSpan,
  ecallSpans,
  summarizeTrace,
  type TraceSummary,
  traceHash,
  traceJsonLines,
} from './trace-summary';
