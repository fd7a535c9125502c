import { IsNotEmpty, IsString, Matches, MaxLength } from 'class-validator';

/** What the console asks the development issuer for: a token for one sample user (or the platform). */
export class DevTokenIn {
  @IsString({ message: 'sub must be a string' })
  @IsNotEmpty({ message: 'sub must not be empty' })
  @MaxLength(128, { message: 'sub must be at most 128 characters' })
  sub: string;

  @IsString({ message: 'scope must be a string' })
  @Matches(/^vora:[a-z:]+( vora:[a-z:]+)*$/, { message: 'scope must be space-separated vora: scopes' })
  @MaxLength(200, { message: 'scope must be at most 200 characters' })
  scope: string;
}

export interface DevTokenOut {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/** A sample sign-in the console offers: an account of DIRECTORY_FILE and the scope that fits it. */
export interface SampleUser {
  sub: string;
  username: string;
  identities: string[];
  scope: string;
}
