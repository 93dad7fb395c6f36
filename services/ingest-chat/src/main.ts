import { runIngestService } from '@omni/ingest';
import { readConfig } from './config';
import { start } from './start';

runIngestService('chat', readConfig, start);
