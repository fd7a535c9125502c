import { ValidationError } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { EventsIn } from '../subscriptions/subscription.dto';
import { SetupIn } from '../session/session.dto';
import { validationMessage } from './validation';

async function messagesFor<T extends object>(type: new () => T, body: object): Promise<string[]> {
  const errors = await validate(plainToInstance(type, body), { whitelist: true, forbidNonWhitelisted: true });
  return validationMessage(errors);
}

const failure = (property: string, constraints?: Record<string, string>, children: ValidationError[] = []): ValidationError => ({
  property,
  constraints,
  children,
});

describe('validationMessage', () => {
  it('is empty without errors', async () => {
    expect(validationMessage([])).toEqual([]);
    expect(await messagesFor(SetupIn, { connectionType: 'WEB', identity: '+905321110001' })).toEqual([]);
  });

  it('names an unknown field', async () => {
    expect(await messagesFor(SetupIn, { connectionType: 'WEB', identity: '+905321110001', pushToken: 'x' })).toEqual([
      'unknown field "pushToken"',
    ]);
  });

  it('names every unknown field', async () => {
    const messages = await messagesFor(EventsIn, { subscribeAll: true, a: 1, b: 2 });
    expect(messages).toEqual(['unknown field "a"', 'unknown field "b"']);
  });

  it('keeps the DTO messages of every bad field', async () => {
    const messages = await messagesFor(SetupIn, { connectionType: 'TELEX', identity: 7, holdUpMode: 'yes' });
    expect(messages).toEqual(
      expect.arrayContaining(['connectionType must be one of WEB, DESKTOP, MOBILE', 'identity must be a string', 'holdUpMode must be a boolean']),
    );
  });

  it('says a required field is missing', async () => {
    expect(await messagesFor(EventsIn, {})).toEqual(expect.arrayContaining(['subscribeAll is required']));
  });

  it('prefixes nested fields with their parent path', () => {
    const child = failure('extra', { whitelistValidation: 'property extra should not exist' });
    const inner = failure('limit', { isInt: 'limit must be an integer' });
    const parent = failure('options', undefined, [child, inner]);
    expect(validationMessage([parent])).toEqual(['unknown field "options.extra"', 'limit must be an integer']);
  });

  it('does not mistake a similar message of another property for an unknown field', () => {
    const error = failure('identity', { custom: 'property identityX should not exist' });
    expect(validationMessage([error])).toEqual(['property identityX should not exist']);
  });
});
