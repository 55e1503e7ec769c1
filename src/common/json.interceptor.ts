import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { map, Observable } from 'rxjs';

/**
 * Every REST answer is JSON, as Girder's clients expect: Nest would send `null` as an empty body
 * and a string as text/html, so both are encoded here.
 */
@Injectable()
export class JsonInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const res = context.switchToHttp().getResponse<Response>();
    return next.handle().pipe(
      map((value) => {
        if (value === null || typeof value === 'string') {
          res.type('application/json');
          return JSON.stringify(value);
        }
        return value;
      }),
    );
  }
}
