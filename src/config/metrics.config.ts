import { registerAs } from '@nestjs/config';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min, MinLength } from 'class-validator';
import { ConfigurationError, isProduction, validateEnv } from './validate-env';

class MetricsEnv {
  /**
   * Serve GET /metrics on this port only (a listener of its own, for Prometheus inside the cluster); the main
   * port then answers 404 there. 0 picks a free port. Unset: /metrics is on the main port.
   */
  @IsOptional()
  // From the raw value: implicit conversion would turn an empty METRICS_PORT into 0 (a random port).
  @Transform(({ obj }: { obj: Record<string, unknown> }) =>
    obj.METRICS_PORT === undefined || obj.METRICS_PORT === '' ? undefined : Number(obj.METRICS_PORT),
  )
  @IsInt()
  @Min(0)
  @Max(65535)
  METRICS_PORT?: number;

  /** When set, GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`, on whichever port it is served. */
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'METRICS_TOKEN must be at least 16 characters' })
  METRICS_TOKEN?: string;
}

export const metricsConfig = registerAs('metrics', () => {
  const env = validateEnv(MetricsEnv, process.env);
  const separatePort = env.METRICS_PORT !== undefined;
  // The main port as app.config reads it (unset: 3000; empty is refused there); 0 asks for a free port, so never a clash.
  const mainPort = process.env.PORT === undefined ? 3000 : Number(process.env.PORT);
  if (separatePort && env.METRICS_PORT !== 0 && env.METRICS_PORT === mainPort) {
    throw new ConfigurationError(['METRICS_PORT: must differ from PORT (the metrics listener is a server of its own)']);
  }
  return {
    port: env.METRICS_PORT,
    token: env.METRICS_TOKEN,
    /**
     * Where /metrics answers. In production the public port never serves it unprotected: without a token or a
     * port of its own it is not served at all (and the boot log says why).
     */
    exposure: separatePort
      ? ('own-port' as const)
      : env.METRICS_TOKEN || !isProduction(process.env)
        ? ('main-port' as const)
        : ('off' as const),
  };
});
export type MetricsConfig = ReturnType<typeof metricsConfig>;
