import { plainToInstance, Transform } from 'class-transformer';
import { validateSync } from 'class-validator';

type EnvClass<T> = new () => T;

/**
 * Validates one configuration namespace against its class. A bad or missing variable stops the boot with a
 * message that names every offending variable (never its value: values may be secrets).
 */
export function validateEnv<T extends object>(schema: EnvClass<T>, env: NodeJS.ProcessEnv): T {
  const parsed = plainToInstance(schema, env, { enableImplicitConversion: true, exposeDefaultValues: true });
  const errors = validateSync(parsed, { skipMissingProperties: false, whitelist: false });
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${e.property}: ${Object.values(e.constraints ?? {}).join('; ')}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed;
}

/** Throws when a production boot would run on a development default secret. */
export function refuseDefaultSecret(name: string, value: string, devDefault: string, production: boolean): void {
  if (production && value === devDefault) {
    throw new Error(`Invalid configuration:\n  ${name}: must be set to a real secret when NODE_ENV=production`);
  }
}

export const isProduction = (env: NodeJS.ProcessEnv): boolean => env.NODE_ENV === 'production';

/** `'true'` and `'false'` only: anything else stays a string and fails validation, naming the variable. */
export const EnvBoolean = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value));
