import { SetMetadata } from '@nestjs/common';
import type { EventName } from './event-bus';

export const ON_EVENT = 'strata:on-event';

export interface OnEventMeta {
  event: EventName;
  handlerName?: string;
}

/**
 * Binds a provider method to an event when the application starts:
 * `@OnEvent('model.user.save.created') async onUser(event) {…}`. The handler name defaults to
 * `<Class>.<method>`, so it can be unbound by name.
 */
export const OnEvent = (event: EventName, handlerName?: string): MethodDecorator =>
  SetMetadata(ON_EVENT, { event, handlerName } satisfies OnEventMeta);
