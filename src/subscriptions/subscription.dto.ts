import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, IsDefined, IsOptional, IsString, MaxLength } from 'class-validator';

export class EventsIn {
  @ApiProperty({ description: 'By default, for the all allowed events.' })
  @IsDefined({ message: 'subscribeAll is required' })
  @IsBoolean({ message: 'subscribeAll must be a boolean' })
  subscribeAll: boolean;

  @ApiProperty({ type: [String], required: false, example: ['CallDelivered', 'CallCleared'] })
  @IsOptional()
  @IsArray({ message: 'events must be a list of event names' })
  @ArrayMaxSize(200, { message: 'events must list at most 200 names' })
  @IsString({ each: true, message: 'events must be a list of event names' })
  @MaxLength(64, { each: true, message: 'event names are at most 64 characters' })
  events?: string[];
}

/** The subscription in force: always an explicit list of events. */
export interface EffectiveSubscription {
  subscribeAll: boolean;
  events: string[];
}

export const EFFECTIVE_SUBSCRIPTION_SCHEMA = {
  type: 'object',
  required: ['subscribeAll', 'events'],
  properties: {
    subscribeAll: { type: 'boolean' },
    events: { type: 'array', items: { type: 'string' } },
  },
  example: { subscribeAll: false, events: ['CallDelivered', 'CallCleared'] },
};
