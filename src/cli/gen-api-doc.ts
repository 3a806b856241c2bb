import { VERBS } from '../verbs/catalogue.js';
import { renderApiDoc } from '../verbs/docs.js';

process.stdout.write(renderApiDoc(VERBS));
