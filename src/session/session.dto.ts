import { ApiProperty } from '@nestjs/swagger';
import { IsBoolean, IsIn, IsNotEmpty, IsOptional, IsString, MaxLength } from 'class-validator';
import { CONNECTION_TYPES, ConnectionType } from './session';

export class SetupIn {
  @ApiProperty({
    enum: CONNECTION_TYPES,
    description: 'This parameter will provide the information about the connection type for the application.',
  })
  @IsIn(CONNECTION_TYPES, { message: `connectionType must be one of ${CONNECTION_TYPES.join(', ')}` })
  connectionType: ConnectionType;

  @ApiProperty({
    example: '+905321110001',
    description:
      'The VORA user will provide one of its identities to use the VORA session. For the User and Manager mode, it should be the phone number with the VORA service to be able to use the call control features. For the OTT users, only the fixed number will be allowed as the OneNet defined number. In the administrator mode, the user identity will be the username since there is no phone number assigned to the user.',
  })
  @IsString({ message: 'identity must be a string' })
  @IsNotEmpty({ message: 'identity must not be empty' })
  @MaxLength(64, { message: 'identity must be at most 64 characters' })
  identity: string;

  @ApiProperty({
    required: false,
    description:
      'It is allowed only for the soft clients running on the mobile phones, where the web application should initiate a push notification for the terminating calls to get the readiness of the client.',
  })
  @IsOptional()
  @IsBoolean({ message: 'holdUpMode must be a boolean' })
  holdUpMode?: boolean;
}

export class SetupOut {
  @ApiProperty({
    description:
      'This will be used to authenticate the WebSocket connection which is different than the access token and will be created by the VORA Gateway. Hence this connection will be independent from the oAuth server.',
  })
  webSocketToken: string;
}
