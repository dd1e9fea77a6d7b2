import { Controller, Get } from '@nestjs/common';
import { WithoutTenant } from 'fdl-runtime-db';
import { AppService } from './app.service.js';

@Controller()
export class AppController {
  constructor(private readonly appService: AppService) {}

  @Get()
  @WithoutTenant()
  getHello(): string {
    return this.appService.getHello();
  }
}
