import { ValidateIf } from 'class-validator';

/**
 * A body field the client may leave out. Use it instead of class-validator's `@IsOptional()`, which skips the
 * validators for `null` as well as for a missing field: `{"nsfw": null}` would then reach a NOT NULL column (a 500)
 * or be stored as it is. Here `null` is validated like any other value, so it is a 400 naming the field, unless
 * the field takes null on purpose (`nullable: true`, e.g. to clear an avatar).
 */
export const Omittable = (options: { nullable?: boolean } = {}): PropertyDecorator =>
  ValidateIf((_object, value) => value !== undefined && !(options.nullable && value === null));
