import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { Comment } from './comment.entity.js';

@Injectable()
export class CommentsService {
  constructor(@InjectRepository(Comment) private readonly comments: Repository<Comment>) {}

  add(body: string, flowId?: string): Promise<Comment> {
    return this.comments.save(this.comments.create({ body, flowId: flowId ?? null }));
  }

  list(): Promise<Comment[]> {
    return this.comments.find({ order: { createdAt: 'ASC' } });
  }
}
