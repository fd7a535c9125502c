import { ValidationError } from '@nestjs/common';

/** Flattens class-validator errors into one sentence naming every bad field. */
export function validationMessage(errors: ValidationError[], parent = ''): string[] {
  return errors.flatMap((error) => {
    const path = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((text) =>
      // class-validator phrases "property x should not exist" for unknown fields
      text.startsWith(`property ${error.property} should not exist`) ? `unknown field "${path}"` : text,
    );
    return [...own, ...validationMessage(error.children ?? [], path)];
  });
}
