import { plainToInstance, Transform } from 'class-transformer';
import { getMetadataStorage, validateSync, ValidateBy } from 'class-validator';

type EnvClass<T> = new () => T;

/**
 * A setting the operator must fix, not a bug: its message names every offending variable (never a value) and is
 * the whole story, so it is reported without a stack trace. `problems` are the lines, one per variable.
 */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';

  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((line) => `  ${line}`).join('\n')}`);
  }
}

/**
 * Validates one configuration namespace against its class. A bad or missing variable stops the boot with a
 * message that names every offending variable (never its value: values may be secrets).
 */
export function validateEnv<T extends object>(schema: EnvClass<T>, env: NodeJS.ProcessEnv): T {
  const parsed = plainToInstance(schema, env, { enableImplicitConversion: true, exposeDefaultValues: true });
  const errors = validateSync(parsed, { skipMissingProperties: false, whitelist: false });
  const lines = [
    ...blankVariables(schema, env, parsed).map((name) => `${name}: is set but empty (unset it to use the default)`),
    ...errors.map((e) => `${e.property}: ${Object.values(e.constraints ?? {}).join('; ')}`),
  ];
  if (lines.length > 0) {
    throw new ConfigurationError(lines);
  }
  return parsed;
}

/**
 * Variables of `schema` set to an empty or blank value that would be read as something nobody wrote: a number
 * (`PORT=` is Number(""), 0: a random port) or the empty string in place of a default (`STORAGE_LOCAL_DIR=`: the
 * working directory). A template that left a value out is a mistake to name, not a setting. A blank value is
 * left to the property's own validators where its default is empty or unset (CORS_ORIGINS, REDIS_PASSWORD).
 */
function blankVariables<T extends object>(schema: EnvClass<T>, env: NodeJS.ProcessEnv, parsed: T): string[] {
  const defaults = new schema() as Record<string, unknown>;
  const declared = new Set(getMetadataStorage().getTargetValidationMetadatas(schema, '', true, false).map((m) => m.propertyName));
  return [...declared].filter((name) => {
    const raw = env[name];
    if (raw === undefined || raw.trim() !== '') {
      return false;
    }
    const fallback = defaults[name];
    return typeof (parsed as Record<string, unknown>)[name] === 'number' || (fallback !== undefined && fallback !== '');
  });
}

/** Throws when a production boot would run on a development default secret. */
export function refuseDefaultSecret(name: string, value: string, devDefault: string, production: boolean): void {
  if (production && value === devDefault) {
    throw new ConfigurationError([`${name}: must be set to a real secret when NODE_ENV=production`]);
  }
}

export const isProduction = (env: NodeJS.ProcessEnv): boolean => env.NODE_ENV === 'production';

/**
 * `'true'` and `'false'` only: anything else stays a string and fails validation, naming the variable. Reads the
 * variable itself (`obj[key]`), not `value`: implicit conversion runs first, and on a property typed `boolean`
 * it has already turned "false" into Boolean("false"), which is true.
 */
export const EnvBoolean = (): PropertyDecorator =>
  Transform(({ obj, key }: { obj: Record<string, unknown>; key: string }) => {
    const raw = obj[key];
    return raw === 'true' ? true : raw === 'false' ? false : raw;
  });

/**
 * A URL of one of `protocols` that parses as the drivers will parse it: `new URL` (ioredis, and pg's
 * connection-string parser), a port of 1–65535 if one is given, and user and password that percent-decode (pg
 * decodes them: a stray `%` is a URIError at connect time). The message never holds the value: it holds the
 * password. A password with `/`, `+`, `#`, `@` or `%` must be percent-encoded.
 */
export const ParsableUrl = (protocols: readonly string[], name: string): PropertyDecorator =>
  ValidateBy({
    name: 'parsableUrl',
    validator: {
      validate: (value: unknown) => typeof value === 'string' && parsesAs(value, protocols),
      defaultMessage: () =>
        `${name} must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL that parses (percent-encode / + # @ % in the user or password; a port of 1-65535)`,
    },
  });

function parsesAs(value: string, protocols: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(value);
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    return false;
  }
  const port = url.port === '' ? undefined : Number(url.port);
  return protocols.includes(url.protocol) && url.hostname !== '' && (port === undefined || (port >= 1 && port <= 65_535));
}
