import { ApiProperty } from '@nestjs/swagger';

export class IdentityOut {
  @ApiProperty({
    type: [String],
    required: false,
    example: ['+905321110001', '+902121110001'],
    description: 'The identities the caller may use: E.164 numbers, or the username in administrator mode.',
  })
  identities?: string[];
}
