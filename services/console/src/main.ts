import { createLogger } from '@omni/logging';
import { runService } from '@omni/service';
import { readConfig } from './config';
import { start } from './start';

const logger = createLogger('console');
const config = readConfig();
void runService('console', logger, config.SHUTDOWN_GRACE_MS, () => start(config, logger));
