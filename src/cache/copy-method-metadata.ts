/**
 * Gives a wrapper everything that describes the original method: every reflect-metadata entry (route, guards,
 * Swagger, …; see nestjs/nest#1180) and its name.
 */
export function copyMethodMetadata(from: object, to: object): void {
  for (const key of Reflect.getMetadataKeys(from)) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, from), to);
  }
  Object.defineProperty(to, 'name', { value: (from as { name: string }).name, configurable: true });
}
