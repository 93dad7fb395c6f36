import { runIngestService } from '@omni/ingest';
import { readConfig } from './config';
import { start } from './start';

runIngestService('social', readConfig, start);
