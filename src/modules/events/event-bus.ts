import { Injectable, Logger } from '@nestjs/common';
import type { EventMap } from './event-map';

/** What a handler receives: Girder's Event, with the info typed by the event's name. */
export class AppEvent<I = unknown> {
  defaultPrevented = false;
  propagate = true;
  readonly responses: unknown[] = [];
  currentHandlerName: string | null = null;

  constructor(
    readonly name: string,
    readonly info: I,
  ) {}

  /** Asks the caller to skip its default action (for `model.*.save`/`remove`: abort the write). */
  preventDefault(): this {
    this.defaultPrevented = true;
    return this;
  }

  /** Stops later handlers of this event from running. */
  stopPropagation(): this {
    this.propagate = false;
    return this;
  }

  addResponse(value: unknown): this {
    this.responses.push(value);
    return this;
  }
}

export type EventName = keyof EventMap & string;
export type EventHandler<K extends EventName> = (event: AppEvent<EventMap[K]>) => void | Promise<void>;

/**
 * The event bus plugins bind to (DESIGN §5). Handlers run in bind order and are awaited one after
 * another; a handler that throws aborts the trigger and the error reaches the caller, which is how
 * a `model.*.save` handler vetoes a write.
 */
@Injectable()
export class EventBus {
  private readonly logger = new Logger(EventBus.name);
  private readonly handlers = new Map<string, Map<string, EventHandler<never>>>();

  bind<K extends EventName>(name: K, handlerName: string, handler: EventHandler<K>): void {
    let forEvent = this.handlers.get(name);
    if (!forEvent) this.handlers.set(name, (forEvent = new Map()));
    if (forEvent.has(handlerName)) {
      this.logger.warn(`handler "${handlerName}" for event "${name}" was bound twice; the new one replaces the old`);
      forEvent.delete(handlerName); // re-binding moves it to the end, as a fresh bind
    }
    forEvent.set(handlerName, handler as EventHandler<never>);
  }

  unbind(name: EventName, handlerName: string): void {
    this.handlers.get(name)?.delete(handlerName);
  }

  async trigger<K extends EventName>(name: K, info: EventMap[K]): Promise<AppEvent<EventMap[K]>> {
    const event = new AppEvent(name, info);
    const forEvent = this.handlers.get(name);
    if (!forEvent) return event;
    for (const [handlerName, handler] of [...forEvent]) {
      event.currentHandlerName = handlerName;
      await (handler as EventHandler<K>)(event);
      if (!event.propagate) break;
    }
    event.currentHandlerName = null;
    return event;
  }

  /** True when someone listens; lets callers skip building an expensive `info`. */
  hasHandlers(name: EventName): boolean {
    return (this.handlers.get(name)?.size ?? 0) > 0;
  }
}
