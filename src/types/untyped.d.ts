// Type declarations for the untyped runtime packages, in one place.

declare module 'parse-prometheus-text-format' {
  export interface RawMetric {
    value?: string;
    labels?: Record<string, string>;
    timestamp_ms?: string;
    buckets?: Record<string, string>;
    quantiles?: Record<string, string>;
    count?: string;
    sum?: string;
  }
  export interface RawFamily {
    name: string;
    help: string;
    type: string;
    metrics: RawMetric[];
  }
  export default function parsePrometheusTextFormat(text: string): RawFamily[];
}

declare module '@fnproject/fdk' {
  export interface Context {
    callID: string;
    deadline: Date | null;
    headers: Record<string, string[]>;
    getHeader(name: string): string | null;
    appID?: string;
    fnID?: string;
    appName?: string;
    fnName?: string;
    memory?: number;
    responseContentType: string;
    setResponseHeader(name: string, ...values: string[]): void;
    config: Record<string, string | undefined>;
  }
  export interface HandleOptions {
    inputMode?: 'json' | 'string' | 'buffer';
  }
  export type Handler = (input: unknown, ctx: Context) => unknown;
  export function handle(fn: Handler, options?: HandleOptions): () => void;
  export function rawResult(value: string | Buffer): unknown;
}
