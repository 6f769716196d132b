import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { getMetadataStorage } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';

type Class = abstract new (...args: never[]) => unknown;

/** Every class exported by a DTO file under src/. */
function dtoClasses(): Class[] {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.dto.ts') ? [join(dir, e.name)] : [],
    );
  return files(join(__dirname, '..')).flatMap((file) =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the files are found at run time
    Object.values(require(file) as Record<string, unknown>).filter((v): v is Class => typeof v === 'function'),
  );
}

/**
 * `@ValidateNested` checks what it finds and lets anything else through: `undefined` (a required object left out)
 * and an array (whose elements it checks instead). Both reached services that read the object's fields: a 500,
 * and for the billing webhook an event recorded as applied with nothing applied. So every nested field must say
 * what it is (`@IsObject`, or `@IsArray` with `each`) and whether it may be absent (`@IsDefined`, or optional).
 */
function unshapedNestedFields(classes: Class[]): string[] {
  return classes.flatMap((target) => {
    const metadata = getMetadataStorage().getTargetValidationMetadatas(target, '', true, false);
    const byProperty = new Map<string, ValidationMetadata[]>();
    for (const m of metadata) {
      byProperty.set(m.propertyName, [...(byProperty.get(m.propertyName) ?? []), m]);
    }
    return [...byProperty].flatMap(([property, ms]) => {
      const nested = ms.find((m) => m.type === 'nestedValidation');
      if (!nested) {
        return [];
      }
      const shaped = ms.some((m) => m.name === (nested.each ? 'isArray' : 'isObject'));
      const presence = ms.some((m) => m.type === 'isDefined' || m.type === 'conditionalValidation');
      return [
        ...(shaped ? [] : [`${target.name}.${property}: @ValidateNested without ${nested.each ? '@IsArray' : '@IsObject'}`]),
        ...(presence ? [] : [`${target.name}.${property}: @ValidateNested without @IsDefined (or @IsOptional)`]),
      ];
    });
  });
}

describe('DTO shapes', () => {
  it('every nested field says it is an object (or an array) and whether it may be absent', () => {
    const classes = dtoClasses();
    expect(classes.length).toBeGreaterThan(10);
    expect(unshapedNestedFields(classes)).toEqual([]);
  });
});
