import { ROUTES } from '../coordinator/api/catalogue.js';
import { renderCoordinatorApiDoc } from '../coordinator/api/docs.js';

process.stdout.write(renderCoordinatorApiDoc(ROUTES));
