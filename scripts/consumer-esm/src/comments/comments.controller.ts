import { Body, Controller, Get, Post } from '@nestjs/common';
import { Comment } from './comment.entity.js';
import { CommentsService } from './comments.service.js';

@Controller('comments')
export class CommentsController {
  constructor(private readonly comments: CommentsService) {}

  @Post()
  add(@Body() body: { body: string; flowId?: string }): Promise<Comment> {
    return this.comments.add(body.body, body.flowId);
  }

  @Get()
  list(): Promise<Comment[]> {
    return this.comments.list();
  }
}
