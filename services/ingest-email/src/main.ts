import { runIngestService } from '@omni/ingest';
import { readConfig } from './config';
import { start } from './start';

runIngestService('email', readConfig, start);
