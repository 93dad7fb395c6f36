import { createLogger } from '@omni/logging';
import { runService } from '@omni/service';
import { readConfig } from './config';
import { start } from './start';

const logger = createLogger('knowledge');
void runService('knowledge', logger, 10000, () => start(readConfig(), logger));
