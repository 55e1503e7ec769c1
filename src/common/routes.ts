import { applyDecorators, HttpCode, Post as NestPost } from '@nestjs/common';

/** POST answering 200, as Girder does (Nest's default is 201, which Girder's clients do not expect). */
export const Post = (path?: string | string[]) => applyDecorators(NestPost(path), HttpCode(200));
