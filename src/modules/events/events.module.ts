import { Global, Injectable, Module, OnApplicationBootstrap } from '@nestjs/common';
import { DiscoveryModule, DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { EventBus } from './event-bus';
import { ON_EVENT, OnEventMeta } from './on-event.decorator';

/** Finds `@OnEvent` methods on every provider and binds them, in module order. */
@Injectable()
class EventBinder implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly bus: EventBus,
  ) {}

  onApplicationBootstrap(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object') continue;
      const proto = Object.getPrototypeOf(instance);
      for (const method of this.scanner.getAllMethodNames(proto)) {
        const meta = this.reflector.get<OnEventMeta | undefined>(ON_EVENT, proto[method]);
        if (!meta) continue;
        const fn = (instance[method] as (e: never) => unknown).bind(instance);
        this.bus.bind(meta.event, meta.handlerName ?? `${proto.constructor.name}.${method}`, fn as never);
      }
    }
  }
}

@Global()
@Module({ imports: [DiscoveryModule], providers: [EventBus, EventBinder], exports: [EventBus] })
export class EventsModule {}
