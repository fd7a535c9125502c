import { STATUS_CODES } from 'node:http';
import { ApiProperty } from '@nestjs/swagger';

/** The seed's error body, returned by every route on every error. */
export class ResponseStatusVoraError {
  @ApiProperty({ example: '2026-11-28T10:15:30.120Z' })
  timestamp: string;
  @ApiProperty({ example: '403', description: 'HTTP status code as a decimal string' })
  status: string;
  @ApiProperty({ example: 'Forbidden', description: 'reason phrase of the status code' })
  error: string;
  @ApiProperty({ example: 'identity +905321110009 is not assigned to this account' })
  message: string;
}

export function errorBody(status: number, message: string): ResponseStatusVoraError {
  return {
    timestamp: new Date().toISOString(),
    status: String(status),
    error: STATUS_CODES[status] ?? 'Error',
    message,
  };
}
