import { ArgumentsHost, Catch, ExceptionFilter, ServiceUnavailableException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';

/**
 * A failed health check answers 503 with Terminus's own body (status, info, error, details), which says what is
 * down; the app-wide error shape would drop exactly that.
 */
@Catch(ServiceUnavailableException)
export class HealthCheckFailedFilter implements ExceptionFilter {
  catch(exception: ServiceUnavailableException, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    void reply
      .status(503)
      .header('cache-control', 'no-cache, no-store, must-revalidate')
      .header('content-type', 'application/json; charset=utf-8')
      .send(exception.getResponse());
  }
}
