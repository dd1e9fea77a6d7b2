import { BACKENDS } from '../utils/backends';
import { exampleApiSuite } from './example-api.suite';

describe.each(BACKENDS)('Example API on $name', exampleApiSuite);
