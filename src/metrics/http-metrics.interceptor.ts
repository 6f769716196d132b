import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { finalize, Observable } from 'rxjs';
import { HttpMetrics } from './http-metrics';

/** Times every handled request, failed ones included (`finalize` runs on error too). */
@Injectable()
export class HttpMetricsInterceptor implements NestInterceptor {
  constructor(private readonly http: HttpMetrics) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') {
      return next.handle();
    }
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const started = performance.now();
    return next
      .handle()
      .pipe(finalize(() => this.http.handled(request, (performance.now() - started) / 1000)));
  }
}
